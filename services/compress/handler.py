"""Lambda entry of the compress service: SQS batch of routed events -> logic.handle."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from services.compress import logic
from shared.lambda_support import consume_sqs_batch, pipeline_from_env

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return consume_sqs_batch(event, context, "compress", logic.handle, pipeline_from_env("compress"))
