"""SfM benchmark: our stage vs plain pycolmap defaults vs the COLMAP CLI, side by side.

    .venv/bin/python bench/sfm_bench.py \
        --sets fountain_p11 banana caliterra synthetic --runners ours pycolmap cli --cli-sets fountain_p11

Per set and runner: wall time, registered images, mean reprojection error and, where ground truth
exists (fountain_p11's gt/, the synthetic scene's truth.json), the median rotation error and the
median camera-centre error after a similarity alignment (relative to the scene radius).
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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
REAL_SETS = ("caliterra", "banana", "fountain_p11")
RUNNERS = ("ours", "ours_global", "pycolmap", "cli")
CPU_LOCK = Path("/tmp/spaceport-cpu.lock")  # shared with other heavy jobs on this machine


def image_dir(name: str, work: Path) -> Path:
    if name == "synthetic":
        return work / "synthetic_drone"
    return DATA / name / "images"


def ensure_synthetic(work: Path, n: int, width: int, height: int) -> Path:
    from spaceport.synthetic import TRUTH_FILE, render_scene

    folder = work / "synthetic_drone"
    if not (folder / TRUTH_FILE).exists():
        render_scene("drone", folder, n_images=n, width=width, height=height, seed=7)
    return folder


def run_ours(images: Path, out: Path, mapper: str) -> None:
    cfg = out.parent / f"{out.name}.config.json"
    cfg.write_text(json.dumps({"mapper": mapper}))
    subprocess.run(
        [sys.executable, "-m", "services.sfm.container.entrypoint", "--input", str(images), "--output", str(out),
         "--config", str(cfg)],
        cwd=REPO, check=True,
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
    if name == "synthetic":
        from spaceport.synthetic import TRUTH_FILE, load_truth

        return load_truth(work / "synthetic_drone" / TRUTH_FILE).poses()
    return None


def measure(name: str, runner: str, work: Path) -> dict:
    import pycolmap

    from services.sfm.container.evaluation import pose_errors, poses_from_model

    images = image_dir(name, work)
    out = work / name / runner
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    n_in = sum(1 for p in images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    started = time.monotonic()
    if runner == "ours":
        run_ours(images, out, "incremental")
    elif runner == "ours_global":
        run_ours(images, out, "global")
    elif runner == "pycolmap":
        subprocess.run([sys.executable, __file__, "--pycolmap-child", str(images), str(out)], check=True)
    elif runner == "cli":
        run_cli(images, out)
    wall = time.monotonic() - started
    result = {"set": name, "runner": runner, "wall_s": round(wall, 1), "images": n_in}
    mdir = model_dir(runner, out)
    if mdir is None:
        return result | {"registered": 0}
    rec = pycolmap.Reconstruction(str(mdir))
    result |= {
        "registered": rec.num_reg_images(),
        "points3d": rec.num_points3D(),
        "reproj_px": round(rec.compute_mean_reprojection_error(), 3),
    }
    if runner.startswith("ours"):
        metrics = json.loads((out / "metrics.json").read_text())
        result |= {"matcher": metrics["matcher"], "matcher_fallback": metrics["matcher_fallback"],
                   "steps": metrics["seconds"], "georeferenced": metrics["georeferenced"]}
        # the undistorted model has the same poses; errors are in pixels of the working copies
    truth = ground_truth(name, work)
    if truth is not None:
        errors = pose_errors(poses_from_model(mdir), truth)
        result |= {"rot_median_deg": round(errors.rotation_median_deg, 4),
                   "centre_median_rel": round(errors.centre_median_rel, 5)}
    return result


def table(results: list[dict]) -> str:
    lines = [
        "| set | runner | wall s | vs pycolmap | vs CLI | registered | mean reproj px | rot median deg | centre err / radius | matcher |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    by = {(r["set"], r["runner"]): r for r in results}
    for r in results:
        base = by.get((r["set"], "pycolmap"))
        cli = by.get((r["set"], "cli"))
        ratio = f"{r['wall_s'] / base['wall_s']:.2f}x" if base else "–"
        ratio_cli = f"{r['wall_s'] / cli['wall_s']:.2f}x" if cli else "–"
        matcher = r.get("matcher", "exhaustive")
        if r.get("matcher_fallback"):
            matcher += f" + {r['matcher_fallback']}"
        lines.append(
            f"| {r['set']} | {r['runner']} | {r['wall_s']:.0f} | {ratio} | {ratio_cli} | "
            f"{r.get('registered', 0)}/{r['images']} | {r.get('reproj_px', '–')} | "
            f"{r.get('rot_median_deg', '–')} | {r.get('centre_median_rel', '–')} | {matcher} |"
        )
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--pycolmap-child":
        run_pycolmap_defaults(Path(sys.argv[2]), Path(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=[*REAL_SETS, "synthetic"])
    parser.add_argument("--runners", nargs="+", default=["ours", "pycolmap"], choices=RUNNERS)
    parser.add_argument("--cli-sets", nargs="*", default=["fountain_p11"], help="sets the slow COLMAP CLI runs on")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "sfm")
    parser.add_argument("--synthetic-size", default="1024x768")
    parser.add_argument("--synthetic-images", type=int, default=24)
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    args.work.mkdir(parents=True, exist_ok=True)
    if "synthetic" in args.sets:
        w, h = (int(x) for x in args.synthetic_size.split("x"))
        ensure_synthetic(args.work, args.synthetic_images, w, h)
    jobs = []
    for name in args.sets:
        if name != "synthetic" and not (DATA / name / "images").is_dir():
            print(f"skip {name}: {DATA / name} missing")
            continue
        for runner in args.runners:
            if runner == "cli" and (name not in args.cli_sets or shutil.which("colmap") is None):
                continue
            jobs.append((name, runner))
    jobs.sort(key=lambda job: job[1] == "cli")  # the slow CLI last: the other figures come first
    results = []
    for name, runner in jobs:
        cache = args.work / name / f"{runner}.json"
        if cache.exists() and not args.fresh:
            result = json.loads(cache.read_text())
        else:
            with CPU_LOCK.open("a") as lock:  # one measurement at a time, interleaved with others' jobs
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    result = measure(name, runner, args.work)
                except subprocess.CalledProcessError as exc:
                    result = {"set": name, "runner": runner, "wall_s": float("nan"), "images": 0,
                              "error": str(exc)}
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(result, indent=1))
        print(json.dumps(result), flush=True)
        results.append(result)
    results.sort(key=lambda r: (args.sets.index(r["set"]), RUNNERS.index(r["runner"])))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
