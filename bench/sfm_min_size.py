"""The smallest photos the SfM stage still solves: the measurement behind MIN_PHOTO_SIDE.

    nice .venv/bin/python bench/sfm_min_size.py --sizes 320x240 240x180 200x150 160x120 120x90

Renders the synthetic orbit (16 photos, full circle) and drone (12 photos) scenes at each size,
runs the SfM stage program on them (with the size limit switched off) and prints, per size and
scene: registered photos, 3D points, median rotation error against the truth, and the outcome.
A size "solves" when every photo is placed with a median rotation error under 1 degree.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.sfm.container.config import PRESETS  # noqa: E402
from services.sfm.container.evaluation import pose_errors, poses_from_model  # noqa: E402
from services.sfm.container.program import run  # noqa: E402
from shared.options import Preset  # noqa: E402
from shared.stage import FAILURE_FILE, METRICS_FILE, StageName, execute_stage  # noqa: E402
from spaceport.synthetic import TRUTH_FILE, load_truth, render_scene  # noqa: E402

SCENES = {"orbit": 16, "drone": 12}


def measure(kind: str, width: int, height: int, work: Path, seed: int) -> dict:
    photos = work / f"{kind}-{width}x{height}-{seed}"
    render_scene(kind, photos, n_images=SCENES[kind], width=width, height=height, seed=seed)
    out = work / f"out-{kind}-{width}x{height}-{seed}"
    cfg = PRESETS[Preset.PREVIEW].model_copy(update={"num_threads": 2, "min_image_side": 0})
    code = execute_stage(StageName.SFM, run, cfg, photos, out)
    if code != 0:
        failure = json.loads((out / FAILURE_FILE).read_text())
        return {"registered": 0, "points": 0, "rot_deg": None, "outcome": failure["cause"]}
    metrics = json.loads((out / METRICS_FILE).read_text())
    errors = pose_errors(poses_from_model(out / "sparse" / "0"), load_truth(photos / TRUTH_FILE).poses())
    solved = metrics["images_registered"] == SCENES[kind] and errors.rotation_median_deg < 1.0
    return {
        "registered": metrics["images_registered"],
        "points": metrics["points3d"],
        "rot_deg": round(errors.rotation_median_deg, 3),
        "outcome": "solved" if solved else "partial",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["320x240", "240x180", "200x150", "160x120", "120x90"])
    parser.add_argument("--scenes", nargs="+", default=list(SCENES), choices=list(SCENES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1])
    args = parser.parse_args()
    print(f"{'size':>9} {'scene':>6} {'seed':>4} {'placed':>7} {'points':>7} {'rot med':>8}  outcome")
    with tempfile.TemporaryDirectory(prefix="sfm-min-size-") as tmp:
        for size in args.sizes:
            width, height = (int(v) for v in size.split("x"))
            for kind in args.scenes:
                for seed in args.seeds:
                    r = measure(kind, width, height, Path(tmp), seed)
                    rot = "-" if r["rot_deg"] is None else f"{r['rot_deg']:.3f}"
                    print(
                        f"{size:>9} {kind:>6} {seed:>4} {r['registered']:>3}/{SCENES[kind]:<3} {r['points']:>7} "
                        f"{rot:>8}  {r['outcome']}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
