"""The job report: `report.json` (versioned schema, docs/report.md) and a readable `report.html`.

Pure: job record + per-stage metrics + links in, a dict and an HTML string out. The notify
service writes both to `jobs/<id>/notify/` in the cloud and locally alike.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from shared.jobs import Job
from shared.pricing import estimated_cloud_cost_usd, stage_cost_usd
from shared.quality import assess_quality, capture_findings

REPORT_SCHEMA_VERSION = 1
STAGES = ("sfm", "train", "compress")


def _pick(metrics: dict[str, Any], *names: str) -> Any:
    for name in names:
        if metrics.get(name) is not None:
            return metrics[name]
    return None


def cost_breakdown(job: Job) -> dict[str, Any]:
    """Measured stage durations x on-demand instance prices (shared/pricing.py)."""
    per_stage: dict[str, float | None] = {}
    for stage in STAGES:
        record = job.stages.get(stage)
        if record is None or record.duration_s is None:
            continue
        per_stage[stage] = stage_cost_usd(record.instance_type, record.duration_s)
    known = [v for v in per_stage.values() if v is not None]
    return {
        "currency": "USD",
        "basis": "measured stage durations x SageMaker on-demand prices (us-east-1)",
        "per_stage": per_stage,
        "total": round(sum(known), 4) if known else None,
        # The same job on the default cloud instances, from typical durations (for local runs).
        "cloud_estimate": estimated_cloud_cost_usd(job.options.preset, job.photo_count),
    }


def build_report(
    job: Job,
    stage_metrics: dict[str, dict[str, Any]],
    links: dict[str, str],
    generated_at: datetime,
) -> dict[str, Any]:
    sfm = stage_metrics.get("sfm", {})
    train = stage_metrics.get("train", {})
    compress = stage_metrics.get("compress", {})
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "job_id": job.job_id,
        "state": str(job.state),
        "generated_at": generated_at.isoformat(),
        "created_at": job.created_at.isoformat(),
        "photos": {
            "count": job.photo_count,
            "bytes": job.photo_bytes,
            "left_out": list(job.warnings),
            "with_masks": _pick(sfm, "photos_with_masks"),
        },
        "options": job.options.model_dump(mode="json"),
        "stages": {
            stage: {
                "status": record.status,
                "instance_type": record.instance_type,
                "attempts": record.attempt,
                "duration_s": record.duration_s,
            }
            for stage, record in job.stages.items()
        },
        "sfm": {
            "images_in": _pick(sfm, "images_in"),
            "images_registered": _pick(sfm, "images_registered"),
            "registration_ratio": _pick(sfm, "registration_ratio"),
            "points3d": _pick(sfm, "points3d"),
            "mean_reprojection_error_px": _pick(sfm, "mean_reprojection_error_px"),
            "matcher": _pick(sfm, "matcher"),
            "georeferenced": bool(_pick(sfm, "georeferenced")),
            "unplaced_photos": _pick(sfm, "unplaced_photos") or [],
            "photo_groups": _pick(sfm, "photo_groups") or [],
            "warnings": _pick(sfm, "warnings") or [],
            "capture": _pick(sfm, "capture") or {},
        },
        "quality": {
            "psnr": _pick(train, "psnr"),
            "ssim": _pick(train, "ssim"),
            "lpips": _pick(train, "lpips"),
            "gaussians": _pick(train, "n_gaussians"),
            "eval_views": _pick(train, "n_test_views"),
            "assessment": assess_quality(sfm, train).to_json() if train else None,
        },
        "model": {
            "ply_bytes": _pick(compress, "ply_bytes"),
            "sog_bytes": _pick(compress, "sog_bytes"),
            "compression_ratio": _pick(compress, "ratio"),
            "splats": _pick(compress, "splats_out"),
        },
        "cost": cost_breakdown(job),
        "failure": job.failure.model_dump(mode="json") if job.failure else None,
        "links": links,
    }


def _fmt(value: Any, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    sfm, quality, model, cost = report["sfm"], report["quality"], report["model"], report["cost"]
    rows = [
        ("Photos placed in 3D", f"{_fmt(sfm['images_registered'])} of {_fmt(sfm['images_in'])}"),
        *photo_rows(report),
        ("Matcher", _fmt(sfm["matcher"])),
        ("Reprojection error", _fmt(sfm["mean_reprojection_error_px"], " px")),
        ("Held-out PSNR", _fmt(quality["psnr"], " dB")),
        ("Held-out SSIM", _fmt(quality["ssim"], "", 3)),
        ("Gaussians", _fmt(quality["gaussians"])),
        ("Web model size", _fmt(None if model["sog_bytes"] is None else model["sog_bytes"] / 1e6, " MB")),
        ("Compression vs PLY", _fmt(model["compression_ratio"], "×", 1)),
    ]
    for stage, info in report["stages"].items():
        rows.append((f"{stage} time", f"{duration_text(info['duration_s'])} on {info['instance_type'] or '–'}"))
    ran_locally = all(info["instance_type"] == "local" for info in report["stages"].values())
    if ran_locally:
        rows.append(("Cloud cost of this job (estimate)", f"about ${cost['cloud_estimate']:.2f}"))
    else:
        rows.append(("Compute cost (on-demand)", "–" if cost["total"] is None else f"${cost['total']:.2f}"))
    return rows


def photo_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """What happened to the photos, when something did: left out, not placed, split, masked."""
    photos, sfm = report["photos"], report["sfm"]
    rows = []
    if photos.get("left_out"):
        rows.append(("Left out", "; ".join(photos["left_out"])))
    if sfm.get("unplaced_photos"):
        unplaced = sfm["unplaced_photos"]
        shown = ", ".join(unplaced[:8]) + (f" and {len(unplaced) - 8} more" if len(unplaced) > 8 else "")
        rows.append(("Not placed in 3D", f"{len(unplaced)}: {shown}"))
    groups = sfm.get("photo_groups") or []
    if len(groups) > 1:
        sizes = ", ".join(str(g) for g in groups)
        advice = "the model holds one; submit each capture as its own job"
        rows.append(("Separate groups", f"{len(groups)} ({sizes} photos): {advice}"))
    if photos.get("with_masks"):
        rows.append(("Photos with masks", f"{photos['with_masks']} (masked pixels ignored)"))
    rows += [("Capture check", finding) for finding in capture_findings(sfm)]
    return rows


def poor_quality(report: dict[str, Any]) -> dict[str, Any] | None:
    """The quality assessment when the delivered model is poor (shared/quality.py), else None."""
    assessment = report["quality"].get("assessment")
    return assessment if assessment and assessment["poor"] else None


def render_html(report: dict[str, Any]) -> str:
    rows = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in summary_rows(report)
    )
    links = "\n".join(
        f'<li><a href="{html.escape(url)}">{html.escape(name)}</a></li>' for name, url in report["links"].items()
    )
    failure = ""
    if poor := poor_quality(report):
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in poor["reasons"])
        advice = "".join(f"<p>{html.escape(a)}</p>" for a in poor["advice"])
        failure = f"<h2>The model's quality is poor</h2><ul>{reasons}</ul><h2>What to do</h2>{advice}"
    if report["failure"]:
        f = report["failure"]
        failure = (
            f"<h2>Why it failed</h2><p>{html.escape(f['message'])}</p>"
            f"<h2>What to do</h2><p>{html.escape(f['advice'])}</p>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Spaceport job {report['job_id']}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;color:#222}}
th{{text-align:left;padding:.2rem 1rem .2rem 0;font-weight:500;color:#555}}td{{padding:.2rem 0}}</style>
</head><body>
<h1>Spaceport job {html.escape(report['job_id'])}: {html.escape(report['state'])}</h1>
{failure}
<table>{rows}</table>
<h2>Files</h2><ul>{links}</ul>
<p><small>Report schema v{report['schema_version']}, generated {html.escape(report['generated_at'])}.</small></p>
</body></html>
"""
