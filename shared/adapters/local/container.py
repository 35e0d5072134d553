"""One SageMaker job on this machine, container side: what SageMaker would hand the container,
and what SageMaker would report when it ends.

`prepare()` reads the job's CreateTrainingJob / CreateProcessingJob request (built by the same
code as in the cloud, shared/sagemaker_jobs.py) and builds what the container would see, rooted in
the run's folder instead of `/opt/ml`:

- the command line: the stage image's ENTRYPOINT (read from its Dockerfile, `python` being this
  interpreter) followed by `train` for a training job, or the request's ContainerEntrypoint /
  ContainerArguments for a processing job;
- the layout: config files written from the request, S3 inputs and outputs as links to the local
  object store's folders (SageMaker copies; the bytes are the same), checkpoints linked the way
  SageMaker syncs them;
- the environment: TRAINING_JOB_NAME / TRAINING_JOB_ARN for training, the request's Environment,
  and the seam of shared/container.py (`SPACEPORT_ML_ROOT`, `SPACEPORT_S3_ROOT`).

`outcome()` derives the job's end state the way SageMaker does: exit code 0 is Completed, anything
else Failed; FailureReason is `AlgorithmError: ` + the first 1 KiB of `output/failure` (training),
ExitMessage the first 1 KiB of `output/message` (processing, in every terminal state).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from shared import sagemaker_jobs as sm
from shared.adapters.local.store import FileObjectStore
from shared.container import ML_ROOT_ENV, S3_ROOT_ENV
from shared.stage import METRICS_FILE, FailureReport

REPO_ROOT = Path(__file__).resolve().parents[3]
LOCAL_ARN = "arn:aws:sagemaker:local:000000000000"
PROCESSING_FAILURE_REASON = "AlgorithmError: See job logs for more information"
_ENTRYPOINT = re.compile(r"^\s*ENTRYPOINT\s+(\[.*\])\s*$", re.MULTILINE)


def dockerfile_entrypoint(stage: str, repo_root: Path = REPO_ROOT) -> list[str]:
    """The exec-form ENTRYPOINT of `services/<stage>/container/Dockerfile`, with `python` as this
    interpreter (the image's WORKDIR is the repository root here)."""
    dockerfile = repo_root / "services" / stage / "container" / "Dockerfile"
    found = _ENTRYPOINT.findall(dockerfile.read_text())
    if not found:
        raise ValueError(f"{dockerfile} has no exec-form ENTRYPOINT")
    argv = [str(part) for part in json.loads(found[-1])]
    if argv and argv[0] in {"python", "python3"}:
        argv[0] = sys.executable
    return argv


Kind = Literal["training", "processing"]


@dataclass(frozen=True)
class Container:
    """What one start of the job's container gets."""

    kind: Kind
    argv: list[str]
    env: dict[str, str]
    ml_root: Path
    products: Path  # where a success leaves metrics.json (the stage's output folder in the store)


@dataclass(frozen=True)
class Outcome:
    status: Literal["Completed", "Failed"]
    failure_reason: str | None = None
    exit_message: str | None = None
    terminated: bool = False  # the program reported SIGTERM: it was stopped, not finished


def _write_json(path: Path, body: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=2))


def _link(ml_root: Path, local_path: str, target: Path) -> None:
    """Make `local_path` (an absolute /opt/ml path of the request) a link to `target`."""
    relative = Path(local_path).relative_to(sm.ML_ROOT)
    link = ml_root / relative
    link.parent.mkdir(parents=True, exist_ok=True)
    target.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=True)


def prepare(
    stage: str,
    request: dict[str, Any],
    run_dir: Path,
    store: FileObjectStore,
    entrypoint: list[str],
    base_env: dict[str, str],
) -> Container:
    """A fresh `<run_dir>/opt/ml` for one container start, built from the job's request."""
    ml_root = run_dir / "opt" / "ml"
    if ml_root.exists():
        shutil.rmtree(ml_root)  # links are removed, never followed
    (ml_root / "output").mkdir(parents=True)
    env = dict(base_env)
    env[ML_ROOT_ENV] = str(ml_root)
    env[S3_ROOT_ENV] = str(store.root)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.update({str(k): str(v) for k, v in (request.get("Environment") or {}).items()})
    if sm.is_training(stage):
        name = request["TrainingJobName"]
        _write_json(ml_root / sm.HYPERPARAMETERS, request.get("HyperParameters", {}))
        _write_json(
            ml_root / sm.INPUT_DATA_CONFIG,
            {
                channel["ChannelName"]: {
                    "TrainingInputMode": request["AlgorithmSpecification"].get("TrainingInputMode", "File"),
                    "S3DistributionType": channel["DataSource"]["S3DataSource"]["S3DataDistributionType"],
                    "RecordWrapperType": "None",
                }
                for channel in request["InputDataConfig"]
            },
        )
        _write_json(
            ml_root / sm.TRAINING_RESOURCE_CONFIG,
            {
                "current_host": "algo-1",
                "current_instance_type": request["ResourceConfig"]["InstanceType"],
                "current_group_name": "homogeneousCluster",
                "hosts": ["algo-1"],
                "network_interface_name": "eth0",
            },
        )
        for channel in request["InputDataConfig"]:
            source = store.path_of(channel["DataSource"]["S3DataSource"]["S3Uri"])
            _link(ml_root, f"{sm.ML_ROOT}/{sm.TRAINING_DATA}/{channel['ChannelName']}", source)
        checkpoints = request.get("CheckpointConfig")
        if checkpoints:
            _link(ml_root, checkpoints.get("LocalPath", f"{sm.ML_ROOT}/{sm.TRAINING_CHECKPOINTS}"),
                  store.path_of(checkpoints["S3Uri"]))
        (ml_root / sm.TRAINING_MODEL).mkdir()
        env["TRAINING_JOB_NAME"] = name
        env["TRAINING_JOB_ARN"] = f"{LOCAL_ARN}:training-job/{name}"
        products = store.path_of(request["HyperParameters"]["output_uri"])
        return Container("training", [*entrypoint, sm.TRAINING_ARGUMENT], env, ml_root, products)
    _write_json(ml_root / sm.PROCESSING_JOB_CONFIG, request)
    _write_json(ml_root / sm.PROCESSING_RESOURCE_CONFIG, {"current_host": "algo-1", "hosts": ["algo-1"]})
    for item in request.get("ProcessingInputs", []):
        _link(ml_root, item["S3Input"]["LocalPath"], store.path_of(item["S3Input"]["S3Uri"]))
    outputs = request["ProcessingOutputConfig"]["Outputs"]
    for item in outputs:
        _link(ml_root, item["S3Output"]["LocalPath"], store.path_of(item["S3Output"]["S3Uri"]))
    app = request["AppSpecification"]
    argv = [*(app.get("ContainerEntrypoint") or entrypoint), *(app.get("ContainerArguments") or [])]
    products = store.path_of(outputs[0]["S3Output"]["S3Uri"])
    return Container("processing", argv, env, ml_root, products)


def _first_kib(path: Path) -> str | None:
    try:
        data = path.read_bytes()[: sm.MESSAGE_LIMIT]
    except OSError:
        return None
    return data.decode("utf-8", errors="replace")


def outcome(container: Container, exit_code: int | None, log_tail: str = "") -> Outcome | None:
    """SageMaker's verdict on a container that ended with `exit_code` (None: ended while nobody
    watched, so only its files tell); None when it left no result at all."""
    if container.kind == "training":
        failure = _first_kib(container.ml_root / sm.TRAINING_FAILURE)
        message = None
    else:
        message = _first_kib(container.ml_root / sm.PROCESSING_MESSAGE)
        failure = message
    report = FailureReport.from_message(failure)
    terminated = report is not None and report.terminated
    if exit_code == 0 or (exit_code is None and failure is None and (container.products / METRICS_FILE).exists()):
        return Outcome("Completed", exit_message=message)
    if exit_code is None and failure is None:
        return None
    if failure is not None:
        reason = f"AlgorithmError: {failure}" if container.kind == "training" else PROCESSING_FAILURE_REASON
    else:
        # No message of the program's: SageMaker says little more; the log (CloudWatch in the
        # cloud) holds the rest, so its end is quoted here.
        head = f"{PROCESSING_FAILURE_REASON}; " if container.kind == "processing" else "AlgorithmError: "
        reason = f"{head}exit code: {exit_code}" + (f"; log ends: {log_tail}" if log_tail else "")
    return Outcome("Failed", failure_reason=reason[: sm.MESSAGE_LIMIT], exit_message=message, terminated=terminated)
