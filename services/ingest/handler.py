"""Lambda entries of the ingest service: the authenticated HTTP API and the manifest consumer.

The API sits behind API Gateway with IAM (SigV4) authorisation; the caller is the IAM principal
API Gateway verified. A caller sees and cancels only its own jobs.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import UnauthorizedError
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.metrics import MetricUnit

from services.ingest import logic
from services.ingest.logic import JobAlreadyFinished, SubmitRequest
from shared.errors import NotFoundError, UserInputError
from shared.lambda_support import consume_sqs_batch, pipeline_from_env, ports_from_env

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)
JobId = Annotated[str, Path(pattern=r"^[a-z0-9]{20}$", description="job id")]


def _json(status: int, body: dict[str, Any]) -> Response[dict[str, Any]]:
    plain = json.loads(json.dumps(body, default=str))
    return Response(status_code=status, content_type="application/json", body=plain)


def caller() -> str:
    identity = app.current_event.request_context.identity
    principal = identity.user_arn or identity.caller
    if not principal:
        raise UnauthorizedError("this API needs SigV4-signed requests from an IAM principal")
    return principal


@app.post("/jobs", summary="Submit the photos in an inbox folder as a job")
def post_job(request: SubmitRequest) -> Response[dict[str, Any]]:
    job = logic.submit_job(request, caller(), ports_from_env(), pipeline_from_env())
    metrics.add_metric(name="JobSubmitted", unit=MetricUnit.Count, value=1)
    return _json(201, logic.job_view(job, ports_from_env(), pipeline_from_env()))


@app.get("/jobs", summary="List the caller's jobs, newest first")
def get_jobs() -> Response[dict[str, Any]]:
    return _json(200, {"jobs": logic.list_jobs(caller(), ports_from_env(), pipeline_from_env())})


@app.get("/jobs/<job_id>", summary="State, per-stage progress and timings, ETA, links when done")
def get_job(job_id: JobId) -> Response[dict[str, Any]]:
    return _json(200, logic.get_job_view(job_id, caller(), ports_from_env(), pipeline_from_env()))


@app.delete("/jobs/<job_id>", summary="Cancel a job (stops its running compute job)")
def delete_job(job_id: JobId) -> Response[dict[str, Any]]:
    job = logic.cancel_job(job_id, caller(), ports_from_env())
    metrics.add_metric(name="JobCancelled", unit=MetricUnit.Count, value=1)
    return _json(200, logic.job_view(job, ports_from_env(), pipeline_from_env()))


@app.exception_handler(JobAlreadyFinished)
def already_finished(error: JobAlreadyFinished) -> Response[dict[str, Any]]:
    return _json(409, {"error": "conflict", "message": error.message})


@app.exception_handler(UserInputError)
def bad_input(error: UserInputError) -> Response[dict[str, Any]]:
    metrics.add_metric(name="JobRejected", unit=MetricUnit.Count, value=1)
    return _json(400, {"error": str(error.cause), "message": error.message})


@app.exception_handler(NotFoundError)
def not_found(error: NotFoundError) -> Response[dict[str, Any]]:
    return _json(404, {"error": "not_found", "message": str(error)})


@logger.inject_lambda_context
@metrics.log_metrics
def api_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


@logger.inject_lambda_context
@metrics.log_metrics
def manifest_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return consume_sqs_batch(event, context, "ingest", logic.handle, pipeline_from_env())
