"""Synthetic drone videos with known cameras: hover and shake stretches, a DJI telemetry subtitle.

`render_flythrough(plan, out_dir, name)` renders the drone scene (flat ground, so `flat.py` can
render thousands of frames), encodes them with PyAV (H.264 in MP4), writes `<name>.SRT` in DJI's
bracketed dialect (per-frame GPS from the true camera centres) and `truth.json` with one pose per
frame, named as the SfM stage names its frames (`<name>_<frame number>.jpg`).

The drone circles the scene centre (radius 20 m, 40 m up, camera on the centre: every frame sees
the buildings from a new side; a flight longer than one turn comes back over its start, a loop).
A "hover" stretch stops the drone (identical frames: redundant); a "shake" stretch shakes the
gimbal at 4 Hz and each frame integrates its exposure (sub-frames averaged: real motion blur).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from services.sfm.container.geo import enu_to_wgs84
from spaceport.synthetic.flat import render_flat_view
from spaceport.synthetic.render import DRONE_ORIGIN, FULL_FRAME_DIAGONAL_MM, look_at
from spaceport.synthetic.scene import Scene, make_scene
from spaceport.synthetic.truth import TRUTH_FILE, ImageTruth, SceneTruth, write_truth

SHAKE_HZ, SHAKE_DEG = 4.0, 7.0  # gimbal shake: frequency and amplitude (yaw and pitch)
BLUR_SUBFRAMES = 7  # sub-frames averaged over a shaken frame's exposure
EXPOSURE = 0.9  # share of the frame interval the shutter is open (a 324 deg shutter)
UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Stretch:
    kind: Literal["hover", "shake"]
    start_s: float
    end_s: float

    def covers(self, time_s: float) -> bool:
        return self.start_s <= time_s < self.end_s


@dataclass(frozen=True)
class FlightPlan:
    duration_s: float
    fps: float
    width: int
    height: int
    speed_mps: float = 4.0  # ground speed along the circle
    radius_m: float = 20.0
    altitude_m: float = 40.0
    hfov_deg: float = 70.0
    stretches: tuple[Stretch, ...] = field(default_factory=tuple)
    seed: int = 0

    def focal_px(self) -> float:
        return self.width / (2.0 * math.tan(math.radians(self.hfov_deg) / 2.0))

    def K(self) -> np.ndarray:  # noqa: N802 - the usual name
        f = self.focal_px()
        return np.array([[f, 0.0, self.width / 2.0], [0.0, f, self.height / 2.0], [0.0, 0.0, 1.0]])

    def progress_s(self, time_s: float) -> float:
        """Seconds of flight so far: the clock stops during hovers."""
        hovered = sum(max(0.0, min(time_s, s.end_s) - s.start_s) for s in self.stretches if s.kind == "hover")
        return time_s - hovered

    def in_stretch(self, kind: str, time_s: float) -> bool:
        return any(s.kind == kind and s.covers(time_s) for s in self.stretches)


def flat_drone_scene(seed: int) -> Scene:
    """The drone scene (terrain colours, buildings) on flat ground."""
    scene = make_scene("drone", np.random.default_rng(seed))
    scene.heights[:] = 0.0
    scene.amplitude = 0.0
    return scene


def _shake(plan: FlightPlan, time_s: float) -> tuple[float, float]:
    """(yaw, pitch) offsets in radians at time_s: zero outside shake stretches."""
    if not plan.in_stretch("shake", time_s):
        return 0.0, 0.0
    phase = 2.0 * math.pi * SHAKE_HZ * time_s
    amplitude = math.radians(SHAKE_DEG)
    return amplitude * math.sin(phase), amplitude * math.sin(1.3 * phase + 0.7)


def pose_at(plan: FlightPlan, time_s: float) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera (R [3, 3], t [3]) at time_s (world frame: ENU around DRONE_ORIGIN)."""
    angle = plan.progress_s(time_s) * plan.speed_mps / plan.radius_m
    centre = np.array([plan.radius_m * math.cos(angle), plan.radius_m * math.sin(angle), plan.altitude_m])
    yaw, pitch = _shake(plan, time_s)
    view = -centre  # towards the scene centre on the ground
    if yaw or pitch:
        cy, sy = math.cos(yaw), math.sin(yaw)
        view = np.array([cy * view[0] - sy * view[1], sy * view[0] + cy * view[1], view[2]])
        side = np.cross(view, UP)
        side /= np.linalg.norm(side)
        view = view * math.cos(pitch) + np.cross(side, view) * math.sin(pitch)
    return look_at(centre, centre + view, UP)


def render_frame(scene: Scene, plan: FlightPlan, time_s: float) -> np.ndarray:
    """uint8 [H, W, 3]; a shaken frame averages sub-frames over its exposure (motion blur)."""
    K = plan.K()
    if not plan.in_stretch("shake", time_s):
        return render_flat_view(scene, *pose_at(plan, time_s), K, plan.width, plan.height)
    offsets = (np.linspace(0.0, 1.0, BLUR_SUBFRAMES) - 0.5) * EXPOSURE / plan.fps
    stack = [
        render_flat_view(scene, *pose_at(plan, time_s + o), K, plan.width, plan.height).astype(np.float32)
        for o in offsets
    ]
    return (np.mean(stack, axis=0) + 0.5).astype(np.uint8)


def frame_times(plan: FlightPlan) -> np.ndarray:
    return np.arange(round(plan.duration_s * plan.fps)) / plan.fps


def frame_name(stem: str, time_s: float, fps: float) -> str:
    """The SfM stage's working-copy name of the frame at time_s (services/sfm/container/video.py)."""
    return f"{stem}_{round(time_s * fps):06d}.jpg"


def write_video(
    path: Path,
    frames: Iterator[np.ndarray],
    fps: float,
    width: int,
    height: int,
    crf: int = 18,
    codec: str = "libx264",
) -> None:
    """Encode uint8 [H, W, 3] frames as H.264 (yuv420p) in an MP4 (or MOV/MKV by the suffix)."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for pixels in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _timecode(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def srt_text(plan: FlightPlan, gps: list[tuple[float, float, float]]) -> str:
    """A DJI telemetry subtitle (bracketed dialect): one entry per frame, positions gps [(lat, lon, alt)]."""
    focal_35 = plan.focal_px() * FULL_FRAME_DIAGONAL_MM / math.hypot(plan.width, plan.height)
    lines = []
    for k, (lat, lon, alt) in enumerate(gps):
        start, end = k / plan.fps, (k + 1) / plan.fps
        lines += [
            str(k + 1),
            f"{_timecode(start)} --> {_timecode(end)}",
            f'<font size="28">FrameCnt: {k + 1}, DiffTime: {round(1000 / plan.fps)}ms',
            "2026-11-30 12:00:00.000",
            f"[iso: 100] [shutter: 1/500.0] [fnum: 2.8] [ev: 0] [ct: 5500] [color_md: default] "
            f"[focal_len: {focal_35:.2f}] [latitude: {lat:.6f}] [longitude: {lon:.6f}] "
            f"[rel_alt: {alt - DRONE_ORIGIN[2]:.3f} abs_alt: {alt:.3f}] </font>",
            "",
        ]
    return "\n".join(lines)


def render_flythrough(
    plan: FlightPlan,
    out_dir: Path,
    name: str = "DJI_0001",
    suffix: str = ".MP4",
    crf: int = 18,
    srt: bool = True,
) -> SceneTruth:
    """Render and encode the video (`out_dir/<name><suffix>`), its `.SRT` and `truth.json`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scene = flat_drone_scene(plan.seed)
    times = frame_times(plan)
    poses = [pose_at(plan, float(t)) for t in times]
    write_video(
        out_dir / f"{name}{suffix}",
        (render_frame(scene, plan, float(t)) for t in times),
        plan.fps,
        plan.width,
        plan.height,
        crf,
    )
    centres = np.array([-R.T @ t for R, t in poses])
    gps = [tuple(float(v) for v in row) for row in enu_to_wgs84(centres, DRONE_ORIGIN)]
    if srt:
        (out_dir / f"{name}.SRT").write_text(srt_text(plan, gps))  # type: ignore[arg-type]
    images = [
        ImageTruth(frame_name(name, float(t), plan.fps), R.tolist(), tr.tolist(), list(g))
        for t, (R, tr), g in zip(times, poses, gps, strict=True)
    ]
    f = plan.focal_px()
    truth = SceneTruth(
        "drone",
        plan.seed,
        plan.width,
        plan.height,
        f,
        f,
        plan.width / 2,
        plan.height / 2,
        images,
        list(DRONE_ORIGIN),
    )
    write_truth(truth, out_dir / TRUTH_FILE)
    return truth
