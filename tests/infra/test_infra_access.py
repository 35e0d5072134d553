"""The template's IAM lets each principal touch exactly the paths shared/layout.py gives it.

Policies are resolved offline (predictable names and ARNs, tests/support/aws_env.py) and
evaluated with a small IAM matcher (tests/support/iac_checks.py). The objects come from the same
layout functions the services use, so a path change in the code that the policies do not follow
fails here instead of as AccessDenied in the cloud.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.layout import (
    checkpoint_uri,
    config_uri,
    inbox_uri,
    metrics_uri,
    sagemaker_job_name,
    split_uri,
    stage_uri,
)
from tests.support.aws_env import ACCOUNT_ID, offline_resolver
from tests.support.iac_checks import allowed, identity_statements
from tests.support.template import load

JOB = "k" * 20
REGION = "us-east-1"


def statements_of(logical_id: str, **parameters: str) -> list[dict[str, Any]]:
    resolve = offline_resolver(parameters=parameters or None)
    return resolve(identity_statements(load(), logical_id))


def bucket() -> str:
    return str(offline_resolver()({"Ref": "Bucket"}))


def obj(uri: str) -> str:
    name, key = split_uri(uri)
    return f"arn:aws:s3:::{name}/{key}"


def arn(logical_id: str) -> str:
    return str(offline_resolver()({"Fn::GetAtt": [logical_id, "Arn"]}))


def can(logical_id: str, action: str, resource: str, **context: str) -> bool:
    return allowed(statements_of(logical_id), action, resource, context)


B = "spaceport-bucket"  # offline bucket name (checked below)


def test_offline_names_are_the_ones_these_tests_assume() -> None:
    assert bucket() == B


# ---------------------------------------------------------------- Lambda functions


def test_manifest_consumer_reads_the_inbox_and_writes_nothing() -> None:
    f = "IngestManifestFunction"
    assert can(f, "s3:GetObject", obj(inbox_uri(B, "banana") + "job.json"))
    assert can(f, "s3:GetObject", obj(inbox_uri(B, "banana") + "IMG_0001.HEIC"))
    assert can(f, "s3:ListBucket", f"arn:aws:s3:::{B}", **{"s3:prefix": "inbox/banana/"})
    assert not can(f, "s3:ListBucket", f"arn:aws:s3:::{B}", **{"s3:prefix": "jobs/"})
    assert not can(f, "s3:ListBucket", f"arn:aws:s3:::{B}")  # the whole bucket: no
    assert not can(f, "s3:PutObject", obj(inbox_uri(B, "banana") + "job.json"))
    assert not can(f, "s3:GetObject", obj(metrics_uri(B, JOB, "sfm")))
    assert can(f, "sqs:ReceiveMessage", arn("IngestQueue"))
    assert not can(f, "sqs:ReceiveMessage", arn("SfmQueue"))
    assert can(f, "dynamodb:PutItem", arn("JobsTable"))
    assert not can(f, "dynamodb:Query", arn("JobsTable") + "/index/by_owner")
    assert can(f, "events:PutEvents", arn("EventBus"))


def test_api_can_list_own_jobs_and_presign_every_output() -> None:
    f = "IngestApiFunction"
    assert can(f, "dynamodb:Query", arn("JobsTable") + "/index/by_owner")
    outputs = [  # what services/notify/logic.output_uris records as a job's outputs
        stage_uri(B, JOB, "compress") + "model.sog",
        stage_uri(B, JOB, "train") + "model.ply",
        stage_uri(B, JOB, "train") + "previews/step_30000.png",
        stage_uri(B, JOB, "notify") + "report.html",
        stage_uri(B, JOB, "notify") + "report.json",
    ]
    for uri in outputs:
        assert can(f, "s3:GetObject", obj(uri)), uri
    assert not can(f, "s3:GetObject", obj(checkpoint_uri(B, JOB) + "ckpt.pt"))
    assert not can(f, "sqs:ReceiveMessage", arn("IngestQueue"))


@pytest.mark.parametrize(
    ("stage", "function", "job_kind", "action", "other"),
    [
        ("sfm", "SfmFunction", "processing-job", "sagemaker:CreateProcessingJob", "compress"),
        ("train", "TrainFunction", "training-job", "sagemaker:CreateTrainingJob", "sfm"),
        ("compress", "CompressFunction", "processing-job", "sagemaker:CreateProcessingJob", "sfm"),
    ],
)
def test_stage_function_launches_only_its_jobs_with_only_its_role(
    stage: str, function: str, job_kind: str, action: str, other: str
) -> None:
    own = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:{job_kind}/{sagemaker_job_name(stage, JOB, 2)}"
    foreign = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:{job_kind}/{sagemaker_job_name(other, JOB, 1)}"
    stop = action.replace("Create", "Stop")
    assert can(function, action, own) and can(function, "sagemaker:AddTags", own) and can(function, stop, own)
    assert not can(function, action, foreign)
    role = arn(f"{stage.capitalize()}SageMakerRole")
    other_role = arn(f"{other.capitalize()}SageMakerRole")
    assert can(function, "iam:PassRole", role, **{"iam:PassedToService": "sagemaker.amazonaws.com"})
    assert not can(function, "iam:PassRole", role, **{"iam:PassedToService": "ec2.amazonaws.com"})
    assert not can(function, "iam:PassRole", other_role, **{"iam:PassedToService": "sagemaker.amazonaws.com"})
    # writes the job's config.json, reads the stage's metrics.json / failure.json
    assert can(function, "s3:PutObject", obj(config_uri(B, JOB, stage) + "config.json"))
    assert can(function, "s3:GetObject", obj(metrics_uri(B, JOB, stage)))
    assert can(function, "s3:GetObject", obj(stage_uri(B, JOB, stage) + "failure.json"))
    assert not can(function, "s3:PutObject", obj(stage_uri(B, JOB, stage) + "metrics.json"))
    assert not can(function, "s3:PutObject", obj(config_uri(B, JOB, other) + "config.json"))


def test_notify_reads_every_stage_metrics_and_writes_only_its_report() -> None:
    f = "NotifyFunction"
    bucket_arn = f"arn:aws:s3:::{B}"
    for stage in ("sfm", "train", "compress"):
        assert can(f, "s3:GetObject", obj(metrics_uri(B, JOB, stage)))
        # a stage that never ran: S3 answers 404 (its implicit ListBucket has the key as prefix)
        assert can(f, "s3:ListBucket", bucket_arn, **{"s3:prefix": split_uri(metrics_uri(B, JOB, stage))[1]})
    assert can(f, "s3:ListBucket", bucket_arn, **{"s3:prefix": split_uri(stage_uri(B, JOB, "train"))[1] + "previews/"})
    for private in (stage_uri(B, JOB, "train") + "model.ply", checkpoint_uri(B, JOB) + "ckpt_00000100.pt",
                    config_uri(B, JOB, "train") + "config.json", stage_uri(B, JOB, "sfm") + "sparse/0/points3D.bin"):
        assert not can(f, "s3:GetObject", obj(private)), private
    assert not can(f, "s3:ListBucket", bucket_arn, **{"s3:prefix": "inbox/"})
    assert can(f, "s3:PutObject", obj(stage_uri(B, JOB, "notify") + "report.html"))
    assert not can(f, "s3:PutObject", obj(stage_uri(B, JOB, "compress") + "model.sog"))
    assert not can(f, "s3:GetObject", obj(inbox_uri(B, "banana") + "IMG_0001.jpg"))
    sender = "spaceport@example.com"  # tests/support/aws_env.TEST_PARAMETERS
    assert can(f, "ses:SendEmail", f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/{sender}")
    assert can(f, "ses:SendEmail", f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/example.com")
    assert not can(f, "ses:SendEmail", f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/other.org")


# ---------------------------------------------------------------- SageMaker execution roles


def test_sfm_role_reads_photos_and_config_and_writes_its_output() -> None:
    r = "SfmSageMakerRole"
    assert can(r, "s3:ListBucket", f"arn:aws:s3:::{B}", **{"s3:prefix": "inbox/banana/"})
    assert can(r, "s3:ListBucket", f"arn:aws:s3:::{B}", **{"s3:prefix": f"jobs/{JOB}/config/sfm/"})
    assert not can(r, "s3:ListBucket", f"arn:aws:s3:::{B}", **{"s3:prefix": "other/"})
    assert can(r, "s3:GetObject", obj(inbox_uri(B, "banana") + "IMG_0001.jpg"))
    assert can(r, "s3:GetObject", obj(config_uri(B, JOB, "sfm") + "config.json"))
    assert can(r, "s3:PutObject", obj(stage_uri(B, JOB, "sfm") + "sparse/0/cameras.bin"))
    assert not can(r, "s3:PutObject", obj(stage_uri(B, JOB, "train") + "model.ply"))
    assert not can(r, "s3:PutObject", obj(inbox_uri(B, "banana") + "IMG_0001.jpg"))
    assert not can(r, "s3:GetObject", obj(config_uri(B, JOB, "train") + "config.json"))


def test_train_role_reads_sfm_output_and_checkpoints_and_writes_its_output() -> None:
    r = "TrainSageMakerRole"
    assert can(r, "s3:GetObject", obj(stage_uri(B, JOB, "sfm") + "images/IMG_0001.jpg"))
    assert can(r, "s3:GetObject", obj(checkpoint_uri(B, JOB) + "ckpt_7000.pt"))
    assert can(r, "s3:PutObject", obj(checkpoint_uri(B, JOB) + "ckpt_7000.pt"))
    assert can(r, "s3:PutObject", obj(stage_uri(B, JOB, "train") + "model.ply"))
    assert can(r, "s3:PutObject", obj(stage_uri(B, JOB, "train") + "sagemaker/output/model.tar.gz"))
    assert not can(r, "s3:GetObject", obj(inbox_uri(B, "banana") + "IMG_0001.jpg"))
    assert not can(r, "s3:PutObject", obj(stage_uri(B, JOB, "sfm") + "sparse/0/points3D.bin"))


def test_compress_role_reads_the_trained_model_and_writes_its_output() -> None:
    r = "CompressSageMakerRole"
    assert can(r, "s3:GetObject", obj(stage_uri(B, JOB, "train") + "model.ply"))
    assert can(r, "s3:GetObject", obj(config_uri(B, JOB, "compress") + "config.json"))
    assert can(r, "s3:PutObject", obj(stage_uri(B, JOB, "compress") + "sog/meta.json"))
    assert not can(r, "s3:PutObject", obj(stage_uri(B, JOB, "train") + "model.ply"))
    assert not can(r, "s3:GetObject", obj(checkpoint_uri(B, JOB) + "ckpt.pt"))


@pytest.mark.parametrize("stage", ["sfm", "train", "compress"])
def test_stage_role_pulls_only_its_image_and_logs_under_sagemaker(stage: str) -> None:
    r = f"{stage.capitalize()}SageMakerRole"
    own = f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/spaceport-{stage}"
    other = f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/spaceport-{'train' if stage != 'train' else 'sfm'}"
    assert can(r, "ecr:BatchGetImage", own) and can(r, "ecr:GetDownloadUrlForLayer", own)
    assert not can(r, "ecr:BatchGetImage", other)
    assert can(r, "ecr:GetAuthorizationToken", "*")
    group = "ProcessingJobs" if stage != "train" else "TrainingJobs"
    stream = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/sagemaker/{group}:log-stream:x/algo-1"
    assert can(r, "logs:PutLogEvents", stream)
    assert not can(
        r, "logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/x:log-stream:y"
    )
    assert can(r, "cloudwatch:PutMetricData", "*", **{"cloudwatch:namespace": f"/aws/sagemaker/{group}"})
    assert not can(r, "cloudwatch:PutMetricData", "*", **{"cloudwatch:namespace": "Spaceport"})


def test_image_repository_is_derived_from_digest_and_nested_uris() -> None:
    image = f"210987654321.dkr.ecr.eu-west-1.amazonaws.com/team/spaceport-sfm@sha256:{'ab' * 32}"
    statements = statements_of("SfmSageMakerRole", SfmImageUri=image)
    repository = "arn:aws:ecr:eu-west-1:210987654321:repository/team/spaceport-sfm"
    assert allowed(statements, "ecr:BatchGetImage", repository)
    assert not allowed(
        statements, "ecr:BatchGetImage", f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/spaceport-sfm"
    )


def test_matcher_is_not_fooled_by_prefix_lookalikes() -> None:
    statements = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/jobs/*/sfm/*"}]
    assert allowed(statements, "s3:GetObject", "arn:aws:s3:::b/jobs/x/sfm/m.json")
    assert not allowed(statements, "s3:GetObject", "arn:aws:s3:::b/jobs/x/sfmx/m.json")
    assert not allowed(statements, "s3:PutObject", "arn:aws:s3:::b/jobs/x/sfm/m.json")
    deny = statements + [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}]
    assert not allowed(deny, "s3:GetObject", "arn:aws:s3:::b/jobs/x/sfm/m.json")


@pytest.mark.parametrize(
    ("principal", "own_stage", "foreign_key"),
    [
        ("NotifyFunction", "notify", f"jobs/{JOB}/compress/notify/model.sog"),
        ("SfmSageMakerRole", "sfm", f"jobs/{JOB}/config/sfm/config.json"),
        ("TrainSageMakerRole", "train", f"jobs/{JOB}/config/train/config.json"),
        ("CompressSageMakerRole", "compress", f"jobs/{JOB}/train/compress/model.ply"),
    ],
)
def test_a_stage_prefix_grant_does_not_reach_into_other_prefixes(
    principal: str, own_stage: str, foreign_key: str
) -> None:
    # GIVEN a key that ends in .../<own stage>/... but lives under another stage's prefix
    assert f"/{own_stage}/" in foreign_key
    # THEN the principal's write grant on jobs/<id>/<own stage>/ does not cover it
    assert can(principal, "s3:PutObject", obj(stage_uri(B, JOB, own_stage) + "x"))
    assert not can(principal, "s3:PutObject", f"arn:aws:s3:::{B}/{foreign_key}")


def test_job_glob_is_exactly_one_layout_job_id() -> None:
    statements = statements_of("SfmSageMakerRole")
    assert can("SfmSageMakerRole", "s3:PutObject", obj(stage_uri(B, JOB, "sfm") + "m.json"))
    assert not allowed(statements, "s3:PutObject", f"arn:aws:s3:::{B}/jobs/{JOB}x/sfm/m.json")
    assert not allowed(statements, "s3:PutObject", f"arn:aws:s3:::{B}/jobs/{JOB[:-1]}/sfm/m.json")


@pytest.mark.parametrize("role", ["SfmSageMakerRole", "TrainSageMakerRole", "CompressSageMakerRole"])
def test_stage_role_may_locate_the_bucket_without_a_prefix(role: str) -> None:
    # GetBucketLocation carries no s3:prefix, so a prefix condition would always deny it.
    assert can(role, "s3:GetBucketLocation", f"arn:aws:s3:::{B}")
    assert not can(role, "s3:ListBucket", f"arn:aws:s3:::{B}")  # listing needs an allowed prefix


# ---------------------------------------------------------------- the link secret


def test_only_the_link_functions_may_read_the_link_secret() -> None:
    secret = str(offline_resolver()({"Ref": "LinkSecret"}))
    assert secret.startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:")
    other_secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:prod-database-AbCdEf"
    principals = [
        logical_id
        for logical_id, resource in load()["Resources"].items()
        if resource["Type"] in {"AWS::Serverless::Function", "AWS::IAM::Role"}
    ]
    readers = {p for p in principals if can(p, "secretsmanager:GetSecretValue", secret)}
    assert readers == {"IngestApiFunction", "NotifyFunction"}
    for principal in principals:
        assert not can(principal, "secretsmanager:GetSecretValue", other_secret), principal
        assert not can(principal, "secretsmanager:PutSecretValue", secret), principal


# ---------------------------------------------------------------- the reconciler


def test_reconciler_reads_running_jobs_describes_ours_and_redelivers_to_stage_queues_only() -> None:
    f = "ReconcileFunction"
    assert can(f, "dynamodb:Query", arn("JobsTable") + "/index/by_state")
    assert not can(f, "dynamodb:Query", arn("JobsTable") + "/index/by_owner")
    for action in ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Scan", "dynamodb:PutItem"):
        assert not can(f, action, arn("JobsTable")), action
    for stage, kind in (("sfm", "processing-job"), ("train", "training-job"), ("compress", "processing-job")):
        own = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:{kind}/{sagemaker_job_name(stage, JOB, 1)}"
        describe = "sagemaker:DescribeTrainingJob" if stage == "train" else "sagemaker:DescribeProcessingJob"
        assert can(f, describe, own)
        for forbidden in ("Create", "Stop"):
            assert not can(f, describe.replace("Describe", forbidden), own)
        assert can(f, "sqs:SendMessage", arn(f"{stage.capitalize()}Queue"))
    foreign = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:training-job/someone-elses-job"
    assert not can(f, "sagemaker:DescribeTrainingJob", foreign)
    for queue in ("IngestQueue", "NotifyQueue", "SfmDeadLetterQueue"):
        assert not can(f, "sqs:SendMessage", arn(queue)), queue
    assert not can(f, "events:PutEvents", arn("EventBus"))
    assert not can(f, "iam:PassRole", arn("TrainSageMakerRole"), **{"iam:PassedToService": "sagemaker.amazonaws.com"})


@pytest.mark.parametrize(("function", "stage"), [("SfmFunction", "sfm"), ("TrainFunction", "train"),
                                                  ("CompressFunction", "compress")])
def test_stage_function_may_describe_its_own_jobs(function: str, stage: str) -> None:
    # Used when a launch finds its job already there and when an event lacks the ExitMessage.
    kind, action = ("training-job", "sagemaker:DescribeTrainingJob") if stage == "train" else (
        "processing-job", "sagemaker:DescribeProcessingJob")
    own = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:{kind}/{sagemaker_job_name(stage, JOB, 1)}"
    assert can(function, action, own)
