"""Two officers queue overlapping batches at the same moment from two processes: every record
is archived exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import Scans

RECORDS = [sys.executable, "-m", "records.cli"]


def test_overlapping_batches_from_two_processes(scans: Scans, home: Path,
                                                tmp_path: Path) -> None:
    pages = {seed: scans.page("eng", seed=seed)[0] for seed in (131, 132, 133, 134)}
    batches = {"left": (131, 132, 133), "right": (132, 133, 134)}  # two letters in both
    for name, seeds in batches.items():
        folder = tmp_path / name
        folder.mkdir()
        for seed in seeds:
            (folder / f"letter-{seed}.png").write_bytes(pages[seed].read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env["RECORDS_HOME"] = str(home)
    running = [subprocess.Popen([*RECORDS, "queue", str(tmp_path / name), "--unit", "VP",
                                 "--json"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for name in batches]
    results = []
    for process in running:
        stdout, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stderr
        results.append(json.loads(stdout)["documents"])
    by_letter: dict[str, set[str]] = {}
    for documents in results:
        for document in documents:
            assert document["status"] == "archived", document
            by_letter.setdefault(document["source"], set()).add(document["record_id"])
    assert all(len(ids) == 1 for ids in by_letter.values()), by_letter  # one record a letter
    stored = [p for p in (home / "archive").iterdir() if p.is_dir() and p.name != "extensions"]

    assert len(stored) == 4
    search = subprocess.run([*RECORDS, "search", "letter OR dear OR sincerely", "--json",
                             "--limit", "50"], env=env, capture_output=True, text=True,
                            timeout=300)
    hits = [h["record_id"] for h in json.loads(search.stdout)["hits"]]
    assert len(hits) == len(set(hits)) <= 4
