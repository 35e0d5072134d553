"""The job report `report.json` (versioned schema, docs/report.md): what happened, with the
figures each stage measured and the settings it actually used.

Pure: job record + per-stage metrics + links in, a dict out. The notify service writes it to
`jobs/<id>/notify/` in the cloud and locally alike, with `report.html` (services/notify/page.py)
beside it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.jobs import Job
from shared.options import resolve
from shared.pricing import estimated_cloud_cost_usd, stage_cost_usd
from shared.quality import assess_quality

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


# Compress-stage outputs a person downloads or views, by format: (report name, file under compress/).
COMPRESS_OUTPUTS = {
    "sog": ("model.sog", "model.sog"),
    "spz": ("model.spz", "model.spz"),
    "streamed-sog": ("lod/", "lod/lod-meta.json"),
}


def output_files(stage_metrics: dict[str, dict[str, Any]], links: dict[str, str]) -> list[dict[str, Any]]:
    """Every model file of the job with its size: the trained PLY, then what compress wrote.

    Each entry: name, format, bytes, files (a folder counts its files), link (None without one;
    a streamed SOG is linked by its lod-meta.json) and, for a streamed SOG, first_render_bytes.
    """
    compress = stage_metrics.get("compress", {})
    found = [{"name": "model.ply", "format": "ply", "bytes": compress.get("ply_bytes"), "files": 1,
              "link": links.get("model.ply")}]  # fmt: skip
    for entry in compress.get("outputs") or []:
        if entry.get("format") not in COMPRESS_OUTPUTS:
            continue  # sog/ (unbundled) holds the same model as model.sog
        name, linked = COMPRESS_OUTPUTS[entry["format"]]
        found.append({"name": name, "format": entry["format"], "bytes": entry["bytes"], "files": entry["files"],
                      "link": links.get(linked)})  # fmt: skip
        if entry["format"] == "streamed-sog":
            found[-1]["first_render_bytes"] = (compress.get("lod") or {}).get("first_render_bytes")
    if not compress.get("outputs") and compress.get("sog_bytes") is not None:  # metrics of an older stage
        found.append({"name": "model.sog", "format": "sog", "bytes": compress["sog_bytes"], "files": 1,
                      "link": links.get("model.sog")})  # fmt: skip
    return found


def settings_used(job: Job, stage_metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The settings the stages recorded they ran with (null where a stage did not run or did
    not record it: never the request in their place). `requested` shows what the job asked for
    and the preset filled in, so a difference is visible."""
    sfm, train = stage_metrics.get("sfm", {}), stage_metrics.get("train", {})
    requested = resolve(job.options)
    width, height = _pick(train, "image_width"), _pick(train, "image_height")
    return {
        "preset": str(job.options.preset),
        "image_width": width,
        "image_height": height,
        "steps": _pick(train, "steps"),
        "sh_degree": _pick(train, "sh_degree"),
        "max_gaussians": _pick(train, "max_gaussians"),
        "device": _pick(train, "device"),
        "strategy": _pick(train, "strategy"),
        "rasterizer": _pick(train, "rasterizer"),
        "sfm_image_size": _pick(sfm, "image_size"),
        "matcher": _pick(sfm, "matcher"),
        "mapper": _pick(sfm, "mapper"),
        "requested": {
            "max_image_size": requested.max_image_size,
            "steps": requested.steps,
            "sh_degree": requested.sh_degree,
            "max_gaussians": requested.max_gaussians,
            "notes": list(requested.notes),
        },
    }


def build_report(
    job: Job,
    stage_metrics: dict[str, dict[str, Any]],
    links: dict[str, str],
    generated_at: datetime,
    viewer_command: str | None = None,
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
            "skipped": _pick(sfm, "photos_skipped") or [],
            "with_masks": _pick(sfm, "photos_with_masks"),
            "video_count": job.video_count,
            "videos": _pick(sfm, "videos"),
        },
        "options": job.options.model_dump(mode="json"),
        "settings": settings_used(job, stage_metrics),
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
            "model_source": _pick(sfm, "model_source") or ("solved" if sfm else None),
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
        "outputs": output_files(stage_metrics, links),
        "viewer_command": viewer_command,
    }


def size_text(size: int | None) -> str:
    """Bytes as a person reads them: 820 KB, 12.4 MB, 1.07 GB."""
    if size is None:
        return "–"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}" if size < 100 * scale else f"{size / scale:,.0f} {unit}"
    return f"{size} B"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def poor_quality(report: dict[str, Any]) -> dict[str, Any] | None:
    """The quality assessment when the delivered model is poor (shared/quality.py), else None."""
    assessment = report["quality"].get("assessment")
    return assessment if assessment and assessment["poor"] else None
