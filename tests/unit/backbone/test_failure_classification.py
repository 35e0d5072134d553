import pytest

from shared.causes import CauseCode
from shared.failures import classify_failure
from shared.stage import FailureReport


def test_our_programs_failure_report_is_read_verbatim():
    report = FailureReport(cause=CauseCode.LOW_REGISTRATION, message="3 of 40 registered (7.5%)", advice="x")
    found = classify_failure("Failed", None, "AlgorithmError: " + report.to_message())
    assert found.cause is CauseCode.LOW_REGISTRATION
    assert "3 of 40" in found.message


@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        ("CapacityError: Unable to provision requested ML compute capacity", CauseCode.CAPACITY),
        ("InternalServerError: We encountered an internal error. ThrottlingException", CauseCode.THROTTLED),
        ("Training job exceeded MaxRuntimeInSeconds", CauseCode.TIMEOUT),
        ("AlgorithmError: ExitCode 137", CauseCode.OUT_OF_MEMORY),
        ("ClientError: something we never saw", CauseCode.INTERNAL_ERROR),
    ],
)
def test_platform_failures_are_classified(reason, cause):
    assert classify_failure("Failed", reason, None).cause is cause


def test_a_stopped_job_is_a_cancellation():
    assert classify_failure("Stopped", None, None).cause is CauseCode.CANCELLED


def test_failure_message_fits_sagemakers_1kib_limit():
    report = FailureReport(cause=CauseCode.UNREADABLE_IMAGES, message="x.jpg, " * 500, advice="y" * 500)
    text = report.to_message()
    assert len(text.encode()) <= 1024
    assert FailureReport.from_message(text).cause is CauseCode.UNREADABLE_IMAGES
