"""The fixity_audit flow finds a damaged copy, logs every check, and samples the oldest."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.store import ChainedLog, RecordPaths, checks_log_path, read_checks
from flows.digitise import digitise_batch
from flows.fixity import fixity_audit
from tests.conftest import Scans


@pytest.mark.flow
def test_audit_reports_damage_and_samples_oldest_first(home: Path, scans: Scans,
                                                      tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    batch.mkdir()
    for seed in (21, 22):
        page, _ = scans.page("eng", seed=seed)
        (batch / f"letter-{seed}.png").write_bytes(page.read_bytes())
    report = digitise_batch(paths=[str(batch)], batch_id="B-fix", unit="VP",
                            languages="eng").to_dict()
    ids = sorted(d["record_id"] for d in report["documents"])
    assert fixity_audit() == {"checked": 2, "ok": 2, "failed": [], "log": []}

    damaged = RecordPaths(home / "archive" / ids[0], ids[0]).sidecar
    damaged.chmod(0o644)
    damaged.write_text(damaged.read_text().replace('"VP"', '"XX"', 1))
    result = fixity_audit(sample=1)  # both checked once: the first in order goes again
    assert result["checked"] == 1 and result["ok"] == 0
    assert result["failed"][0]["record_id"] == ids[0]
    assert any("record.json: changed" in f for f in result["failed"][0]["failures"])
    assert fixity_audit(sample=1)["failed"] == []  # next night: the other record, intact
    logged = [e["outcome"] for e in read_checks(home)[ids[0]]]
    assert logged == ["success", "failure"]
    assert ChainedLog(checks_log_path(home)).check()[0] == []
