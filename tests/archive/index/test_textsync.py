"""The full-text indexes in step with one PostgreSQL catalog, searched by several processes on
"several machines" (folders of their own) and two on one machine (one folder, one lock),
while another process ingests records and raises some to secret: no search ever shows or
counts a record that was secret before it began, and when ingest stops every process answers
exactly what the catalog holds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from archive.index import Catalog
from archive.index.catalog import records
from tests.conftest import new_database

SECONDS = 8.0


def start(role: str, url: str, folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.archive.index.concurrent_search", role, url, str(folder),
         str(SECONDS)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def outcome(process: subprocess.Popen[str]) -> dict[str, object]:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def test_searchers_never_see_above_their_clearance_while_records_change(
        postgres_url: str, tmp_path: Path) -> None:
    url = new_database(postgres_url, "records_textsync")
    Catalog.open(url).engine.dispose()  # the tables, before the processes race to make them
    machine_a, machine_b = tmp_path / "machine-a", tmp_path / "machine-b"
    searchers = [start("searcher", url, machine_a), start("searcher", url, machine_a),
                 start("searcher", url, machine_b)]
    written = outcome(start("writer", url, tmp_path / "writer"))
    (tmp_path / "writer.done").touch()
    answers = [outcome(s) for s in searchers]

    catalog = Catalog.open(url, search_index=tmp_path / "check")
    with catalog.engine.connect() as db:
        public = sorted(db.execute(select(records.c.record_id).where(records.c.level == 0))
                        .scalars())
    catalog.engine.dispose()
    assert written["raised"] > 10 and len(public) == written["added"] - written["raised"]
    for answer in answers:
        assert answer["violations"] == [], answer["violations"]
        assert answer["searches"] > 5  # searched while the writer wrote
        assert (answer["total"], answer["shown"]) == (len(public), public)
