"""``server.batches_per_worker`` and ``server.batches_at_once``, for real: PostgreSQL, a Prefect
server on it, `records deploy`, `records worker start`, batches queued with `records queue`.
How many batches ran at once is read from the server's own flow runs (start and end of each
run), and from the batch ledgers the runs wrote."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from archive.intake import Ledger
from tests.conftest import Scans, new_database
from tests.records.cli.test_workers import (  # noqa: F401 (prefect_server is a fixture)
    batch_of,
    cli,
    environment,
    prefect_server,
    start_worker,
    stop,
    wait_all_finished,
)

Interval = tuple[datetime, datetime]


def api(url: str, path: str, body: dict | None = None) -> object:
    request = urllib.request.Request(
        f"{url}{path}", data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def run_intervals(url: str, flow_runs: list[str]) -> dict[str, Interval]:
    """When each flow run was running, as the server recorded it."""
    runs = api(url, "/flow_runs/filter", {"flow_runs": {"id": {"any_": flow_runs}}})
    assert isinstance(runs, list) and len(runs) == len(flow_runs)
    found = {}
    for run in runs:
        assert run["state_type"] == "COMPLETED", (run["id"], run["state_type"])
        found[run["id"]] = (datetime.fromisoformat(run["start_time"]),
                            datetime.fromisoformat(run["end_time"]))
    return found


def most_at_once(intervals: list[Interval]) -> int:
    """The largest number of intervals open at one instant (one ending as another starts
    does not count as both)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def ledger_intervals(home: Path, batch_ids: set[str]) -> dict[str, tuple[str, Interval]]:
    """Each batch's node and the time its flow ran its body, from its ledger."""
    found = {}
    for report in Ledger(home).find(None):
        if report.batch_id in batch_ids:
            assert report.state == "finished" and report.finished, report.batch_id
            found[report.batch_id] = (report.host, (datetime.fromisoformat(report.started),
                                                    datetime.fromisoformat(report.finished)))
    assert set(found) == batch_ids
    return found


def queue_batches(shared: dict[str, str], inbox: Path, scans: Scans,
                  seeds: list[int]) -> list[dict]:
    """A batch of two letters per seed (seed, seed + 50), each queued on the server."""
    queued = []
    for seed in seeds:
        folder = batch_of(inbox / f"batch-{seed}", scans, (seed, seed + 50))
        done = cli(["queue", str(folder), "--unit", "HN", "--json"], shared)
        assert done.returncode == 0, done.stderr
        queued.append(json.loads(done.stdout))
    assert [q["outcome"] for q in queued] == ["queued"] * len(seeds)
    return queued


def deployment_limit(url: str) -> int | None:
    """The digitise deployment's concurrency limit as the server holds it (None: none)."""
    found = api(url, "/deployments/name/digitise_batch/digitise")
    assert isinstance(found, dict)
    limit = found["global_concurrency_limit"]
    return limit["limit"] if limit and limit["active"] else None


def settings_env(url: str, postgres_url: str, home: Path, tmp_path: Path, database: str,
                 **settings: str) -> dict[str, str]:
    return environment(RECORDS_HOME=str(home), RECORDS_CATALOG__URL=new_database(
        postgres_url, database), RECORDS_OCR__LANGUAGES="eng", RECORDS_OCR__JOBS="1",
        PREFECT_API_URL=url, PREFECT_HOME=str(tmp_path / "client-prefect"), **settings)


@pytest.mark.flow
def test_a_worker_runs_no_more_batches_at_once_than_batches_per_worker(
        prefect_server: str, postgres_url: str, home: Path, scans: Scans,  # noqa: F811
        tmp_path: Path) -> None:
    """Three batches waiting, one worker allowed two: two run together, never three."""
    shared = settings_env(prefect_server, postgres_url, home, tmp_path, "catalog_per_worker",
                          RECORDS_SERVER__BATCHES_PER_WORKER="2",
                          RECORDS_SERVER__BATCHES_AT_ONCE="0")
    deployed = cli(["deploy"], shared)
    assert deployed.returncode == 0, deployed.stderr
    assert deployment_limit(prefect_server) is None  # no limit across workers
    # Queued before the worker polls: it finds all three waiting at once.
    queued = queue_batches(shared, tmp_path / "inbox", scans, [151, 152, 153])
    worker = start_worker("a", shared, tmp_path)
    try:
        reports = wait_all_finished(shared, {q["batch_id"] for q in queued}, seconds=300)
    finally:
        stop(worker)
    assert all(r["prefect_state"] == "COMPLETED" and r["host"] == "a" for r in reports)
    assert [d["status"] for r in reports for d in r["documents"]] == ["archived"] * 6
    runs = run_intervals(prefect_server, [q["flow_run"] for q in queued])
    assert most_at_once(list(runs.values())) == 2, runs
    ledgers = ledger_intervals(home, {q["batch_id"] for q in queued})
    assert most_at_once([span for _, span in ledgers.values()]) <= 2, ledgers


@pytest.mark.flow
def test_workers_together_run_no_more_batches_at_once_than_batches_at_once(
        prefect_server: str, postgres_url: str, home: Path, scans: Scans,  # noqa: F811
        tmp_path: Path) -> None:
    """Four batches waiting, two workers allowed two each (four at once), the deployment
    limited to two: two run together across both machines, never three or four."""
    shared = settings_env(prefect_server, postgres_url, home, tmp_path, "catalog_at_once",
                          RECORDS_SERVER__BATCHES_PER_WORKER="2",
                          RECORDS_SERVER__BATCHES_AT_ONCE="2")
    deployed = cli(["deploy"], shared)
    assert deployed.returncode == 0, deployed.stderr
    assert deployment_limit(prefect_server) == 2
    queued = queue_batches(shared, tmp_path / "inbox", scans, [161, 162, 163, 164])
    workers = [start_worker(node, shared, tmp_path) for node in ("a", "b")]
    try:
        reports = wait_all_finished(shared, {q["batch_id"] for q in queued}, seconds=360)
    finally:
        for worker in workers:
            stop(worker)
    assert all(r["prefect_state"] == "COMPLETED" for r in reports)
    assert [d["status"] for r in reports for d in r["documents"]] == ["archived"] * 8
    runs = run_intervals(prefect_server, [q["flow_run"] for q in queued])
    assert most_at_once(list(runs.values())) == 2, runs
    ledgers = ledger_intervals(home, {q["batch_id"] for q in queued})
    assert most_at_once([span for _, span in ledgers.values()]) <= 2, ledgers
    for node in {host for host, _ in ledgers.values()}:  # and each worker within its own
        assert most_at_once([s for h, s in ledgers.values() if h == node]) <= 2


def test_deploying_again_with_batches_at_once_0_lifts_the_limit(
        prefect_server: str, postgres_url: str, home: Path, tmp_path: Path) -> None:  # noqa: F811
    """`records deploy` is "safe to run again": the limit follows the settings both ways."""
    for at_once, expected in (("3", 3), ("0", None), ("1", 1)):
        shared = settings_env(prefect_server, postgres_url, home, tmp_path, "catalog_redeploy",
                              RECORDS_SERVER__BATCHES_AT_ONCE=at_once)
        deployed = cli(["deploy"], shared)
        assert deployed.returncode == 0, deployed.stderr
        assert deployment_limit(prefect_server) == expected, at_once
