"""Which EventBridge pattern operators moto 5.2 evaluates, for the ones our rules use.

The wiring tests in test_template_wiring.py are only as good as moto's pattern matching: these
checks pin that `prefix` (SageMaker job names) and `suffix` (S3 manifest keys) really filter in
moto, and whether `wildcard` (a single matcher for inbox/*/job.json) would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from tests.support.aws_env import session


@pytest.fixture
def events_to_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        events = session().client("events", region_name="us-east-1")
        sqs = session().client("sqs", region_name="us-east-1")

        def matched_keys(key_filter: dict[str, Any], keys: list[str]) -> list[str]:
            url = sqs.create_queue(QueueName="probe")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            pattern = {"source": ["probe"], "detail": {"key": [key_filter]}}
            events.put_rule(Name="probe", EventPattern=json.dumps(pattern))
            events.put_targets(Rule="probe", Targets=[{"Id": "q", "Arn": arn}])
            for key in keys:
                events.put_events(
                    Entries=[{"Source": "probe", "DetailType": "t", "Detail": json.dumps({"key": key})}]
                )
            bodies = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            return sorted(json.loads(b["Body"])["detail"]["key"] for b in bodies)

        yield matched_keys


KEYS = [
    "inbox/a/job.json",
    "inbox/a/job.json.bak",
    "jobs/x/job.json",
    "inbox/a/b/job.json",
    "spaceport-sfm-x",
]


def test_moto_filters_on_suffix(events_to_queue: Any) -> None:
    assert events_to_queue({"suffix": "/job.json"}, KEYS) == [
        "inbox/a/b/job.json",
        "inbox/a/job.json",
        "jobs/x/job.json",
    ]


def test_moto_filters_on_prefix(events_to_queue: Any) -> None:
    assert events_to_queue({"prefix": "spaceport-sfm-"}, KEYS) == ["spaceport-sfm-x"]


def test_moto_filters_on_wildcard(events_to_queue: Any) -> None:
    # EventBridge's `*` matches any characters, `/` included.
    assert events_to_queue({"wildcard": "inbox/*/job.json"}, KEYS) == [
        "inbox/a/b/job.json",
        "inbox/a/job.json",
    ]
