"""Scaling out, for real: PostgreSQL, a Prefect server on it, two workers in separate
folders (two machines), three batches queued from another process."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from archive.index import Catalog
from archive.index.catalog import records
from tests.conftest import PgServer, Scans, free_port, new_database
from tests.waiting import wait_until

RECORDS = [sys.executable, "-m", "records.cli"]


def environment(**extra: str) -> dict[str, str]:
    # The runner's PYTHONWARNINGS would decide whether records quiets warnings (it does only
    # when Python was given none): records' own choice is what the tests check.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RECORDS_", "PREFECT_")) and k != "PYTHONWARNINGS"}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", **extra)
    return env


def wait_for(url: str, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"{url} did not answer in {seconds} s")


@pytest.fixture(scope="module")
def prefect_server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[str]:
    """`records server start` with Prefect's database on PostgreSQL."""
    database = make_url(new_database(postgres_url, "prefect")).set(
        drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    port = free_port()
    log = (tmp_path_factory.mktemp("server") / "server.log").open("w")
    process = subprocess.Popen(
        [*RECORDS, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=environment(RECORDS_HOME=str(tmp_path_factory.mktemp("server-home")),
                        PREFECT_API_DATABASE_CONNECTION_URL=database),
        stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/api/health", process)
        yield f"http://127.0.0.1:{port}/api"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*RECORDS, *args], env=env, capture_output=True, text=True,
                          timeout=300)


def batch_of(folder: Path, scans: Scans, seeds: tuple[int, ...]) -> Path:
    folder.mkdir(parents=True)
    for seed in seeds:
        page, _ = scans.page("eng", seed=seed)
        (folder / f"letter-{seed}.png").write_bytes(page.read_bytes())
    return folder


@pytest.mark.flow
def test_two_workers_drain_three_batches_once_each(prefect_server: str, postgres_url: str,
                                                   home: Path, scans: Scans,
                                                   tmp_path: Path) -> None:
    catalog_url = new_database(postgres_url, "catalog_workers")
    shared = environment(RECORDS_HOME=str(home), RECORDS_CATALOG__URL=catalog_url,
                         RECORDS_OCR__LANGUAGES="eng", PREFECT_API_URL=prefect_server,
                         PREFECT_HOME=str(tmp_path / "client-prefect"))
    deployed = cli(["deploy"], shared)
    assert deployed.returncode == 0, deployed.stderr
    assert "digitise_batch/digitise" in deployed.stderr

    workers = [start_worker(node, shared, tmp_path) for node in ("a", "b")]
    try:
        # Both must poll before anything is queued: otherwise, on a busy machine, worker a
        # can drain all three batches while b is still importing, and "both took work"
        # would test the machine's load, not the pool.
        wait_workers_online(prefect_server, {"records-a", "records-b"}, workers)
        inbox = tmp_path / "shared-inbox"
        folders = [batch_of(inbox / f"batch-{n}", scans, (80 + 2 * n, 81 + 2 * n))
                   for n in range(3)]
        queued = []
        for folder in folders:
            done = cli(["queue", str(folder), "--unit", "HN", "--json"], shared)
            assert done.returncode == 0, done.stderr
            queued.append(json.loads(done.stdout))
        assert [q["outcome"] for q in queued] == ["queued"] * 3
        again = json.loads(cli(["queue", str(folders[0]), "--unit", "HN", "--json"],
                               shared).stdout)
        assert again["batch_id"] == queued[0]["batch_id"]  # the same scans: the same run
        assert again["outcome"] in ("already queued", "already done")

        reports = wait_all_finished(shared, {q["batch_id"] for q in queued})
        assert {r["host"] for r in reports} == {"a", "b"}  # both machines took work
        assert all(r["prefect_state"] == "COMPLETED" for r in reports)
        archived = [d for r in reports for d in r["documents"] if d["status"] == "archived"]
        assert len(archived) == 6, [(d["source"], d["status"], d["reason"]) for r in reports
                                    for d in r["documents"]]
        catalog = Catalog.open(catalog_url)
        with catalog.engine.connect() as db:
            assert db.execute(select(func.count()).select_from(records)).scalar_one() == 6
        catalog.engine.dispose()
        assert len(_objects(home)) == 6

        last = json.loads(cli(["queue", str(folders[2]), "--unit", "HN", "--json"],
                              shared).stdout)
        assert last["outcome"] == "already done"
        fourth = batch_of(inbox / "batch-3", scans, (88,))
        followed = cli(["queue", str(fourth), "--unit", "HN", "--wait", "--json"], shared)
        assert followed.returncode == 0, followed.stderr  # --wait: to the end, then the result
        assert [d["status"] for d in json.loads(followed.stdout)["documents"]] == ["archived"]
    finally:
        for worker in workers:
            stop(worker)


# A library that warns as it is imported, but only in a flow run a worker starts (`python -m
# prefect.engine`), not in the worker or the command that queued the batch. Prefect itself is
# the library: its import comes before Prefect sends warnings to its logs (at a level
# records keeps quiet), so only the warnings filter the run inherits can hide this one.
NOISY_FLOW_RUN = """
import importlib.abc, sys, warnings

class Noisy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "prefect" and "prefect.engine" in sys.orig_argv:
            warnings.warn("injected: a flow run's library deprecates something", UserWarning)
        return None

sys.meta_path.insert(0, Noisy())
"""


@pytest.mark.flow
def test_a_flow_runs_library_warnings_stay_out_of_the_workers_log(
        prefect_server: str, postgres_url: str, home: Path, scans: Scans,
        tmp_path: Path) -> None:
    """The flow runs a worker starts inherit its quiet warnings (PYTHONWARNINGS, set by
    main()); a worker started with RECORDS_DEBUG=1 shows them (the control)."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(NOISY_FLOW_RUN)
    shared = environment(RECORDS_HOME=str(home), PREFECT_API_URL=prefect_server,
                         RECORDS_CATALOG__URL=new_database(postgres_url, "catalog_warnings"),
                         RECORDS_OCR__LANGUAGES="eng", PYTHONPATH=str(tmp_path / "site"),
                         PREFECT_HOME=str(tmp_path / "client-prefect"))
    deployed = cli(["deploy"], shared)
    assert deployed.returncode == 0, deployed.stderr
    logs = {}
    for node, extra, seed in (("loud", {"RECORDS_DEBUG": "1"}, 92), ("quiet", {}, 93)):
        worker = start_worker(node, {**shared, **extra}, tmp_path)
        try:
            wait_workers_online(prefect_server, {f"records-{node}"}, [worker])
            folder = batch_of(tmp_path / "inbox" / node, scans, (seed,))
            done = cli(["queue", str(folder), "--unit", "HN", "--wait", "--json"], shared)
            assert done.returncode == 0, done.stderr
            assert [d["status"] for d in json.loads(done.stdout)["documents"]] == ["archived"]
        finally:
            stop(worker)
        logs[node] = (tmp_path / f"machine-{node}" / "worker.log").read_text()
    assert "injected: a flow run's library" in logs["loud"], logs["loud"][-3000:]
    assert "injected: a flow run's library" not in logs["quiet"], logs["quiet"][-3000:]


def wait_workers_online(api: str, names: set[str], workers: list[subprocess.Popen],
                        seconds: float = 180) -> None:
    """Until every named worker has sent the pool a heartbeat (Prefect registers a worker
    with its first poll), failing loudly when one exits or never comes up."""
    deadline = time.monotonic() + seconds
    seen: set[str] = set()
    while time.monotonic() < deadline:
        if exited := [w.args for w in workers if w.poll() is not None]:
            raise RuntimeError(f"a worker exited before it polled: {exited}")
        request = urllib.request.Request(f"{api}/work_pools/records/workers/filter",
                                         data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            seen = {w["name"] for w in json.load(answer)}
        if names <= seen:
            return
        time.sleep(1)
    raise TimeoutError(f"workers {sorted(names - seen)} did not poll in {seconds} s")


def wait_all_finished(env: dict[str, str], batch_ids: set[str],
                      seconds: float = 420) -> list[dict]:
    deadline = time.monotonic() + seconds
    reports: list[dict] = []
    while time.monotonic() < deadline:
        shown = cli(["status", "--json"], env)
        assert shown.returncode == 0, shown.stderr
        reports = [r for r in json.loads(shown.stdout) if r["batch_id"] in batch_ids]
        if len(reports) == len(batch_ids) and all(
                r.get("prefect_state") in ("COMPLETED", "FAILED", "CRASHED") for r in reports):
            return reports
        time.sleep(3)
    raise TimeoutError(f"batches not finished in {seconds} s: "
                       f"{[(r['batch_id'], r.get('prefect_state')) for r in reports]}")


@pytest.mark.flow
def test_a_worker_killed_mid_batch_is_detected_and_the_batch_rerun(
        prefect_server: str, postgres_url: str, home: Path, scans: Scans,
        tmp_path: Path) -> None:
    """kill -9 of a worker machine mid-batch: the heartbeat automation marks the run Crashed,
    `records status` says the batch was interrupted, `records queue` of the same scans runs
    it again on another worker, the pages done are not recognised again, no record doubles."""
    shared = environment(RECORDS_HOME=str(home),
                         RECORDS_CATALOG__URL=new_database(postgres_url, "catalog_crash"),
                         RECORDS_OCR__LANGUAGES="eng", PREFECT_API_URL=prefect_server,
                         PREFECT_HOME=str(tmp_path / "client-prefect"),
                         RECORDS_SERVER__HEARTBEAT_SECONDS="31",
                         RECORDS_SERVER__ZOMBIE_AFTER_SECONDS="60")
    assert cli(["deploy"], shared).returncode == 0
    batch = tmp_path / "inbox" / "batch"
    for number in range(1, 4):
        batch_of(batch / f"record-{number}", scans, (90 + 2 * number, 91 + 2 * number))
    doomed = start_worker("a", shared, tmp_path, new_session=True)
    queued = json.loads(cli(["queue", str(batch), "--unit", "HN", "--json"], shared).stdout)
    cache = home / "cache" / "pages"
    wait_until(lambda: len(list(cache.rglob("result.json"))) >= 2,
               "two pages recognised, to kill the worker in the middle of", 300,
               process=doomed)
    os.killpg(doomed.pid, signal.SIGKILL)  # the machine is gone: worker, run, Tesseract
    doomed.wait()
    survivors = {p: p.stat().st_mtime_ns for p in cache.rglob("result.json")}
    assert 2 <= len(survivors) < 6, "the kill came too late to test anything"

    state: dict = {}

    def interrupted() -> bool:
        state.update(json.loads(cli(["status", queued["batch_id"], "--json"], shared).stdout))
        return state.get("effective_state") == "interrupted"

    wait_until(interrupted, "the killed batch shown as interrupted", 240, every=5)
    assert state["prefect_state"] == "CRASHED" and "records queue" in state["reason"]

    rescuer = start_worker("b", shared, tmp_path)
    try:
        again = json.loads(cli(["queue", str(batch), "--unit", "HN", "--json"], shared).stdout)
        assert (again["batch_id"], again["outcome"]) == (queued["batch_id"], "queued again")
        [report] = wait_all_finished(shared, {queued["batch_id"]})
        assert report["prefect_state"] == "COMPLETED" and report["host"] == "b"
        assert [d["status"] for d in report["documents"]] == ["archived"] * 3
        assert {p: p.stat().st_mtime_ns for p in survivors} == survivors  # not redone
        records_dirs = _objects(home)
        assert len(records_dirs) == 3
        assert all((p / "inventory.json").is_file() for p in records_dirs)  # no half record
    finally:
        stop(rescuer)


def start_worker(node: str, shared: dict[str, str], tmp_path: Path,
                 new_session: bool = False) -> subprocess.Popen:
    folder = tmp_path / f"machine-{node}"
    folder.mkdir(exist_ok=True)
    env = {**shared, "RECORDS_SERVER__NODE": node, "PREFECT_HOME": str(folder / "prefect"),
           "PREFECT_WORKER_QUERY_SECONDS": "1"}
    return subprocess.Popen([*RECORDS, "worker", "start"], env=env, cwd=folder,
                            stdout=(folder / "worker.log").open("a"), stderr=subprocess.STDOUT,
                            start_new_session=new_session)


def stop(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()


def test_the_catalog_database_restarts_mid_batch(postgres: PgServer, home: Path,
                                                 scans: Scans, tmp_path: Path) -> None:
    """PostgreSQL goes down while a batch is archiving, and stays down until a catalog write
    has failed on it (the run's Prefect database shows an archiving task awaiting its retry);
    it comes back at once, so the retries (2, 5, 10 s apart) meet it however slow the
    machine, and the batch completes with every record catalogued once. (It used to stay
    down until another record was committed, which on a loaded machine outlasted the
    retries: the test then measured the load.)"""
    catalog_url = new_database(postgres.url, "catalog_restart")
    env = environment(RECORDS_HOME=str(home), RECORDS_CATALOG__URL=catalog_url,
                      RECORDS_OCR__LANGUAGES="eng")
    batch = tmp_path / "batch"
    # Six records of two pages: after the first is committed, several are still to come
    # however fast the machine, so one's catalog write meets the stopped server.
    for number in range(1, 7):
        batch_of(batch / f"record-{number}", scans, (110 + 2 * number, 111 + 2 * number))
    running = subprocess.Popen([*RECORDS, "queue", str(batch), "--unit", "HN", "--json"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    archive = home / "archive"

    def committed() -> int:
        return sum(p.name.startswith("HN-") for p in archive.glob("*"))

    def retried() -> int:
        """Archiving tasks whose catalog write failed and that were (or wait to be) retried."""
        try:
            with sqlite3.connect(home / "prefect" / "prefect.db", timeout=5) as db:
                return db.execute(
                    "SELECT count(*) FROM task_run WHERE name LIKE 'archive_document-%' AND "
                    "(run_count > 1 OR state_name IN ('AwaitingRetry', 'Retrying'))"
                ).fetchone()[0]
        except sqlite3.Error:  # the embedded server is writing: look again
            return 0

    wait_until(lambda: committed() >= 1, "a first record committed", 300, process=running,
               every=0.1)
    postgres.stop()
    try:
        try:
            wait_until(lambda: retried() >= 1,
                       "a catalog write failed on the stopped server and awaiting its retry",
                       300, process=running, every=0.2)
        except pytest.fail.Exception as failed:
            out, err = running.communicate(timeout=60)
            pytest.fail(f"{failed}\nstdout: {out[-3000:]}\nstderr: {err[:6000]}")
    finally:
        postgres.start()
    stdout, stderr = running.communicate(timeout=600)
    assert running.returncode == 0, (stdout[-3000:], stderr)
    # The run's own Prefect database (embedded server, RECORDS_HOME/prefect): the tasks
    # whose catalog write met the stopped server ran more than once.
    with sqlite3.connect(home / "prefect" / "prefect.db") as db:
        ran_again = db.execute("SELECT count(*) FROM task_run WHERE name LIKE "
                               "'archive_document-%' AND run_count > 1").fetchone()[0]
    assert ran_again >= 1
    documents = json.loads(stdout)["documents"]
    assert [d["status"] for d in documents] == ["archived"] * 6
    catalog = Catalog.open(catalog_url)
    with catalog.engine.connect() as db:
        assert db.execute(select(func.count()).select_from(records)).scalar_one() == 6
    catalog.engine.dispose()
    assert "Traceback" not in stderr  # a retried write is the machine's business, not noise


def _objects(home: Path) -> list[Path]:
    """Every folder of the storage root but its extensions: a half record would count too."""
    return [p for p in (home / "archive").iterdir() if p.is_dir() and p.name != "extensions"]
