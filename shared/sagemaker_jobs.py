"""The SageMaker job contract: the requests we send and the container layout they produce.

One module says what SageMaker is asked to run and where the container finds things, so the cloud
launcher (shared/adapters/sagemaker.py), the local launcher (shared/adapters/local/container.py)
and the stage programs (shared/container.py) cannot disagree.

Training (train): `docker run IMAGE train`; the image's ENTRYPOINT receives the argument `train`.
    /opt/ml/input/config/hyperparameters.json   HyperParameters (every value a string)
    /opt/ml/input/config/inputdataconfig.json   one entry per channel
    /opt/ml/input/config/resourceconfig.json    current_host, hosts, current_instance_type
    /opt/ml/input/data/<channel>/               channel `sfm`: the SfM output
    /opt/ml/model/                              archived by SageMaker (unused by us)
    /opt/ml/checkpoints/                        synced with CheckpointConfig.S3Uri
    /opt/ml/output/failure                      read back as FailureReason (1 KiB)
    environment: TRAINING_JOB_NAME, TRAINING_JOB_ARN, plus the request's Environment.
Processing (sfm, compress): the image's ENTRYPOINT (or AppSpecification.ContainerEntrypoint) with
AppSpecification.ContainerArguments.
    /opt/ml/config/processingjobconfig.json     the request
    /opt/ml/config/resourceconfig.json          current_host, hosts
    /opt/ml/processing/input/data/              ProcessingInput `data`
    /opt/ml/processing/input/config/config.json ProcessingInput `config` (written by the service)
    /opt/ml/processing/output/                  uploaded to ProcessingOutput `result` at the end
    /opt/ml/output/message                      read back as ExitMessage (1 KiB)
    environment: the request's Environment.
Stopping (StopTrainingJob / StopProcessingJob, MaxRuntimeInSeconds, MaxWaitTimeInSeconds, a spot
reclaim): SIGTERM to the container, SIGKILL `STOP_GRACE_S` later.

Sources: SageMaker developer guide, "How Amazon SageMaker Provides Training Information",
"How Amazon SageMaker Processing Configures Your Processing Container", "Save and Access Metadata
Information About Your Processing Job"; API reference CreateTrainingJob, CreateProcessingJob,
StoppingCondition.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.events import PROCESSING_STATE_CHANGE, TRAINING_STATE_CHANGE
from shared.ports import JobDescription, StageRun

ML_ROOT = "/opt/ml"
STOP_GRACE_S = 120.0
TRAINING_ARGUMENT = "train"
TRAINING_CHANNEL = "sfm"

# Paths under the ML root (relative, so a local run can root them elsewhere).
HYPERPARAMETERS = "input/config/hyperparameters.json"
INPUT_DATA_CONFIG = "input/config/inputdataconfig.json"
TRAINING_RESOURCE_CONFIG = "input/config/resourceconfig.json"
TRAINING_DATA = "input/data"
TRAINING_MODEL = "model"
TRAINING_CHECKPOINTS = "checkpoints"
TRAINING_FAILURE = "output/failure"
PROCESSING_JOB_CONFIG = "config/processingjobconfig.json"
PROCESSING_RESOURCE_CONFIG = "config/resourceconfig.json"
PROCESSING_INPUT = "processing/input/data"
PROCESSING_CONFIG_DIR = "processing/input/config"
PROCESSING_OUTPUT = "processing/output"
PROCESSING_MESSAGE = "output/message"
MESSAGE_LIMIT = 1024  # bytes of FailureReason / ExitMessage that SageMaker keeps

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})


def _absolute(relative: str) -> str:
    return f"{ML_ROOT}/{relative}"


def _tags(run: StageRun) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted({"spaceport:job": run.job_id, **run.tags}.items())]


def processing_request(run: StageRun, image_uri: str, role_arn: str) -> dict[str, Any]:
    """CreateProcessingJob request of a processing stage (sfm, compress)."""
    return {
        "ProcessingJobName": run.run_name,
        "RoleArn": role_arn,
        # No ContainerEntrypoint/ContainerArguments: the image's ENTRYPOINT runs without arguments.
        "AppSpecification": {"ImageUri": image_uri},
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": run.instance_type, "VolumeSizeInGB": 50}
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": run.max_runtime_s},
        "ProcessingInputs": [
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": run.input_uri,
                    "LocalPath": _absolute(PROCESSING_INPUT),
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
            {
                # Written by the stage service before launch (Environment values cap at 256 chars).
                "InputName": "config",
                "S3Input": {
                    "S3Uri": run.config_uri,
                    "LocalPath": _absolute(PROCESSING_CONFIG_DIR),
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "result",
                    "S3Output": {
                        "S3Uri": run.output_uri,
                        "LocalPath": _absolute(PROCESSING_OUTPUT),
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "Tags": _tags(run),
    }


def training_request(run: StageRun, image_uri: str, role_arn: str) -> dict[str, Any]:
    """CreateTrainingJob request of the training stage.

    Managed spot training waits at most twice the runtime limit for capacity
    (MaxWaitTimeInSeconds); the products are uploaded by the program itself, file by file, to the
    hyperparameter `output_uri` (no tarball for the next stage to unpack).
    """
    request: dict[str, Any] = {
        "TrainingJobName": run.run_name,
        "RoleArn": role_arn,
        "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File"},
        "HyperParameters": {
            "config": json.dumps(run.config, separators=(",", ":")),
            "output_uri": run.output_uri,
        },
        "InputDataConfig": [
            {
                "ChannelName": TRAINING_CHANNEL,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": run.input_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        # Products are uploaded file by file to output_uri; this only holds SageMaker's tarball.
        "OutputDataConfig": {"S3OutputPath": run.output_uri + "sagemaker/"},
        "ResourceConfig": {"InstanceType": run.instance_type, "InstanceCount": 1, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": run.max_runtime_s},
        "Tags": _tags(run),
    }
    if run.spot:
        request["EnableManagedSpotTraining"] = True
        request["StoppingCondition"]["MaxWaitTimeInSeconds"] = run.max_runtime_s * 2
    if run.checkpoint_uri:
        request["CheckpointConfig"] = {"S3Uri": run.checkpoint_uri, "LocalPath": _absolute(TRAINING_CHECKPOINTS)}
    return request


def is_training(stage: str) -> bool:
    return stage == "train"


def request_for(run: StageRun, image_uri: str, role_arn: str) -> dict[str, Any]:
    build = training_request if is_training(run.stage) else processing_request
    return build(run, image_uri, role_arn)


def quota_name(run: StageRun) -> str:
    """The Service Quotas name that limits this job, e.g. `ml.g4dn.xlarge for spot training job usage`."""
    kind = "training job" if is_training(run.stage) else "processing job"
    return f"{run.instance_type} for {'spot ' if run.spot else ''}{kind} usage"


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)  # epoch milliseconds, as the state-change events carry
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def describe_to_detail(stage: str, described: dict[str, Any]) -> JobDescription:
    """A Describe{Training,Processing}Job answer as the detail of the state-change event SageMaker
    would have sent (the event's detail carries the same fields as the description)."""
    body = {k: _json_safe(v) for k, v in described.items() if k != "ResponseMetadata"}
    return JobDescription(TRAINING_STATE_CHANGE if is_training(stage) else PROCESSING_STATE_CHANGE, body)


def status_of(description: JobDescription) -> str:
    detail = description.detail
    return str(detail.get("TrainingJobStatus") or detail.get("ProcessingJobStatus") or "")
