"""Training seconds per step on this CPU, for the preset table (shared/options.py, docs/local.md).

    nice flock /tmp/spaceport-cpu.lock .venv/bin/python bench/preset_times.py --threads 2 \
        [--photos ../shared/data/banana/images] [--sizes 320,1600] [--gaussians 20000,100000,300000,1000000]

Runs the SfM stage program once on the photos (cached in --work), then for each image size and
Gaussian count builds the real `Trainer` (the training stage's loop, loss, optimizers and CPU
rasterizer) with that many Gaussians and no densification, and times a few steps (median after
warm-up). Gaussian counts above the SfM point count are made by jittered copies of the points
(each copy placed within the points' typical spacing), so splat sizes stay plausible.

A whole run's training time is then steps x seconds per step at the counts the run passes through:
the preview preset is also run end to end (`bench/train_bench.py --preset preview`) to check that
the extrapolation agrees with a measured run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def sfm_output(photos: Path, work: Path, threads: int) -> Path:
    out = work / "sfm"
    if not (out / "metrics.json").exists():
        cfg = work / "sfm_cfg.json"
        work.mkdir(parents=True, exist_ok=True)
        cfg.write_text(json.dumps({"max_image_size": 1600, "num_threads": threads}))
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(threads)}
        subprocess.run(
            [sys.executable, "-m", "services.sfm.container.entrypoint", "--input", str(photos),
             "--output", str(out), "--config", str(cfg)],
            env=env, check=True, cwd=REPO,
        )  # fmt: skip
    return out


def seconds_per_step(sfm: Path, size: int, gaussians: int, sh_degree: int, steps: int) -> tuple[float, int, str]:
    import torch

    from services.train.container.config import Config
    from services.train.container.data import Scene, load_scene
    from services.train.container.trainer import Trainer

    cfg = Config(
        steps=steps + 2, max_image_size=size, sh_degree=sh_degree, sh_degree_interval=1,
        max_gaussians=max(gaussians, 100), refine_start=10**9, refine_stop=10**9, test_every=8, seed=0,
    )  # fmt: skip
    scene = load_scene(sfm, cfg)
    points, colors = scene.points, scene.colors
    if gaussians > len(points):
        copies = -(-gaussians // len(points))
        spacing = torch.cdist(points[:2000], points[:2000]).topk(2, largest=False).values[:, 1].median()
        g = torch.Generator().manual_seed(0)
        points = (points.repeat(copies, 1) + torch.randn(len(points) * copies, 3, generator=g) * spacing)[:gaussians]
        colors = colors.repeat(copies, 1)[:gaussians]
    scene = Scene(train=scene.train, test=scene.test, points=points, colors=colors, scene_scale=scene.scene_scale)
    trainer = Trainer(cfg, scene, torch.device("cpu"))
    stamps: list[float] = []
    trainer.train(on_step=lambda step, total, figures: stamps.append(time.perf_counter()))
    gaps = [b - a for a, b in zip(stamps[1:], stamps[2:], strict=False)]  # the first two steps warm up
    view = scene.train[0]
    return statistics.median(gaps), len(trainer.params["means"]), f"{view.width}x{view.height}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=REPO.parent / "shared/data/banana/images")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="320,1600")
    parser.add_argument("--gaussians", default="20000,100000,300000,1000000")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per point (after 2 warm-up steps)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/spaceport-preset-bench"))
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    sfm = sfm_output(args.photos, args.work / args.photos.parent.name, args.threads)
    print(f"photos: {args.photos} ({args.threads} threads, torch {torch.__version__})")
    print("| image size (longest side) | training image | Gaussians | SH degree | s/step |")
    print("|---:|---|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        for gaussians in (int(n) for n in args.gaussians.split(",")):
            sh = 1 if size <= 320 else 3
            t, n, shape = seconds_per_step(sfm, size, gaussians, sh, args.steps)
            print(f"| {size} | {shape} | {n:,} | {sh} | {t:.3f} |", flush=True)


if __name__ == "__main__":
    main()
