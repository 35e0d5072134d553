"""Floater, blob and needle counts of a trained model (model.ply) against its SfM reconstruction.

    .venv/bin/python bench/floaters.py MODEL.ply SFM_DIR

Definitions (all in the SfM/ENU frame of the PLY; only Gaussians a viewer sees, opacity >= 0.1):
- floater: its centre is farther than `tau` from every SfM 3D point, where tau = 5 x the median
  distance from an SfM point to its nearest neighbour (off the reconstructed surfaces);
- blob: its largest axis (1 sigma) exceeds 5 % of the camera spread radius (the scene scale);
- needle: its longest axis is more than 10 x its middle one.
SfM points mark where photos agreed on a surface; plain, untextured surfaces have few, so the
floater count of a clean model is not zero. Compare models of the same SfM output only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MIN_OPACITY = 0.1
TAU_FACTOR = 5.0
BLOB_SHARE = 0.05
NEEDLE_RATIO = 10.0


def sfm_geometry(sfm_dir: Path) -> tuple[np.ndarray, float]:
    """(SfM points [P, 3], camera spread radius) of `sfm_dir/sparse/0`."""
    import pycolmap

    rec = pycolmap.Reconstruction(str(sfm_dir / "sparse" / "0"))
    points = np.array([p.xyz for p in rec.points3D.values()])
    centres = np.array([img.projection_center() for img in rec.images.values() if img.has_pose])
    spread = float(np.linalg.norm(centres - centres.mean(0), axis=1).max())
    return points, spread


def counts(ply_path: Path, sfm_dir: Path) -> dict[str, float]:
    from services.train.container.export import read_ply

    ply = read_ply(ply_path)
    points, spread = sfm_geometry(sfm_dir)
    tree = cKDTree(points)
    nn, _ = tree.query(points, k=2)
    tau = TAU_FACTOR * float(np.median(nn[:, 1]))
    means = np.stack([ply["x"], ply["y"], ply["z"]], axis=1)
    opacity = 1.0 / (1.0 + np.exp(-ply["opacity"]))
    scales = np.sort(np.exp(np.stack([ply[f"scale_{i}"] for i in range(3)], axis=1)), axis=1)
    seen = opacity >= MIN_OPACITY
    dist, _ = tree.query(means, k=1)
    return {
        "gaussians": int(len(means)),
        "visible": int(seen.sum()),
        "floaters": int((seen & (dist > tau)).sum()),
        "blobs": int((seen & (scales[:, 2] > BLOB_SHARE * spread)).sum()),
        "needles": int((seen & (scales[:, 2] > NEEDLE_RATIO * scales[:, 1])).sum()),
        "tau": round(tau, 6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ply", type=Path)
    parser.add_argument("sfm", type=Path)
    args = parser.parse_args()
    print(json.dumps(counts(args.ply, args.sfm)))


if __name__ == "__main__":
    main()
