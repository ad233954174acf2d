"""Preparing the process before Prefect is imported: where it writes, how long it waits.

Prefect reads its settings when first imported, so the command line calls this first. Every
value is a default: a user's own PREFECT_* variables win.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from archive.store import keep_private, sha256_file
from config.settings import Settings


def prepare(settings: Settings, *, quiet: bool = True) -> Path:
    """Point Prefect's files under RECORDS_HOME and give the embedded server time to start."""
    home = keep_private(settings.home.resolve())
    os.environ.setdefault("PREFECT_HOME", str(home / "prefect"))
    for pid in reap_orphaned_servers(Path(os.environ["PREFECT_HOME"])):
        logging.getLogger("records").warning(
            "stopped an embedded Prefect server (pid %s) left behind by a killed run", pid)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
                          str(int(settings.batch.ephemeral_startup_timeout)))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network here
    if quiet:
        # A task's failure is logged by Prefect at ERROR with its traceback; records reports
        # each document's fate in one line (the batch report and ledger), so tracebacks show
        # only with RECORDS_DEBUG=1.
        os.environ.setdefault("PREFECT_LOGGING_LEVEL",
                              "WARNING" if os.environ.get("RECORDS_DEBUG") else "CRITICAL")
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
            # fsencode: a name in another code page hashes by its bytes instead of failing.
            digest.update(os.fsencode(path.relative_to(root.parent).as_posix()) + b"\0")
            digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def batch_id(paths: list[Path], digest: str | None = None) -> str:
    """Readable and unique: when it was queued, and a hash of what it holds."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{(digest or content_hash(paths))[:8]}"


_EPHEMERAL = "prefect.server.api.server:create_app"


def reap_orphaned_servers(prefect_home: Path) -> list[int]:
    """Stop embedded Prefect servers of this PREFECT_HOME whose run was killed (kill -9).

    An embedded run starts its own Prefect server as a child process; killed with -9, the run
    leaves it behind, holding the SQLite file. A server whose parent is gone (re-parented to
    init, or to something that is not Python) is an orphan; one whose run is alive is not
    touched, so two runs on one home never stop each other's server.
    """
    stopped = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
            if _EPHEMERAL.encode() not in command:
                continue
            env = dict(item.split(b"=", 1) for item in (proc / "environ").read_bytes()
                       .split(b"\0") if b"=" in item)
            if env.get(b"PREFECT_HOME", b"").decode() != str(prefect_home):
                continue
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):  # gone meanwhile, or another user's
            continue
        if _orphaned(parent):
            _stop(int(proc.name))
            stopped.append(int(proc.name))
    return stopped


def _orphaned(parent: int) -> bool:
    if parent <= 1:
        return True
    try:
        return b"python" not in Path(f"/proc/{parent}/cmdline").read_bytes()
    except OSError:
        return True


def _stop(pid: int, grace: float = 5.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
