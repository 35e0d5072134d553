"""Capture checks benchmark: per-photo figures, how often each check fires, and the SfM outcome.

    nice .venv/bin/python bench/capture_bench.py figures            # clean sets and faulted variants
    nice .venv/bin/python bench/capture_bench.py solve --cases banana banana_f35_1 banana_x0.06

`figures` prints, per set and variant, each photo's mean luma, clipped dark/bright shares,
sharpness (and its ratio to the set's upper quartile) and SIFT feature count, then how many
photos each check flagged. The clean sets (the shared real sets and two synthetic scenes) must
show 0 everywhere. `solve` runs the SfM stage (as a subprocess, default config unless --config)
on each case and prints exit code, cause, photos placed, 3D points, focal length and warnings;
`train` then runs the training stage (preview preset) on a solved case and prints held-out PSNR.

Cases: a set name (banana, caliterra, fountain_p11, synthetic_orbit, synthetic_drone), or
`<set>_<fault>` with fault one of: x<factor> (every pixel times factor), blur<N> (N-pixel
horizontal shake on every other photo), blur<N>all, f35_<value> (FocalLengthIn35mmFilm rewritten
on every photo), sharp (the photos a blur<N> case leaves sharp, alone). Variants are built once
under --work from ../shared/data; real-set cases are skipped when it is absent.
Each run holds /tmp/spaceport-cpu.lock (flock) so heavy jobs on this shared machine never overlap.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
REAL_SETS = ("banana", "caliterra", "fountain_p11")
SYNTHETIC = {"synthetic_orbit": ("orbit", 16, 4), "synthetic_drone": ("drone", 12, 7)}  # kind, photos, seed
CLEAN = (*REAL_SETS, *SYNTHETIC)
FAULTS = ("x0.25", "x0.06", "blur25", "blur9", "f35_1", "f35_1000")
CPU_LOCK = Path("/tmp/spaceport-cpu.lock")


def build_case(case: str, work: Path) -> Path | None:
    """The photo folder of a case, built under work/ on first use; None when its set is absent."""
    from spaceport.synthetic import render_scene
    from spaceport.synthetic.degrade import darken, degrade_folder, motion_blur, photos_in, retag_folder

    if case in SYNTHETIC:
        kind, n, seed = SYNTHETIC[case]
        folder = work / case
        if not folder.is_dir():
            render_scene(kind, folder, n_images=n, width=800, height=600, seed=seed)
            (folder / "truth.json").unlink()
        return folder
    if case in REAL_SETS:
        return DATA / case / "images" if (DATA / case / "images").is_dir() else None
    base = next((name for name in CLEAN if case.startswith(name + "_")), None)
    if base is None:
        raise SystemExit(f"unknown case {case!r}")
    fault = case[len(base) + 1:]
    source = build_case(base, work)
    if source is None:
        return None
    folder = work / case
    if folder.is_dir():
        return folder
    every_other = lambda index: index % 2 == 1  # noqa: E731
    if m := re.fullmatch(r"x([0-9.]+)", fault):
        degrade_folder(source, folder, lambda rgb: darken(rgb, float(m.group(1))))
    elif m := re.fullmatch(r"blur(\d+)(all)?", fault):
        length = int(m.group(1))
        degrade_folder(source, folder, lambda rgb: motion_blur(rgb, length), every_other if not m.group(2) else
                       (lambda index: True))
    elif fault == "sharp":
        folder.mkdir(parents=True)
        for index, path in enumerate(photos_in(source)):
            if not every_other(index):
                (folder / path.name).write_bytes(path.read_bytes())
    elif m := re.fullmatch(r"f35_(\d+)", fault):
        retag_folder(source, folder, int(m.group(1)))
    else:
        raise SystemExit(f"unknown fault {fault!r} in case {case!r}")
    return folder


class CpuLock:
    def __enter__(self) -> None:
        self._file = CPU_LOCK.open("w")
        fcntl.flock(self._file, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()


def figures(case: str, folder: Path, max_image_size: int) -> dict:
    """Prepare working copies, measure, extract SIFT as the stage does; the findings as JSON."""
    from services.sfm.container.capture import add_feature_counts, feature_counts, feature_images, measure_set
    from services.sfm.container.config import Config
    from services.sfm.container.features import extract_features
    from services.sfm.container.photos import group_cameras, prepare_photos
    from services.sfm.container.workcopy import EXACT

    cfg = Config(max_image_size=max_image_size, num_threads=2)
    with tempfile.TemporaryDirectory(prefix="capture-bench-") as scratch_name:
        scratch = Path(scratch_name)
        photo_set = prepare_photos(folder, scratch / "images", cfg.max_image_size, 0, scratch / "masks")
        findings = measure_set(photo_set.photos, scratch / "images", scratch / "masks" / EXACT)
        sift_images = feature_images(findings, scratch / "images", scratch / "sift")  # as the stage does
        extract_features(scratch / "db.db", sift_images, list(group_cameras(photo_set.photos).values()), cfg)
        add_feature_counts(findings, feature_counts(scratch / "db.db"))
    focal = sorted({(p.focal_source, round(p.focal_px)) for p in photo_set.photos})
    ignored = [p.original for p in photo_set.photos if p.focal_tags_ignored]
    return {"case": case, "focal": focal, "focal_tags_ignored": ignored, **findings.to_json()}


def print_figures(result: dict) -> None:
    print(f"\n== {result['case']}: focal prior {result['focal']}")
    print(f"  {'photo':<16}{'luma':>7}{'dark%':>7}{'brt%':>7}{'sharp':>8}{'ratio':>7}{'feat':>6}")
    for p in result["photos"]:
        print(f"  {p['original'][:15]:<16}{p['luma_mean']:7.3f}{100 * p['dark_fraction']:7.2f}"
              f"{100 * p['bright_fraction']:7.2f}{p['sharpness']:8.4f}{p['sharpness_ratio']:7.2f}{p['features']:6d}")
    photos = result["photos"]
    features = sorted(p["features"] for p in photos)
    median = features[len(features) // 2] or 1
    print(f"  range: luma {min(p['luma_mean'] for p in photos):.3f}-{max(p['luma_mean'] for p in photos):.3f}, "
          f"black {max(p['dark_fraction'] for p in photos):.2%} max, white {max(p['bright_fraction'] for p in photos):.2%}"
          f" max, sharpness ratio {min(p['sharpness_ratio'] for p in photos):.2f} min, features {features[0]} min "
          f"({features[0] / median:.2f} of the median)")
    fired = {check: len(result[check]) for check in
             ("focal_tags_ignored", "dark", "clipped_dark", "clipped_bright", "blurred", "few_features")}
    print("  fired: " + ", ".join(f"{check} {count}/{len(photos)}" for check, count in fired.items())
          + (f"; contrast stretched for SIFT on {len(result['normalised'])}" if result["normalised"] else ""))


def solve(case: str, folder: Path, work: Path, config: dict, repo: Path) -> dict:
    out = work / "out" / repo.name / case
    cfg_file = out.parent / f"{case}.config.json"
    cfg_file.parent.mkdir(parents=True, exist_ok=True)
    cfg_file.write_text(json.dumps(config))
    subprocess.run(["rm", "-rf", str(out)], check=True)
    code = subprocess.run(
        [sys.executable, "-m", "services.sfm.container.entrypoint", "--input", str(folder), "--output", str(out),
         "--config", str(cfg_file)], cwd=repo, capture_output=True,
    ).returncode
    result: dict = {"case": case, "checkout": str(repo), "exit": code}
    if (out / "failure.json").exists():
        failure = json.loads((out / "failure.json").read_text())
        result.update(cause=failure["cause"], message=failure["message"])
    if (out / "metrics.json").exists():
        metrics = json.loads((out / "metrics.json").read_text())
        result.update({k: metrics.get(k) for k in ("images_in", "images_registered", "points3d",
                                                    "mean_reprojection_error_px", "warnings", "capture")})
        import pycolmap

        rec = pycolmap.Reconstruction(str(out / "sparse" / "0"))
        camera = next(iter(rec.cameras.values()))
        result["focal_px"] = round(float(camera.params[0]), 1)
        result["undistorted_size"] = [camera.width, camera.height]
    return result


def train(case: str, work: Path, repo: Path, threads: int) -> dict:
    """The training stage (preview preset, the CPU default) on a solved case: held-out PSNR."""
    from services.train.container.config import Config
    from shared.options import JobOptions, Preset

    sfm = work / "out" / repo.name / case
    if not (sfm / "metrics.json").exists():
        return {"case": case, "checkout": str(repo), "train": "no SfM model (run solve first)"}
    out = work / "train" / repo.name / case
    subprocess.run(["rm", "-rf", str(out)], check=True)
    cfg_file = out.parent / f"{case}.config.json"
    cfg_file.parent.mkdir(parents=True, exist_ok=True)
    cfg = Config.from_options(JobOptions(preset=Preset.PREVIEW)).model_copy(update={"num_threads": threads})
    cfg_file.write_text(cfg.model_dump_json())
    subprocess.run([sys.executable, "-m", "services.train.container.entrypoint", "--input", str(sfm), "--output",
                    str(out), "--config", str(cfg_file)], cwd=repo, capture_output=True,
                   env={**os.environ, "OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"})
    if not (out / "metrics.json").exists():
        return {"case": case, "checkout": str(repo), "train": "failed", "log": str(out)}
    metrics = json.loads((out / "metrics.json").read_text())
    return {"case": case, "checkout": str(repo), **{k: metrics.get(k) for k in (
        "psnr", "ssim", "n_train_views", "n_test_views", "n_gaussians", "steps")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("figures", "solve", "train"))
    parser.add_argument("--cases", nargs="*", help="default: the clean sets and banana with each fault")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "spaceport-capture-bench")
    parser.add_argument("--max-image-size", type=int, default=1600)
    parser.add_argument("--config", type=json.loads, default={}, help='SfM config JSON, e.g. \'{"num_threads": 2}\'')
    parser.add_argument("--repo", type=Path, default=REPO,
                        help="solve: the checkout whose SfM stage runs (e.g. an export of main, for before/after)")
    parser.add_argument("--json", type=Path, help="append each result as one JSON line to this file")
    args = parser.parse_args()
    cases = args.cases or [*CLEAN, *(f"banana_{fault}" for fault in FAULTS)]
    args.work.mkdir(parents=True, exist_ok=True)
    for case in cases:
        folder = build_case(case, args.work)
        if folder is None:
            print(f"\n== {case}: skipped ({DATA} not available)")
            continue
        with CpuLock():
            if args.mode == "figures":
                result = figures(case, folder, args.max_image_size)
                print_figures(result)
            elif args.mode == "solve":
                result = solve(case, folder, args.work, {"num_threads": 2, **args.config}, args.repo.resolve())
                print(json.dumps(result), flush=True)
            else:
                result = train(case, args.work, args.repo.resolve(), 2)
                print(json.dumps(result), flush=True)
        if args.json:
            with args.json.open("a") as sink:
                sink.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
