"""The whole cloud choreography under moto, resources built from infra/template.yaml.

Photos + manifest land in S3 -> S3 event -> EventBridge rule -> ingest queue -> ingest Lambda ->
JobSubmitted -> sfm queue -> SageMaker job created -> (the test plays SageMaker: writes the
stage outputs and puts the aws.sagemaker state-change event) -> ... -> one email in SES.
"""

from __future__ import annotations

import json

from shared.causes import CauseCode
from shared.jobs import JobState
from shared.stage import FailureReport
from tests.support.aws_env import SpaceportAws
from tests.support.cloud_play import (
    only_job,
    play_sagemaker,
    run_to_success,
    sagemaker_job_count,
    sent_emails,
    upload_job,
)
from tests.support.lambda_pump import Pump
from tests.support.photos import jpeg_bytes


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
