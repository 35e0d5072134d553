"""Security and reliability rules for `infra/template.yaml`, as plain functions over a parsed template.

Each check returns a list of human-readable violations (empty = fine), so the tests can run them on
the real template and on small broken snippets alike (the negative cases prove the checks can fail).

Template conventions the checks rely on (see the template header): SQS consumers are explicit
`AWS::Lambda::EventSourceMapping`s or SAM `Events` of type SQS; a dead-letter queue is a queue that
another queue's RedrivePolicy names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tests.support.template import function_property

# Actions that only exist without resource-level permissions: `Resource: "*"` is their only form.
# Each needs a reason; a condition, where required, narrows what the wildcard allows.
WILDCARD_RESOURCE_ALLOWED: dict[str, str | None] = {
    "ecr:GetAuthorizationToken": None,  # registry login; no resource-level support
    "cloudwatch:PutMetricData": "cloudwatch:namespace",  # must be pinned to a namespace
}

SECURE_TRANSPORT = "aws:SecureTransport"
MAX_RECEIVE_COUNT = 3
DLQ_RETENTION_S = 14 * 24 * 3600
VISIBILITY_FACTOR = 6

Violations = list[str]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: definition
        for logical_id, definition in template.get("Resources", {}).items()
        if definition.get("Type") == resource_type
    }


def _ref_target(value: Any) -> str | None:
    """The logical id behind `!Ref X` or `!GetAtt X.Attr`, else None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(_as_list(value["Fn::GetAtt"])[0])
    return None


def _mentions(value: Any, logical_id: str) -> bool:
    """Whether a property value refers to a resource (Ref, GetAtt or ${X...} in Sub)."""
    if _ref_target(value) == logical_id:
        return True
    if isinstance(value, dict):
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            text = sub if isinstance(sub, str) else sub[0]
            if f"${{{logical_id}}}" in text or f"${{{logical_id}." in text:
                return True
        return any(_mentions(v, logical_id) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, logical_id) for v in value)
    return False


# ---------------------------------------------------------------- IAM


def policy_documents(template: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(where, policy) for every identity and resource policy in the template.

    SAM function `Policies` entries that are not inline documents (managed policy names, SAM
    policy templates) are yielded as-is so `iam_violations` can reject them.
    """
    for logical_id, resource in template.get("Resources", {}).items():
        kind = resource.get("Type")
        props = resource.get("Properties", {}) or {}
        if kind == "AWS::Serverless::Function":
            for index, policy in enumerate(_as_list(props.get("Policies"))):
                yield f"{logical_id}.Policies[{index}]", policy
        elif kind == "AWS::IAM::Role":
            for policy in _as_list(props.get("Policies")):
                yield f"{logical_id}.{policy.get('PolicyName', '?')}", policy.get("PolicyDocument")
            for arn in _as_list(props.get("ManagedPolicyArns")):
                yield f"{logical_id}.ManagedPolicyArns", arn
        elif kind in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            yield logical_id, props.get("PolicyDocument")
        elif kind in {"AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"}:
            yield logical_id, props.get("PolicyDocument")


def _action_problem(action: Any) -> str | None:
    if not isinstance(action, str):
        return None
    if action == "*":
        return "allows every action ('*')"
    if "*" in action or "?" in action:
        return f"uses a wildcard action {action!r}"
    return None


def statement_violations(where: str, statement: dict[str, Any]) -> Violations:
    """Rules for one Allow statement (Deny statements may be as broad as they like)."""
    if statement.get("Effect") != "Allow":
        return []
    found: Violations = []
    if "NotAction" in statement:
        found.append(f"{where}: Allow with NotAction")
    if "NotResource" in statement:
        found.append(f"{where}: Allow with NotResource")
    if statement.get("Principal") == "*" or statement.get("Principal") == {"AWS": "*"}:
        found.append(f"{where}: Allow to any principal ('*')")
    actions = _as_list(statement.get("Action"))
    for action in actions:
        problem = _action_problem(action)
        if problem:
            found.append(f"{where}: {problem}")
    if "*" in _as_list(statement.get("Resource")):
        condition_keys = {
            key for operator in (statement.get("Condition") or {}).values() for key in (operator or {})
        }
        for action in actions:
            if action not in WILDCARD_RESOURCE_ALLOWED:
                found.append(f"{where}: {action} on Resource '*' (scope it to an ARN)")
                continue
            needed = WILDCARD_RESOURCE_ALLOWED[action]
            if needed and needed not in condition_keys:
                found.append(f"{where}: {action} on Resource '*' needs a {needed} condition")
    return found


def iam_violations(template: dict[str, Any]) -> Violations:
    found: Violations = []
    for where, policy in policy_documents(template):
        if not isinstance(policy, dict) or "Statement" not in policy:
            found.append(f"{where}: not an inline policy document ({policy!r}); write the statements out")
            continue
        for index, statement in enumerate(_as_list(policy["Statement"])):
            found.extend(statement_violations(f"{where}.Statement[{index}]", statement))
    return found


# ---------------------------------------------------------------- S3


def _denies_insecure_transport(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition") or {}
    flag = (condition.get("Bool") or {}).get(SECURE_TRANSPORT)
    return statement.get("Effect") == "Deny" and str(flag).lower() == "false"


def bucket_violations(template: dict[str, Any]) -> Violations:
    found: Violations = []
    policies = _resources(template, "AWS::S3::BucketPolicy")
    for logical_id, bucket in _resources(template, "AWS::S3::Bucket").items():
        props = bucket.get("Properties", {}) or {}
        block = props.get("PublicAccessBlockConfiguration") or {}
        for flag in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
            if block.get(flag) is not True:
                found.append(f"{logical_id}: PublicAccessBlockConfiguration.{flag} is not true")
        rules = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
        algorithms = {(rule.get("ServerSideEncryptionByDefault") or {}).get("SSEAlgorithm") for rule in rules}
        if not algorithms & {"AES256", "aws:kms", "aws:kms:dsse"}:
            found.append(f"{logical_id}: no default encryption (BucketEncryption)")
        tls_only = False
        for policy in policies.values():
            policy_props = policy.get("Properties", {}) or {}
            if _ref_target(policy_props.get("Bucket")) != logical_id:
                continue
            for statement in _as_list((policy_props.get("PolicyDocument") or {}).get("Statement")):
                resources = _as_list(statement.get("Resource"))
                covers_bucket = any(_ref_target(r) == logical_id for r in resources)
                covers_objects = any(_mentions(r, logical_id) and _ref_target(r) is None for r in resources)
                if _denies_insecure_transport(statement) and covers_bucket and covers_objects:
                    tls_only = True
        if not tls_only:
            found.append(
                f"{logical_id}: no bucket policy denying aws:SecureTransport=false on bucket and objects"
            )
    return found


# ---------------------------------------------------------------- SQS


def dead_letter_queues(template: dict[str, Any]) -> dict[str, str]:
    """DLQ logical id -> the queue that redrives into it."""
    found: dict[str, str] = {}
    for logical_id, queue in _resources(template, "AWS::SQS::Queue").items():
        redrive = (queue.get("Properties", {}) or {}).get("RedrivePolicy") or {}
        target = _ref_target(redrive.get("deadLetterTargetArn"))
        if target:
            found[target] = logical_id
    return found


def queue_consumers(template: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per SQS event source: queue, function, and the mapping's settings."""
    consumers = []
    for logical_id, mapping in _resources(template, "AWS::Lambda::EventSourceMapping").items():
        props = mapping.get("Properties", {}) or {}
        consumers.append(
            {
                "where": logical_id,
                "queue": _ref_target(props.get("EventSourceArn")),
                "function": _ref_target(props.get("FunctionName")),
                "response_types": _as_list(props.get("FunctionResponseTypes")),
            }
        )
    for logical_id, function in _resources(template, "AWS::Serverless::Function").items():
        for event_id, event in ((function.get("Properties", {}) or {}).get("Events") or {}).items():
            if event.get("Type") != "SQS":
                continue
            props = event.get("Properties", {}) or {}
            consumers.append(
                {
                    "where": f"{logical_id}.Events.{event_id}",
                    "queue": _ref_target(props.get("Queue")),
                    "function": logical_id,
                    "response_types": _as_list(props.get("FunctionResponseTypes")),
                }
            )
    return consumers


def _function_timeout(template: dict[str, Any], logical_id: str) -> int | None:
    resource = template.get("Resources", {}).get(logical_id, {})
    if resource.get("Type") == "AWS::Serverless::Function":
        value = function_property(template, logical_id, "Timeout")
    else:
        value = (resource.get("Properties", {}) or {}).get("Timeout")
    return int(value) if value is not None else None


def queue_violations(template: dict[str, Any]) -> Violations:
    found: Violations = []
    queues = _resources(template, "AWS::SQS::Queue")
    dlqs = dead_letter_queues(template)
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    for logical_id, queue in queues.items():
        props = queue.get("Properties", {}) or {}
        if not (props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId")):
            found.append(f"{logical_id}: not encrypted (SqsManagedSseEnabled or KmsMasterKeyId)")
        if logical_id in dlqs:
            if int(props.get("MessageRetentionPeriod", 345600)) != DLQ_RETENTION_S:
                found.append(f"{logical_id}: dead-letter retention is not 14 days")
            if not any(_watches_queue_depth(alarm, logical_id) for alarm in alarms.values()):
                found.append(f"{logical_id}: dead-letter queue without a messages-visible > 0 alarm")
            continue
        redrive = props.get("RedrivePolicy")
        if not redrive:
            found.append(f"{logical_id}: no RedrivePolicy (every work queue needs a DLQ)")
        elif int(redrive.get("maxReceiveCount", 0)) != MAX_RECEIVE_COUNT:
            found.append(f"{logical_id}: maxReceiveCount is not {MAX_RECEIVE_COUNT}")
    consumers = queue_consumers(template)
    for consumer in consumers:
        where, queue_id = consumer["where"], consumer["queue"]
        if "ReportBatchItemFailures" not in consumer["response_types"]:
            found.append(f"{where}: SQS event source without FunctionResponseTypes [ReportBatchItemFailures]")
        if queue_id not in queues:
            found.append(f"{where}: consumes {queue_id!r}, which is not a queue of this template")
            continue
        timeout = _function_timeout(template, consumer["function"]) or 3
        visibility = int((queues[queue_id].get("Properties", {}) or {}).get("VisibilityTimeout", 30))
        if visibility < VISIBILITY_FACTOR * timeout:
            found.append(
                f"{queue_id}: VisibilityTimeout {visibility} s < {VISIBILITY_FACTOR} x "
                f"{consumer['function']} Timeout {timeout} s"
            )
    consumed = {consumer["queue"] for consumer in consumers}
    for logical_id in queues:
        if logical_id not in dlqs and logical_id not in consumed:
            found.append(f"{logical_id}: work queue without a consumer")
    return found


def _watches_queue_depth(alarm: dict[str, Any], queue_id: str) -> bool:
    props = alarm.get("Properties", {}) or {}
    dimensions = _as_list(props.get("Dimensions"))
    on_queue = any(
        d.get("Name") == "QueueName" and _ref_target(d.get("Value")) == queue_id for d in dimensions
    )
    return (
        on_queue
        and props.get("Namespace") == "AWS/SQS"
        and props.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and props.get("ComparisonOperator") == "GreaterThanThreshold"
        and float(props.get("Threshold", -1)) == 0
        and bool(props.get("AlarmActions"))
    )


def all_violations(template: dict[str, Any]) -> Violations:
    return iam_violations(template) + bucket_violations(template) + queue_violations(template)


# ---------------------------------------------------------------- what a principal may do


def _arn_glob(pattern: str) -> re.Pattern[str]:
    """IAM resource matching: `*` is any run of characters (slashes included), `?` one character."""
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z"
    )


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    """String/Arn/Bool operators; a key missing from the request context fails its test."""
    for operator, tests in condition.items():
        for key, expected in tests.items():
            if key not in context:
                return False
            value, patterns = context[key], [str(e) for e in _as_list(expected)]
            if operator in {"StringEquals", "ArnEquals", "Bool"}:
                ok = value in patterns
            elif operator in {"StringLike", "ArnLike"}:
                ok = any(_arn_glob(p).match(value) for p in patterns)
            else:
                raise ValueError(f"condition operator {operator} is not modelled")
            if not ok:
                return False
    return True


def allowed(
    statements: list[dict[str, Any]], action: str, resource_arn: str, context: dict[str, str] | None = None
) -> bool:
    """Whether resolved identity-policy statements allow `action` on `resource_arn`.

    Enough for our policies: exact action names (the security check forbids action wildcards),
    resource ARNs with `*`/`?` globs, simple conditions against `context`, and Deny wins.
    """
    verdict = False
    for statement in statements:
        if action not in _as_list(statement.get("Action")):
            continue
        if not any(
            _arn_glob(str(pattern)).match(resource_arn) for pattern in _as_list(statement.get("Resource"))
        ):
            continue
        if not _condition_holds(statement.get("Condition") or {}, context or {}):
            continue
        if statement.get("Effect") == "Deny":
            return False
        verdict = verdict or statement.get("Effect") == "Allow"
    return verdict


def identity_statements(template: dict[str, Any], logical_id: str) -> list[dict[str, Any]]:
    """The inline identity-policy statements of a SAM function or an IAM role (unresolved)."""
    props = template["Resources"][logical_id].get("Properties", {}) or {}
    if template["Resources"][logical_id]["Type"] == "AWS::Serverless::Function":
        documents = _as_list(props.get("Policies"))
    else:
        documents = [policy["PolicyDocument"] for policy in _as_list(props.get("Policies"))]
    return [statement for document in documents for statement in _as_list(document.get("Statement"))]
