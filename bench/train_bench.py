"""Training quality and cost with a preset on the CPU: synthetic scene -> SfM stage -> train stage.

    flock /tmp/spaceport-cpu.lock .venv/bin/python bench/train_bench.py --threads 2 [--kind orbit]
    flock /tmp/spaceport-cpu.lock .venv/bin/python bench/train_bench.py --photos ../shared/data/banana/images

Renders the synthetic demo scene (spaceport.synthetic) unless --photos is given, runs the SfM
stage program on it (cached in --work), then the training stage program with the preset (default
`preview`), and prints held-out PSNR/SSIM, Gaussians, time, steps/s and peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="orbit", choices=["orbit", "drone"])
    parser.add_argument("--n-images", type=int, default=32)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--photos", type=Path, help="use these photos instead of a synthetic scene")
    parser.add_argument("--preset", default="preview", choices=["preview", "standard", "quality"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/spaceport-train-bench"))
    parser.add_argument("--override", default="{}", help="JSON dict of Config fields to override")
    parser.add_argument("--label", default="", help="suffix of the output folder (to keep variants apart)")
    args = parser.parse_args()

    from services.train.container.config import Config
    from shared.options import JobOptions, Preset

    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(args.threads)}
    if args.photos is not None:
        photos = args.photos
        tag = photos.parent.name
    else:
        from spaceport.synthetic.render import render_scene

        tag = f"{args.kind}_{args.n_images}_{args.width}x{args.height}"
        photos = args.work / tag / "photos"
        if not photos.exists():
            render_scene(args.kind, photos, n_images=args.n_images, width=args.width, height=args.height, seed=0)
    sfm = args.work / tag / "sfm"
    if not (sfm / "metrics.json").exists():
        t0 = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "services.sfm.container.entrypoint", "--input", str(photos), "--output", str(sfm)],
            env=env, check=True, cwd=REPO,
        )
        print(f"sfm: {time.monotonic() - t0:.0f} s")
    sfm_metrics = json.loads((sfm / "metrics.json").read_text())
    cfg = Config.from_options(JobOptions(preset=Preset(args.preset)))
    cfg = cfg.model_copy(update={"num_threads": args.threads, **json.loads(args.override)})
    out = args.work / tag / f"train_{args.preset}{'_' + args.label if args.label else ''}"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    cfg_path = out.with_suffix(".json")
    cfg_path.write_text(cfg.model_dump_json(exclude={"checkpoint_dir"}))  # the stage's default: OUT/checkpoints
    t0 = time.monotonic()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-m", "services.train.container.entrypoint", "--input", str(sfm), "--output", str(out),
         "--config", str(cfg_path)],
        env=env, check=True, cwd=REPO,
    )
    wall = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    m = json.loads((out / "metrics.json").read_text())
    from bench.floaters import counts

    shape = counts(out / "model.ply", sfm)
    print(json.dumps({"label": args.label, "override": json.loads(args.override), "psnr": m["psnr"],
                      "psnr_before_cleanup": m.get("psnr_before_cleanup"), "removed": m.get("removed_gaussians"),
                      "warmup_s": m.get("warmup_seconds"), **shape}))
    print(json.dumps({"sfm_images_registered": sfm_metrics.get("images_registered"),
                      "sfm_points3d": sfm_metrics.get("points3d")}))
    print(f"| scene | preset | threads | images (train/test) | resolution | steps | Gaussians | PSNR (dB) | SSIM "
          f"| LPIPS | train s | wall s | CPU s | steps/s | peak RSS MiB |")
    print("|---|---|---:|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    print(
        f"| {tag} | {args.preset} | {args.threads} | {m['n_train_views']}/{m['n_test_views']} | "
        f"{m['image_width']}x{m['image_height']} | {m['steps']} | {m['n_gaussians']:,} | {m['psnr']:.2f} | "
        f"{m['ssim']:.3f} | {m['lpips']} | {m['train_seconds']:.0f} | {wall:.0f} | {cpu_s:.0f} | {m['steps_per_second']:.1f} | "
        f"{m['peak_memory_mb']:.0f} |"
    )


if __name__ == "__main__":
    main()
