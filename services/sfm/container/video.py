"""Videos in: decode with PyAV, pick frames (frame_select.py), write them as working copies.

One pass over each video: every frame in the trimmed range is decoded; `score_fps` of them per
second are scored (a small gray copy: sharpness); the sharpest scored frame of each time window
is kept in memory until its window closes, then written as a working copy (upright: the
container's display matrix applied, at most `max_image_size`). After the pass, windows whose
frame is blurry next to its neighbours, or shows a camera that barely moved since the last frame
kept, are dropped. A video's camera (make, model, 35 mm equivalent focal) comes from its
container metadata (QuickTime and Android keys) or its DJI subtitle (srt.py), as does each
frame's GPS position.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from services.sfm.container.frame_measures import laplacian_variance, picture_motion
from services.sfm.container.frame_select import (
    Candidate,
    SelectionRules,
    Verdict,
    judge,
    window_length,
    window_of,
)
from services.sfm.container.metrics import VideoMetrics
from services.sfm.container.srt import Telemetry
from services.sfm.container.config import VideoConfig
from services.sfm.container.workcopy import Decoded, write_copy
from shared.photo_formats import MAX_VIDEO_PIXELS, MAX_VIDEO_SECONDS

logger = logging.getLogger(__name__)

VideoRefusal = Literal["unreadable", "too_large", "too_small", "too_short"]
# Container metadata keys naming the camera, most specific first (QuickTime `mdta` keys from
# iPhones, Android's MediaRecorder keys, then the generic `©mak`/`©mod` atoms).
MAKE_KEYS = ("com.apple.quicktime.make", "com.android.manufacturer", "make")
MODEL_KEYS = ("com.apple.quicktime.model", "com.android.model", "model")
FOCAL_35MM_KEYS = ("com.apple.quicktime.camera.focal_length.35mm_equivalent",)


class VideoRefused(Exception):
    """The video cannot be used; `kind` says why (PhotoSet lists it by kind)."""

    def __init__(self, kind: VideoRefusal, detail: str) -> None:
        super().__init__(detail)
        self.kind: VideoRefusal = kind
        self.detail = detail


@dataclass(frozen=True)
class VideoInfo:
    container: str  # FFmpeg demuxer name
    codec: str
    width: int  # upright, after the display rotation
    height: int
    duration_s: float
    fps: float
    rotation: int  # degrees counter-clockwise that show the stored frames upright (0, 90, 180, 270)
    make: str = ""
    model: str = ""
    focal_35mm: float | None = None  # from the container's metadata, if any


@dataclass(frozen=True)
class FrameCopy:
    name: str  # working copy file name
    time_s: float  # seconds from the start of the video
    width: int  # working copy size
    height: int
    gps: tuple[float, float, float | None] | None  # (lat, lon, alt or None) from the DJI subtitle
    focal_35mm: float | None  # from the subtitle at this time, else the container


def _metadata(container, stream, keys: tuple[str, ...]) -> str:
    for source in (container.metadata, stream.metadata):
        for key in keys:
            value = str(source.get(key, "")).strip()
            if value:
                return value
    return ""


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def _duration_s(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000.0  # AV_TIME_BASE
    return None


def _start_s(stream) -> float:
    return (
        float(stream.start_time * stream.time_base)
        if stream.start_time is not None and stream.time_base
        else 0.0
    )


def _upright(pixels: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate stored pixels [H, W, ...] counter-clockwise by `rotation` degrees (a multiple of 90)."""
    return np.ascontiguousarray(np.rot90(pixels, k=(rotation // 90) % 4))


def main_stream(container):
    """The video stream to read: the largest picture that is not cover art or a thumbnail track."""
    import av

    still = av.stream.Disposition.attached_pic | av.stream.Disposition.still_image
    streams = list(container.streams.video)
    moving = [s for s in streams if not s.disposition & still] or streams
    if not moving:
        raise VideoRefused("unreadable", "no video stream")
    return max(moving, key=lambda s: (s.codec_context.width or 0) * (s.codec_context.height or 0))


def probe(path: Path) -> VideoInfo:
    """Open the video, read its first frame and its metadata; raises VideoRefused."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = main_stream(container)
            first = next(container.decode(stream), None)
            if first is None:
                raise VideoRefused("unreadable", "no frame could be decoded")
            duration = _duration_s(container, stream)
            if duration is None:  # no duration in the headers: the last packet's time says it
                last = max((p.pts for p in container.demux(stream) if p.pts is not None), default=None)
                duration = float(last * stream.time_base) - _start_s(stream) if last is not None else 0.0
            rotation = round((first.rotation or 0) / 90) * 90 % 360
            width, height = (
                (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
            )
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            return VideoInfo(
                container=container.format.name,
                codec=stream.codec_context.name,
                width=width,
                height=height,
                duration_s=duration,
                fps=float(rate) if rate else 0.0,
                rotation=rotation,
                make=_metadata(container, stream, MAKE_KEYS),
                model=_metadata(container, stream, MODEL_KEYS),
                focal_35mm=_float(_metadata(container, stream, FOCAL_35MM_KEYS)),
            )
    except VideoRefused:
        raise
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise VideoRefused("unreadable", str(exc) or type(exc).__name__) from exc


def check_limits(info: VideoInfo, min_side: int) -> None:
    """Raise VideoRefused for a video over the duration or pixel limits, or too small."""
    if info.duration_s > MAX_VIDEO_SECONDS:
        raise VideoRefused("too_large", f"{info.duration_s / 60:.0f} minutes long")
    if info.width * info.height > MAX_VIDEO_PIXELS:
        raise VideoRefused("too_large", f"{info.width}x{info.height}")
    if min(info.width, info.height) < min_side:
        raise VideoRefused("too_small", f"{info.width}x{info.height}")


def usable_range(info: VideoInfo, cfg: VideoConfig) -> tuple[float, float]:
    """(start, end) seconds left after trimming; raises VideoRefused when too little is left."""
    start, end = cfg.trim_start_s, info.duration_s - cfg.trim_end_s
    if end - start < cfg.min_seconds:
        trimmed = (
            f" after trimming {cfg.trim_start_s:g} s and {cfg.trim_end_s:g} s"
            if start or cfg.trim_end_s
            else ""
        )
        raise VideoRefused(
            "too_short", f"{max(end - start, 0.0):.1f} s{trimmed}; at least {cfg.min_seconds:g} s needed"
        )
    return start, end


@dataclass
class _Best:
    """The sharpest scored frame of the open window so far."""

    window: int
    time_s: float
    sharpness: float
    thumb: np.ndarray  # [h, w] uint8, upright
    frame: object  # the av.VideoFrame, converted only when its window closes


def extract_frames(
    path: Path,
    stem: str,
    info: VideoInfo,
    work_dir: Path,
    cfg: VideoConfig,
    cap: int,
    max_image_size: int,
    telemetry: Telemetry | None = None,
) -> tuple[list[FrameCopy], VideoMetrics]:
    """Decode the video once and write its chosen frames as `<stem>_<frame number>.jpg` in work_dir.

    cap: most frames kept from this video. Raises VideoRefused when nothing can be decoded in the
    usable range; a decoding error later on keeps the frames before it (with a warning).
    """
    import av

    start, end = usable_range(info, cfg)
    report = VideoMetrics(
        name=path.name,
        container=info.container,
        codec=info.codec,
        width=info.width,
        height=info.height,
        fps=round(info.fps, 3),
        duration_s=round(info.duration_s, 3),
        used_s=round(end - start, 3),
    )
    rules = SelectionRules(cfg.min_interval_s, cfg.blur_ratio, cfg.blur_context_s, cfg.min_motion)
    length = window_length(end - start, cap, rules)
    score_w = min(cfg.score_width, info.width)
    score_h = max(2, round(score_w * info.height / info.width))
    stored_score = (score_h, score_w) if info.rotation in (90, 270) else (score_w, score_h)
    candidates: list[tuple[Candidate, np.ndarray, str, tuple[int, int]]] = []
    scored_times: list[float] = []
    scored_sharpness: list[float] = []
    best: _Best | None = None
    fps = info.fps or 30.0
    names: set[str] = set()

    def close(window: _Best) -> None:
        rgb = _upright(window.frame.to_ndarray(format="rgb24"), info.rotation)  # type: ignore[attr-defined]
        number = round(window.time_s * fps)
        while f"{stem}_{number:06d}.jpg" in names:  # variable frame rates can round two times alike
            number += 1
        name = f"{stem}_{number:06d}.jpg"
        names.add(name)
        size = write_copy(Decoded(rgb, None, None), name, work_dir, None, max_image_size)
        candidates.append(
            (Candidate(window.window, window.time_s, window.sharpness), window.thumb, name, size)
        )

    try:
        with av.open(str(path)) as container:
            stream = main_stream(container)
            stream.thread_type = "AUTO"
            offset = _start_s(stream)
            if start > 0:
                container.seek(int((start + offset) / stream.time_base), stream=stream, backward=True)
            next_score = start
            for index, frame in enumerate(container.decode(stream)):
                time_s = (frame.time - offset) if frame.time is not None else index / fps
                if time_s < start - 1e-6:
                    continue
                if time_s >= end:
                    break
                report.frames_decoded += 1
                if time_s + 1e-6 < next_score:
                    continue
                next_score = start + (math.floor((time_s - start) * cfg.score_fps + 1e-6) + 1) / cfg.score_fps
                small = frame.reformat(width=stored_score[0], height=stored_score[1], format="gray")
                thumb = _upright(small.to_ndarray(), info.rotation)
                sharpness = laplacian_variance(thumb)
                report.frames_scored += 1
                scored_times.append(time_s)
                scored_sharpness.append(sharpness)
                window = window_of(time_s, start, length)
                if best is not None and window != best.window:
                    close(best)
                    best = None
                if best is None or sharpness > best.sharpness:
                    best = _Best(window, time_s, sharpness, thumb, frame)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        if not scored_times:
            raise VideoRefused("unreadable", str(exc) or type(exc).__name__) from exc
        report.warnings.append(f"{path.name}: decoding stopped at {scored_times[-1]:.1f} s ({exc})")
    if best is not None:
        close(best)
    if not candidates:
        raise VideoRefused("unreadable", "no frame could be decoded in the usable range")

    thumbs = {c.window: thumb for c, thumb, _, _ in candidates}
    verdicts = judge(
        [c for c, _, _, _ in candidates],
        np.asarray(scored_times),
        np.asarray(scored_sharpness),
        lambda kept, new: picture_motion(thumbs[kept.window], thumbs[new.window]),
        rules,
    )
    frames: list[FrameCopy] = []
    for (candidate, _, name, size), verdict in zip(candidates, verdicts, strict=True):
        if verdict is not Verdict.KEPT:
            (work_dir / name).unlink()
            report.rejected_blurry += verdict is Verdict.BLURRY
            report.rejected_redundant += verdict is Verdict.REDUNDANT
            continue
        gps = telemetry.position_at(candidate.time_s) if telemetry else None
        focal = (telemetry.focal_at(candidate.time_s) if telemetry else None) or info.focal_35mm
        frames.append(FrameCopy(name, candidate.time_s, size[0], size[1], gps, focal))
    report.frames_kept = len(frames)
    report.frames_with_gps = sum(f.gps is not None for f in frames)
    if telemetry is not None:
        report.telemetry = telemetry.dialect
        report.altitude = telemetry.altitude_kind
    report.camera = " ".join(part for part in (info.make, info.model) if part)
    logger.info(
        "video frames chosen",
        extra={
            "video": path.name,
            "kept": report.frames_kept,
            "blurry": report.rejected_blurry,
            "redundant": report.rejected_redundant,
        },
    )
    return frames, report


def share_cap(durations: dict[str, float], cap: int) -> dict[str, int]:
    """Split the job's frame cap among videos by usable duration (each gets at least one frame)."""
    total = sum(durations.values())
    if total <= 0:
        return dict.fromkeys(durations, max(1, cap // max(len(durations), 1)))
    return {name: max(1, math.floor(cap * seconds / total)) for name, seconds in durations.items()}
