"""Who hears which event: the single source of truth for event routing.

`infra/template.yaml` turns each route into an EventBridge rule targeting the consumer's SQS queue
(a test checks that the template's rules equal these routes); the local runtime delivers events
to queues with `matches`. Our own events travel on our bus; S3 and SageMaker publish to the
account's default bus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shared.events import EVENT_SOURCE, PROCESSING_STATE_CHANGE, SAGEMAKER_SOURCE, TRAINING_STATE_CHANGE
from shared.layout import INBOX, JOB_NAME_PREFIX, MANIFEST_NAME

Consumer = Literal["ingest", "sfm", "train", "compress", "notify"]


@dataclass(frozen=True)
class Route:
    rule: str  # logical name of the rule (template: <Rule>Rule)
    consumer: Consumer  # the service whose queue receives the event
    bus: Literal["spaceport", "default"]
    source: str
    detail_types: tuple[str, ...]
    job_name_prefix: str | None = None  # aws.sagemaker: only our stage's jobs
    key_prefix: str | None = None  # aws.s3: object key prefix
    key_suffix: str | None = None  # aws.s3: object key suffix


def _sagemaker_route(rule: str, consumer: Consumer, detail_type: str) -> Route:
    return Route(
        rule=rule,
        consumer=consumer,
        bus="default",
        source=SAGEMAKER_SOURCE,
        detail_types=(detail_type,),
        job_name_prefix=f"{JOB_NAME_PREFIX}{consumer}-",
    )


ROUTES: tuple[Route, ...] = (
    Route(
        rule="ManifestUploaded",
        consumer="ingest",
        bus="default",
        source="aws.s3",
        detail_types=("Object Created",),
        key_prefix=INBOX,
        key_suffix=f"/{MANIFEST_NAME}",
    ),
    Route("SfmTriggers", "sfm", "spaceport", EVENT_SOURCE, ("JobSubmitted", "JobCancelRequested")),
    _sagemaker_route("SfmJobStateChanged", "sfm", PROCESSING_STATE_CHANGE),
    Route("TrainTriggers", "train", "spaceport", EVENT_SOURCE, ("SfmCompleted", "JobCancelRequested")),
    _sagemaker_route("TrainJobStateChanged", "train", TRAINING_STATE_CHANGE),
    Route("CompressTriggers", "compress", "spaceport", EVENT_SOURCE, ("TrainingCompleted", "JobCancelRequested")),
    _sagemaker_route("CompressJobStateChanged", "compress", PROCESSING_STATE_CHANGE),
    Route("NotifyTriggers", "notify", "spaceport", EVENT_SOURCE, ("CompressionCompleted", "JobFailed")),
)

JOB_NAME_FIELDS = {PROCESSING_STATE_CHANGE: "ProcessingJobName", TRAINING_STATE_CHANGE: "TrainingJobName"}


def event_pattern(route: Route) -> dict[str, Any]:
    """The EventBridge pattern for a route (what the template's rule must say)."""
    pattern: dict[str, Any] = {"source": [route.source], "detail-type": list(route.detail_types)}
    if route.job_name_prefix:
        field = JOB_NAME_FIELDS[route.detail_types[0]]
        pattern["detail"] = {field: [{"prefix": route.job_name_prefix}]}
    if route.key_suffix:
        # One matcher per key: the suffix filters here; the consumer re-checks the prefix.
        pattern["detail"] = {"object": {"key": [{"suffix": route.key_suffix}]}}
    return pattern


def matches(route: Route, source: str, detail_type: str, detail: dict[str, Any]) -> bool:
    if source != route.source or detail_type not in route.detail_types:
        return False
    if route.job_name_prefix:
        name = str(detail.get(JOB_NAME_FIELDS[detail_type], ""))
        if not name.startswith(route.job_name_prefix):
            return False
    if route.key_prefix or route.key_suffix:
        key = str(detail.get("object", {}).get("key", ""))
        if route.key_prefix and not key.startswith(route.key_prefix):
            return False
        if route.key_suffix and not key.endswith(route.key_suffix):
            return False
    return True


def consumers_of(source: str, detail_type: str, detail: dict[str, Any]) -> list[Consumer]:
    return [route.consumer for route in ROUTES if matches(route, source, detail_type, detail)]
