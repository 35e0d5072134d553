"""The two emails a person can get: the model is ready, or why it failed and what to do.

Two deliveries (`Pipeline.delivery`): "links" (cloud) sends a hosted-viewer link, expiring download
links and a linked preview; "files" (local) names the paths on this machine, says which command
opens the viewer, and carries the preview images in the message. Both show the report's sections
(services/notify/sections.py) except the long ones, which stay in report.html.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from services.notify.page import Preview, delivered_headline
from services.notify.sections import Section, local_path, report_sections
from shared.causes import CauseCode
from shared.jobs import FailureInfo, Job
from shared.ports import Email, InlineImage

# Sections that stay in report.html (the email links to it).
REPORT_ONLY = frozenset({"settings", "files", "failure"})
MAX_INLINE_PREVIEWS = 2


@dataclass(frozen=True)
class Delivery:
    """How this email reaches its reader (built by the notify logic from the Pipeline)."""

    kind: str  # "links" | "files"
    photos_location: str  # s3://... in the cloud, a folder path locally
    link_days: int = 7
    viewer_command: str | None = None
    previews: list[Preview] = field(default_factory=list)  # local: carried in the message


def _section_text(section: Section) -> str:
    lines = [f"{section.title}:"]
    for row in section.rows:
        band = f" ({row.band})" if row.band else ""
        lines.append(f"  {row.label}: {row.value}{band}")
    lines += [f"  {p}" for p in section.paragraphs]
    return "\n".join(lines)


def _section_html(section: Section) -> str:
    rows = "".join(
        f"<tr><th align=left>{html.escape(r.label)}</th><td>{html.escape(r.value)}"
        + (f" <b>({r.band})</b>" if r.band else "")
        + "</td></tr>"
        for r in section.rows
    )
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in section.paragraphs)
    return f"<h3>{html.escape(section.title)}</h3><table>{rows}</table>{paragraphs}"


def _summary(report: dict[str, Any]) -> list[Section]:
    return [s for s in report_sections(report) if s.key not in REPORT_ONLY]


def success_email(job: Job, report: dict[str, Any], links: dict[str, str], delivery: Delivery) -> Email:
    if delivery.kind == "files":
        return _local_success(job, report, links, delivery)
    sections = _summary(report)
    headline = delivered_headline(report)
    viewer = links.get("viewer", links.get("model.sog", ""))
    preview_url = links.get("preview.png")
    text = (
        f"{headline}.\n\nOpen it in the browser:\n  {viewer}\n\n"
        + "\n\n".join(_section_text(s) for s in sections)
        + f"\n\nDownloads (links work for {delivery.link_days} days):\n"
        + "\n".join(f"  {name}: {url}" for name, url in links.items())
        + f"\n\nJob {job.job_id}. Your photos are kept unchanged in {delivery.photos_location}\n"
    )
    html_links = "".join(f'<li><a href="{html.escape(u)}">{html.escape(n)}</a></li>' for n, u in links.items())
    preview = (
        f'<p><a href="{html.escape(viewer)}"><img src="{html.escape(preview_url)}" alt="preview render next to '
        'a photo" style="max-width:100%"></a></p>'
        if preview_url
        else ""
    )
    body = f"""<html><body style="font-family:system-ui,sans-serif">
<h2>{html.escape(headline)}</h2>
<p><a href="{html.escape(viewer)}"><b>Open it in the browser</b></a></p>
{preview}
{"".join(_section_html(s) for s in sections)}
<p>Downloads (links work for {delivery.link_days} days):</p><ul>{html_links}</ul>
<p><small>Job {job.job_id}. Your photos are kept unchanged in {html.escape(delivery.photos_location)}.</small></p>
</body></html>"""
    return Email(to=job.email, subject=f"{headline} (job {job.job_id})", text=text, html=body)


def _local_success(job: Job, report: dict[str, Any], links: dict[str, str], delivery: Delivery) -> Email:
    sections = _summary(report)
    headline = delivered_headline(report)
    files = {name: local_path(url) or url for name, url in links.items() if name != "viewer"}
    command = delivery.viewer_command or ""
    previews = delivery.previews[:MAX_INLINE_PREVIEWS]
    images = tuple(
        InlineImage(content_id=f"preview-{i}@spaceport.local", data=p.data, filename=f"preview-{p.name}.jpg")
        for i, p in enumerate(previews)
    )
    shown = (
        "The preview (the model's render next to a photo it never trained on) is in this email."
        if images
        else "No preview image was made for this job."
    ) + " report.html explains what each figure means."
    text = (
        f"{headline}.\n\nTo open it in your browser, run:\n  {command}\n"
        "(it serves the viewer on http://127.0.0.1:8765/ while it runs)\n\n"
        + "\n\n".join(_section_text(s) for s in sections)
        + f"\n\n{shown}\n\nFiles on this machine:\n"
        + "\n".join(f"  {name}: {path}" for name, path in files.items())
        + f"\n\nJob {job.job_id}. Your photos were not changed; the copy this job used is in "
        f"{delivery.photos_location}\n"
    )
    figures = "".join(
        f'<p><img src="cid:{image.content_id}" alt="render next to the photo {html.escape(p.name)}" '
        f'style="max-width:100%"><br><small>{html.escape(p.name)}: render (left), photo (right)</small></p>'
        for image, p in zip(images, previews, strict=True)
    )
    file_items = "".join(
        f'<li>{html.escape(name)}: <a href="{html.escape(links[name])}">{html.escape(path)}</a></li>'
        for name, path in files.items()
    )
    body = f"""<html><body style="font-family:system-ui,sans-serif">
<h2>{html.escape(headline)}</h2>
<p>To open it in your browser, run <code>{html.escape(command)}</code><br>
<small>(it serves the viewer on http://127.0.0.1:8765/ while it runs)</small></p>
{figures}
{"".join(_section_html(s) for s in sections)}
<p>report.html (below) explains what each figure means.</p>
<p>Files on this machine:</p><ul>{file_items}</ul>
<p><small>Job {job.job_id}. Your photos were not changed; the copy this job used is in
{html.escape(delivery.photos_location)}.</small></p>
</body></html>"""
    return Email(
        to=job.email, subject=f"{headline} (job {job.job_id})", text=text, html=body, inline_images=images
    )


def failure_email(job: Job, failure: FailureInfo, delivery: Delivery, report_location: str | None = None) -> Email:
    cancelled = failure.cause is CauseCode.CANCELLED
    headline = "Your job was cancelled" if cancelled else "We could not build your 3D model"
    subject = f"{headline} (job {job.job_id})"
    kept = (
        f"your photos were not changed; the copy this job used is in {delivery.photos_location}"
        if delivery.kind == "files"
        else f"your photos are kept unchanged in {delivery.photos_location}"
    )
    report = f"\nThe full report: {report_location}\n" if report_location else ""
    text = (
        f"{headline}.\n\nWhat happened ({failure.stage}, {failure.cause}):\n  {failure.message}\n\n"
        f"What to do:\n  {failure.advice}\n{report}\n"
        f"Job {job.job_id}. Nothing was lost: {kept}\n"
    )
    report_html = f"<p>The full report: {html.escape(report_location)}</p>" if report_location else ""
    body = f"""<html><body style="font-family:system-ui,sans-serif">
<h2>{html.escape(headline)}</h2>
<p><b>What happened</b> ({html.escape(failure.stage)}, <code>{html.escape(str(failure.cause))}</code>):<br>
{html.escape(failure.message)}</p>
<p><b>What to do</b><br>{html.escape(failure.advice)}</p>
{report_html}
<p><small>Job {job.job_id}. Nothing was lost: {html.escape(kept)}.</small></p>
</body></html>"""
    return Email(to=job.email, subject=subject, text=text, html=body)
