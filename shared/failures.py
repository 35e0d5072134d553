"""Turn a SageMaker job's end state into its true cause.

Order of evidence, strongest first:

1. SageMaker's own verdict on a stopped job: `SecondaryStatus` MaxRuntimeExceeded (a timeout) or
   MaxWaitTimeExceeded (managed spot found no capacity in time); a processing job has no
   secondary status, so a `Stopped` one that ran its whole MaxRuntimeInSeconds timed out.
2. Any other `Stopped` job was stopped on request (StopTrainingJob/StopProcessingJob).
3. The report our stage program wrote into the failure message (FailureReason for training,
   ExitMessage for processing), carrying its cause code verbatim - unless the program only
   reports that it received SIGTERM (`terminated`), which says nothing about why.
4. SageMaker's own failure text (capacity, throttling, memory): the documented phrases below.
5. Otherwise an internal error, with whatever text there was.

Sources: SageMaker API reference DescribeTrainingJob (SecondaryStatus), StoppingCondition.
"""

from __future__ import annotations

from shared.causes import CauseCode, advice_for
from shared.events import SageMakerJobStateChange
from shared.stage import FailureReport

# A processing job stopped this close to its limit was stopped by the limit (SageMaker's clock
# and the event's times differ by the container's start-up and the stop's grace period).
TIMEOUT_TOLERANCE_S = 30.0

_PLATFORM_PHRASES: tuple[tuple[str, CauseCode], ...] = (
    ("insufficientinstancecapacity", CauseCode.CAPACITY),
    ("capacityerror", CauseCode.CAPACITY),
    ("insufficient capacity", CauseCode.CAPACITY),
    ("throttl", CauseCode.THROTTLED),
    ("maxruntimeinseconds", CauseCode.TIMEOUT),
    ("exceeded the maximum runtime", CauseCode.TIMEOUT),
    ("out of memory", CauseCode.OUT_OF_MEMORY),
    ("outofmemory", CauseCode.OUT_OF_MEMORY),
    ("exit code 137", CauseCode.OUT_OF_MEMORY),
    ("exit code: 137", CauseCode.OUT_OF_MEMORY),
    ("exitcode 137", CauseCode.OUT_OF_MEMORY),
    ("spot", CauseCode.SPOT_INTERRUPTED),
)


def _hours(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / 60:.0f} min"


def _program_report(change: SageMakerJobStateChange) -> FailureReport | None:
    for text in (change.exit_message, change.failure_reason):
        report = FailureReport.from_message(text)
        if report is not None:
            return report
    return None


def _ran_out_of_time(change: SageMakerJobStateChange, limit_s: float) -> bool:
    if change.start_time is None or change.end_time is None or limit_s <= 0:
        return False
    return (change.end_time - change.start_time).total_seconds() >= limit_s - TIMEOUT_TOLERANCE_S


def timeout_report(stage: str, limit_s: float, detail: str = "") -> FailureReport:
    parameter = f"{stage.capitalize()}MaxRuntimeSeconds"
    return FailureReport(
        cause=CauseCode.TIMEOUT,
        message=f"{stage} ran past its time limit of {_hours(limit_s)}{detail}",
        advice=(
            "Use fewer photos, a smaller maximum image size or the 'preview' preset; or ask the "
            f"operator to raise the {stage} time limit ({parameter}, now {int(limit_s)} s)."
        ),
    )


def classify_failure(change: SageMakerJobStateChange, stage: str, max_runtime_s: float = 0.0) -> FailureReport:
    """The cause of a Failed or Stopped job. `max_runtime_s`: the stage's limit, used when the
    event does not carry its StoppingCondition."""
    program = _program_report(change)
    how_far = f" ({program.message})" if program is not None and program.terminated else ""
    limit = float(change.max_runtime_s or max_runtime_s)
    if change.secondary_status == "MaxRuntimeExceeded" or (
        change.status == "Stopped" and change.secondary_status is None and _ran_out_of_time(change, limit)
    ):
        return timeout_report(stage, limit, how_far)
    if change.secondary_status == "MaxWaitTimeExceeded":
        return FailureReport(
            cause=CauseCode.CAPACITY,
            message=f"{stage} found no spot capacity within its maximum wait{how_far}",
            advice=advice_for(CauseCode.CAPACITY),
        )
    if change.status == "Stopped":
        return FailureReport(
            cause=CauseCode.CANCELLED,
            message=f"the {stage} compute job was stopped before it finished{how_far}",
            advice=advice_for(CauseCode.CANCELLED),
        )
    if program is not None and not program.terminated:
        return program
    reason = (change.failure_reason or change.exit_message or "").strip()
    lowered = reason.lower()
    for phrase, cause in _PLATFORM_PHRASES:
        if phrase in lowered:
            return FailureReport(cause=cause, message=reason[:500], advice=advice_for(cause))
    return FailureReport(
        cause=CauseCode.INTERNAL_ERROR,
        message=reason[:500] or f"the {stage} compute job ended as {change.status} without a reason",
        advice=advice_for(CauseCode.INTERNAL_ERROR),
    )


def lacks_program_report(change: SageMakerJobStateChange) -> bool:
    """A Failed job whose event carries no report of ours: describing the job may find one (a
    processing event without ExitMessage)."""
    return change.status == "Failed" and change.exit_message is None and _program_report(change) is None
