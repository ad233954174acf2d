"""The ``fixity_audit`` flow: re-hash and re-verify archived copies, one event per record.

Scheduled nightly with a sample (the records checked longest ago), it walks the whole
archive in turn; ``records verify --all`` is its manual twin. Failures are listed in a
markdown artifact (key ``fixity``) so the Prefect UI shows what needs attention.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from archive.index import Catalog
from archive.signing import check_fixity, due_for_check, trust_roots
from archive.store import archive_root, record_ids
from config.settings import load_settings

NIGHTLY = "0 2 * * *"  # cron of the scheduled run (deployments are defined with the server)


@task(cache_policy=NO_CACHE)
def check_records(archive: Path, ids: list[str], roots: list[Any],
                  catalog: Catalog) -> list[dict]:
    return [v.as_dict() for v in check_fixity(archive, ids, roots, "fixity", catalog)]


@flow(name="fixity_audit", log_prints=True)
def fixity_audit(sample: int | None = None) -> dict[str, Any]:
    """Verify ``sample`` records due for a check (all records when None)."""
    settings = load_settings()
    home = settings.home.resolve()
    archive = archive_root(home)
    ids = due_for_check(archive, sample) if sample else record_ids(archive)
    verdicts = check_records(archive, ids, trust_roots(settings.signing, home),
                             Catalog.open(settings.catalog_url()))
    failed = [{"record_id": v["record_id"],
               "failures": [f"{n}: {c['detail']}" for n, c in v["checks"].items() if not c["ok"]]}
              for v in verdicts if not v["ok"]]
    lines = [f"# Fixity audit: {len(verdicts) - len(failed)} of {len(verdicts)} copies intact", ""]
    lines += [f"- **{f['record_id']}**: {'; '.join(f['failures'])}" for f in failed]
    create_markdown_artifact("\n".join(lines), key="fixity",
                             description="Archived copies re-hashed and re-verified")
    print(lines[0].lstrip("# "))
    return {"checked": len(verdicts), "ok": len(verdicts) - len(failed), "failed": failed}
