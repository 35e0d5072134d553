"""Maps what a stage container receives onto the stage program's `run(cfg, in_dir, out_dir)`.

Every stage entrypoint is `sys.exit(stage_main(StageName.X, run, Config, argv))`; `argv` is the
container's command line (shared/sagemaker_jobs.py describes the layouts):

- `train`: SageMaker Training (`docker run IMAGE train`). Input: channel `sfm`; config: the
  hyperparameter `config` (JSON text); products: a scratch folder under the ML root, uploaded
  file by file to the hyperparameter `output_uri`; checkpoints: `checkpoints/` (synced to S3 by
  SageMaker); failure message: `output/failure` (FailureReason).
- no argument: SageMaker Processing (sfm, compress: the image's ENTRYPOINT, no arguments).
  Input `processing/input/data`, config `processing/input/config/config.json`, products
  `processing/output` (uploaded by SageMaker), failure message `output/message` (ExitMessage).
- `--input IN --output OUT [--config CFG] [--checkpoints DIR]`: a developer's run on plain
  folders (benchmarks, stage tests); the failure is only in `OUT/failure.json`.

The seam (environment, unset on SageMaker; the local launcher sets both):
- `SPACEPORT_ML_ROOT` roots the layout somewhere other than `/opt/ml` (a local run's folder), so
  every local run exercises the container contract itself;
- `SPACEPORT_S3_ROOT` makes the training program's own upload a copy into the local object store
  (`s3://<bucket>/<key>` is `<root>/<bucket>/<key>`, as in shared/adapters/local/store.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from shared import sagemaker_jobs as sm
from shared.causes import CauseCode, advice_for
from shared.stage import (
    EXIT_INPUT,
    EXIT_INTERNAL,
    METRICS_FILE,
    FailureReport,
    StageName,
    execute_stage,
    record_failure,
)

logger = logging.getLogger(__name__)

ML_ROOT_ENV = "SPACEPORT_ML_ROOT"
S3_ROOT_ENV = "SPACEPORT_S3_ROOT"
TRAINING_SCRATCH = "spaceport-train-output"  # under the ML root; neither archived nor uploaded by SageMaker

CfgT = TypeVar("CfgT", bound=BaseModel)


def ml_root() -> Path:
    """`/opt/ml`, or `$SPACEPORT_ML_ROOT` (a local run)."""
    return Path(os.environ.get(ML_ROOT_ENV, "").strip() or sm.ML_ROOT)


class UsageError(Exception):
    """The container was started with a command line or layout it cannot run."""


@dataclass(frozen=True)
class StagePaths:
    in_dir: Path
    out_dir: Path
    checkpoint_dir: Path
    failure_message_path: Path | None
    config: dict[str, Any]
    upload_uri: str | None  # where to copy out_dir after the run (training on SageMaker)


def _parser(stage: StageName) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"spaceport-{stage}",
        description=(
            f"Run the Spaceport {stage} stage. As a SageMaker "
            + ("Training job: `train`." if stage is StageName.TRAIN else "Processing job: no arguments.")
            + " On plain folders: --input and --output."
        ),
    )
    parser.add_argument(
        "mode", nargs="?", choices=(sm.TRAINING_ARGUMENT,), help="`train`: SageMaker Training (docker run IMAGE train)"
    )
    parser.add_argument("--input", type=Path, help="input folder")
    parser.add_argument("--output", type=Path, help="output folder (metrics.json lands here)")
    parser.add_argument("--config", type=Path, help="JSON file with the stage config")
    parser.add_argument("--checkpoints", type=Path, help="checkpoint folder (train only)")
    return parser


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{what} {path} is missing") from None
    except ValueError as exc:
        raise UsageError(f"{what} {path} is not JSON: {exc}") from None


def parse_args(stage: StageName, argv: Sequence[str] | None) -> StagePaths:
    """The folders and config of this run; `UsageError` when the layout is not there."""
    parser = _parser(stage)
    args = parser.parse_args(argv)
    if args.input is not None or args.output is not None:
        if args.input is None or args.output is None or args.mode is not None:
            parser.error("--input and --output go together, without `train`")
        return StagePaths(
            in_dir=args.input,
            out_dir=args.output,
            checkpoint_dir=args.checkpoints or args.output / "checkpoints",
            failure_message_path=None,
            config=_read_json(args.config, "config") if args.config else {},
            upload_uri=None,
        )
    root = ml_root()
    if stage is StageName.TRAIN:
        if args.mode != sm.TRAINING_ARGUMENT:
            raise UsageError("the training image runs as a SageMaker Training job: `IMAGE train`")
        hyper = _read_json(root / sm.HYPERPARAMETERS, "hyperparameters")
        try:
            config = json.loads(hyper.get("config", "{}"))
        except ValueError as exc:
            raise UsageError(f"hyperparameter config is not JSON: {exc}") from None
        return StagePaths(
            in_dir=root / sm.TRAINING_DATA / sm.TRAINING_CHANNEL,
            out_dir=root / TRAINING_SCRATCH,
            checkpoint_dir=root / sm.TRAINING_CHECKPOINTS,
            failure_message_path=root / sm.TRAINING_FAILURE,
            config=config,
            upload_uri=hyper.get("output_uri") or None,
        )
    if args.mode is not None:
        raise UsageError(f"the {stage} image runs as a SageMaker Processing job, without `train`")
    config_path = root / sm.PROCESSING_CONFIG_DIR / "config.json"
    return StagePaths(
        in_dir=root / sm.PROCESSING_INPUT,
        out_dir=root / sm.PROCESSING_OUTPUT,
        checkpoint_dir=root / sm.PROCESSING_OUTPUT / "checkpoints",
        failure_message_path=root / sm.PROCESSING_MESSAGE,
        config=_read_json(config_path, "config") if config_path.exists() else {},
        upload_uri=None,
    )


def upload_folder(folder: Path, uri: str) -> int:
    """Copy every file under `folder` to the S3 prefix `uri` (training products, no tarball).
    With `$SPACEPORT_S3_ROOT` set, the copy goes to that local object store. Returns files copied."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    # metrics.json last: whoever finds it may take the upload as complete.
    files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: (p.name == METRICS_FILE, str(p)))
    local_root = os.environ.get(S3_ROOT_ENV, "").strip()
    if local_root:
        target = Path(local_root, bucket, *[part for part in prefix.split("/") if part])
        for path in files:
            destination = target / path.relative_to(folder)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        return len(files)
    import boto3  # the training image has boto3; Lambdas never reach this function

    s3 = boto3.client("s3")
    for path in files:
        s3.upload_file(str(path), bucket, f"{prefix.rstrip('/')}/{path.relative_to(folder).as_posix()}")
    return len(files)


def _fail_outside_program(stage: StageName, message: str, paths: StagePaths | None, code: int) -> int:
    """A failure before or after the program ran (usage, upload): reported like the program's own."""
    report = FailureReport(
        cause=CauseCode.INTERNAL_ERROR, message=f"{stage}: {message}", advice=advice_for(CauseCode.INTERNAL_ERROR)
    )
    logger.error("stage could not run: %s", message)
    if paths is not None:
        record_failure(stage, report, paths.out_dir, paths.failure_message_path)
    else:
        root = ml_root()
        failure = root / (sm.TRAINING_FAILURE if stage is StageName.TRAIN else sm.PROCESSING_MESSAGE)
        if root.is_dir():
            failure.parent.mkdir(parents=True, exist_ok=True)
            failure.write_text(report.to_message())
    return code


def stage_main(
    stage: StageName,
    program: Callable[[CfgT, Path, Path], BaseModel],
    config_type: Callable[..., CfgT],
    argv: Sequence[str] | None = None,
    with_checkpoints: bool = False,
) -> int:
    """Run the stage from its container command line; returns the exit code.

    `with_checkpoints`: the program resumes from `checkpoint_dir` and stops cooperatively on
    SIGTERM (shared/termination.py), saving a checkpoint first."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        paths = parse_args(stage, sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        return _fail_outside_program(stage, str(exc), None, EXIT_INPUT)
    overrides = dict(paths.config)
    if with_checkpoints:
        overrides.setdefault("checkpoint_dir", str(paths.checkpoint_dir))
    try:
        cfg = config_type(**overrides)
    except ValueError as exc:
        return _fail_outside_program(stage, f"invalid config: {exc}", paths, EXIT_INPUT)
    code = execute_stage(
        stage, program, cfg, paths.in_dir, paths.out_dir, paths.failure_message_path, cooperative_stop=with_checkpoints
    )
    if paths.upload_uri:
        try:
            count = upload_folder(paths.out_dir, paths.upload_uri)
        except Exception as exc:  # noqa: BLE001 - the job must fail with the reason, not a traceback
            return _fail_outside_program(
                stage, f"could not upload outputs: {type(exc).__name__}: {exc}", paths, EXIT_INTERNAL
            )
        logger.info("uploaded products", extra={"files": count, "uri": paths.upload_uri})
    return code
