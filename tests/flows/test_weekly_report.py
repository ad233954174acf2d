"""The roadmap's flows: progress noted as a batch finishes, the standing published in the
Prefect UI, the weekly report written; verifications after archiving counted."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from sqlalchemy import select

from archive.index import Catalog
from archive.index.catalog import progress, verifications
from archive.roadmap import load_facts
from config.settings import load_settings
from flows.digitise import digitise_batch
from flows.fixity import fixity_audit
from flows.roadmap import roadmap_report
from tests.conftest import Scans


@pytest.mark.flow
def test_batch_progress_artifact_and_weekly_report(home: Path, scans: Scans,
                                                   tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    batch.mkdir()
    page, _ = scans.page("eng", seed=23)
    (batch / "letter.png").write_bytes(page.read_bytes())
    (batch / "empty.pdf").write_bytes(b"")
    digitise_batch(paths=[str(batch)], batch_id="B-road", unit="HN", languages="eng")

    catalog = Catalog.open(load_settings().catalog_url())
    with catalog.engine.connect() as db:
        noted = {(r.source, r.unit, r.status) for r in db.execute(select(progress))}
    assert noted == {("letter.png", "HN", "archived"), ("empty.pdf", "HN", "quarantined")}
    facts = load_facts(catalog)
    [(day, counts)] = facts.daily["HN"].items()
    assert (counts["records"], counts["quarantined"], counts["signed_org"]) == (1, 1, 1)
    assert facts.verified_count("HN", day, day) == 1  # verified before it was stored

    with get_client(sync_client=True) as client:
        published = [a for a in client.read_artifacts() if a.key == "roadmap"]
    # The session's Prefect holds other tests' artifacts too: this batch's names HN once.
    assert any("| HN | 1 |" in str(a.data) for a in published)

    fixity_audit()  # one more verification, counted in the catalog as well
    assert len(load_facts(catalog).verified["HN"]) == 1  # still verified: no change of state
    with catalog.engine.connect() as db:
        assert len(db.execute(select(verifications)).all()) == 2
    path = Path(roadmap_report())
    assert path.parent == home / "reports" and path.name.startswith("roadmap-")
    assert "<svg" in path.read_text(encoding="utf-8")
