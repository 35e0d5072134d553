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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.splat_views import psnr, render  # noqa: E402
from services.compress.container.ply import read_ply  # noqa: E402
from services.compress.container.sog_io import read_sog  # noqa: E402
from services.train.container.config import Config  # noqa: E402
from services.train.container.data import load_scene  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job_dir", type=Path, help="jobs/<job_id> folder of a finished local job")
    args = parser.parse_args()
    torch.set_num_threads(1)
    job = args.job_dir
    cfg = Config(**json.loads((job / "config/train/config.json").read_text()))
    scene = load_scene(job / "sfm", cfg)
    original = read_ply(job / "train/model.ply")
    decoded = read_sog(job / "compress/model.sog")
    rows = []
    for view in scene.test:
        truth = view.image.numpy()
        camera = (view.viewmat[None].float().numpy(), view.K[None].float().numpy(), view.width, view.height)
        a = render(original, *camera)[0]
        b = render(decoded, *camera)[0]
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
