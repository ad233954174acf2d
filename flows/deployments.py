"""The project's deployments, defined as code: what `records deploy` registers on a server.

- ``digitise_batch/digitise``: run on demand by `records queue` (and `records watch`) when
  ``PREFECT_API_URL`` is set; at most ``server.batches_at_once`` at a time when set.
- ``fixity_audit/nightly``: re-verifies ``server.fixity_sample`` records every night.
- ``roadmap_report/weekly``: writes the roadmap report every Monday morning.

Workers run flows from the installed package (module-path entrypoints), so every worker
machine needs `records` installed and the same settings (shared RECORDS_HOME, the catalog on
PostgreSQL), nothing else: no code is pulled at run time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect.automations import Automation
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
    WorkPoolCreate,
)
from prefect.client.schemas.objects import StateType
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.workers.process import ProcessWorker

from config.settings import Settings
from flows.digitise import digitise_batch
from flows.fixity import NIGHTLY, fixity_audit
from flows.roadmap import WEEKLY, roadmap_report
from flows.token import HSM_LIMIT

DIGITISE = "digitise_batch/digitise"  # what run_deployment is given
ZOMBIE_AUTOMATION = "records: crash zombie flow runs"


def deployments(settings: Settings) -> list[RunnerDeployment]:
    """The three deployments, as they are registered."""
    common: dict[str, Any] = {"work_pool_name": settings.server.pool,
                              "entrypoint_type": EntrypointType.MODULE_PATH}
    return [
        digitise_batch.to_deployment(
            "digitise", concurrency_limit=settings.server.batches_at_once or None,
            description="Digitise a scan batch (queued by `records queue`)", **common),
        fixity_audit.to_deployment(
            "nightly", cron=NIGHTLY, parameters={"sample": settings.server.fixity_sample},
            description="Re-verify the archived copies checked longest ago", **common),
        roadmap_report.to_deployment(
            "weekly", cron=WEEKLY, description="Write the roadmap report", **common),
    ]


def deploy(settings: Settings) -> list[str]:
    """Create the work pool, the HSM limit and the zombie automation if missing, and register
    (or update) the deployments; return their names."""
    ensure_pool(settings.server.pool)
    ensure_hsm_limit(settings.signing.hsm_concurrency)
    ensure_zombie_automation(settings.server.zombie_after_seconds)
    names = []
    for deployment in deployments(settings):
        deployment.apply()
        names.append(f"{deployment.flow_name}/{deployment.name}")
    return names


def ensure_pool(name: str) -> None:
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
        except ObjectNotFound:
            template = ProcessWorker.get_default_base_job_template()
            client.create_work_pool(WorkPoolCreate(name=name, type="process",
                                                   base_job_template=template))


def ensure_hsm_limit(slots: int) -> None:
    """A signing token serialises: every worker's signing takes a slot of one global limit."""
    with get_client(sync_client=True) as client:
        try:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=HSM_LIMIT, limit=slots))
        except ObjectAlreadyExists:
            client.update_global_concurrency_limit(
                HSM_LIMIT, GlobalConcurrencyLimitUpdate(limit=slots))


def ensure_zombie_automation(after_seconds: int) -> None:
    """Prefect's recipe: a flow run whose heartbeats stop (its worker died, its machine lost
    power) is marked Crashed, so `records status` says so and `records queue` reruns it."""
    automation = Automation(
        name=ZOMBIE_AUTOMATION,
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", "prefect.flow-run.Completed",
                    "prefect.flow-run.Failed", "prefect.flow-run.Cancelled",
                    "prefect.flow-run.Crashed"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=after_seconds),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message=f"no heartbeat for {after_seconds} s: the worker "
                                            "running it is gone")],
    )
    try:
        existing = Automation.read(name=ZOMBIE_AUTOMATION)
    except ValueError:
        automation.create()
        return
    if existing.trigger != automation.trigger:  # settings changed since the last deploy
        existing.delete()
        automation.create()
