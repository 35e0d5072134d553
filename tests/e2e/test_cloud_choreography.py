"""The whole cloud choreography under moto, resources built from infra/template.yaml.

Photos + manifest land in S3 -> S3 event -> EventBridge rule -> ingest queue -> ingest Lambda ->
JobSubmitted -> sfm queue -> SageMaker job created -> (the test plays SageMaker: writes the
stage outputs and puts the aws.sagemaker state-change event) -> ... -> one email in SES.
"""

from __future__ import annotations

import json

import pytest
from moto.ses.models import ses_backends

from shared.adapters.aws import S3ObjectStore
from shared.adapters.dynamo import DynamoJobTable
from shared.causes import CauseCode
from shared.jobs import Job, JobState
from shared.stage import FailureReport
from tests.support.aws_env import ACCOUNT_ID, DEFAULT_REGION, SpaceportAws
from tests.support.lambda_pump import Pump
from tests.support.photos import jpeg_bytes
from tests.support.sagemaker import fail_stage, finish_stage




def sent_emails() -> list:
    return list(ses_backends[ACCOUNT_ID][DEFAULT_REGION].sent_messages)


def upload_job(env: SpaceportAws, name: str = "site", photos: int = 8, manifest: dict | None = None) -> None:
    s3 = env.client("s3")
    for i in range(photos):
        s3.put_object(Bucket=env.bucket, Key=f"inbox/{name}/IMG_{i:03d}.jpg", Body=jpeg_bytes(i))
    body = json.dumps(manifest if manifest is not None else {"email": "pilot@example.com"})
    s3.put_object(Bucket=env.bucket, Key=f"inbox/{name}/job.json", Body=body.encode())


def only_job(env: SpaceportAws) -> Job:
    items = env.client("dynamodb").scan(TableName=env.table)["Items"]
    assert len(items) == 1, f"expected one job, found {len(items)}"
    job = DynamoJobTable(env.client("dynamodb"), env.table).get(items[0]["job_id"]["S"])
    assert job is not None
    return job


def play_sagemaker(env: SpaceportAws, stage: str, failure_reason: str | None = None) -> None:
    """Finish the stage's running SageMaker job and put its state-change event on the default bus."""
    job = only_job(env)
    record = job.stages[stage]
    sagemaker = env.client("sagemaker")
    if stage == "train":
        assert sagemaker.describe_training_job(TrainingJobName=record.run_name)["TrainingJobName"] == record.run_name
    else:
        assert sagemaker.describe_processing_job(ProcessingJobName=record.run_name)["ProcessingJobName"]
    if failure_reason is None:
        envelope = finish_stage(S3ObjectStore(env.client("s3")), stage, record.output_uri, record.run_name)
    else:
        envelope = fail_stage(stage, record.run_name, failure_reason)
    env.client("events").put_events(
        Entries=[
            {
                "Source": envelope.source,
                "DetailType": envelope.detail_type,
                "Detail": json.dumps(envelope.detail),
                "EventBusName": "default",
            }
        ]
    )


def sagemaker_job_count(env: SpaceportAws) -> int:
    sagemaker = env.client("sagemaker")
    return len(sagemaker.list_processing_jobs()["ProcessingJobSummaries"]) + len(
        sagemaker.list_training_jobs()["TrainingJobSummaries"]
    )


def run_to_success(env: SpaceportAws, pump: Pump) -> Job:
    upload_job(env)
    pump.run()
    assert only_job(env).state is JobState.SFM_RUNNING
    for stage in ("sfm", "train", "compress"):
        play_sagemaker(env, stage)
        pump.run()
    return only_job(env)


def test_photos_and_manifest_become_one_success_email(cloud: SpaceportAws):
    job = run_to_success(cloud, Pump(cloud))
    assert job.state is JobState.SUCCEEDED and job.notified_at is not None
    assert sagemaker_job_count(cloud) == 3
    (email,) = sent_emails()
    assert email.destinations["ToAddresses"] == ["pilot@example.com"]
    assert "ready" in email.subject
    # Links go through GET /links/<token>: nothing in the email is signed by the function's role.
    assert "/v1/links/v1." in email.body and "X-Amz-" not in email.body
    report = cloud.client("s3").get_object(Bucket=cloud.bucket, Key=f"jobs/{job.job_id}/notify/report.json")
    assert json.loads(report["Body"].read())["quality"]["psnr"] == 27.4
    # Uploaded photos are untouched: still 8 photos + the manifest, same bytes.
    listed = cloud.client("s3").list_objects_v2(Bucket=cloud.bucket, Prefix="inbox/site/")["Contents"]
    assert len(listed) == 9
    first = cloud.client("s3").get_object(Bucket=cloud.bucket, Key="inbox/site/IMG_000.jpg")["Body"].read()
    assert first == jpeg_bytes(0)


def test_every_message_delivered_twice_still_gives_one_job_per_stage_and_one_email(cloud: SpaceportAws):
    job = run_to_success(cloud, Pump(cloud, deliveries=2))
    assert job.state is JobState.SUCCEEDED
    assert sagemaker_job_count(cloud) == 3
    assert len(sent_emails()) == 1


def test_a_sagemaker_failure_sends_one_failure_email_with_cause_and_advice(cloud: SpaceportAws):
    pump = Pump(cloud)
    upload_job(cloud)
    pump.run()
    report = FailureReport(
        cause=CauseCode.LOW_REGISTRATION, message="3 of 8 photos could be placed (38%)", advice="overlap 60-80%"
    )
    play_sagemaker(cloud, "sfm", failure_reason=report.to_message())
    pump.run()
    job = only_job(cloud)
    assert job.state is JobState.FAILED and job.failure.cause is CauseCode.LOW_REGISTRATION
    (email,) = sent_emails()
    assert "could not build" in email.subject and "38%" in email.body and "overlap" in email.body
    assert sagemaker_job_count(cloud) == 1


def test_a_poison_message_ends_in_the_dlq_and_the_user_is_told(cloud: SpaceportAws, monkeypatch):
    from services.sfm import logic as sfm_logic

    def broken(envelope, ports, pipeline):
        raise RuntimeError("a bug in the sfm service")

    monkeypatch.setattr(sfm_logic, "handle", broken)
    pump = Pump(cloud)
    upload_job(cloud)
    pump.run(consumers=("ingest",))
    for _ in range(4):
        pump.drain_once("sfm")
    dlq = cloud.client("sqs").receive_message(QueueUrl=cloud.dlq_urls["sfm"], MaxNumberOfMessages=10)
    assert len(dlq.get("Messages", [])) == 1
    job = only_job(cloud)
    assert job.state is JobState.FAILED and job.failure.cause is CauseCode.INTERNAL_ERROR
    pump.run(consumers=("notify",))
    (email,) = sent_emails()
    assert "could not build" in email.subject


def test_a_bad_manifest_is_rejected_by_email_and_launches_nothing(cloud: SpaceportAws):
    pump = Pump(cloud)
    upload_job(cloud, manifest={"email": "pilot@example.com", "options": {"preset": "ultra"}})
    pump.run()
    job = only_job(cloud)
    assert job.state is JobState.FAILED and job.failure.stage == "ingest"
    assert sagemaker_job_count(cloud) == 0
    (email,) = sent_emails()
    assert "options.preset" in email.body
