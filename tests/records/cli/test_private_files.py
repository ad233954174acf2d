"""records' files are its user's alone, whatever the umask it was started with: the catalog
(every page's text, secret pages included) and its WAL, the audit log of users' queries, the
page cache, the ledger, the archive and Prefect's own files. An entry of the home made earlier
with wider modes is closed; the home itself is left as it is (a hot folder may be in it)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from tests.conftest import Scans
from tests.records.cli.test_cli import RECORDS


def test_a_batch_under_a_wide_umask_leaves_nothing_readable_by_others(
        scans: Scans, tmp_path: Path, home: Path) -> None:
    batch = tmp_path / "batch"
    batch.mkdir()
    page, words = scans.page("eng", seed=71)
    (batch / "letter.png").write_bytes(page.read_bytes())
    home.chmod(0o755)  # the home is left as it is: a hot folder may live in it
    (home / "audit").mkdir(mode=0o755)  # made earlier with the usual modes: closed now
    (home / "audit").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env["RECORDS_HOME"] = str(home)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*RECORDS, *args], env=env, capture_output=True, text=True,
                              timeout=600, preexec_fn=lambda: os.umask(0o022))

    queued = run("queue", str(batch), "--unit", "VP")
    assert queued.returncode == 0, queued.stderr
    assert run("search", max(words.split(), key=len)).returncode == 0  # the audit log too
    assert stat.S_IMODE(home.stat().st_mode) == 0o755
    keys = home / "keys"  # copied in by the fixture, not written by records
    open_to_others = [
        f"{path.relative_to(home)} {stat.S_IMODE(path.lstat().st_mode):o}"
        for path in home.rglob("*")
        if keys not in path.parents and not path.is_symlink() and path.lstat().st_mode & 0o077]
    assert open_to_others == []
    names = {p.name for p in home.rglob("*")}
    assert {"catalog.sqlite", "audit.jsonl"} <= names, sorted(names)[:40]


def test_a_home_records_makes_is_its_users_alone(tmp_path: Path) -> None:
    """Under umask 022, the home records makes itself (and its parents) is 0700."""
    home = tmp_path / "new" / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env["RECORDS_HOME"] = str(home)
    made = subprocess.run([*RECORDS, "users", "list"], env=env, capture_output=True,
                          text=True, timeout=120, preexec_fn=lambda: os.umask(0o022))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert not [p for p in home.rglob("*") if p.lstat().st_mode & 0o077]
