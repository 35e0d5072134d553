"""The resources built from infra/template.yaml route events the way shared/routing.py says.

Everything here runs in moto against resources created by tests/support/aws_env.py from the
template itself: a rule, queue or pattern changed in the template changes what these tests see.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from shared.adapters.aws import EventBridgeBus, SesMailer
from shared.adapters.dynamo import DynamoJobTable
from shared.events import (
    PROCESSING_STATE_CHANGE,
    TRAINING_STATE_CHANGE,
    JobCancelRequested,
    JobSubmitted,
)
from shared.jobs import Job
from shared.lambda_support import BridgeEvent
from shared.layout import sagemaker_job_name
from shared.options import JobOptions
from shared.ports import Email
from shared.routing import ROUTES, consumers_of
from tests.support.aws_env import SpaceportAws, build

JOB_ID = "a" * 20


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[SpaceportAws]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield build()


def drain(env: SpaceportAws, url: str) -> list[dict[str, Any]]:
    """Every message now in the queue (received and deleted), as parsed JSON bodies."""
    sqs = env.client("sqs")
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def deliveries(env: SpaceportAws) -> dict[str, list[dict[str, Any]]]:
    """consumer -> events in its queue, for the queues that received anything."""
    found = {consumer: drain(env, url) for consumer, url in env.queue_urls.items()}
    return {consumer: events for consumer, events in found.items() if events}


def publish_default_bus(env: SpaceportAws, source: str, detail_type: str, detail: dict[str, Any]) -> None:
    result = env.client("events").put_events(
        Entries=[{"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}]
    )
    assert result["FailedEntryCount"] == 0


def submitted() -> JobSubmitted:
    return JobSubmitted(
        job_id=JOB_ID,
        owner="arn:aws:iam::123456789012:user/alice",
        email="alice@example.com",
        inbox_uri="s3://bucket/inbox/banana/",
        photo_count=16,
        photo_bytes=40_000_000,
    )


def test_every_queue_and_dlq_exists_with_its_redrive_policy(aws: SpaceportAws) -> None:
    sqs = aws.client("sqs")
    assert set(aws.queue_urls) == set(aws.dlq_urls) == {"ingest", "sfm", "train", "compress", "notify"}
    for consumer, url in aws.queue_urls.items():
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=aws.dlq_urls[consumer], AttributeNames=["QueueArn"])
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dlq_arn["Attributes"]["QueueArn"]
        assert int(redrive["maxReceiveCount"]) == 3


def test_job_submitted_lands_in_the_sfm_queue_only(aws: SpaceportAws) -> None:
    # WHEN the ingest service publishes JobSubmitted with the real adapter on our bus
    EventBridgeBus(aws.client("events"), aws.event_bus).publish(submitted())
    # THEN only sfm hears it, as the raw EventBridge event the consumers parse
    found = deliveries(aws)
    assert list(found) == ["sfm"]
    (event,) = found["sfm"]
    assert event["source"] == "spaceport" and event["detail-type"] == "JobSubmitted"
    assert event["detail"]["job_id"] == JOB_ID
    BridgeEvent.model_validate(event)  # what shared.lambda_support parses each SQS body into


def test_cancel_request_reaches_every_stage_service_but_not_notify(aws: SpaceportAws) -> None:
    EventBridgeBus(aws.client("events"), aws.event_bus).publish(
        JobCancelRequested(job_id=JOB_ID, requested_by="arn:aws:iam::123456789012:user/alice")
    )
    assert sorted(deliveries(aws)) == ["compress", "sfm", "train"]


@pytest.mark.parametrize(
    "detail_type",
    sorted({t for route in ROUTES if route.source == "spaceport" for t in route.detail_types}),
)
def test_our_events_reach_exactly_the_consumers_routing_names(aws: SpaceportAws, detail_type: str) -> None:
    detail = {"job_id": JOB_ID, "schema_version": 1}
    aws.client("events").put_events(
        Entries=[
            {
                "Source": "spaceport",
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "EventBusName": aws.event_bus,
            }
        ]
    )
    assert sorted(deliveries(aws)) == sorted(consumers_of("spaceport", detail_type, detail))


def test_our_events_on_the_default_bus_reach_nobody(aws: SpaceportAws) -> None:
    publish_default_bus(aws, "spaceport", "JobSubmitted", {"job_id": JOB_ID})
    assert deliveries(aws) == {}


@pytest.mark.parametrize(
    ("stage", "detail_type", "name_field", "status_field"),
    [
        ("sfm", PROCESSING_STATE_CHANGE, "ProcessingJobName", "ProcessingJobStatus"),
        ("train", TRAINING_STATE_CHANGE, "TrainingJobName", "TrainingJobStatus"),
        ("compress", PROCESSING_STATE_CHANGE, "ProcessingJobName", "ProcessingJobStatus"),
    ],
)
def test_sagemaker_state_change_lands_only_in_its_stage_queue(
    aws: SpaceportAws, stage: str, detail_type: str, name_field: str, status_field: str
) -> None:
    # GIVEN a state change for our stage's job, as SageMaker publishes it on the default bus
    detail = {name_field: sagemaker_job_name(stage, JOB_ID, 1), status_field: "Completed"}
    publish_default_bus(aws, "aws.sagemaker", detail_type, detail)
    # THEN only that stage's service hears it
    found = deliveries(aws)
    assert list(found) == [stage]
    assert found[stage][0]["detail"][name_field] == f"spaceport-{stage}-{JOB_ID}-a1"
    assert [stage] == consumers_of("aws.sagemaker", detail_type, detail)


def test_sagemaker_jobs_that_are_not_ours_reach_nobody(aws: SpaceportAws) -> None:
    publish_default_bus(
        aws,
        "aws.sagemaker",
        PROCESSING_STATE_CHANGE,
        {"ProcessingJobName": "someone-else-1", "ProcessingJobStatus": "Completed"},
    )
    publish_default_bus(
        aws,
        "aws.sagemaker",
        TRAINING_STATE_CHANGE,
        {"TrainingJobName": "spaceport-sfm-x-a1", "TrainingJobStatus": "Completed"},
    )
    assert deliveries(aws) == {}


def test_manifest_upload_lands_in_the_ingest_queue(aws: SpaceportAws) -> None:
    # WHEN a user uploads photos and then the manifest
    s3 = aws.client("s3")
    s3.put_object(Bucket=aws.bucket, Key="inbox/banana/IMG_0001.jpg", Body=b"jpeg")
    s3.put_object(Bucket=aws.bucket, Key="inbox/banana/job.json", Body=b'{"email": "alice@example.com"}')
    # THEN ingest hears about the manifest only
    found = deliveries(aws)
    assert list(found) == ["ingest"]
    (event,) = found["ingest"]
    assert event["source"] == "aws.s3" and event["detail-type"] == "Object Created"
    assert event["detail"]["bucket"]["name"] == aws.bucket
    assert event["detail"]["object"]["key"] == "inbox/banana/job.json"
    assert consumers_of(event["source"], event["detail-type"], event["detail"]) == ["ingest"]
    BridgeEvent.model_validate(event)


def test_manifest_in_another_bucket_is_ignored(aws: SpaceportAws) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="someone-elses-bucket")
    s3.put_bucket_notification_configuration(
        Bucket="someone-elses-bucket", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    s3.put_object(Bucket="someone-elses-bucket", Key="inbox/banana/job.json", Body=b"{}")
    assert deliveries(aws) == {}


def test_message_received_three_times_moves_to_the_dlq(aws: SpaceportAws) -> None:
    # GIVEN an event in the sfm queue that the consumer keeps failing (never deletes)
    sqs = aws.client("sqs")
    EventBridgeBus(aws.client("events"), aws.event_bus).publish(submitted())
    url = aws.queue_urls["sfm"]
    for attempt in range(1, 4):
        (message,) = sqs.receive_message(
            QueueUrl=url, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"]
        )["Messages"]
        assert message["Attributes"]["ApproximateReceiveCount"] == str(attempt)
    # WHEN it would be received a fourth time
    assert sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages", []) == []
    # THEN it waits in the sfm DLQ, intact
    (dead,) = drain(aws, aws.dlq_urls["sfm"])
    assert dead["detail-type"] == "JobSubmitted" and dead["detail"]["job_id"] == JOB_ID


def test_jobs_table_serves_the_adapter_and_its_owner_index(aws: SpaceportAws) -> None:
    table = DynamoJobTable(aws.client("dynamodb"), aws.table)
    now = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)
    for index, owner in enumerate(["alice", "bob", "alice"]):
        job = Job(
            job_id=f"{index}" * 20,
            owner=owner,
            email=f"{owner}@example.com",
            inbox_uri=f"s3://{aws.bucket}/inbox/set{index}/",
            options=JobOptions(),
            photo_count=10,
            photo_bytes=1000,
            created_at=now.replace(minute=index),
            updated_at=now,
        )
        assert table.create(job)
    assert [job.job_id for job in table.list_by_owner("alice")] == ["2" * 20, "0" * 20]  # newest first


def test_sender_identity_is_verified_and_the_mailer_can_send(aws: SpaceportAws) -> None:
    ses = aws.client("ses")
    assert aws.sender in ses.list_identities()["Identities"]
    assert aws.sender == aws.function_env("NotifyFunction")["SENDER_EMAIL"]
    message_id = SesMailer(ses, aws.sender).send(
        Email(to="alice@example.com", subject="Your splat is ready", text="link", html="<a>link</a>")
    )
    assert message_id


def test_function_environment_names_the_built_resources(aws: SpaceportAws) -> None:
    env = aws.function_env("SfmFunction")
    assert env["BUCKET_NAME"] == aws.bucket
    assert env["EVENT_BUS_NAME"] == aws.event_bus
    assert env["JOBS_TABLE_NAME"] == aws.table
    role = boto3.client("iam", region_name=aws.region).get_role(RoleName=f"{aws.stack}-SfmSageMakerRole")[
        "Role"
    ]
    assert env["SAGEMAKER_ROLE_ARN"] == role["Arn"]
