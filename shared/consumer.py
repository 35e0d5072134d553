"""Consuming one routed event, the same way in a Lambda (SQS) and in the local runtime.

At-least-once delivery means a message may come again; the services are idempotent. A message
that keeps failing goes to the dead-letter queue after `max_receive_count` deliveries. On that
last delivery we mark the job failed and tell the user (a poison message must not leave a job
hanging silently), then let the message go to the DLQ for an operator to inspect and redrive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared.causes import CauseCode, advice_for
from shared.events import SAGEMAKER_SOURCE
from shared.layout import is_job_id, parse_sagemaker_job_name
from shared.ports import Envelope, Pipeline, Ports
from shared.stage import FailureReport

logger = logging.getLogger(__name__)

Handle = Callable[[Envelope, Ports, Pipeline], None]


def job_id_of(envelope: Envelope) -> str | None:
    if envelope.source == SAGEMAKER_SOURCE:
        for field in ("ProcessingJobName", "TrainingJobName"):
            parsed = parse_sagemaker_job_name(str(envelope.detail.get(field, "")))
            if parsed:
                return parsed[1]
        return None
    candidate = envelope.detail.get("job_id")
    return candidate if isinstance(candidate, str) and is_job_id(candidate) else None


def consume(
    service: str,
    handle: Handle,
    envelope: Envelope,
    ports: Ports,
    pipeline: Pipeline,
    fail_job_on_last_delivery: bool = True,
) -> None:
    try:
        handle(envelope, ports, pipeline)
    except Exception as exc:
        last = envelope.receive_count >= pipeline.max_receive_count
        logger.exception(
            "message failed",
            extra={"service": service, "receive_count": envelope.receive_count, "last_delivery": last},
        )
        if last and fail_job_on_last_delivery:
            _fail_poisoned_job(service, envelope, ports, exc)
        raise


def _fail_poisoned_job(service: str, envelope: Envelope, ports: Ports, exc: Exception) -> None:
    from shared.stage_service import fail_job  # local import: keeps the cycle out of module load

    job_id = job_id_of(envelope)
    if job_id is None:
        return
    report = FailureReport(
        cause=CauseCode.INTERNAL_ERROR,
        message=f"{service} could not process {envelope.detail_type} after repeated tries ({type(exc).__name__})",
        advice=advice_for(CauseCode.INTERNAL_ERROR),
    )
    try:
        fail_job(job_id, service, report, ports)
    except Exception:  # noqa: BLE001 - best effort; the DLQ alarm still fires
        logger.exception("could not mark poisoned job failed", extra={"job_id": job_id})

