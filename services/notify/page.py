"""`report.html`: one self-contained page (styles inline, preview images embedded as data URIs),
so it opens the same from a laptop folder, an email attachment or an S3 link, offline."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from typing import Any

from services.notify.report import poor_quality
from services.notify.sections import Section, report_sections
from shared.wording import counted

BAND_COLOURS = {"good": "#1f7a3a", "fair": "#8a6100", "poor": "#b3261e"}

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin:1.8rem 0 .5rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%}th{text-align:left;font-weight:500;color:#444;padding:.35rem 1rem .35rem 0;vertical-align:top;width:38%}
td{padding:.35rem 0;vertical-align:top}.note{display:block;color:#666;font-size:.85rem}
.band{display:inline-block;margin-left:.5rem;padding:0 .45rem;border-radius:.6rem;color:#fff;font-size:.8rem;font-weight:600}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #ccc}figcaption{color:#555;font-size:.9rem}
code{background:#f3f3f3;padding:.05rem .3rem;border-radius:.2rem}.files a{word-break:break-all}small{color:#777}
"""


@dataclass(frozen=True)
class Preview:
    name: str  # the held-out photo's file name
    data: bytes
    mime: str = "image/jpeg"

    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode()}"


def _text(value: str) -> str:
    """Escape, then show `backticked` words as code."""
    parts = html.escape(value).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _row(row: Any) -> str:
    badge = (
        f'<span class="band" style="background:{BAND_COLOURS[row.band]}">{row.band}</span>' if row.band else ""
    )
    note = f'<span class="note">{_text(row.note)}</span>' if row.note else ""
    return f"<tr><th>{html.escape(row.label)}</th><td>{html.escape(row.value)}{badge}{note}</td></tr>"


def render_section(section: Section) -> str:
    out = [f'<section id="{section.key}"><h2>{html.escape(section.title)}</h2>']
    out += [f"<p>{_text(p)}</p>" for p in section.paragraphs]
    if section.rows:
        out.append("<table>" + "".join(_row(r) for r in section.rows) + "</table>")
    if section.links:
        items = "".join(f'<li><a href="{html.escape(href)}">{html.escape(label)}</a></li>' for label, href in section.links)
        out.append(f'<ul class="files">{items}</ul>')
    out.append("</section>")
    return "\n".join(out)


def previews_html(previews: list[Preview]) -> str:
    if not previews:
        return ""
    figures = "".join(
        f'<figure><img src="{p.data_uri()}" alt="render and photo {html.escape(p.name)}">'
        f"<figcaption>{html.escape(p.name)}: the model's render (left) next to the photo (right), "
        "a view the model was never trained on.</figcaption></figure>"
        for p in previews
    )
    return f'<section id="previews"><h2>What it looks like</h2>{figures}</section>'


def delivered_headline(report: dict[str, Any]) -> str:
    """A delivered model is "ready", unless its quality is poor (the assessment section says why)."""
    return "Your 3D model is done, but its quality is poor" if poor_quality(report) else "Your 3D model is ready"


def headline(report: dict[str, Any]) -> str:
    state = report["state"]
    if state == "succeeded":
        return delivered_headline(report)
    if state == "cancelled":
        return "This job was cancelled"
    if state == "failed":
        return "This job could not build a model"
    return f"This job is {state.replace('_', ' ')}"


def render_html(report: dict[str, Any], previews: list[Preview] | None = None) -> str:
    sections = report_sections(report)
    first = [s for s in sections if s.key == "failure"]
    rest = [s for s in sections if s.key != "failure"]
    body = "\n".join(
        [*(render_section(s) for s in first), previews_html(previews or []), *(render_section(s) for s in rest)]
    )
    inputs = counted(report["photos"]["count"], report["photos"].get("video_count") or 0)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Spaceport job {html.escape(report['job_id'])}</title><style>{STYLE}</style></head><body>
<h1>{html.escape(headline(report))}</h1>
<p>Job <code>{html.escape(report['job_id'])}</code> · {inputs} · submitted {html.escape(report['created_at'][:16].replace('T', ' '))} UTC</p>
{body}
<p><small>report.json schema v{report['schema_version']}, generated {html.escape(report['generated_at'][:19].replace('T', ' '))} UTC.</small></p>
</body></html>
"""
