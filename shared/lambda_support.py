"""Lambda plumbing shared by the handlers: ports from the environment, SQS batch consumption.

Clients and ports are built once per cold start (cached) and never at import.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, SqsRecordModel
from pydantic import Json

from shared.consumer import Handle, consume
from shared.errors import ConfigurationError
from shared.ports import Envelope, ObjectStore, Pipeline, Ports, StageDefaults
from shared.settings import CoreSettings, NotifySettings, StageSettings

if TYPE_CHECKING:
    from shared.adapters.aws import SecretsManagerSecret


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
def link_secret_from_env() -> SecretsManagerSecret | None:
    """The HMAC key of link tokens (LINK_SECRET_ARN), fetched on first use; None if not set."""
    from shared.adapters.aws import SecretsManagerSecret, clients

    arn = os.environ.get("LINK_SECRET_ARN", "").strip()
    return SecretsManagerSecret(clients()["secretsmanager"], arn) if arn else None


def link_secret() -> bytes:
    """The link secret's value, for checking tokens; a ConfigurationError if it is not set."""
    secret = link_secret_from_env()
    if secret is None:
        raise ConfigurationError("environment variable LINK_SECRET_ARN is not set")
    return secret.value()


def direct_store(store: ObjectStore) -> ObjectStore:
    """The store under a token-link wrapper: its links are short-lived presigned S3 URLs."""
    from shared.adapters.aws import TokenLinkStore

    return store.direct if isinstance(store, TokenLinkStore) else store


def ports_linking_to(base_url: str) -> Ports:
    """`ports_from_env()` whose links are `<base_url>/links/<token>` (when a link secret is set).

    For the API function, which learns its public URL from each request: its own URL in its
    environment would make the template circular (the API is built from the function). A
    PUBLIC_API_URL that is set (a custom domain, say) wins over `base_url`.
    """
    from shared.adapters.aws import TokenLinkStore

    ports = ports_from_env()
    secret = link_secret_from_env()
    if secret is None or os.environ.get("PUBLIC_API_URL", "").strip():
        return ports
    return dataclasses.replace(ports, store=TokenLinkStore(direct_store(ports.store), secret.value, base_url))


@functools.cache
def ports_from_env() -> Ports:
    """Ports of the deployment. With LINK_SECRET_ARN and PUBLIC_API_URL set, `store.link` makes
    `<PUBLIC_API_URL>/links/<token>` URLs that outlive the function's credentials."""
    from shared.adapters.aws import EventBridgeBus, S3ObjectStore, SesMailer, TokenLinkStore, clients
    from shared.adapters.dynamo import DynamoJobTable
    from shared.adapters.sagemaker import SageMakerLauncher

    core = CoreSettings.from_env()
    aws = clients()
    stage_image = os.environ.get("STAGE_IMAGE_URI", "")
    role = os.environ.get("SAGEMAKER_ROLE_ARN", "")
    store: ObjectStore = S3ObjectStore(aws["s3"])
    secret = link_secret_from_env()
    public_api_url = os.environ.get("PUBLIC_API_URL", "").strip()
    if secret is not None and public_api_url:
        store = TokenLinkStore(store, secret.value, public_api_url)
    return Ports(
        store=store,
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
