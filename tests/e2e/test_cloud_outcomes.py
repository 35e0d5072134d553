"""Every SageMaker outcome reaches the user as its true cause, under moto with the template's
resources: a quota refusal, a timeout, managed spot's max wait, a lost end event, a re-uploaded
manifest. moto never runs a container nor sets SecondaryStatus: the test plays SageMaker's events
(and, for the quota, SageMaker's refusal)."""

from __future__ import annotations

import html

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from shared.causes import CauseCode
from shared.jobs import JobState
from shared.stage import FailureReport
from tests.support.aws_env import SpaceportAws
from tests.support.cloud_play import jobs, only_job, play_sagemaker, sagemaker_job_count, sent_emails, upload_job
from tests.support.lambda_pump import Pump, run_reconciler

QUOTA_MESSAGE = (
    "The account-level service limit 'ml.g4dn.xlarge for training job usage' is 0 Instances, with current "
    "utilization of 0 Instances and a request delta of 1 Instances. Please use AWS Service Quotas to request "
    "an increase for this quota."
)


def to_training(env: SpaceportAws, pump: Pump) -> None:
    upload_job(env)
    pump.run()
    play_sagemaker(env, "sfm")
    pump.run()


def test_a_zero_training_quota_fails_the_job_at_once_with_advice_naming_the_quota(cloud, monkeypatch):
    original = BaseClient._make_api_call

    def refusing(self, operation, params):  # SageMaker's answer on an account with quota 0
        if operation == "CreateTrainingJob":
            raise ClientError({"Error": {"Code": "ResourceLimitExceeded", "Message": QUOTA_MESSAGE}}, operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", refusing)
    pump = Pump(cloud)
    to_training(cloud, pump)
    job = only_job(cloud)
    assert job.state is JobState.FAILED and job.failure.cause is CauseCode.SERVICE_QUOTA
    assert pump.invocations <= 6  # no retry round per SQS delivery: one train invocation
    assert '"ml.g4dn.xlarge for training job usage"' in job.failure.advice
    (email,) = sent_emails()
    body = html.unescape(email.body)
    assert "ml.g4dn.xlarge for training job usage" in body and "Service Quotas" in body
    assert "TrainInstanceType" in body
    assert cloud.client("sqs").receive_message(QueueUrl=cloud.dlq_urls["train"]).get("Messages") is None


def test_a_job_past_its_max_runtime_is_reported_as_a_timeout_not_a_cancellation(cloud):
    pump = Pump(cloud)
    to_training(cloud, pump)
    stopped_at = FailureReport(
        cause=CauseCode.INTERNAL_ERROR, message="train was stopped (SIGTERM) after 21590 s: at step 7000 of 30000",
        advice="-", terminated=True,
    )
    play_sagemaker(cloud, "train", "AlgorithmError: " + stopped_at.to_message(), status="Stopped",
                   secondary="MaxRuntimeExceeded")
    pump.run()
    job = only_job(cloud)
    assert job.failure.cause is CauseCode.TIMEOUT and "step 7000 of 30000" in job.failure.message
    (email,) = sent_emails()
    assert "time limit" in html.unescape(email.body) and "TrainMaxRuntimeSeconds" in html.unescape(email.body)
    assert "cancel" not in email.subject.lower()


def test_spot_capacity_never_found_relaunches_once_on_demand_and_succeeds(cloud_spot):
    env, pump = cloud_spot, Pump(cloud_spot)
    to_training(env, pump)
    first = only_job(env).stages["train"].run_name
    assert env.client("sagemaker").describe_training_job(TrainingJobName=first)["EnableManagedSpotTraining"]
    play_sagemaker(env, "train", status="Stopped", secondary="MaxWaitTimeExceeded")
    pump.run()
    second = only_job(env).stages["train"].run_name
    assert second.endswith("-a2") and sent_emails() == []
    assert not env.client("sagemaker").describe_training_job(TrainingJobName=second).get("EnableManagedSpotTraining")
    play_sagemaker(env, "train")
    pump.run()
    play_sagemaker(env, "compress")
    pump.run()
    assert only_job(env).state is JobState.SUCCEEDED
    (email,) = sent_emails()
    assert "ready" in email.subject


def test_lost_end_events_are_recovered_by_the_reconciler_with_exactly_one_email(cloud):
    pump = Pump(cloud)
    upload_job(cloud)
    pump.run()
    assert run_reconciler(cloud, after_s=3600) == []  # within its window: not even described
    for stage in ("sfm", "train", "compress"):
        play_sagemaker(cloud, stage, deliver=False)  # the job finished; its event never came
        pump.run()
        assert only_job(cloud).state.value == f"{stage}_running"
        (redelivered,) = run_reconciler(cloud)  # moto describes every job as Completed
        assert redelivered == only_job(cloud).stages[stage].run_name
        pump.run()
    job = only_job(cloud)
    assert job.state is JobState.SUCCEEDED and sagemaker_job_count(cloud) == 3
    assert run_reconciler(cloud) == []  # nothing runs any more
    # The lost events arrive after all, late: nothing changes, still one email.
    for stage in ("sfm", "train", "compress"):
        play_sagemaker(cloud, stage, job=job)
    pump.run()
    assert len(sent_emails()) == 1 and only_job(cloud).state is JobState.SUCCEEDED


def test_the_same_manifest_uploaded_again_after_a_failure_is_a_new_job(cloud):
    pump = Pump(cloud)
    upload_job(cloud)
    pump.run()
    report = FailureReport(cause=CauseCode.NO_OVERLAP, message="no two photos overlap", advice="overlap them")
    play_sagemaker(cloud, "sfm", report.to_message())
    pump.run()
    assert only_job(cloud).state is JobState.FAILED
    upload_job(cloud)  # the same photos and the same job.json bytes, as the advice says
    pump.run()
    first, second = jobs(cloud)
    assert first.state is JobState.FAILED and second.state is JobState.SFM_RUNNING
    assert first.inbox_uri == second.inbox_uri and first.job_id != second.job_id
    assert len(sent_emails()) == 1
