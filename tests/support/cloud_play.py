"""The test plays SageMaker and S3 users against the moto world (tests/e2e): uploads, job lookups,
SageMaker's end events, the outbox of SES."""

from __future__ import annotations

import json

from moto.ses.models import ses_backends

from shared.adapters.aws import S3ObjectStore
from shared.adapters.dynamo import DynamoJobTable
from shared.jobs import Job, JobState
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


def jobs(env: SpaceportAws) -> list[Job]:
    table = DynamoJobTable(env.client("dynamodb"), env.table)
    items = env.client("dynamodb").scan(TableName=env.table)["Items"]
    found = [table.get(item["job_id"]["S"]) for item in items]
    return sorted((job for job in found if job is not None), key=lambda job: job.created_at)


def play_sagemaker(
    env: SpaceportAws,
    stage: str,
    failure_reason: str | None = None,
    status: str = "Failed",
    secondary: str | None = None,
    job: Job | None = None,
    deliver: bool = True,
) -> None:
    """Finish the stage's running SageMaker job (write its outputs, or fail it with
    `failure_reason` / `status` / `secondary`) and put its state-change event on the default bus
    - unless `deliver` is False: the event is lost."""
    job = job or only_job(env)
    record = job.stages[stage]
    sagemaker = env.client("sagemaker")
    if stage == "train":
        assert sagemaker.describe_training_job(TrainingJobName=record.run_name)["TrainingJobName"] == record.run_name
    else:
        assert sagemaker.describe_processing_job(ProcessingJobName=record.run_name)["ProcessingJobName"]
    if failure_reason is None and status == "Failed" and secondary is None:
        envelope = finish_stage(S3ObjectStore(env.client("s3")), stage, record.output_uri, record.run_name)
    else:
        envelope = fail_stage(stage, record.run_name, failure_reason or "", status=status, secondary=secondary)
    if not deliver:
        return
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
