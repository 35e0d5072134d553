"""Codec loss against ground truth, on a model our pipeline trained.

For a finished job (local data dir), render each held-out view (the SfM photos the training stage
never saw) from the trained `model.ply` and from the decoded `model.sog`, with the same CPU
rasterizer, and report PSNR against the photo for both, the drop, and PSNR of decoded vs original
(codec-only loss); the same for `model.spz` when the job wrote one.

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
from services.compress.container.spz import read_spz  # noqa: E402
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
    files = {"SOG": job / "compress/model.sog", "SPZ": job / "compress/model.spz"}
    decoded = {name: (read_sog if name == "SOG" else read_spz)(path) for name, path in files.items() if path.is_file()}
    rows = []
    for view in scene.test:
        truth = view.image.numpy()
        camera = (view.viewmat[None].float().numpy(), view.K[None].float().numpy(), view.width, view.height)
        a = render(original, *camera)[0]
        row = [psnr(a, truth)]
        text = f"{view.name:16} original {row[0]:6.2f} dB"
        for name, model in decoded.items():
            b = render(model, *camera)[0]
            row += [psnr(b, truth), psnr(b, a)]
            text += f"  {name} {row[-2]:6.2f} dB (codec-only {row[-1]:6.2f} dB)"
        rows.append(row)
        print(text)
    mean = np.mean(rows, axis=0)
    ply_bytes = (job / "train/model.ply").stat().st_size
    print(f"\n{len(rows)} held-out views, {len(original.means):,} splats (SH degree {original.sh_degree}): "
          f"original {mean[0]:.2f} dB; PLY {ply_bytes:,} B")  # fmt: skip
    for i, name in enumerate(decoded):
        size = files[name].stat().st_size
        print(f"  {name}: decoded {mean[1 + 2 * i]:.2f} dB, drop {mean[0] - mean[1 + 2 * i]:.3f} dB, codec-only "
              f"{mean[2 + 2 * i]:.2f} dB; {size:,} B ({ply_bytes / size:.1f}x smaller)")  # fmt: skip


if __name__ == "__main__":
    main()
