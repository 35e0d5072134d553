"""The two emails a person can get: the model is ready, or why it failed and what to do."""

from __future__ import annotations

import html
from typing import Any

from services.notify.report import poor_quality, summary_rows
from shared.causes import CauseCode
from shared.jobs import FailureInfo, Job
from shared.ports import Email


def success_email(job: Job, report: dict[str, Any], links: dict[str, str], preview_url: str | None) -> Email:
    rows = summary_rows(report)
    text_rows = "\n".join(f"  {k}: {v}" for k, v in rows)
    viewer = links.get("viewer", links.get("model.sog", ""))
    poor = poor_quality(report)
    headline = "Your 3D model is done, but its quality is poor" if poor else "Your 3D model is ready"
    why_text = why_html = ""
    if poor:
        why_text = ("Why the quality is poor:\n" + "".join(f"  - {r}\n" for r in poor["reasons"])
                    + "What to do:\n" + "".join(f"  {a}\n" for a in poor["advice"]) + "\n")
        why_html = ("<p><b>Why the quality is poor</b></p><ul>" + "".join(f"<li>{html.escape(r)}</li>" for r in
                    poor["reasons"]) + "</ul><p><b>What to do</b><br>" + "<br>".join(html.escape(a) for a in
                    poor["advice"]) + "</p>")
    text = (
        f"{headline}.\n\n{why_text}Open it in the browser:\n  {viewer}\n\n{text_rows}\n\n"
        "Downloads (links expire in 7 days):\n"
        + "\n".join(f"  {name}: {url}" for name, url in links.items())
        + f"\n\nJob {job.job_id}. Your photos are kept unchanged in {job.inbox_uri}\n"
    )
    html_rows = "".join(f"<tr><th align=left>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    html_links = "".join(f'<li><a href="{html.escape(u)}">{html.escape(n)}</a></li>' for n, u in links.items())
    preview = (
        f'<p><a href="{html.escape(viewer)}"><img src="{html.escape(preview_url)}" alt="preview render next to '
        'a photo" style="max-width:100%"></a></p>'
        if preview_url
        else ""
    )
    body = f"""<html><body style="font-family:system-ui,sans-serif">
<h2>{headline}</h2>
{why_html}
<p><a href="{html.escape(viewer)}"><b>Open it in the browser</b></a></p>
{preview}
<table>{html_rows}</table>
<p>Downloads (links expire in 7 days):</p><ul>{html_links}</ul>
<p><small>Job {job.job_id}. Your photos are kept unchanged in {html.escape(job.inbox_uri)}.</small></p>
</body></html>"""
    return Email(to=job.email, subject=f"{headline} (job {job.job_id})", text=text, html=body)


def failure_email(job: Job, failure: FailureInfo) -> Email:
    cancelled = failure.cause is CauseCode.CANCELLED
    headline = "Your job was cancelled" if cancelled else "We could not build your 3D model"
    subject = f"{headline} (job {job.job_id})"
    text = (
        f"{headline}.\n\nWhat happened ({failure.stage}, {failure.cause}):\n  {failure.message}\n\n"
        f"What to do:\n  {failure.advice}\n\n"
        f"Job {job.job_id}. Nothing was lost: your photos are kept unchanged in {job.inbox_uri}\n"
    )
    body = f"""<html><body style="font-family:system-ui,sans-serif">
<h2>{html.escape(headline)}</h2>
<p><b>What happened</b> ({html.escape(failure.stage)}, <code>{html.escape(str(failure.cause))}</code>):<br>
{html.escape(failure.message)}</p>
<p><b>What to do</b><br>{html.escape(failure.advice)}</p>
<p><small>Job {job.job_id}. Nothing was lost: your photos are kept unchanged in
{html.escape(job.inbox_uri)}.</small></p>
</body></html>"""
    return Email(to=job.email, subject=subject, text=text, html=body)
