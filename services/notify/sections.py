"""The report as a list of titled sections, read by the HTML page and the emails alike.

Each section comes from one part of `report.json`; a new part of the report adds a builder to
`SECTION_BUILDERS` (or a section to the list) and shows up in report.html and the emails with no
change to their renderers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from services.notify.figures import SCALES, Band, band_of
from services.notify.report import duration_text, poor_quality, size_text
from shared.photo_formats import name_list
from shared.quality import capture_findings
from shared.wording import plural


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    band: Band | None = None  # good / fair / poor, for figures that have a scale
    note: str = ""  # what the figure means, in plain words


@dataclass(frozen=True)
class Section:
    key: str  # stable name ("quality", "camera_solve", ...), for renderers that pick sections
    title: str
    rows: tuple[Row, ...] = ()
    paragraphs: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (label, href)


def fmt(value: Any, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def scored(label: str, scale: str, value: float | None, text: str) -> Row:
    band = band_of(scale, value)
    meaning = SCALES[scale]
    return Row(label, text, band, f"{meaning.meaning} ({meaning.bounds_text}.)")


def local_path(url: str) -> str | None:
    """The path of a file:// URL (local delivery), else None."""
    parts = urlsplit(url)
    return unquote(parts.path) if parts.scheme == "file" else None


def quality_section(report: dict[str, Any]) -> Section | None:
    q = report["quality"]
    if q["psnr"] is None and q["gaussians"] is None:
        return None
    rows = [
        scored("Held-out PSNR", "psnr", q["psnr"], fmt(q["psnr"], " dB")),
        scored("Held-out SSIM", "ssim", q["ssim"], fmt(q["ssim"], "", 3)),
    ]
    if q["lpips"] is not None:
        rows.append(scored("Held-out LPIPS", "lpips", q["lpips"], fmt(q["lpips"], "", 3)))
    rows.append(Row("Gaussians", fmt(q["gaussians"]), note="The 3D splats that make up the model."))
    views = q["eval_views"]
    paragraphs = (f"Measured on {plural(views, 'photo')} held back from training.",) if views else ()
    return Section("quality", "How good the model is", tuple(rows), paragraphs)


def camera_section(report: dict[str, Any]) -> Section | None:
    sfm = report["sfm"]
    if sfm["images_in"] is None:
        return None
    ratio = sfm["registration_ratio"]
    if sfm.get("model_source") == "imported":
        rows = (
            Row("Camera poses", "imported from your COLMAP model (not solved again)"),
            Row("Photos with a pose", f"{fmt(sfm['images_registered'])} of {fmt(sfm['images_in'])}"),
            scored("Reprojection error", "reprojection", sfm["mean_reprojection_error_px"],
                   fmt(sfm["mean_reprojection_error_px"], " px")),
            Row("3D points", fmt(sfm["points3d"]), note="The model's points; training starts from them."),
        )  # fmt: skip
        return Section("camera_solve", "Camera poses", rows)
    rows = (
        scored("Photos placed in 3D", "registration", ratio, f"{fmt(sfm['images_registered'])} of {fmt(sfm['images_in'])}"),
        scored("Reprojection error", "reprojection", sfm["mean_reprojection_error_px"],
               fmt(sfm["mean_reprojection_error_px"], " px")),
        Row("3D points", fmt(sfm["points3d"]), note="Points the camera solve triangulated; training starts from them."),
        Row("Photo pairs chosen by", fmt(sfm["matcher"])),
        Row("Geo-referenced", fmt(sfm["georeferenced"]), note=(
            "The model is in metres, east-north-up, from the photos' GPS." if sfm["georeferenced"]
            else "Its scale and orientation are the camera solve's own (not enough photos with GPS)."
        )),
    )  # fmt: skip
    return Section("camera_solve", "Camera solve", rows)


def photos_section(report: dict[str, Any]) -> Section | None:
    """What happened to the photos, when something did: left out, not placed, split, masked."""
    photos, sfm = report["photos"], report["sfm"]
    rows = []
    if photos.get("left_out"):
        rows.append(Row("Left out", "; ".join(photos["left_out"])))
    if photos.get("skipped"):
        rows.append(Row("Not usable", "; ".join(photos["skipped"])))
    unplaced = sfm.get("unplaced_photos") or []
    if unplaced:
        solved = sfm.get("images_in") or photos["count"]  # the photos (and frames) the solve had
        rows.append(Row("Not placed in 3D", f"{name_list(unplaced)} ({len(unplaced)} of {solved})",
                        note="The model never saw these views: their parts of the scene may be missing."))  # fmt: skip
    groups = sfm.get("photo_groups") or []
    if len(groups) > 1:
        sizes = ", ".join(str(g) for g in groups)
        rows.append(Row("Separate groups", f"{len(groups)} ({sizes} photos)",
                        note="The model holds one; submit each capture as its own job."))  # fmt: skip
    if photos.get("with_masks"):
        rows.append(Row("Photos with masks", f"{photos['with_masks']} (masked pixels ignored)"))
    rows += [Row("Capture check", finding) for finding in capture_findings(sfm)]
    return Section("photos", "What happened to the photos", tuple(rows)) if rows else None


def assessment_section(report: dict[str, Any]) -> Section | None:
    """Why a delivered model's quality is poor, and what to do (shared/quality.py); None when it is not."""
    poor = poor_quality(report)
    if poor is None:
        return None
    return Section("assessment", "The model's quality is poor", (),
                   (*poor["reasons"], *(f"What to do: {advice}" for advice in poor["advice"])))


def settings_section(report: dict[str, Any]) -> Section | None:
    s = report.get("settings")
    if not s or s.get("steps") is None:
        return None
    size = f"{s['image_width']}×{s['image_height']} px" if s.get("image_width") else "–"
    rows = (
        Row("Preset", fmt(s["preset"])),
        Row("Training image size", size),
        Row("Training steps", fmt(s["steps"])),
        Row("SH degree", fmt(s["sh_degree"]), note="Detail of view-dependent colour (0: none, 3: most)."),
        Row("Gaussian cap", fmt(s["max_gaussians"])),
        Row("Device", fmt(s["device"])),
        Row("Densification", fmt(s["strategy"])),
    )
    notes = tuple(f"Note: {note}." for note in s.get("requested", {}).get("notes", []))
    return Section("settings", "Settings used", rows, notes)


def _machine(instance_type: str | None) -> str:
    return "this machine" if instance_type == "local" else instance_type or "–"


def time_section(report: dict[str, Any]) -> Section | None:
    stages, cost = report["stages"], report["cost"]
    if not stages:
        return None
    rows = [
        Row(f"{stage} time", f"{duration_text(info['duration_s'])} on {_machine(info['instance_type'])}")
        for stage, info in stages.items()
    ]
    if all(info["instance_type"] == "local" for info in stages.values()):
        rows.append(Row("The same job in the cloud (estimate)", f"about ${cost['cloud_estimate']:.2f}"))
    else:
        rows.append(Row("Compute cost (on-demand)", "–" if cost["total"] is None else f"${cost['total']:.2f}"))
    return Section("time", "Time and cost", tuple(rows))


def model_section(report: dict[str, Any]) -> Section | None:
    """Every model file with its size (report.json `outputs`), and the web model's compression."""
    m = report["model"]
    outputs = [entry for entry in report.get("outputs", []) if entry.get("bytes") is not None]
    if m["sog_bytes"] is None and not outputs:
        return None
    rows = []
    for entry in outputs:
        size = size_text(entry["bytes"])
        if entry.get("first_render_bytes"):
            size += f", {size_text(entry['first_render_bytes'])} before the first picture"
        rows.append(Row(entry["name"], size, note=OUTPUT_NOTES.get(entry["format"], "")))
    if m["compression_ratio"] is not None:
        rows.append(Row("Web model smaller than the trained PLY by", fmt(m["compression_ratio"], "×", 1)))
    return Section("model", "Model files", tuple(rows))


OUTPUT_NOTES = {
    "ply": "The trained model, full precision (3DGS PLY: opens in most splat tools).",
    "sog": "The compressed web model the viewer opens (PlayCanvas SOG).",
    "spz": "The same model in Niantic's SPZ format, for other viewers and apps.",
    "streamed-sog": "A level-of-detail copy a viewer streams: a coarse model first, detail as you look.",
}


def files_section(report: dict[str, Any]) -> Section | None:
    links = {name: url for name, url in report["links"].items() if name != "viewer"}
    if not links and not report.get("viewer_command"):
        return None
    paragraphs: list[str] = []
    if report.get("viewer_command"):
        paragraphs.append(
            f"Open the model in your browser: run `{report['viewer_command']}` "
            "(it serves the viewer on http://127.0.0.1:8765/ while it runs)."
        )
    shown = tuple((local_path(url) or name, url) for name, url in links.items())
    return Section("files", "Files", (), tuple(paragraphs), shown)


def failure_section(report: dict[str, Any]) -> Section | None:
    f = report["failure"]
    if not f:
        return None
    return Section(
        "failure", "Why it failed", (Row("Stage", f["stage"]), Row("Cause", str(f["cause"]))), (f["message"], f"What to do: {f['advice']}")
    )


SECTION_BUILDERS: list[Callable[[dict[str, Any]], Section | None]] = [
    failure_section,
    assessment_section,
    quality_section,
    camera_section,
    photos_section,
    settings_section,
    model_section,
    time_section,
    files_section,
]


def report_sections(report: dict[str, Any]) -> list[Section]:
    return [section for build in SECTION_BUILDERS if (section := build(report)) is not None]
