"""Video benchmark: our frame selection vs nerfstudio's vs random frames, on a synthetic drone video.

    nice -n 19 .venv/bin/python bench/video_bench.py            # 60 s, 1920x1080, 30 fps
    .venv/bin/python bench/video_bench.py --seconds 12 --width 640 --height 360   # a quick look

The video (spaceport/synthetic/flythrough.py): a drone circles the synthetic town at 40 m for a
little more than one turn (the end flies over the start: a loop), hovers twice (redundant frames)
and is shaken by two gusts (motion-blurred frames); its DJI subtitle carries the true positions.

Methods, each giving the SfM stage (standard preset, 2 threads) the same number of frames:
- ours: the SfM stage on the video itself (sharpest frame per window, blurry and redundant windows
  skipped, sequential matching with loop detection, GPS from the subtitle);
- nerfstudio: `ns-process-data video` picks one frame per batch of `frames // target` with FFmpeg's
  `thumbnail` filter (the frame closest to its batch's mean colour histogram); run here through
  PyAV's libavfilter, no ffmpeg binary;
- random: frames drawn uniformly at random (seeded), in time order.
The baselines' frames are re-encoded losslessly (H.264 qp 0, one frame a second, with a subtitle
giving each frame its true GPS) and run through the same stage with selection switched off, so
decoding, GPS, matcher and loop detection are identical: only the choice of frames differs.

Per method: frames used, frames from blurred stretches, extra frames from hovers, registered,
median / max rotation error and median camera-centre error (m, after a similarity alignment),
selection and SfM seconds. The SfM runs hold /tmp/spaceport-cpu.lock (flock) like the other
benches; results are cached as JSON under --work (--fresh recomputes).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.sfm.container.config import Config  # noqa: E402
from services.sfm.container.evaluation import pose_errors, poses_from_model  # noqa: E402
from services.sfm.container.config import VideoConfig  # noqa: E402
from shared.options import JobOptions, Preset  # noqa: E402
from spaceport.synthetic import TRUTH_FILE, load_truth  # noqa: E402
from spaceport.synthetic.flythrough import (  # noqa: E402
    FlightPlan,
    Stretch,
    frame_name,
    render_flythrough,
    srt_text,
)

CPU_LOCK = Path("/tmp/spaceport-cpu.lock")
STEM = "DJI_0001"
STRETCHES = (
    Stretch("hover", 0.0, 3.0),
    Stretch("shake", 17.0, 19.0),
    Stretch("hover", 31.0, 35.0),
    Stretch("shake", 45.0, 46.5),
)
METHODS = ("ours", "nerfstudio", "random")


def flight_plan(args: argparse.Namespace) -> FlightPlan:
    scale = args.seconds / 60.0
    stretches = tuple(Stretch(s.kind, s.start_s * scale, s.end_s * scale) for s in STRETCHES)
    flying = args.seconds - sum(s.end_s - s.start_s for s in stretches if s.kind == "hover")
    speed = 1.1 * 2 * math.pi * 20.0 / flying  # 1.1 turns of the 20 m circle
    return FlightPlan(
        args.seconds, args.fps, args.width, args.height, speed_mps=speed, stretches=stretches, seed=args.seed
    )


def ensure_video(work: Path, plan: FlightPlan) -> Path:
    folder = work / "video"
    stamp = folder / "plan.json"
    wanted = json.dumps(
        [
            plan.duration_s,
            plan.fps,
            plan.width,
            plan.height,
            plan.speed_mps,
            plan.seed,
            [[s.kind, s.start_s, s.end_s] for s in plan.stretches],
        ]
    )
    if not (stamp.exists() and stamp.read_text() == wanted and (folder / TRUTH_FILE).exists()):
        started = time.monotonic()
        render_flythrough(plan, folder, STEM)
        stamp.write_text(wanted)
        print(f"rendered {round(plan.duration_s * plan.fps)} frames in {time.monotonic() - started:.0f} s")
    return folder


def stage_config(frames: int | None) -> Config:
    cfg = Config.from_options(JobOptions(preset=Preset.STANDARD)).model_copy(update={"num_threads": 2})
    if frames is not None:  # a baseline's frames are all used: no windows, no blur or motion tests
        cfg.video = VideoConfig(
            max_frames=frames, min_interval_s=0.001, blur_ratio=0.0, min_motion=0.0, min_seconds=0.0
        )
    return cfg


def run_stage(folder: Path, out: Path, cfg: Config) -> dict:
    """The SfM stage in a child process (a pycolmap abort cannot take the bench down), under the lock."""
    config = out.parent / f"{out.name}.config.json"
    config.write_text(cfg.model_dump_json())
    with CPU_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "services.sfm.container.entrypoint",
                "--input",
                str(folder),
                "--output",
                str(out),
                "--config",
                str(config),
            ],
            cwd=REPO,
            check=False,
        )
        wall = time.monotonic() - started
    metrics = json.loads((out / "metrics.json").read_text()) if (out / "metrics.json").exists() else {}
    return {**metrics, "bench_wall_s": round(wall, 1)}


def thumbnail_frames(video: Path, target: int) -> list[int]:
    """Frame numbers ns-process-data would extract: FFmpeg `thumbnail=<frames // target>`."""
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        spacing = max(1, (stream.frames or round(float(stream.duration * stream.time_base) * fps)) // target)
        graph = av.filter.Graph()
        source = graph.add_buffer(template=stream)
        thumbnail = graph.add("thumbnail", str(spacing))
        sink = graph.add("buffersink")
        source.link_to(thumbnail)
        thumbnail.link_to(sink)
        graph.configure()
        chosen = []

        def drain() -> None:
            while True:
                try:
                    frame = sink.pull()
                except (av.error.BlockingIOError, av.error.EOFError):
                    return
                chosen.append(round(frame.time * fps))

        for frame in container.decode(stream):
            source.push(frame)
            drain()
        source.push(None)
        drain()
    return chosen


def random_frames(total: int, count: int, seed: int) -> list[int]:
    return sorted(int(k) for k in np.random.default_rng(seed).choice(total, size=count, replace=False))


def baseline_folder(work: Path, method: str, source: Path, chosen: list[int], plan: FlightPlan) -> Path:
    """The chosen frames, re-encoded losslessly one a second, with a subtitle of their true GPS."""
    import av

    folder = work / f"{method}_input"
    folder.mkdir(parents=True, exist_ok=True)
    wanted = set(chosen)
    truth = {im.name: im for im in load_truth(source.parent / TRUTH_FILE).images}
    with av.open(str(source)) as reader, av.open(str(folder / f"{method}.MP4"), "w") as writer:
        stream = reader.streams.video[0]
        out = writer.add_stream("libx264", rate=1)
        out.width, out.height, out.pix_fmt = (
            stream.codec_context.width,
            stream.codec_context.height,
            "yuv420p",
        )
        out.options = {"qp": "0", "preset": "ultrafast"}
        k = 0
        for index, frame in enumerate(reader.decode(stream)):
            if index in wanted:
                frame.pts, frame.time_base = k, Fraction(1, 1)
                for packet in out.encode(frame):
                    writer.mux(packet)
                k += 1
        for packet in out.encode():
            writer.mux(packet)
    gps = [tuple(truth[frame_name(STEM, n / plan.fps, plan.fps)].gps) for n in chosen]
    one_a_second = FlightPlan(len(chosen), 1.0, plan.width, plan.height, hfov_deg=plan.hfov_deg)
    (folder / f"{method}.SRT").write_text(srt_text(one_a_second, gps))  # type: ignore[arg-type]
    return folder


def evaluate(out: Path, truth_dir: Path, names: dict[str, int], plan: FlightPlan) -> dict:
    """Pose errors of the registered frames (names: model image name -> frame number)."""
    truth = load_truth(truth_dir / TRUTH_FILE).poses()
    estimated = {}
    if (out / "sparse" / "0").is_dir():
        estimated = {
            frame_name(STEM, names[n] / plan.fps, plan.fps): pose
            for n, pose in poses_from_model(out / "sparse" / "0").items()
            if n in names
        }
    times = [n / plan.fps for n in names.values()]
    hover_extra = sum(
        max(0, sum(s.covers(t) for t in times) - 1) for s in plan.stretches if s.kind == "hover"
    )
    result = {
        "frames": len(names),
        "blurred": sum(plan.in_stretch("shake", t) for t in times),
        "hover_extra": hover_extra,
        "registered": len(estimated),
    }
    if len(estimated) >= 3:
        errors = pose_errors(estimated, truth)
        result.update(
            rotation_median_deg=errors.rotation_median_deg,
            rotation_max_deg=errors.rotation_max_deg,
            centre_median_m=errors.centre_median,
        )
    return result


def measure(method: str, work: Path, video_dir: Path, plan: FlightPlan, target: int | None) -> dict:
    out = work / f"{method}_out"
    if method == "ours":
        metrics = run_stage(video_dir, out, stage_config(None))
        names = {p.name: int(p.stem.rsplit("_", 1)[1]) for p in (out / "images").iterdir()} if metrics else {}
        selection_s = metrics.get("seconds", {}).get("prepare", float("nan"))
    else:
        assert target is not None
        started = time.monotonic()
        total = round(plan.duration_s * plan.fps)
        chosen = (
            thumbnail_frames(video_dir / f"{STEM}.MP4", target)
            if method == "nerfstudio"
            else random_frames(total, target, seed=1)
        )
        selection_s = time.monotonic() - started
        folder = baseline_folder(work, method, video_dir / f"{STEM}.MP4", chosen, plan)
        metrics = run_stage(folder, out, stage_config(len(chosen)))
        names = {f"{method}_{k:06d}.jpg": n for k, n in enumerate(chosen)}
    seconds = metrics.get("seconds", {})
    sfm_s = sum(v for k, v in seconds.items() if not k.startswith("prepare"))
    return {
        "method": method,
        **evaluate(out, video_dir, names, plan),
        "selection_s": round(selection_s, 1),
        "sfm_s": round(sfm_s, 1),
        "matcher": metrics.get("matcher"),
        "georeferenced": metrics.get("georeferenced"),
        "videos": metrics.get("videos"),
        "warnings": metrics.get("warnings", []),
    }


def table(results: list[dict]) -> str:
    rows = [
        "| method | frames | from blurred stretches | extra hover frames | registered"
        " | median / max rotation error"
        " | median centre error | selection | SfM |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rotation = (
            f"{r['rotation_median_deg']:.3f}° / {r['rotation_max_deg']:.2f}°"
            if "rotation_median_deg" in r
            else "–"
        )
        centre = f"{r['centre_median_m']:.3f} m" if "centre_median_m" in r else "–"
        rows.append(
            f"| {r['method']} | {r['frames']} | {r['blurred']} | {r['hover_extra']} | "
            f"{r['registered']}/{r['frames']} | {rotation} | {centre} | {r['selection_s']:.0f} s | "
            f"{r['sfm_s']:.0f} s |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "video")
    parser.add_argument("--fresh", action="store_true", help="recompute cached results")
    args = parser.parse_args()
    plan = flight_plan(args)
    args.work.mkdir(parents=True, exist_ok=True)
    video_dir = ensure_video(args.work, plan)
    results, target = [], None
    for method in ["ours", *[m for m in args.methods if m != "ours"]]:
        cache = args.work / f"{method}.json"
        if cache.exists() and not args.fresh:
            result = json.loads(cache.read_text())
        else:
            result = measure(method, args.work, video_dir, plan, target)
            cache.write_text(json.dumps(result, indent=1))
        target = target or result["frames"]
        if method in args.methods:
            results.append(result)
        print(json.dumps({k: v for k, v in result.items() if k not in ("warnings",)}), flush=True)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
