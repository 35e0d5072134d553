"""Deployment settings, read once from the environment the template sets.

Only handlers read settings; logic receives what it needs as arguments.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.errors import ConfigurationError


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


@dataclass(frozen=True)
class CoreSettings:
    bucket: str
    event_bus: str
    jobs_table: str

    @classmethod
    def from_env(cls) -> CoreSettings:
        return cls(
            bucket=_required("BUCKET_NAME"),
            event_bus=_required("EVENT_BUS_NAME"),
            jobs_table=_required("JOBS_TABLE_NAME"),
        )


@dataclass(frozen=True)
class StageSettings:
    image_uri: str
    instance_type: str
    role_arn: str
    max_runtime_s: int
    use_spot: bool

    @classmethod
    def from_env(cls) -> StageSettings:
        return cls(
            image_uri=_required("STAGE_IMAGE_URI"),
            instance_type=_required("STAGE_INSTANCE_TYPE"),
            role_arn=_required("SAGEMAKER_ROLE_ARN"),
            max_runtime_s=int(os.environ.get("STAGE_MAX_RUNTIME_S", "21600")),
            use_spot=os.environ.get("STAGE_USE_SPOT", "false").lower() == "true",
        )


@dataclass(frozen=True)
class NotifySettings:
    sender: str
    link_expiry_s: int
    viewer_base_url: str

    @classmethod
    def from_env(cls) -> NotifySettings:
        expiry = int(os.environ.get("LINK_EXPIRY_S", str(7 * 24 * 3600)))
        if not 0 < expiry <= 7 * 24 * 3600:
            raise ConfigurationError("LINK_EXPIRY_S must be between 1 s and 7 days")
        return cls(
            sender=_required("SENDER_EMAIL"),
            link_expiry_s=expiry,
            viewer_base_url=os.environ.get("VIEWER_BASE_URL", "https://superspl.at/editor"),
        )


@dataclass(frozen=True)
class ReconcileSettings:
    after_s: float  # describe a stage's compute job once the stage has run this long
    queue_urls: dict[str, str]  # stage -> its queue (where the state changes are re-delivered)

    @classmethod
    def from_env(cls) -> ReconcileSettings:
        return cls(
            after_s=float(os.environ.get("RECONCILE_AFTER_S", "900")),
            queue_urls={stage: _required(f"{stage.upper()}_QUEUE_URL") for stage in ("sfm", "train", "compress")},
        )
