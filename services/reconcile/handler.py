"""Lambda entry of the reconciler: a scheduled event -> logic.reconcile."""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from services.reconcile import logic
from shared.settings import CoreSettings, ReconcileSettings

logger = Logger()
metrics = Metrics()


@functools.cache
def ports_from_env(account: str) -> logic.ReconcilePorts:
    from shared.adapters.aws import SqsStateChangeSender, clients
    from shared.adapters.dynamo import DynamoJobTable
    from shared.adapters.sagemaker import SageMakerLauncher

    core = CoreSettings.from_env()
    settings = ReconcileSettings.from_env()
    aws = clients()
    region = os.environ.get("AWS_REGION", "")
    return logic.ReconcilePorts(
        table=DynamoJobTable(aws["dynamodb"], core.jobs_table),
        launcher=SageMakerLauncher(aws["sagemaker"], image_uri="", role_arn=""),  # describe only
        redelivery=SqsStateChangeSender(aws["sqs"], settings.queue_urls, region, account),
    )


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    account = str(context.invoked_function_arn).split(":")[4]
    found = logic.reconcile(ports_from_env(account), datetime.now(UTC), ReconcileSettings.from_env().after_s)
    metrics.add_metric(name="StateChangesRedelivered", unit=MetricUnit.Count, value=len(found))
    return {"redelivered": [item.run_name for item in found]}
