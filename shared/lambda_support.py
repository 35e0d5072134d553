"""Lambda plumbing shared by the handlers: ports from the environment, SQS batch consumption.

Clients and ports are built once per cold start (cached) and never at import.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, SqsRecordModel
from pydantic import Json

from shared.consumer import Handle, consume
from shared.ports import Envelope, Pipeline, Ports, StageDefaults
from shared.settings import CoreSettings, NotifySettings, StageSettings


class BridgeEvent(EventBridgeModel):
    """EventBridge event as delivered to SQS. `account` is optional: test buses omit it."""

    account: str = ""  # type: ignore[assignment]


class BridgeRecord(SqsRecordModel):
    body: Json[BridgeEvent]  # type: ignore[assignment]


def envelope_of(record: BridgeRecord) -> Envelope:
    event = record.body
    return Envelope(
        source=event.source,
        detail_type=event.detail_type,
        detail=dict(event.detail),
        event_id=event.id,
        receive_count=int(record.attributes.ApproximateReceiveCount),
    )


@functools.cache
def ports_from_env() -> Ports:
    from shared.adapters.aws import (
        DynamoJobTable,
        EventBridgeBus,
        S3ObjectStore,
        SageMakerLauncher,
        SesMailer,
        clients,
    )

    core = CoreSettings.from_env()
    aws = clients()
    stage_image = os.environ.get("STAGE_IMAGE_URI", "")
    role = os.environ.get("SAGEMAKER_ROLE_ARN", "")
    return Ports(
        store=S3ObjectStore(aws["s3"]),
        bus=EventBridgeBus(aws["events"], core.event_bus),
        table=DynamoJobTable(aws["dynamodb"], core.jobs_table),
        launcher=SageMakerLauncher(aws["sagemaker"], stage_image, role),
        mailer=SesMailer(aws["ses"], os.environ.get("SENDER_EMAIL", "")),
    )


@functools.cache
def pipeline_from_env(stage: str | None = None) -> Pipeline:
    core = CoreSettings.from_env()
    stages: dict[str, StageDefaults] = {}
    if stage is not None:
        settings = StageSettings.from_env()
        stages[stage] = StageDefaults(
            instance_type=settings.instance_type, max_runtime_s=settings.max_runtime_s, spot=settings.use_spot
        )
    extra: dict[str, Any] = {}
    if "SENDER_EMAIL" in os.environ:
        notify = NotifySettings.from_env()
        extra = {"link_expiry_s": notify.link_expiry_s, "viewer_base_url": notify.viewer_base_url}
    return Pipeline(bucket=core.bucket, stages=stages, **extra)


def consume_sqs_batch(
    event: dict[str, Any],
    context: Any,
    service: str,
    handle: Handle,
    pipeline: Pipeline,
    fail_job_on_last_delivery: bool = True,
) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS, model=BridgeRecord, raise_on_entire_batch_failure=False)
    ports = ports_from_env()

    def record_handler(record: BridgeRecord) -> None:
        consume(service, handle, envelope_of(record), ports, pipeline, fail_job_on_last_delivery)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
