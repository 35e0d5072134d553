"""Turn a SageMaker job's end state into a failure cause.

Our stage programs write a JSON `FailureReport` into SageMaker's failure message, so most failures
carry their cause code verbatim. SageMaker's own failures (capacity, runtime limit, an instance
killed for memory) arrive as SageMaker's text; these are the documented phrases we recognise.
"""

from __future__ import annotations

from shared.causes import CauseCode, advice_for
from shared.stage import FailureReport

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
    ("exitcode 137", CauseCode.OUT_OF_MEMORY),
    ("spot", CauseCode.SPOT_INTERRUPTED),
)


def classify_failure(status: str, failure_reason: str | None, exit_message: str | None) -> FailureReport:
    for text in (exit_message, failure_reason):
        report = FailureReport.from_message(text)
        if report is not None:
            return report
    if status == "Stopped":
        return FailureReport(
            cause=CauseCode.CANCELLED, message="the compute job was stopped", advice=advice_for(CauseCode.CANCELLED)
        )
    reason = (failure_reason or exit_message or "").strip()
    lowered = reason.lower()
    for phrase, cause in _PLATFORM_PHRASES:
        if phrase in lowered:
            return FailureReport(cause=cause, message=reason[:500], advice=advice_for(cause))
    return FailureReport(
        cause=CauseCode.INTERNAL_ERROR,
        message=reason[:500] or f"the compute job ended as {status} without a reason",
        advice=advice_for(CauseCode.INTERNAL_ERROR),
    )
