"""Notify service: exactly one email per outcome, plus the job report.

Exactly once: before sending, the service claims the job's notification in the job table (a
conditional write that fails if an email already went out or another delivery holds an
unexpired claim); after SES accepts the message it records `notified_at`. A failed send
releases the claim so the SQS retry can send it. The one window left (a crash after SES
accepted the email and before `notified_at` is written) is closed by the claim lease: the
retry waits out the lease and may then send a second email; this is documented, not hidden.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from services.notify.emails import Delivery, failure_email, success_email
from services.notify.page import Preview, render_html
from services.notify.report import COMPRESS_OUTPUTS, build_report
from services.notify.sections import local_path
from shared.causes import CauseCode
from shared.errors import NotFoundError
from shared.events import CompressionCompleted, JobFailed, JobNotified, parse_event
from shared.jobs import FailureInfo, Job, JobState, states_before
from shared.layout import metrics_uri, stage_uri
from shared.ports import Email, Envelope, Pipeline, Ports

logger = logging.getLogger(__name__)

CLAIM_LEASE_S = 300
STAGES = ("sfm", "train", "compress")
MAX_EMBEDDED_PREVIEWS = 3
MAX_EMBEDDED_BYTES = 2_000_000  # per image; a larger one is linked, not embedded


def handle(envelope: Envelope, ports: Ports, pipeline: Pipeline) -> None:
    event = parse_event(envelope.detail_type, envelope.detail)
    token = envelope.event_id or f"{event.detail_type()}:{event.job_id}"
    if isinstance(event, CompressionCompleted):
        on_success(event, token, ports, pipeline)
    elif isinstance(event, JobFailed):
        on_failure(event, token, ports, pipeline)


def _stage_metrics(job: Job, ports: Ports, pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        try:
            found[stage] = json.loads(ports.store.get_bytes(metrics_uri(pipeline.bucket, job.job_id, stage)))
        except NotFoundError:
            continue
    return found


def output_uris(
    job: Job, event: CompressionCompleted, compress_metrics: dict[str, Any], ports: Ports, pipeline: Pipeline
) -> dict[str, str]:
    train = stage_uri(pipeline.bucket, job.job_id, "train")
    notify = stage_uri(pipeline.bucket, job.job_id, "notify")
    outputs = {
        "model.sog": event.sog_uri,
        "model.ply": train + "model.ply",
        "report.html": notify + "report.html",
        "report.json": notify + "report.json",
    }
    # model.spz and the streamed SOG's lod-meta.json, when the compress stage wrote them
    written = {entry.get("format") for entry in compress_metrics.get("outputs") or []}
    for output_format, (_, name) in COMPRESS_OUTPUTS.items():
        if output_format in written and name not in outputs:
            outputs[name] = event.compress_uri + name
    previews = sorted(o.uri for o in ports.store.list(train + "previews/") if o.uri.endswith(".png"))
    if previews:
        outputs["preview.png"] = previews[0]
    return outputs


def viewer_link(pipeline: Pipeline, sog_link: str) -> str:
    return f"{pipeline.viewer_base_url}?load={quote(sog_link, safe='')}"


def web_previews(job: Job, ports: Ports, pipeline: Pipeline) -> list[Preview]:
    """The training stage's web-sized JPEG previews (render next to a held-out photo), to embed."""
    prefix = stage_uri(pipeline.bucket, job.job_id, "train") + "previews/"
    found = []
    for item in sorted(ports.store.list(prefix), key=lambda o: o.uri):
        if item.uri.endswith(".jpg") and item.size <= MAX_EMBEDDED_BYTES:
            name = item.uri.removeprefix(prefix).removesuffix(".jpg")
            found.append(Preview(name=name, data=ports.store.get_bytes(item.uri)))
        if len(found) == MAX_EMBEDDED_PREVIEWS:
            break
    return found


def delivery_for(job: Job, ports: Ports, pipeline: Pipeline, previews: list[Preview]) -> Delivery:
    if pipeline.delivery == "files":
        folder = local_path(ports.store.link(job.inbox_uri, pipeline.link_expiry_s)) or job.inbox_uri
        command = (pipeline.viewer_command or "spaceport view {job_id}").format(job_id=job.job_id)
        return Delivery("files", photos_location=folder, viewer_command=command, previews=previews)
    return Delivery("links", photos_location=job.inbox_uri, link_days=max(1, pipeline.link_expiry_s // 86400))


def on_success(event: CompressionCompleted, token: str, ports: Ports, pipeline: Pipeline) -> None:
    job = ports.table.get(event.job_id)
    if job is None or job.notified_at is not None:
        return
    if job.state not in (JobState.COMPRESS_DONE, JobState.SUCCEEDED):
        logger.info("success ignored", extra={"job_id": job.job_id, "state": str(job.state)})
        return
    stage_metrics = _stage_metrics(job, ports, pipeline)
    outputs = output_uris(job, event, stage_metrics.get("compress", {}), ports, pipeline)
    links = {name: ports.store.link(uri, pipeline.link_expiry_s) for name, uri in outputs.items()}
    if pipeline.delivery == "links":
        links = {"viewer": viewer_link(pipeline, links["model.sog"]), **links}
    now = datetime.now(UTC)
    ports.table.update(
        job.job_id,
        allowed_from=frozenset({JobState.COMPRESS_DONE}),
        state=JobState.SUCCEEDED,
        changes={"outputs": outputs},
    )
    job = ports.table.get(job.job_id) or job
    previews = web_previews(job, ports, pipeline)
    delivery = delivery_for(job, ports, pipeline, previews)
    report = build_report(job, stage_metrics, links, now, delivery.viewer_command)
    _write_report(job, report, previews, ports, pipeline)
    send_once(job, success_email(job, report, links, delivery), "succeeded", token, ports)


def on_failure(event: JobFailed, token: str, ports: Ports, pipeline: Pipeline) -> None:
    job = ports.table.get(event.job_id)
    if job is None or job.notified_at is not None:
        return
    failure = job.failure or FailureInfo(
        stage=event.stage, cause=event.cause, message=event.message, advice=event.advice
    )
    if not job.is_final:
        ports.table.update(
            job.job_id,
            allowed_from=states_before(JobState.FAILED),
            state=JobState.FAILED,
            changes={"failure": failure.model_dump(mode="json")},
        )
        job = ports.table.get(job.job_id) or job
    report = build_report(job, _stage_metrics(job, ports, pipeline), {}, datetime.now(UTC))
    _write_report(job, report, [], ports, pipeline)
    if not job.email:
        logger.warning("no address to notify", extra={"job_id": job.job_id})
        return
    outcome = "cancelled" if failure.cause is CauseCode.CANCELLED else "failed"
    delivery = delivery_for(job, ports, pipeline, [])
    report_uri = stage_uri(pipeline.bucket, job.job_id, "notify") + "report.html"
    where = local_path(ports.store.link(report_uri, pipeline.link_expiry_s)) if delivery.kind == "files" else None
    send_once(job, failure_email(job, failure, delivery, where), outcome, token, ports)


def _write_report(
    job: Job, report: dict[str, Any], previews: list[Preview], ports: Ports, pipeline: Pipeline
) -> None:
    prefix = stage_uri(pipeline.bucket, job.job_id, "notify")
    ports.store.put_bytes(prefix + "report.json", json.dumps(report, indent=2).encode(), "application/json")
    page = render_html(report, previews).encode()
    ports.store.put_bytes(prefix + "report.html", page, "text/html; charset=utf-8")


def send_once(job: Job, email: Email, outcome: str, token: str, ports: Ports) -> None:
    now = datetime.now(UTC)
    if not ports.table.claim_notification(job.job_id, token, now, CLAIM_LEASE_S):
        logger.info("email already sent or being sent", extra={"job_id": job.job_id})
        return
    try:
        message_id = ports.mailer.send(email)
    except Exception:
        ports.table.release_notification(job.job_id, token)
        raise
    ports.table.finish_notification(job.job_id, token, datetime.now(UTC))
    ports.bus.publish(JobNotified(job_id=job.job_id, outcome=outcome, message_id=message_id))  # type: ignore[arg-type]
