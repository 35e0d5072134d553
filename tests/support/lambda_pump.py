"""Plays the Lambda service for SQS event sources: receive from a queue, invoke the real handler
with an SQS batch event, delete what the handler did not report as failed.

Handlers read their settings from the environment the template gives each function; the pump
sets that environment and clears the per-cold-start caches before each invocation, as a fresh
Lambda container would have them.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared import lambda_support
from shared.adapters import aws as aws_adapters
from tests.support.aws_env import SpaceportAws
from tests.support.template import function_property

FUNCTIONS = {
    "ingest": "IngestManifestFunction",
    "sfm": "SfmFunction",
    "train": "TrainFunction",
    "compress": "CompressFunction",
    "notify": "NotifyFunction",
}


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = "req-test"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def handler_of(env: SpaceportAws, logical_id: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    module_name, _, function = str(function_property(env.template, logical_id, "Handler")).rpartition(".")
    return getattr(importlib.import_module(module_name), function)


def cold_start(env: SpaceportAws, logical_id: str) -> None:
    prefixes = ("STAGE_", "SENDER_", "LINK_", "VIEWER_", "PUBLIC_", "RECONCILE_", "SFM_QUEUE", "TRAIN_QUEUE", "COMPRESS_QUEUE")
    for name in [k for k in os.environ if k.startswith(prefixes)]:
        del os.environ[name]
    os.environ.update(env.function_env(logical_id))
    lambda_support.ports_from_env.cache_clear()
    lambda_support.link_secret_from_env.cache_clear()
    lambda_support.pipeline_from_env.cache_clear()
    aws_adapters.clients.cache_clear()


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": m["Attributes"]["ApproximateReceiveCount"],
                    "SentTimestamp": m["Attributes"].get("SentTimestamp", "0"),
                    "SenderId": m["Attributes"].get("SenderId", "AIDTEST"),
                    "ApproximateFirstReceiveTimestamp": m["Attributes"].get("ApproximateFirstReceiveTimestamp", "0"),
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(m["Body"].encode()).hexdigest(),  # noqa: S324 - SQS's checksum
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def run_reconciler(env: SpaceportAws, after_s: float = 0.0) -> list[str]:
    """Invoke the reconciler as its schedule does (a fresh cold start), with the window shortened
    to `after_s`; returns the run names whose state it re-delivered."""
    from services.reconcile import handler as reconcile_handler

    cold_start(env, "ReconcileFunction")
    os.environ["RECONCILE_AFTER_S"] = str(after_s)
    reconcile_handler.ports_from_env.cache_clear()
    scheduled = {"version": "0", "id": "tick", "detail-type": "Scheduled Event", "source": "aws.events",
                 "account": env.account, "time": "2026-01-01T00:00:00Z", "region": env.region,
                 "resources": [], "detail": {}}
    return handler_of(env, "ReconcileFunction")(scheduled, LambdaContext("ReconcileFunction"))["redelivered"]


@dataclass
class Pump:
    env: SpaceportAws
    deliveries: int = 1  # invoke the handler this many times per received batch (duplicate delivery)
    invocations: int = 0

    def queue_arn(self, consumer: str) -> str:
        sqs = self.env.client("sqs")
        return sqs.get_queue_attributes(QueueUrl=self.env.queue_urls[consumer], AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def drain_once(self, consumer: str) -> int:
        """One receive + invoke round on a consumer's queue; returns messages received."""
        sqs = self.env.client("sqs")
        url = self.env.queue_urls[consumer]
        received = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["All"]
        ).get("Messages", [])
        if not received:
            return 0
        logical_id = FUNCTIONS[consumer]
        event = sqs_event(received, self.queue_arn(consumer))
        failed: set[str] = set()
        for _ in range(self.deliveries):
            cold_start(self.env, logical_id)
            result = handler_of(self.env, logical_id)(event, LambdaContext(logical_id))
            self.invocations += 1
            failed |= {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        for message in received:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(received)

    def run(self, consumers: tuple[str, ...] = tuple(FUNCTIONS), rounds: int = 12) -> None:
        """Deliver until every queue is quiet (or `rounds` passes find work each time)."""
        for _ in range(rounds):
            if sum(self.drain_once(consumer) for consumer in consumers) == 0:
                return
