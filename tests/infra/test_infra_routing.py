"""The template's EventBridge rules are exactly the routes of shared/routing.py.

Each route is a rule `<route.rule>Rule` on the route's bus whose pattern equals
`event_pattern(route)` (S3 rules add our bucket name), targeting the consumer's queue, with the
consumer's DLQ for undeliverable events and a queue policy that lets only that rule send.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shared.routing import ROUTES, Route, event_pattern
from tests.support.template import load, resources


def queue_id(route: Route) -> str:
    return f"{route.consumer.capitalize()}Queue"


def dlq_id(route: Route) -> str:
    return f"{route.consumer.capitalize()}DeadLetterQueue"


def rule_properties(route: Route) -> dict[str, Any]:
    rule = load()["Resources"].get(f"{route.rule}Rule")
    assert rule is not None, f"template has no {route.rule}Rule for route {route.rule}"
    assert rule["Type"] == "AWS::Events::Rule"
    return rule["Properties"]


def pattern_without_bucket(pattern: dict[str, Any]) -> dict[str, Any]:
    """The pattern minus the S3 bucket-name restriction the template adds to S3 rules."""
    pattern = copy.deepcopy(pattern)
    detail = pattern.get("detail", {})
    detail.pop("bucket", None)
    return pattern


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.rule)
def test_rule_pattern_equals_the_route_pattern(route: Route) -> None:
    pattern = rule_properties(route)["EventPattern"]
    assert pattern_without_bucket(pattern) == event_pattern(route)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.source == "aws.s3"], ids=lambda r: r.rule)
def test_s3_rules_only_hear_our_bucket(route: Route) -> None:
    pattern = rule_properties(route)["EventPattern"]
    assert pattern["detail"]["bucket"] == {"name": [{"Ref": "Bucket"}]}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.rule)
def test_rule_listens_on_the_route_bus(route: Route) -> None:
    bus = rule_properties(route).get("EventBusName", "default")
    assert bus == ({"Ref": "EventBus"} if route.bus == "spaceport" else "default")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.rule)
def test_rule_targets_only_the_consumer_queue_with_its_dlq(route: Route) -> None:
    props = rule_properties(route)
    assert props.get("State", "ENABLED") == "ENABLED"
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [queue_id(route), "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [dlq_id(route), "Arn"]}
    assert "InputTransformer" not in target and "Input" not in target  # consumers parse the raw event


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.rule)
def test_consumer_queue_policy_lets_exactly_its_rules_send(route: Route) -> None:
    template = load()
    policies = [
        p["Properties"]
        for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id(route)} in p["Properties"]["Queues"]
    ]
    assert len(policies) == 1, f"{queue_id(route)} needs exactly one queue policy"
    policy = policies[0]
    assert {"Ref": dlq_id(route)} in policy["Queues"]  # EventBridge's DeadLetterConfig sends there
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    (allow,) = allows
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    sources = allow["Condition"]["ArnEquals"]["aws:SourceArn"]
    expected = [{"Fn::GetAtt": [f"{r.rule}Rule", "Arn"]} for r in ROUTES if r.consumer == route.consumer]
    assert sorted(map(str, sources)) == sorted(map(str, expected))


def test_every_rule_in_the_template_is_a_route() -> None:
    rules = set(resources(load(), "AWS::Events::Rule"))
    assert rules == {f"{route.rule}Rule" for route in ROUTES}


def test_pattern_comparison_notices_a_changed_route() -> None:
    # GIVEN the sfm state-change route with a different job-name prefix
    route = next(r for r in ROUTES if r.rule == "SfmJobStateChanged")
    changed = Route(**{**route.__dict__, "job_name_prefix": "spaceport-other-"})
    # THEN the template's rule no longer equals the route's pattern
    assert pattern_without_bucket(rule_properties(route)["EventPattern"]) != event_pattern(changed)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.source.startswith("aws.")], ids=lambda r: r.rule)
def test_aws_service_events_are_heard_on_the_default_bus(route: Route) -> None:
    # S3 and SageMaker publish only to the default bus. moto also hands S3 events to rules on
    # custom buses, so the integration tests would not catch a rule placed on our bus.
    assert route.bus == "default"
    assert "EventBusName" not in rule_properties(route)
