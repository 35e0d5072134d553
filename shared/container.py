"""Maps SageMaker (or local) paths onto a stage program's `run(cfg, in_dir, out_dir)`.

Every stage entrypoint is `sys.exit(stage_main(StageName.X, run, Config, argv))`.

Paths, by where the program runs:
- local (`--input/--output` given): exactly those folders; `--config` is a JSON file;
  `--checkpoints` a folder (defaults to `<output>/checkpoints`).
- SageMaker Processing (sfm, compress): input `/opt/ml/processing/input/data`, config
  `/opt/ml/processing/input/config/config.json`, output `/opt/ml/processing/output`,
  failure message `/opt/ml/output/message` (reported as `ExitMessage`).
- SageMaker Training (train): input channel `/opt/ml/input/data/sfm`, config from the
  hyperparameter `config` (a JSON string), output written to a scratch folder then uploaded
  file by file to the hyperparameter `output_uri` (no tarball for the next stage to unpack),
  checkpoints `/opt/ml/checkpoints` (synced to S3 by SageMaker), failure message
  `/opt/ml/output/failure` (reported as `FailureReason`).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.stage import StageName, execute_stage

ML = Path("/opt/ml")
PROCESSING_INPUT = ML / "processing/input/data"
PROCESSING_CONFIG = ML / "processing/input/config/config.json"
PROCESSING_OUTPUT = ML / "processing/output"
PROCESSING_MESSAGE = ML / "output/message"
TRAINING_CHANNEL = ML / "input/data/sfm"
TRAINING_HYPERPARAMETERS = ML / "input/config/hyperparameters.json"
TRAINING_SCRATCH_OUTPUT = Path("/tmp/spaceport-train-output")
TRAINING_CHECKPOINTS = ML / "checkpoints"
TRAINING_FAILURE = ML / "output/failure"

CfgT = TypeVar("CfgT", bound=BaseModel)


@dataclass(frozen=True)
class StagePaths:
    in_dir: Path
    out_dir: Path
    checkpoint_dir: Path
    failure_message_path: Path | None
    config: dict[str, Any]
    upload_uri: str | None  # where to copy out_dir after the run (training on SageMaker)


def parse_args(stage: StageName, argv: Sequence[str] | None) -> StagePaths:
    parser = argparse.ArgumentParser(
        prog=f"spaceport-{stage}",
        description=f"Run the Spaceport {stage} stage. Without --input/--output, uses SageMaker paths.",
    )
    parser.add_argument("--input", type=Path, help="input folder")
    parser.add_argument("--output", type=Path, help="output folder (metrics.json lands here)")
    parser.add_argument("--config", type=Path, help="JSON file with the stage config")
    parser.add_argument("--checkpoints", type=Path, help="checkpoint folder (train only)")
    args = parser.parse_args(argv)
    if (args.input is None) != (args.output is None):
        parser.error("--input and --output go together")
    if args.input is not None:
        config = json.loads(args.config.read_text()) if args.config else {}
        return StagePaths(
            in_dir=args.input,
            out_dir=args.output,
            checkpoint_dir=args.checkpoints or args.output / "checkpoints",
            failure_message_path=None,
            config=config,
            upload_uri=None,
        )
    if stage is StageName.TRAIN:
        hyper = json.loads(TRAINING_HYPERPARAMETERS.read_text()) if TRAINING_HYPERPARAMETERS.exists() else {}
        return StagePaths(
            in_dir=TRAINING_CHANNEL,
            out_dir=TRAINING_SCRATCH_OUTPUT,
            checkpoint_dir=TRAINING_CHECKPOINTS,
            failure_message_path=TRAINING_FAILURE,
            config=json.loads(hyper.get("config", "{}")),
            upload_uri=hyper.get("output_uri"),
        )
    config = json.loads(PROCESSING_CONFIG.read_text()) if PROCESSING_CONFIG.exists() else {}
    return StagePaths(
        in_dir=PROCESSING_INPUT,
        out_dir=PROCESSING_OUTPUT,
        checkpoint_dir=PROCESSING_OUTPUT / "checkpoints",
        failure_message_path=PROCESSING_MESSAGE,
        config=config,
        upload_uri=None,
    )


def upload_folder(folder: Path, uri: str) -> None:
    """Copy every file under `folder` to the S3 prefix `uri` (training outputs, no tarball)."""
    import boto3  # the training container has boto3; Lambdas never reach this function

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = f"{prefix.rstrip('/')}/{path.relative_to(folder).as_posix()}"
        s3.upload_file(str(path), bucket, key)


def stage_main(
    stage: StageName,
    program: Callable[[CfgT, Path, Path], BaseModel],
    config_type: Callable[..., CfgT],
    argv: Sequence[str] | None = None,
    with_checkpoints: bool = False,
) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    paths = parse_args(stage, argv)
    overrides = dict(paths.config)
    if with_checkpoints:
        overrides.setdefault("checkpoint_dir", str(paths.checkpoint_dir))
    cfg = config_type(**overrides)
    code = execute_stage(stage, program, cfg, paths.in_dir, paths.out_dir, paths.failure_message_path)
    if paths.upload_uri:
        upload_folder(paths.out_dir, paths.upload_uri)
    return code
