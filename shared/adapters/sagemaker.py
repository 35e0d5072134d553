"""The StageLauncher port on SageMaker: Processing jobs for sfm and compress, a Training job for
train, under deterministic names (shared/layout.py); the requests come from shared/sagemaker_jobs.py."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from shared.adapters.aws import error_code, translate
from shared.errors import QuotaExceeded
from shared.ports import JobDescription, StageRun
from shared.sagemaker_jobs import describe_to_detail, is_training, processing_request, quota_name, training_request


class SageMakerLauncher:
    """Processing jobs for sfm and compress, a Training job for train; names are deterministic."""

    def __init__(self, sagemaker: Any, image_uri: str, role_arn: str) -> None:
        self._sm = sagemaker
        self._image = image_uri
        self._role = role_arn

    def launch(self, run: StageRun) -> bool:
        try:
            if is_training(run.stage):
                self._sm.create_training_job(**self.training_request(run))
            else:
                self._sm.create_processing_job(**self.processing_request(run))
        except ClientError as exc:
            code = error_code(exc)
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if code == "ResourceInUse" or (code == "ValidationException" and "already exists" in message):
                return False
            if code == "ResourceLimitExceeded":  # a service quota: retrying cannot help
                raise QuotaExceeded(quota_name(run), run.instance_type, message or code) from exc
            raise translate(exc, f"create {run.run_name}") from exc
        return True

    def stop(self, stage: str, run_name: str) -> None:
        try:
            if is_training(stage):
                self._sm.stop_training_job(TrainingJobName=run_name)
            else:
                self._sm.stop_processing_job(ProcessingJobName=run_name)
        except ClientError as exc:
            if error_code(exc) in {"ValidationException", "ResourceNotFound"}:
                return  # already finished or never started: nothing to stop
            raise translate(exc, f"stop {run_name}") from exc

    def describe(self, stage: str, run_name: str) -> JobDescription | None:
        try:
            if is_training(stage):
                described = self._sm.describe_training_job(TrainingJobName=run_name)
            else:
                described = self._sm.describe_processing_job(ProcessingJobName=run_name)
        except ClientError as exc:
            if error_code(exc) in {"ResourceNotFound", "ValidationException"}:
                return None  # SageMaker answers "Requested resource not found" as either
            raise translate(exc, f"describe {run_name}") from exc
        return describe_to_detail(stage, described)

    def processing_request(self, run: StageRun) -> dict[str, Any]:
        return processing_request(run, self._image, self._role)

    def training_request(self, run: StageRun) -> dict[str, Any]:
        return training_request(run, self._image, self._role)
