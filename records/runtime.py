"""Preparing the process before Prefect is imported: where it writes, how long it waits.

Prefect reads its settings when first imported, so the command line calls this first. Every
value is a default: a user's own PREFECT_* variables win.
"""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from archive.files import sha256_file
from config.settings import Settings


def prepare(settings: Settings, *, quiet: bool = True) -> Path:
    """Point Prefect's files under RECORDS_HOME and give the embedded server time to start."""
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
                          str(int(settings.batch.ephemeral_startup_timeout)))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network here
    if quiet:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        # The embedded server's own services log their shutdown races at ERROR; the batch
        # ledger, not the server's task history, is what records reports from.
        os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "CRITICAL")
        quiet_pyhanko()
    return home


def quiet_pyhanko() -> None:
    """pyHanko logs a failed chain or a tampered file with a traceback; records reports those
    as named checks instead, so only pyHanko's errors reach the terminal."""
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.ERROR)


def content_hash(paths: list[Path]) -> str:
    """Hash of every file a batch holds (names and bytes): the same scans, the same hash."""
    digest = hashlib.sha256()
    for root in sorted(paths):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if path.is_symlink():
                continue
            digest.update(f"{path.relative_to(root.parent).as_posix()}\0".encode())
            digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def batch_id(paths: list[Path], digest: str | None = None) -> str:
    """Readable and unique: when it was queued, and a hash of what it holds."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{(digest or content_hash(paths))[:8]}"
