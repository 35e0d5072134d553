"""Reconciler: a lost SageMaker state-change event must not strand a job.

EventBridge delivers SageMaker's job-state changes at least once - usually. A rule disabled during
a deploy, a target that failed for a day, or a job found already there by a launch whose table
record was lost would leave a job `*_running` for ever. So on a schedule the reconciler lists the
jobs whose stage runs, describes the compute job of every stage that has run longer than
`window_s`, and hands the state of each finished one back to its stage service exactly as the
event would have reached it (the stage's queue, in the cloud). The stage service treats it as the
event: idempotently, so a duplicate of an event that did arrive changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.jobs import RUNNING, JobState
from shared.ports import JobDescription, JobTable, StageLauncher
from shared.sagemaker_jobs import TERMINAL_STATUSES, status_of

logger = logging.getLogger(__name__)

STAGE_OF_STATE: dict[JobState, str] = {state: stage for stage, state in RUNNING.items()}


class Redelivery(Protocol):
    def redeliver(self, stage: str, description: JobDescription) -> None: ...
    """Hand `description` to the stage service as its state-change event."""


@dataclass(frozen=True)
class ReconcilePorts:
    table: JobTable
    launcher: StageLauncher  # only `describe` is used
    redelivery: Redelivery


@dataclass(frozen=True)
class Reconciled:
    job_id: str
    stage: str
    run_name: str
    status: str  # the compute job's terminal status that was re-delivered


def reconcile(ports: ReconcilePorts, now: datetime, window_s: float) -> list[Reconciled]:
    """Re-deliver the end state of every finished compute job whose stage still runs."""
    done: list[Reconciled] = []
    for job in ports.table.list_in_states(frozenset(STAGE_OF_STATE)):
        stage = STAGE_OF_STATE.get(job.state)
        record = job.stages.get(stage) if stage else None
        if stage is None or record is None or record.status != "running":
            continue
        if (now - record.started_at).total_seconds() < window_s:
            continue  # its event normally comes long before this
        description = ports.launcher.describe(stage, record.run_name)
        if description is None:
            # Claimed but never created: the trigger's redelivery (or its dead letter) settles it.
            logger.warning("running stage without a compute job", extra={"job_id": job.job_id, "stage": stage})
            continue
        status = status_of(description)
        if status not in TERMINAL_STATUSES:
            continue
        logger.info(
            "re-delivering a finished job's state",
            extra={"job_id": job.job_id, "stage": stage, "run_name": record.run_name, "status": status},
        )
        ports.redelivery.redeliver(stage, description)
        done.append(Reconciled(job.job_id, stage, record.run_name, status))
    return done
