"""The contract a stage program (sfm, train, compress) fulfils, wherever it runs.

A stage program is a function `run(cfg, in_dir, out_dir) -> metrics` where `metrics` is a pydantic
model. `execute_stage` wraps that call the same way on SageMaker and locally:

- success: `out_dir/metrics.json` holds `{"status": "succeeded", "stage": ..., **metrics}`;
  exit code 0.
- a `StageFailure` (the input cannot produce a result, or a known resource limit was hit):
  `out_dir/failure.json` and the SageMaker failure message file hold
  `{"cause": <CauseCode>, "message": ..., "advice": ...}`; exit code 2 (input) or 3 (resources).
- any other exception: a failure with cause `internal_error`; exit code 1.
- SIGTERM (SageMaker stopping the job; shared/termination.py): a failure marked `terminated`
  (training saves a checkpoint first); exit code 143.

The failure message file is what SageMaker reports as `FailureReason` (training) or `ExitMessage`
(processing), so the cloud stage service reads the cause code from the job description without
downloading anything. It is capped at 1 KiB, as SageMaker truncates it there.

Progress: a program may call `ProgressReporter.update(...)`; it rewrites `out_dir/progress.json`
atomically (at most once a second) so a local runner or a status API can show steps and ETA.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import time
import traceback
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.causes import CauseCode, advice_for
from shared.layout import CHECKPOINTS
from shared.termination import EXIT_TERMINATED, StageTerminated, handling_sigterm

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
FAILURE_FILE = "failure.json"
PROGRESS_FILE = "progress.json"
FAILURE_MESSAGE_LIMIT = 1024

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_RESOURCES = 3

RESOURCE_CAUSES = frozenset({CauseCode.OUT_OF_MEMORY, CauseCode.TIMEOUT})


class StageName(StrEnum):
    SFM = "sfm"
    TRAIN = "train"
    COMPRESS = "compress"


class StageFailure(Exception):
    """The stage cannot produce its output from this input; `cause` says why, for the user."""

    def __init__(self, cause: CauseCode, message: str, advice: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause
        self.message = message
        self.advice = advice or advice_for(cause)


class FailureReport(BaseModel):
    cause: CauseCode
    message: str
    advice: str
    # The program was stopped (SIGTERM) rather than failing on its own: the platform's state
    # (timeout, spot, a stop request) says why, not this report's cause.
    terminated: bool = False

    def to_message(self) -> str:
        """Compact JSON that fits SageMaker's 1 KiB failure message."""
        body = self.model_dump(mode="json", exclude_defaults=True)
        text = json.dumps(body, separators=(",", ":"))
        while len(text.encode()) > FAILURE_MESSAGE_LIMIT and len(body["message"]) > 16:
            body["message"] = body["message"][: len(body["message"]) // 2] + "…"
            body["advice"] = ""
            text = json.dumps(body, separators=(",", ":"))
        return text

    @classmethod
    def from_message(cls, text: str | None) -> FailureReport | None:
        """Find a report written by `to_message` in a failure message: SageMaker may put text
        before it (`AlgorithmError: `) and logs or truncation may follow it. None if absent."""
        if not text:
            return None
        decoder = json.JSONDecoder()
        start = text.find("{")
        while start >= 0:
            try:
                body, _ = decoder.raw_decode(text, start)
                cause = CauseCode(body["cause"])
            except (ValueError, KeyError, TypeError):
                start = text.find("{", start + 1)
                continue
            return cls(
                cause=cause,
                message=str(body.get("message", "")),
                advice=str(body.get("advice") or advice_for(cause)),
                terminated=bool(body.get("terminated", False)),
            )
        return None


def peak_memory_mb() -> float:
    """Peak resident memory of this process and its waited-for children, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024.0


def write_json_atomic(path: Path, body: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(body, indent=2, default=str))
    os.replace(tmp, path)


class ProgressReporter:
    """Writes `progress.json` in the stage output folder (and in each of `copies`), throttled.

    A training job's output folder reaches the bucket only when it ends; it also writes a copy
    in its checkpoint folder, which SageMaker (and the local launcher, by a link) syncs while it
    runs: `read_stage_progress` finds it there.
    """

    def __init__(self, out_dir: Path, phase: str = "", min_interval_s: float = 1.0,
                 copies: Sequence[Path] = (), copy_interval_s: float = 5.0) -> None:
        self._path = out_dir / PROGRESS_FILE
        self._copies = [Path(folder) / PROGRESS_FILE for folder in copies]
        self._copy_interval_s = copy_interval_s  # each copy is an upload to S3 on SageMaker
        self._last_copy = 0.0
        self._phase = phase
        self._min_interval_s = min_interval_s
        self._started = time.monotonic()
        self._last_write = 0.0

    def update(
        self, step: int, total: int, phase: str | None = None, force: bool = False, **figures: float
    ) -> None:
        now = time.monotonic()
        if phase is not None and phase != self._phase:
            self._phase = phase
            force = True
        if not force and now - self._last_write < self._min_interval_s and step < total:
            return
        self._last_write = now
        elapsed = now - self._started
        eta = elapsed / step * (total - step) if step > 0 and total >= step else None
        body = {
            "phase": self._phase,
            "step": step,
            "total": total,
            "elapsed_s": round(elapsed, 1),
            "eta_s": None if eta is None else round(eta, 1),
            **figures,
        }
        write_json_atomic(self._path, body)
        if self._copies and (force or step >= total or now - self._last_copy >= self._copy_interval_s):
            self._last_copy = now
            for path in self._copies:
                write_json_atomic(path, body)


def read_progress(out_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out_dir / PROGRESS_FILE).read_text())
    except (OSError, ValueError):
        return None


def read_stage_progress(job_dir: Path, stage: str) -> dict[str, Any] | None:
    """A stage's progress in a job folder laid out like the bucket (shared/layout.py): its output
    folder's progress.json, else, for training (whose outputs arrive when it ends), the copy in
    the job's checkpoint folder. None when there is none yet."""
    found = read_progress(job_dir / stage)
    if found is None and stage == StageName.TRAIN:
        found = read_progress(job_dir / CHECKPOINTS)
    return found


CfgT = TypeVar("CfgT", bound=BaseModel)


def execute_stage(
    stage: StageName,
    program: Callable[[CfgT, Path, Path], BaseModel],
    cfg: CfgT,
    in_dir: Path,
    out_dir: Path,
    failure_message_path: Path | None = None,
    cooperative_stop: bool = False,
) -> int:
    """Run one stage program and record its outcome; returns the process exit code.

    `cooperative_stop`: the program polls `shared.termination.stop_requested()` and ends itself
    (after saving a checkpoint) on SIGTERM; otherwise SIGTERM interrupts it at once."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in (METRICS_FILE, FAILURE_FILE):
        (out_dir / stale).unlink(missing_ok=True)
    started = time.monotonic()

    def terminated_report(detail: str) -> FailureReport:
        return FailureReport(
            cause=CauseCode.INTERNAL_ERROR,
            message=f"{stage} was stopped (SIGTERM) after {time.monotonic() - started:.0f} s: {detail}",
            advice=advice_for(CauseCode.INTERNAL_ERROR),
            terminated=True,
        )

    def on_deadline() -> None:
        record_failure(stage, terminated_report("it did not stop by itself"), out_dir, failure_message_path)

    try:
        with handling_sigterm(on_deadline, cooperative=cooperative_stop):
            metrics = program(cfg, in_dir, out_dir)
    except StageTerminated as stopped:
        report = terminated_report(str(stopped) or "stopped")
        code = EXIT_TERMINATED
    except StageFailure as failure:
        report = FailureReport(cause=failure.cause, message=failure.message, advice=failure.advice)
        code = EXIT_RESOURCES if failure.cause in RESOURCE_CAUSES else EXIT_INPUT
    except MemoryError:
        report = FailureReport(
            cause=CauseCode.OUT_OF_MEMORY,
            message=f"{stage} ran out of memory at {peak_memory_mb():.0f} MiB peak",
            advice=advice_for(CauseCode.OUT_OF_MEMORY),
        )
        code = EXIT_RESOURCES
    except Exception as exc:  # noqa: BLE001 - the outermost frame of a job program
        logger.error("stage program crashed\n%s", traceback.format_exc())
        report = FailureReport(
            cause=CauseCode.INTERNAL_ERROR,
            message=f"{stage} crashed: {type(exc).__name__}: {exc}",
            advice=advice_for(CauseCode.INTERNAL_ERROR),
        )
        code = EXIT_INTERNAL
    else:
        body = {
            "status": "succeeded",
            "stage": str(stage),
            "wall_seconds": round(time.monotonic() - started, 3),
            "peak_memory_mb": round(peak_memory_mb(), 1),
            **metrics.model_dump(mode="json"),
        }
        write_json_atomic(out_dir / METRICS_FILE, body)
        return EXIT_OK
    record_failure(stage, report, out_dir, failure_message_path)
    return code


def record_failure(stage: str, report: FailureReport, out_dir: Path, failure_message_path: Path | None) -> None:
    """`out_dir/failure.json`, plus the SageMaker failure message file (FailureReason/ExitMessage)."""
    write_json_atomic(
        out_dir / FAILURE_FILE, {"status": "failed", "stage": str(stage), **report.model_dump(mode="json")}
    )
    if failure_message_path is not None:
        failure_message_path.parent.mkdir(parents=True, exist_ok=True)
        failure_message_path.write_text(report.to_message())
