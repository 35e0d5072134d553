"""Where things live in the bucket, and the names of our SageMaker jobs.

    inbox/<name>/...                 user uploads; never modified or deleted by us
    inbox/<name>/job.json            the manifest that submits the folder ({email, options})
    jobs/<job_id>/<stage>/...        each stage writes only under its own prefix
    jobs/<job_id>/<stage>/metrics.json

The same layout is used by the local object store under the data dir, so a local job's outputs
look exactly like a cloud job's.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Literal

from shared.causes import CauseCode
from shared.errors import UserInputError

INBOX = "inbox/"
JOBS = "jobs/"
MANIFEST_NAME = "job.json"
# A COLMAP model uploaded with the photos, to reuse instead of a new camera solve (the SfM stage
# imports it): inbox/<name>/sparse/0/{cameras,images,points3D}.{bin,txt}. Not photos.
INBOX_COLMAP_MODEL = "sparse/"
METRICS_NAME = "metrics.json"
JOB_NAME_PREFIX = "spaceport-"

PipelineStage = Literal["ingest", "sfm", "train", "compress", "notify"]
SAGEMAKER_STAGES: tuple[str, ...] = ("sfm", "train", "compress")

_JOB_ID = re.compile(r"^[a-z0-9]{20}$")
_INBOX_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_JOB_NAME = re.compile(r"^spaceport-(sfm|train|compress)-([a-z0-9]{20})-a([0-9]{1,2})$")
_BASE32 = "0123456789abcdefghjkmnpqrstvwxyz"


def _base32(digest: bytes, length: int) -> str:
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, rest = divmod(number, 32)
        chars.append(_BASE32[rest])
    return "".join(chars)


def new_job_id(idempotency_seed: str | None = None) -> str:
    """A 20-character job id; the same seed always gives the same id (duplicate deliveries)."""
    digest = hashlib.sha256(idempotency_seed.encode()).digest() if idempotency_seed else secrets.token_bytes(32)
    return _base32(digest, 20)


def is_job_id(value: str) -> bool:
    return bool(_JOB_ID.match(value))


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// uri: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def inbox_uri(bucket: str, name: str) -> str:
    return s3_uri(bucket, f"{INBOX}{name}/")


def stage_uri(bucket: str, job_id: str, stage: str) -> str:
    return s3_uri(bucket, f"{JOBS}{job_id}/{stage}/")


def metrics_uri(bucket: str, job_id: str, stage: str) -> str:
    return stage_uri(bucket, job_id, stage) + METRICS_NAME


CHECKPOINTS = "train-checkpoints"  # jobs/<id>/train-checkpoints/: SageMaker syncs /opt/ml/checkpoints here


def checkpoint_uri(bucket: str, job_id: str) -> str:
    return s3_uri(bucket, f"{JOBS}{job_id}/{CHECKPOINTS}/")


def sagemaker_job_name(stage: str, job_id: str, attempt: int) -> str:
    """Deterministic: a duplicate launch finds the job already there."""
    return f"{JOB_NAME_PREFIX}{stage}-{job_id}-a{attempt}"


def parse_sagemaker_job_name(name: str) -> tuple[str, str, int] | None:
    match = _JOB_NAME.match(name)
    if not match:
        return None
    return match.group(1), match.group(2), int(match.group(3))


def resolve_inbox(bucket: str, given: str) -> str:
    """Turn what a caller gave (an inbox folder name or an s3 uri) into our inbox uri.

    Rejects anything outside `s3://<bucket>/inbox/<name>/`: another bucket, `..`, absolute
    paths, nested names.
    """
    value = given.strip()
    if value.startswith("s3://"):
        other_bucket, key = split_uri(value)
        if other_bucket != bucket:
            raise UserInputError(
                CauseCode.INVALID_REQUEST, f"photos must be uploaded to s3://{bucket}/{INBOX}, not {other_bucket}"
            )
        if not key.startswith(INBOX):
            raise UserInputError(CauseCode.INVALID_REQUEST, f"photos must be under {INBOX} in the bucket")
        value = key[len(INBOX) :]
    elif value.startswith(INBOX):
        value = value[len(INBOX) :]
    name = value.rstrip("/")
    if not _INBOX_NAME.match(name) or ".." in name:
        raise UserInputError(
            CauseCode.INVALID_REQUEST,
            f"inbox name {given!r} is not allowed: use one folder name of letters, digits, '.', '_' or '-'",
        )
    return inbox_uri(bucket, name)


def config_uri(bucket: str, job_id: str, stage: str) -> str:
    """A folder holding the stage's config.json (a processing job input)."""
    return s3_uri(bucket, f"{JOBS}{job_id}/config/{stage}/")
