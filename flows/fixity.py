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
from archive.signing import (
    ArchiveVerdict,
    SigningError,
    seal_certificates,
    sign_log,
    sign_options,
    trust_roots,
    verify_archive,
)
from archive.store import archive_root, keep_private
from config.settings import Settings, load_settings
from flows.token import load_shared_signer

NIGHTLY = "0 2 * * *"  # cron of the scheduled run (deployments are defined with the server)


@task(cache_policy=NO_CACHE)
def check_archive(archive: Path, roots: list[Any], seals: list[Any], catalog: Catalog,
                  sample: int | None) -> ArchiveVerdict:
    return verify_archive(archive, roots, seals, catalog, sample=sample, event_type="fixity")


@task(cache_policy=NO_CACHE)
def sign_checks(settings: Settings) -> str:
    """Sign a head over the checks just logged, so they cannot be quietly rewritten."""
    if not settings.signing.enabled:
        return "signing is off: the checks are not under a signed head"
    try:
        head, _ = sign_log(settings.home.resolve(), load_shared_signer(
            settings.signing, settings.home.resolve()), sign_options(settings.signing))
    except SigningError as exc:
        return f"the log was not signed: {exc.reason}"
    return f"log head {head.number} signed"


@flow(name="fixity_audit", log_prints=True)
def fixity_audit(sample: int | None = None) -> dict[str, Any]:
    """Check the archive's log, and ``sample`` records due for a check (all when None)."""
    settings = load_settings()
    home = keep_private(settings.home.resolve())
    verdict = check_archive(archive_root(home), trust_roots(settings.signing, home),
                            seal_certificates(settings.signing, home),
                            Catalog.open(settings.catalog_url()), sample)
    failed = [{"record_id": v.record_id, "failures": v.failures()}
              for v in verdict.records if not v.ok]
    log = [f"{name}: {check.detail}" for name, check in verdict.log.items() if not check.ok]
    checked = len(verdict.records)
    lines = [f"# Fixity audit: {checked - len(failed)} of {checked} copies intact; the log "
             + ("intact" if not log else "FAILED"), ""]
    lines += [f"- **log**: {problem}" for problem in log]
    lines += [f"- **{f['record_id']}**: {'; '.join(f['failures'])}" for f in failed]
    create_markdown_artifact("\n".join(lines), key="fixity",
                             description="The archive checked against its signed log")
    print(lines[0].lstrip("# "))
    print(sign_checks(settings))
    return {"checked": checked, "ok": checked - len(failed), "failed": failed, "log": log}
