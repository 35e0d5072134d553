"""Lambda entry of the notify service: SQS batch of outcomes -> one email each."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from services.notify import logic
from shared.lambda_support import consume_sqs_batch, pipeline_from_env

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # A notify message that keeps failing goes to its DLQ (alarmed) without a JobFailed of its
    # own: publishing one would only come back to this queue.
    return consume_sqs_batch(event, context, "notify", logic.handle, pipeline_from_env(), fail_job_on_last_delivery=False)
