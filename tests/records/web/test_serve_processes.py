"""``records serve`` with several processes: one process answers one request at a time, so an
office of archivists needs one per core. Any process must honour a sign-in another made, keep
the audit log's chain whole while all of them append to it, and start on a new home together
without tripping over each other making its session key."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import records.web.app as web_app
from archive.access import AuditLog
from tests.conftest import free_port
from tests.records.web.conftest import PASSWORD, WebArchive, records_env, wait_for_port

PROCESSES = 2
REQUESTS = 80


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of one process, from /proc (clock ticks of 1/100 s)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def workers_of(pid: int) -> list[int]:
    """The serving processes uvicorn started (not multiprocessing's resource tracker)."""
    found = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [child for child in found
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


@pytest.fixture
def served(web_archive: WebArchive, tmp_path: Path) -> Iterator[tuple[str, Path, int]]:
    """``records serve --workers 2`` on a copy of the archive that has no session key yet,
    so the processes make it as they start; (base URL, home, the serving process's pid)."""
    home = tmp_path / "home"
    shutil.copytree(web_archive.home, home)
    (home / "web" / "session.key").unlink(missing_ok=True)
    port, log_path = free_port(), tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "records.cli", "serve", "--port", str(port),
             "--workers", str(PROCESSES)],
            env=records_env(home), stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_for_port(port, process, log_path)
            yield f"http://127.0.0.1:{port}", home, process.pid
        finally:
            process.terminate()
            process.wait(30)
    # A worker that died (and was started again by uvicorn) leaves its traceback here.
    assert "Traceback" not in log_path.read_text(errors="replace")


def signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    done = client.post("/login", data={"username": "boss", "password": PASSWORD, "csrf": csrf},
                       follow_redirects=True)
    assert done.status_code == 200 and "Sign out" in done.text, done.text[:300]
    return client


def test_every_process_honours_one_sign_in_and_keeps_the_log_whole(
        served: tuple[str, Path, int], web_archive: WebArchive) -> None:
    base, home, pid = served
    workers = workers_of(pid)
    assert len(workers) == PROCESSES, workers
    before = {worker: cpu_seconds(worker) for worker in workers}
    logged = len(AuditLog(home).entries())
    session = signed_in(base)
    token = {"Authorization": f"Bearer {web_archive.tokens['reader']}"}

    def one(n: int) -> tuple[int, str]:
        if n % 2:  # the browser's session, signed in on whichever process took the form
            answer = session.get("/", params={"q": "lưu trữ"}, follow_redirects=False)
            return answer.status_code, "Sign out" if "Sign out" in answer.text else answer.text
        answer = httpx.get(f"{base}/api/search", params={"q": "Behörde"}, headers=token,
                           timeout=60)
        return answer.status_code, "ok" if "total" in answer.json() else answer.text

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(REQUESTS)))
    assert [a for a in answers if a[0] != 200 or a[1] not in ("ok", "Sign out")] == []
    busy = [worker for worker in workers if cpu_seconds(worker) - before[worker] > 0.05]
    assert sorted(busy) == sorted(workers), "one process answered every request"
    assert AuditLog(home).verify() == []  # every process appended to one unbroken chain
    searches = [e for e in AuditLog(home).entries()[logged:] if e["action"] == "search"]
    assert len(searches) == REQUESTS


def test_processes_starting_together_share_the_first_key(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process made the key between this one's look and its write: it is used, not
    overwritten, and the start does not fail (the key file appears in the window)."""
    home = tmp_path / "home"
    first = web_app._secret_key(home)
    monkeypatch.setattr(Path, "is_file", lambda self: False)  # looked before it was made
    assert web_app._secret_key(home) == first
    assert [p.name for p in (home / "web").iterdir()] == ["session.key"]  # nothing left aside
    assert (home / "web" / "session.key").stat().st_mode & 0o777 == 0o600
