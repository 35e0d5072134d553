"""The job record and its allowed state transitions.

States only move forward. A stale or duplicate event can never move a job backwards or start a
stage twice: every write to the job table is conditional on the states a transition may come from.

    SUBMITTED -> SFM_RUNNING -> SFM_DONE -> TRAIN_RUNNING -> TRAIN_DONE
              -> COMPRESS_RUNNING -> COMPRESS_DONE -> SUCCEEDED
    any non-final state -> FAILED | CANCELLED
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.causes import CauseCode
from shared.options import JobOptions


class JobState(StrEnum):
    SUBMITTED = "submitted"
    SFM_RUNNING = "sfm_running"
    SFM_DONE = "sfm_done"
    TRAIN_RUNNING = "train_running"
    TRAIN_DONE = "train_done"
    COMPRESS_RUNNING = "compress_running"
    COMPRESS_DONE = "compress_done"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


_ORDER = [
    JobState.SUBMITTED,
    JobState.SFM_RUNNING,
    JobState.SFM_DONE,
    JobState.TRAIN_RUNNING,
    JobState.TRAIN_DONE,
    JobState.COMPRESS_RUNNING,
    JobState.COMPRESS_DONE,
    JobState.SUCCEEDED,
]
RANK = {state: rank for rank, state in enumerate(_ORDER)}
FINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})

RUNNING = {"sfm": JobState.SFM_RUNNING, "train": JobState.TRAIN_RUNNING, "compress": JobState.COMPRESS_RUNNING}
DONE = {"sfm": JobState.SFM_DONE, "train": JobState.TRAIN_DONE, "compress": JobState.COMPRESS_DONE}
READY_FOR = {"sfm": JobState.SUBMITTED, "train": JobState.SFM_DONE, "compress": JobState.TRAIN_DONE}


def can_transition(current: JobState, target: JobState) -> bool:
    if current in FINAL_STATES:
        return False
    if target in (JobState.FAILED, JobState.CANCELLED):
        return True
    return RANK[target] > RANK[current]


def states_before(target: JobState) -> frozenset[JobState]:
    """Every state from which `target` may be entered."""
    return frozenset(state for state in JobState if can_transition(state, target))


class StageRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    status: Literal["running", "succeeded", "failed", "stopped"]
    run_name: str  # SageMaker job name (or local run name)
    attempt: int = 1
    instance_type: str = ""
    started_at: datetime
    ended_at: datetime | None = None
    duration_s: float | None = None
    output_uri: str = ""
    metrics: dict[str, Any] = Field(default_factory=dict)


class FailureInfo(BaseModel):
    stage: str
    cause: CauseCode
    message: str
    advice: str


class Job(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    job_id: str
    owner: str  # the caller's identity (IAM principal ARN, or "manifest:<inbox>" / "local")
    email: str
    inbox_uri: str
    options: JobOptions
    photo_count: int
    photo_bytes: int  # bytes of the photos and videos
    # What ingest left out of the photo set, named for the user (duplicates, RAW files, ...).
    warnings: list[str] = Field(default_factory=list)
    state: JobState = JobState.SUBMITTED
    created_at: datetime
    updated_at: datetime
    stages: dict[str, StageRecord] = Field(default_factory=dict)
    failure: FailureInfo | None = None
    outputs: dict[str, str] = Field(default_factory=dict)  # name -> uri of the final products
    notified_at: datetime | None = None
    video_count: int = 0  # videos in the job (their frames are chosen by the SfM stage)

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES
