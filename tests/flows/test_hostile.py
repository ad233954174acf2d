"""The hostile-input campaign: every file a careless share or an attacker could put in a batch.

One real batch holds them all (made by ``tests.hostile``, no corpus needed). Each is
archived or quarantined with a reason a records officer understands, the batch finishes,
no original changes, and nothing active (script, attachment) reaches an archival copy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pikepdf
import pytest

from archive.store import RecordPaths, check_object
from flows.digitise import digitise_batch
from ocr.inputs import printable_name
from tests.hostile import render_hostile


def _regular_files(folder: Path) -> dict[str, bytes]:
    return {os.fsdecode(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and not p.is_symlink()}


@pytest.mark.flow
def test_every_hostile_input_is_archived_or_quarantined_with_its_reason(
        tmp_path: Path, home: Path) -> None:
    batch, outside = tmp_path / "batch", tmp_path / "outside"
    expected = render_hostile(batch, outside)
    originals, beyond = _regular_files(batch), _regular_files(outside)
    report = digitise_batch(paths=[str(batch)], batch_id="B-hostile", unit="VP",
                            languages="eng").to_dict()
    outcome = {d["source"]: d for d in report["documents"]}
    assert sorted(outcome) == sorted(printable_name(h.name) for h in expected)
    for item in expected:
        doc = outcome[printable_name(item.name)]
        assert doc["status"] == item.expect, (item.what, doc)
        if item.expect == "quarantined":
            assert item.reason in doc["reason"] and "Traceback" not in doc["reason"], item.what
            assert len(doc["reason"]) < 400 and "\n" not in doc["reason"]
            reason_file = home / "quarantine" / "B-hostile" / f"{doc['source']}.reason.json"
            assert json.loads(reason_file.read_text())["reason"] == doc["reason"]
        else:
            record = home / "archive" / doc["record_id"]
            assert check_object(record) == []
            copy = RecordPaths(record, doc["record_id"]).pdf
            with pikepdf.open(copy) as pdf:
                assert "/OpenAction" not in pdf.Root and "/Names" not in pdf.Root
                assert not pdf.attachments and b"JavaScript" not in copy.read_bytes()
    assert _regular_files(batch) == originals and _regular_files(outside) == beyond
    assert (batch / "escape.png").is_symlink() and (batch / "pipe.tif").is_fifo()
    assert not list((home / "quarantine" / "B-hostile").glob("secret*"))  # link not followed
