"""Test-only stand-in for a stage image's program: the same container contract as
`python -m services.<stage>.container.entrypoint` (shared/container.py), but instant.

    python tests/support/fake_stage.py <stage> train       # as SageMaker starts a training image
    python tests/support/fake_stage.py <stage>             # as SageMaker starts a processing image
    python tests/support/fake_stage.py <stage> --input IN --output OUT [--config CFG]

The first argument stands for the image (the launcher's ENTRYPOINT substitute); the rest is what
SageMaker passes; the layout comes from `$SPACEPORT_ML_ROOT` like the real programs'.

Behaviour per stage comes from $FAKE_STAGE (comma separated), e.g.
    "train=slow"            train takes ~STEPS * $FAKE_STEP_S s (default 0.05), checkpointing every
                            step (resumable); on SIGTERM it stops at the next step, as the real one
    "sfm=slow"              sfm (or compress) writes progress.json, then takes SLOW_S seconds
    "sfm=fail"              sfm raises StageFailure(low_registration)
    "compress=crash"        compress dies without a result (exit 1, no failure.json)
    "sfm=real"              the real SfM stage program (e.g. to import a COLMAP model)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pydantic import BaseModel, ConfigDict

from shared.causes import CauseCode
from shared.container import stage_main
from shared.stage import ProgressReporter, StageFailure, StageName
from shared.termination import StageTerminated, stop_requested

STEPS = 40
SLOW_S = 4.0


class Config(BaseModel):
    model_config = ConfigDict(extra="allow")

    checkpoint_dir: str | None = None


class Metrics(BaseModel):
    model_config = ConfigDict(extra="allow")


def behaviour(stage: str) -> str:
    for item in os.environ.get("FAKE_STAGE", "").split(","):
        name, _, what = item.partition("=")
        if name.strip() == stage:
            return what.strip()
    return ""


def run_sfm(cfg: Config, in_dir: Path, out_dir: Path) -> Metrics:
    photos = sorted(p.name for p in in_dir.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "sparse/0").mkdir(parents=True, exist_ok=True)
    (out_dir / "sparse/0/cameras.txt").write_text("# fake\n")
    return Metrics(
        images_in=len(photos),
        images_registered=len(photos),
        points3d=1234,
        mean_reprojection_error_px=0.5,
        matcher="exhaustive",
    )


def run_train(cfg: Config, in_dir: Path, out_dir: Path) -> Metrics:
    model = in_dir / "sparse/0"
    assert (model / "cameras.txt").exists() or (model / "cameras.bin").exists(), "train input is not an sfm output"
    ckpt = Path(cfg.checkpoint_dir or out_dir / "checkpoints")
    ckpt.mkdir(parents=True, exist_ok=True)
    state = ckpt / "step.json"
    start = json.loads(state.read_text())["step"] if state.exists() else 0
    progress = ProgressReporter(out_dir, phase="train", min_interval_s=0.0)
    slow = behaviour("train") == "slow"
    for step in range(start + 1, STEPS + 1):
        if stop_requested():
            raise StageTerminated(f"at step {step - 1} of {STEPS}; checkpoint saved")
        if slow:
            time.sleep(float(os.environ.get("FAKE_STEP_S", "0.05")))
        state.write_text(json.dumps({"step": step}))
        progress.update(step, STEPS, psnr=20.0 + step / 10)
    (out_dir / "model.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\nend_header\n")
    # n_gaussians as the train program writes it and services/train/logic.py reads it.
    return Metrics(n_gaussians=5000, psnr=24.0, resumed_from=start)


def run_compress(cfg: Config, in_dir: Path, out_dir: Path) -> Metrics:
    ply = in_dir / "model.ply"
    (out_dir / "model.sog").write_bytes(b"PK\x05\x06" + bytes(18))
    return Metrics(sog_bytes=22, ply_bytes=ply.stat().st_size)


PROGRAMS = {"sfm": run_sfm, "train": run_train, "compress": run_compress}


def main() -> int:
    stage = sys.argv[1]
    program = PROGRAMS[stage]
    if stage == "sfm" and behaviour(stage) == "real":
        from services.sfm.container import entrypoint

        return entrypoint.main(sys.argv[2:])

    def run(cfg: Config, in_dir: Path, out_dir: Path) -> Metrics:
        what = behaviour(stage)
        if what == "fail":
            raise StageFailure(CauseCode.LOW_REGISTRATION, f"fake {stage}: only 2 of 24 images registered")
        if what == "crash":
            os._exit(1)
        if what == "slow" and stage != "train":
            ProgressReporter(out_dir, phase=stage).update(0, 1, force=True)
            time.sleep(SLOW_S)
        return program(cfg, in_dir, out_dir)

    return stage_main(StageName(stage), run, Config, sys.argv[2:], with_checkpoints=stage == "train")


if __name__ == "__main__":
    sys.exit(main())
