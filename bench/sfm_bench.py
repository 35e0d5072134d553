"""SfM benchmark: our stage vs plain pycolmap defaults vs the COLMAP CLI, side by side.

    .venv/bin/python bench/sfm_bench.py \
        --sets fountain_p11 banana caliterra synthetic --runners ours pycolmap cli --cli-sets fountain_p11
    # before/after: the stage program of another checkout (e.g. `git archive main | tar -x -C DIR`)
    .venv/bin/python bench/sfm_bench.py --code DIR --label before --runners ours_default

Per set and runner: wall time, registered images, mean reprojection error and, where ground truth
exists (fountain_p11's gt/, the synthetic scene's truth.json), the median rotation error and the
median camera-centre error after a similarity alignment (relative to the scene radius).
Metric figures (services/sfm/container/solve.py puts GPS and the EXIF focal inside the solve):
- focal error: final focal vs the truth (synthetic truth.json; fountain_p11's gt K; caliterra's
  EXIF physical focal, 4.5 mm on a 6.17 mm wide sensor);
- GPS residual: RMS distance of the delivered camera centres from their GPS (no re-fit);
- scale vs GPS: similarity scale from the delivered centres onto GPS, on the ground plane (east,
  north; 1 when the model is in metres);
- scale vs truth (synthetic): the same onto the true centres; height error (flat synthetic
  scenes): flying height above the reconstructed ground vs the truth (the depth stretch a wrong
  focal causes).
Each measurement holds /tmp/spaceport-cpu.lock (flock) while it runs, so heavy jobs of other
people on the machine never overlap it. Each (set, runner) result is cached as JSON under --work, so an interrupted run resumes; pass
--fresh to recompute. Runners run as subprocesses (a pycolmap abort cannot take the bench down).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
REAL_SETS = ("caliterra", "banana", "fountain_p11")
RUNNERS = ("ours_default", "ours_preview", "ours", "ours_global", "ours_no_gps_ba", "pycolmap", "cli")
RUNNER_CONFIG = {  # stage config per runner (ours_default: the code's own defaults)
    "ours": {"mapper": "incremental"},
    "ours_global": {"mapper": "global"},
    "ours_no_gps_ba": {"gps_bundle_adjustment": False},
    "ours_preview": {"max_num_features": 2048},  # the preview preset's SIFT budget (local runs without a GPU)
}
CALITERRA_FOCAL_PX = 4.5 / 6.17 * 1600  # EXIF physical focal (Canon SX260 HS: 6.17 mm sensor) at 1600 px
# Synthetic drone scenes: (flight, GPS noise written to EXIF). Sigma 2 m horizontal, 4 m vertical.
SYNTHETIC = ("synthetic", "synthetic_flat", "synthetic_2alt", "synthetic_relief")
CPU_LOCK = Path("/tmp/spaceport-cpu.lock")  # shared with other heavy jobs on this machine


def image_dir(name: str, work: Path) -> Path:
    """The photos of a set; never under work/<set>/, where the runners write (photos are found recursively)."""
    if name == "synthetic":
        return work / "synthetic_drone"
    if name.startswith("synthetic"):
        return work / "photos" / name
    return DATA / name / "images"


def ensure_synthetic(name: str, work: Path, n: int, width: int, height: int) -> Path:
    from spaceport.synthetic import TRUTH_FILE, render_scene
    from spaceport.synthetic.render import DroneFlight

    noisy = {"gps_sigma_m": (2.0, 4.0)}
    flights = {
        "synthetic": DroneFlight(),  # GPS exact (mm), relief, 12 deg tilt: the original set
        "synthetic_flat": DroneFlight(terrain="flat", tilt_deg=0.0, **noisy),
        "synthetic_2alt": DroneFlight(terrain="flat", tilt_deg=0.0, altitudes_m=(35.0, 55.0), **noisy),
        "synthetic_relief": DroneFlight(**noisy),
    }
    folder = image_dir(name, work)
    if not (folder / TRUTH_FILE).exists():
        render_scene("drone", folder, n_images=n, width=width, height=height, seed=7, flight=flights[name])
    return folder


def run_ours(images: Path, out: Path, code: Path, config: dict) -> None:
    cfg = out.parent / f"{out.name}.config.json"
    cfg.write_text(json.dumps(config))
    subprocess.run(
        [sys.executable, "-m", "services.sfm.container.entrypoint", "--input", str(images), "--output", str(out),
         "--config", str(cfg)],
        cwd=code, check=True,
    )


def run_pycolmap_defaults(images: Path, out: Path) -> None:
    """What a user gets from pycolmap's README: defaults everywhere, exhaustive + incremental."""
    import pycolmap

    out.mkdir(parents=True, exist_ok=True)
    db = out / "database.db"
    pycolmap.extract_features(db, images)
    pycolmap.match_exhaustive(db)
    models = pycolmap.incremental_mapping(db, images, out / "sparse")
    best = max(models.values(), key=lambda r: r.num_reg_images())
    (out / "best").mkdir(exist_ok=True)
    best.write(str(out / "best"))


def run_cli(images: Path, out: Path) -> None:
    """Debian's COLMAP 3.8 CLI, CPU: feature_extractor, exhaustive_matcher, mapper (defaults)."""
    out.mkdir(parents=True, exist_ok=True)
    db = out / "database.db"
    common = {"stdout": subprocess.DEVNULL, "check": True}
    subprocess.run(["colmap", "feature_extractor", "--database_path", db, "--image_path", images,
                    "--SiftExtraction.use_gpu", "0"], **common)
    subprocess.run(["colmap", "exhaustive_matcher", "--database_path", db, "--SiftMatching.use_gpu", "0"], **common)
    (out / "sparse").mkdir(exist_ok=True)
    subprocess.run(["colmap", "mapper", "--database_path", db, "--image_path", images,
                    "--output_path", out / "sparse"], **common)


def model_dir(runner: str, out: Path) -> Path | None:
    if runner.startswith("ours"):
        return out / "sparse" / "0"
    if runner == "pycolmap":
        return out / "best"
    models = sorted((out / "sparse").glob("*/images.bin"))
    if not models:
        return None
    import pycolmap

    return max((m.parent for m in models), key=lambda d: pycolmap.Reconstruction(str(d)).num_reg_images())


def ground_truth(name: str, work: Path):
    from services.sfm.container.evaluation import load_strecha_cameras

    if name == "fountain_p11":
        return load_strecha_cameras(DATA / "fountain_p11" / "gt")
    if name.startswith("synthetic"):
        from spaceport.synthetic import TRUTH_FILE, load_truth

        return load_truth(image_dir(name, work) / TRUTH_FILE).poses()
    return None


def true_focal_px(name: str, work: Path, width: int) -> float | None:
    """The focal length a perfect solve gives at `width` pixels, where it is known."""
    if name == "caliterra":
        return CALITERRA_FOCAL_PX * width / 1600
    if name == "fountain_p11":  # Strecha .camera: K in the first three rows, for 3072 px wide photos
        path = sorted((DATA / "fountain_p11" / "gt").glob("*.camera"))[0]
        return float(path.read_text().split()[0]) * width / 3072
    if name.startswith("synthetic"):
        from spaceport.synthetic import TRUTH_FILE, load_truth

        truth = load_truth(image_dir(name, work) / TRUTH_FILE)
        return truth.fx * width / truth.width
    return None


def metric_figures(name: str, rec, images: Path, out: Path, work: Path, width: int) -> dict:
    """Focal error, GPS residual and scale vs GPS / truth of a delivered model (see the module doc).

    width: of the photos the solve saw (undistortion keeps the focal length but may resize)."""
    import numpy as np

    from services.sfm.container.evaluation import centre
    from services.sfm.container.geo import umeyama, wgs84_to_enu
    from services.sfm.container.photos import prepare_photos

    result: dict = {}
    camera = next(iter(rec.cameras.values()))
    focal = true_focal_px(name, work, width)
    if focal:
        result["focal_err"] = round(float(camera.focal_length_x) / focal - 1.0, 4)
    georef = out / "georef.json"
    registered = {im.name: im.projection_center() for im in rec.images.values() if im.has_pose}
    if georef.exists():
        origin = json.loads(georef.read_text())["origin"]
        with tempfile.TemporaryDirectory() as scratch:
            photos = prepare_photos(images, Path(scratch), 64).photos  # tiny copies: only EXIF matters
        fixes = {p.name: p.exif.gps for p in photos if p.exif.gps and p.exif.gps.usable and p.exif.gps.alt is not None}
        names = sorted(set(fixes) & set(registered))
        gps = wgs84_to_enu(np.array([(fixes[n].lat, fixes[n].lon, fixes[n].alt) for n in names]),
                           (origin["lat"], origin["lon"], origin["alt"]))
        est = np.array([registered[n] for n in names])
        result["gps_residual_m"] = round(float(np.sqrt(((est - gps) ** 2).sum(axis=1).mean())), 3)
        flat = np.array([1.0, 1.0, 0.0])  # on the ground plane: GPS heights are ~2x worse and tilt the fit
        result["scale_vs_gps"] = round(umeyama(est * flat, gps * flat).scale, 4)
    truth = ground_truth(name, work) if name.startswith("synthetic") else None
    if truth is not None and georef.exists():
        names = sorted(set(truth) & set(registered))
        est = np.array([registered[n] for n in names])
        result["scale_vs_truth"] = round(umeyama(est, np.array([centre(truth[n]) for n in names])).scale, 4)
        if name in ("synthetic_flat", "synthetic_2alt"):  # the ground is the plane z = 0 of the truth frame
            heights, true_heights = [], []
            for image in rec.images.values():
                if not image.has_pose or image.name not in truth:
                    continue
                zs = [rec.points3D[p.point3D_id].xyz[2] for p in image.points2D if p.has_point3D()]
                heights.append(image.projection_center()[2] - np.median(zs))
                true_heights.append(centre(truth[image.name])[2])
            result["height_err"] = round(float(np.median(np.array(heights) / np.array(true_heights))) - 1.0, 4)
    return result


def measure(name: str, runner: str, work: Path, code: Path, label: str, wall: float | None = None) -> dict:
    """Run `runner` on set `name` and measure its output; with `wall` (--remeasure), only measure
    the output an earlier run left."""
    import pycolmap

    from services.sfm.container.evaluation import pose_errors, poses_from_model

    images = image_dir(name, work)
    out = work / name / f"{label}_{runner}"
    n_in = sum(1 for p in images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if wall is None:
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        if runner.startswith("ours"):
            run_ours(images, out, code, RUNNER_CONFIG.get(runner, {}))
        elif runner == "pycolmap":
            subprocess.run([sys.executable, __file__, "--pycolmap-child", str(images), str(out)], check=True)
        elif runner == "cli":
            run_cli(images, out)
        wall = time.monotonic() - started
    result = {"set": name, "runner": runner, "label": label, "wall_s": round(wall, 1), "images": n_in}
    mdir = model_dir(runner, out)
    if mdir is None:
        return result | {"registered": 0}
    rec = pycolmap.Reconstruction(str(mdir))
    result |= {
        "registered": rec.num_reg_images(),
        "points3d": rec.num_points3D(),
        "reproj_px": round(rec.compute_mean_reprojection_error(), 3),
    }
    width = rec.cameras[next(iter(rec.cameras))].width
    if runner.startswith("ours"):
        metrics = json.loads((out / "metrics.json").read_text())
        width = metrics["image_size"][0]
        result |= {"matcher": metrics["matcher"], "matcher_fallback": metrics["matcher_fallback"],
                   "mapper": metrics["mapper"], "steps": metrics["seconds"], "georeferenced": metrics["georeferenced"],
                   "focal": metrics.get("focal"), "warnings": metrics["warnings"]}
        # the undistorted model has the same poses; errors are in pixels of the working copies
    result |= metric_figures(name, rec, images, out, work, width)
    truth = ground_truth(name, work)
    if truth is not None:
        errors = pose_errors(poses_from_model(mdir), truth)
        result |= {"rot_median_deg": round(errors.rotation_median_deg, 4),
                   "centre_median_rel": round(errors.centre_median_rel, 5)}
    return result


def _pct(value) -> str:
    return "–" if value is None else f"{value:+.1%}"


def table(results: list[dict]) -> str:
    lines = [
        "| set | run | wall s | registered | points | reproj px | rot median deg | centre err / radius "
        "| focal err | GPS residual m | scale vs GPS | scale vs truth | height err | mapper, matcher |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        matcher = r.get("matcher", "exhaustive") + (f" + {r['matcher_fallback']}" if r.get("matcher_fallback") else "")
        scale_gps = r.get("scale_vs_gps")
        scale_truth = r.get("scale_vs_truth")
        lines.append(
            f"| {r['set']} | {r.get('label', 'after')} {r['runner']} | {r['wall_s']:.0f} | "
            f"{r.get('registered', 0)}/{r['images']} | {r.get('points3d', '–')} | {r.get('reproj_px', '–')} | "
            f"{r.get('rot_median_deg', '–')} | {r.get('centre_median_rel', '–')} | {_pct(r.get('focal_err'))} | "
            f"{r.get('gps_residual_m', '–')} | {_pct(None if scale_gps is None else scale_gps - 1)} | "
            f"{_pct(None if scale_truth is None else scale_truth - 1)} | {_pct(r.get('height_err'))} | "
            f"{r.get('mapper', 'incremental')}, {matcher} |"
        )
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--pycolmap-child":
        run_pycolmap_defaults(Path(sys.argv[2]), Path(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=[*REAL_SETS, *SYNTHETIC])
    parser.add_argument("--runners", nargs="+", default=["ours_default", "pycolmap"], choices=RUNNERS)
    parser.add_argument("--cli-sets", nargs="*", default=["fountain_p11"], help="sets the slow COLMAP CLI runs on")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "sfm")
    parser.add_argument("--code", type=Path, default=REPO, help="checkout whose stage program the ours* runners run")
    parser.add_argument("--label", default="after", help="names this code's results (before/after)")
    parser.add_argument("--synthetic-size", default="1024x768")
    parser.add_argument("--synthetic-images", type=int, default=24)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--remeasure", action="store_true", help="recompute the figures of cached runs, no solving")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    args.work.mkdir(parents=True, exist_ok=True)
    w, h = (int(x) for x in args.synthetic_size.split("x"))
    for name in args.sets:
        if name.startswith("synthetic"):
            ensure_synthetic(name, args.work, args.synthetic_images, w, h)
    jobs = []
    for name in args.sets:
        if not name.startswith("synthetic") and not (DATA / name / "images").is_dir():
            print(f"skip {name}: {DATA / name} missing")
            continue
        for runner in args.runners:
            if runner == "cli" and (name not in args.cli_sets or shutil.which("colmap") is None):
                continue
            jobs.append((name, runner))
    jobs.sort(key=lambda job: job[1] == "cli")  # the slow CLI last: the other figures come first
    results = []
    for name, runner in jobs:
        label = args.label if runner.startswith("ours") else "peer"
        cache = args.work / name / f"{label}_{runner}.json"
        if cache.exists() and args.remeasure and "error" not in json.loads(cache.read_text()):
            result = measure(name, runner, args.work, args.code.resolve(), label, json.loads(cache.read_text())["wall_s"])
            cache.write_text(json.dumps(result, indent=1))
        elif cache.exists() and not args.fresh:
            result = json.loads(cache.read_text())
        else:
            with CPU_LOCK.open("a") as lock:  # one measurement at a time, interleaved with others' jobs
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    result = measure(name, runner, args.work, args.code.resolve(), label)
                except subprocess.CalledProcessError as exc:
                    result = {"set": name, "runner": runner, "label": label, "wall_s": float("nan"), "images": 0,
                              "error": str(exc)}
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(result, indent=1))
        print(json.dumps({k: v for k, v in result.items() if k not in ("steps", "warnings")}), flush=True)
        results.append(result)
    results.sort(key=lambda r: (args.sets.index(r["set"]), RUNNERS.index(r["runner"])))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
