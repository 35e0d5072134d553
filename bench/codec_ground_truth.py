"""Codec loss against ground truth, on a model our pipeline trained.

For a finished job (local data dir), render each held-out view (the SfM photos the training stage
never saw) from the trained `model.ply` and from the decoded `model.sog`, with the same CPU
rasterizer, and report PSNR against the photo for both, the drop, and PSNR of decoded vs original
(codec-only loss).

    .venv/bin/python bench/codec_ground_truth.py ~/.spaceport/spaceport/jobs/<job_id>
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

from services.compress.container.ply import read_ply
from services.compress.container.sog_io import read_sog
from services.compress.container.splats import Splats, sigmoid
from services.train.container.config import Config
from services.train.container.data import load_scene
from services.train.container.raster import rasterize


def render(splats: Splats, viewmat: torch.Tensor, k: torch.Tensor, width: int, height: int) -> np.ndarray:
    c = splats.sh_coeffs
    colors = np.concatenate([splats.sh0[:, None, :], splats.sh_rest.reshape(-1, 3, c).transpose(0, 2, 1)], axis=1)
    with torch.no_grad():
        out, _, _ = rasterize(
            torch.from_numpy(splats.means),
            torch.from_numpy(splats.quats),
            torch.from_numpy(np.exp(splats.log_scales)),
            torch.from_numpy(sigmoid(splats.opacities).astype(np.float32)),
            torch.from_numpy(colors.astype(np.float32)),
            viewmat[None].float(),
            k[None].float(),
            width,
            height,
            sh_degree=splats.sh_degree,
        )
    return out[0].clamp(0, 1).numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job_dir", type=Path, help="jobs/<job_id> folder of a finished local job")
    args = parser.parse_args()
    torch.set_num_threads(1)
    job = args.job_dir
    cfg = Config(**json.loads((job.parent.parent / "jobs" / job.name / "config/train/config.json").read_text()))
    scene = load_scene(job / "sfm", cfg)
    original = read_ply(job / "train/model.ply")
    decoded = read_sog(job / "compress/model.sog")
    rows = []
    for view in scene.test:
        truth = view.image.numpy()
        a = render(original, view.viewmat, view.K, view.width, view.height)
        b = render(decoded, view.viewmat, view.K, view.width, view.height)
        rows.append((view.name, psnr(a, truth), psnr(b, truth), psnr(b, a)))
        print(f"{view.name:16} original {rows[-1][1]:6.2f} dB  decoded {rows[-1][2]:6.2f} dB  codec-only {rows[-1][3]:6.2f} dB")
    mean = np.mean([r[1:] for r in rows], axis=0)
    ply_bytes = (job / "train/model.ply").stat().st_size
    sog_bytes = (job / "compress/model.sog").stat().st_size
    print(
        f"\n{len(rows)} held-out views, {len(original.means):,} splats (SH degree {original.sh_degree}): "
        f"original {mean[0]:.2f} dB, decoded {mean[1]:.2f} dB, drop {mean[0] - mean[1]:.3f} dB, "
        f"codec-only {mean[2]:.2f} dB; PLY {ply_bytes:,} B -> SOG {sog_bytes:,} B ({ply_bytes / sog_bytes:.1f}x)"
    )


if __name__ == "__main__":
    main()
