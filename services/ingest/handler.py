"""Lambda entries of the ingest service: the authenticated HTTP API and the manifest consumer.

The API sits behind API Gateway with IAM (SigV4) authorisation; the caller is the IAM principal
API Gateway verified. A caller sees and cancels only its own jobs. One route is public:
`GET /links/<token>` redirects a link from an email (the token is the authorisation).
"""

from __future__ import annotations

import json
import os
import time
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import UnauthorizedError
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.metrics import MetricUnit

from services.ingest import links, logic
from services.ingest.logic import JobAlreadyFinished, SubmitRequest
from shared.errors import NotFoundError, UserInputError
from shared.lambda_support import (
    consume_sqs_batch,
    direct_store,
    link_secret,
    pipeline_from_env,
    ports_from_env,
    ports_linking_to,
)
from shared.links import LinkError, LinkExpired
from shared.ports import Ports

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)
JobId = Annotated[str, Path(pattern=r"^[a-z0-9]{20}$", description="job id")]


def _json(status: int, body: dict[str, Any]) -> Response[dict[str, Any]]:
    plain = json.loads(json.dumps(body, default=str))
    return Response(status_code=status, content_type="application/json", body=plain)


# The browser that follows a link (the web viewer fetching model.sog) must see the redirect, and
# the presigned URL it carries must not be cached past its hour.
LINK_HEADERS = {"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"}


def public_base_url() -> str:
    """This API's URL as the caller reached it: links in job views point back here."""
    context = app.current_event.request_context
    region = os.environ.get("AWS_REGION", "")
    host = context.domain_name or f"{context.api_id}.execute-api.{region}.amazonaws.com"
    return f"https://{host}/{context.stage}"


def api_ports() -> Ports:
    return ports_linking_to(public_base_url())


def caller() -> str:
    identity = app.current_event.request_context.identity
    principal = identity.user_arn or identity.caller
    if not principal:
        raise UnauthorizedError("this API needs SigV4-signed requests from an IAM principal")
    return principal


@app.post("/jobs", summary="Submit the photos in an inbox folder as a job")
def post_job(request: SubmitRequest) -> Response[dict[str, Any]]:
    job = logic.submit_job(request, caller(), api_ports(), pipeline_from_env())
    metrics.add_metric(name="JobSubmitted", unit=MetricUnit.Count, value=1)
    return _json(201, logic.job_view(job, api_ports(), pipeline_from_env()))


@app.get("/jobs", summary="List the caller's jobs, newest first")
def get_jobs() -> Response[dict[str, Any]]:
    return _json(200, {"jobs": logic.list_jobs(caller(), api_ports(), pipeline_from_env())})


@app.get("/jobs/<job_id>", summary="State, per-stage progress and timings, ETA, links when done")
def get_job(job_id: JobId) -> Response[dict[str, Any]]:
    return _json(200, logic.get_job_view(job_id, caller(), api_ports(), pipeline_from_env()))


@app.delete("/jobs/<job_id>", summary="Cancel a job (stops its running compute job)")
def delete_job(job_id: JobId) -> Response[dict[str, Any]]:
    job = logic.cancel_job(job_id, caller(), api_ports())
    metrics.add_metric(name="JobCancelled", unit=MetricUnit.Count, value=1)
    return _json(200, logic.job_view(job, api_ports(), pipeline_from_env()))


@app.get(
    "/links/<token>",
    summary="Open an emailed link: 302 to a fresh one-hour download URL (no auth)",
    responses={
        302: {"description": "Location: a presigned S3 URL of the linked job output, valid for one hour"},
        404: {"description": "not a link of this deployment (malformed, altered, or naming no job output)"},
        410: {"description": "the link has expired"},
    },
)
def open_link(token: str) -> Response[str]:
    return _redirect(token, None)


@app.get(
    "/links/<token>/<name>",
    summary="A file beside a linked lod-meta.json (streamed model): 302 like /links/{token}",
    responses={302: {"description": "Location: a presigned S3 URL of that file"}, 404: {"description": "no such link"}},
)
def open_link_beside(token: str, name: str) -> Response[str]:
    return _redirect(token, name)


@app.get(
    "/links/<token>/<folder>/<name>",
    summary="A file one folder below a linked lod-meta.json (a level's SOG chunk): 302 like /links/{token}",
    responses={302: {"description": "Location: a presigned S3 URL of that file"}, 404: {"description": "no such link"}},
)
def open_link_below(token: str, folder: str, name: str) -> Response[str]:
    return _redirect(token, f"{folder}/{name}")


def _redirect(token: str, path: str | None) -> Response[str]:
    store = direct_store(ports_from_env().store)
    location = links.open_link(token, link_secret(), store, pipeline_from_env().bucket, int(time.time()), path)
    metrics.add_metric(name="LinkOpened", unit=MetricUnit.Count, value=1)
    headers = {"Location": location, **LINK_HEADERS}
    return Response(status_code=302, content_type="text/plain", body="", headers=headers)


@app.exception_handler(LinkExpired)
def link_expired(error: LinkExpired) -> Response[dict[str, Any]]:
    body = {"error": "gone", "message": "this link has expired; GET /jobs/<job_id> gives new links"}
    return Response(status_code=410, content_type="application/json", body=body, headers=LINK_HEADERS)


@app.exception_handler(LinkError)
def link_refused(error: LinkError) -> Response[dict[str, Any]]:
    metrics.add_metric(name="LinkRefused", unit=MetricUnit.Count, value=1)
    body = {"error": "not_found", "message": "no such link"}
    return Response(status_code=404, content_type="application/json", body=body, headers=LINK_HEADERS)


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
