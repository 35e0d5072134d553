"""Security and reliability rules of the template (issue 7), and proof that each check can fail.

The checks live in tests/support/iac_checks.py; the negative cases feed them small broken
snippets and assert the breakage is reported.
"""

from __future__ import annotations

import copy
import fnmatch
from typing import Any

import pytest

from tests.support import iac_checks
from tests.support.template import load, parse

J = "?" * 20  # one job id in an IAM resource glob (see the template's comment)


def template_copy() -> dict[str, Any]:
    return copy.deepcopy(load())


# ---------------------------------------------------------------- the real template


def test_template_iam_has_no_wildcard_actions_or_unscoped_resources() -> None:
    assert iac_checks.iam_violations(load()) == []


def test_template_bucket_is_private_encrypted_and_tls_only() -> None:
    assert iac_checks.bucket_violations(load()) == []


def test_template_queues_have_dlqs_alarms_and_safe_consumers() -> None:
    assert iac_checks.queue_violations(load()) == []


def test_template_has_one_dlq_per_work_queue_and_five_consumers() -> None:
    template = load()
    dlqs = iac_checks.dead_letter_queues(template)
    assert sorted(dlqs.values()) == sorted(
        ["IngestQueue", "SfmQueue", "TrainQueue", "CompressQueue", "NotifyQueue"]
    )
    consumers = {c["queue"]: c["function"] for c in iac_checks.queue_consumers(template)}
    assert consumers == {
        "IngestQueue": "IngestManifestFunction",
        "SfmQueue": "SfmFunction",
        "TrainQueue": "TrainFunction",
        "CompressQueue": "CompressFunction",
        "NotifyQueue": "NotifyFunction",
    }


def test_pass_role_is_limited_to_the_stage_role_and_sagemaker() -> None:
    template = load()
    expected = {
        "SfmFunction": "SfmSageMakerRole",
        "TrainFunction": "TrainSageMakerRole",
        "CompressFunction": "CompressSageMakerRole",
    }
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        statements = [s for p in resource["Properties"].get("Policies", []) for s in p["Statement"]]
        passes = [s for s in statements if "iam:PassRole" in iac_checks._as_list(s["Action"])]
        if logical_id not in expected:
            assert passes == [], f"{logical_id} must not pass roles"
            continue
        (statement,) = passes
        assert statement["Resource"] == {"Fn::GetAtt": [expected[logical_id], "Arn"]}
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


@pytest.mark.parametrize(
    ("role", "reads", "writes"),
    [
        ("SfmSageMakerRole", {"inbox/*", f"jobs/{J}/config/sfm/*"}, {f"jobs/{J}/sfm/*"}),
        (
            "TrainSageMakerRole",
            {f"jobs/{J}/sfm/*", f"jobs/{J}/config/train/*", f"jobs/{J}/train-checkpoints/*"},
            {f"jobs/{J}/train/*", f"jobs/{J}/train-checkpoints/*"},
        ),
        (
            "CompressSageMakerRole",
            {f"jobs/{J}/train/*", f"jobs/{J}/config/compress/*"},
            {f"jobs/{J}/compress/*"},
        ),
    ],
)
def test_stage_role_reads_its_inputs_and_writes_only_its_prefix(
    role: str, reads: set[str], writes: set[str]
) -> None:
    resource = load()["Resources"][role]
    statements = [s for p in resource["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]

    def object_prefixes(action: str) -> set[str]:
        found = set()
        for statement in statements:
            if action in iac_checks._as_list(statement["Action"]):
                for resource_arn in iac_checks._as_list(statement["Resource"]):
                    text = resource_arn["Fn::Sub"]
                    assert text.startswith("${Bucket.Arn}/")
                    found.add(text.removeprefix("${Bucket.Arn}/"))
        return found

    assert object_prefixes("s3:GetObject") == reads
    assert object_prefixes("s3:PutObject") == writes
    trust = resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "sagemaker.amazonaws.com"}]


# ---------------------------------------------------------------- the checks can fail


def _function_with(statement: dict[str, Any]) -> dict[str, Any]:
    return {
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Policies": [{"Version": "2012-10-17", "Statement": [statement]}]},
            }
        }
    }


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}, "every action"),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}, "wildcard action 's3:*'"),
        (
            {"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "arn:aws:s3:::b/*"},
            "wildcard action 's3:Get*'",
        ),
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, "s3:GetObject on Resource '*'"),
        (
            {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"},
            "needs a cloudwatch:namespace",
        ),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b"}, "NotAction"),
    ],
)
def test_iam_check_rejects_broad_statements(statement: dict[str, Any], expected: str) -> None:
    found = iac_checks.iam_violations(_function_with(statement))
    assert any(expected in violation for violation in found), found


def test_iam_check_accepts_the_documented_wildcard_exceptions_and_broad_denies() -> None:
    assert (
        iac_checks.iam_violations(
            _function_with({"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"})
        )
        == []
    )
    assert (
        iac_checks.iam_violations(
            _function_with(
                {
                    "Effect": "Allow",
                    "Action": "cloudwatch:PutMetricData",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"cloudwatch:namespace": "Spaceport"}},
                }
            )
        )
        == []
    )
    assert (
        iac_checks.iam_violations(
            _function_with({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"})
        )
        == []
    )


def test_iam_check_rejects_sam_policy_templates_and_managed_policies() -> None:
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Policies": ["AmazonS3FullAccess", {"S3CrudPolicy": {"BucketName": "b"}}]},
            },
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
            },
        }
    }
    assert len(iac_checks.iam_violations(template)) == 3


def test_iam_check_finds_a_wildcard_added_to_the_real_template() -> None:
    template = template_copy()
    statements = template["Resources"]["NotifyFunction"]["Properties"]["Policies"][0]["Statement"]
    statements.append({"Effect": "Allow", "Action": "ses:*", "Resource": "*"})
    found = iac_checks.iam_violations(template)
    assert any("NotifyFunction" in v and "ses:*" in v for v in found), found


BROKEN_BUCKET = """
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        BlockPublicPolicy: false
  BucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Bucket
      PolicyDocument:
        Statement:
          - Effect: Deny
            Principal: "*"
            Action: "s3:*"
            Resource: !GetAtt Bucket.Arn
            Condition: {Bool: {aws:SecureTransport: "false"}}
"""


def test_bucket_check_reports_public_access_encryption_and_object_tls_gaps() -> None:
    found = iac_checks.bucket_violations(parse(BROKEN_BUCKET))
    assert any("BlockPublicPolicy" in v for v in found)
    assert any("IgnorePublicAcls" in v for v in found)
    assert any("encryption" in v for v in found)
    assert any("SecureTransport" in v for v in found)  # the Deny misses the objects (bucket/*)


def test_bucket_check_reports_a_template_without_its_bucket_policy() -> None:
    template = template_copy()
    del template["Resources"]["BucketPolicy"]
    assert any("SecureTransport" in v for v in iac_checks.bucket_violations(template))


BROKEN_QUEUES = """
Globals:
  Function:
    Timeout: 60
Resources:
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 300
      SqsManagedSseEnabled: true
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDlq.Arn
        maxReceiveCount: 3
  WorkDlq:
    Type: AWS::SQS::Queue
    Properties:
      SqsManagedSseEnabled: true
  LonelyQueue:
    Type: AWS::SQS::Queue
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      Handler: x.handler
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Consumer
      EventSourceArn: !GetAtt WorkQueue.Arn
      BatchSize: 5
"""


def test_queue_check_reports_missing_dlq_alarm_visibility_and_partial_failures() -> None:
    found = iac_checks.queue_violations(parse(BROKEN_QUEUES))
    joined = "\n".join(found)
    assert "LonelyQueue: no RedrivePolicy" in joined
    assert "LonelyQueue: not encrypted" in joined
    assert "LonelyQueue: work queue without a consumer" in joined
    assert "WorkDlq: dead-letter retention is not 14 days" in joined
    assert "WorkDlq: dead-letter queue without a messages-visible > 0 alarm" in joined
    assert "WorkQueue: VisibilityTimeout 300 s < 6 x Consumer Timeout 60 s" in joined
    assert "Mapping: SQS event source without FunctionResponseTypes [ReportBatchItemFailures]" in joined


def test_queue_check_reads_sam_sqs_events_too() -> None:
    template = parse(BROKEN_QUEUES)
    del template["Resources"]["Mapping"]
    template["Resources"]["Consumer"]["Properties"]["Events"] = {
        "Work": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["WorkQueue", "Arn"]}}}
    }
    found = iac_checks.queue_violations(template)
    assert any(v.startswith("Consumer.Events.Work: SQS event source without") for v in found), found


def test_queue_check_notices_a_shorter_visibility_timeout_in_the_real_template() -> None:
    template = template_copy()
    template["Resources"]["SfmQueue"]["Properties"]["VisibilityTimeout"] = 359
    found = iac_checks.queue_violations(template)
    assert found == ["SfmQueue: VisibilityTimeout 359 s < 6 x SfmFunction Timeout 60 s"]


def test_queue_check_notices_a_removed_dlq_alarm_in_the_real_template() -> None:
    template = template_copy()
    del template["Resources"]["TrainDeadLetterAlarm"]
    assert iac_checks.queue_violations(template) == [
        "TrainDeadLetterQueue: dead-letter queue without a messages-visible > 0 alarm"
    ]


def test_no_function_holds_grants_it_never_uses() -> None:
    for logical_id, function in load()["Resources"].items():
        if function["Type"] != "AWS::Serverless::Function":
            continue
        actions = {
            action
            for policy in function["Properties"]["Policies"]
            for statement in policy["Statement"]
            for action in iac_checks._as_list(statement["Action"])
        }
        # Lambda's SQS poller needs Receive/Delete/GetQueueAttributes; nothing changes visibility.
        assert "sqs:ChangeMessageVisibility" not in actions, logical_id


@pytest.mark.parametrize(
    ("function", "reads", "writes"),
    [
        (
            "IngestApiFunction",  # + the running training's progress (GET /jobs/{id})
            {"inbox/*", f"jobs/{J}/compress/*", f"jobs/{J}/train/*", f"jobs/{J}/notify/*",
             f"jobs/{J}/train-checkpoints/progress.json"},
            set(),
        ),
        ("IngestManifestFunction", {"inbox/*"}, set()),
        ("SfmFunction", {f"jobs/{J}/sfm/*"}, {f"jobs/{J}/config/sfm/*"}),
        ("TrainFunction", {f"jobs/{J}/train/*"}, {f"jobs/{J}/config/train/*"}),
        ("CompressFunction", {f"jobs/{J}/compress/*"}, {f"jobs/{J}/config/compress/*"}),
        (
            "NotifyFunction",
            {f"jobs/{J}/sfm/metrics.json", f"jobs/{J}/train/metrics.json", f"jobs/{J}/compress/metrics.json"},
            {f"jobs/{J}/notify/*"},
        ),
        ("ReconcileFunction", set(), set()),
    ],
)
def test_function_object_access_is_limited_to_its_prefixes(
    function: str, reads: set[str], writes: set[str]
) -> None:
    statements = [s for p in load()["Resources"][function]["Properties"]["Policies"] for s in p["Statement"]]

    def prefixes(action: str) -> set[str]:
        found = set()
        for statement in statements:
            if action in iac_checks._as_list(statement["Action"]):
                for arn in iac_checks._as_list(statement["Resource"]):
                    found.add(arn["Fn::Sub"].removeprefix("${Bucket.Arn}/"))
        return found

    assert prefixes("s3:GetObject") == reads
    assert prefixes("s3:PutObject") == writes
    assert prefixes("s3:DeleteObject") == set()  # uploads are immutable; nothing is deleted by a function
    # s3:ListBucket on the bucket (keys only) makes S3 answer 404, not 403, for a missing key:
    # the adapters turn that into NotFoundError, which the services rely on.
    listing = [s for s in statements if "s3:ListBucket" in iac_checks._as_list(s["Action"])]
    if not reads:
        assert listing == []
        return
    assert [s["Resource"] for s in listing] == [{"Fn::GetAtt": ["Bucket", "Arn"]}]
    # Listing only under what it reads (S3 checks the implicit ListBucket of a GetObject on a
    # missing key with that key as s3:prefix, so the 404 still comes).
    (condition,) = [s["Condition"] for s in listing]
    for key in condition["StringLike"]["s3:prefix"]:
        assert any(fnmatch.fnmatchcase(key, read) for read in reads) or key.endswith("/previews/*"), key
