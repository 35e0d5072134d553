"""Every way a SageMaker job can end gets its true cause (shared/failures.py)."""

from datetime import UTC, datetime

import pytest

from shared.causes import CauseCode
from shared.events import PROCESSING_STATE_CHANGE, TRAINING_STATE_CHANGE, SageMakerJobStateChange
from shared.failures import classify_failure, lacks_program_report
from shared.stage import FailureReport

JOB = "spaceport-train-" + "k" * 20 + "-a1"
T0 = 1_790_000_000_000  # epoch ms


def change(status: str, reason: str | None = None, secondary: str | None = None, **extra) -> SageMakerJobStateChange:
    return SageMakerJobStateChange(job_name=JOB, status=status, failure_reason=reason, secondary_status=secondary, **extra)


def terminated(detail: str = "at step 1200 of 30000; checkpoint saved") -> str:
    report = FailureReport(cause=CauseCode.INTERNAL_ERROR, message=f"train was stopped (SIGTERM): {detail}",
                           advice="a", terminated=True)
    return "AlgorithmError: " + report.to_message()


def test_our_programs_failure_report_is_read_verbatim():
    report = FailureReport(cause=CauseCode.LOW_REGISTRATION, message="3 of 40 registered (7.5%)", advice="x")
    found = classify_failure(change("Failed", "AlgorithmError: " + report.to_message()), "sfm")
    assert found.cause is CauseCode.LOW_REGISTRATION
    assert "3 of 40" in found.message


def test_a_report_followed_by_other_text_is_still_found():
    report = FailureReport(cause=CauseCode.NO_OVERLAP, message="no pairs", advice="walk around")
    text = "AlgorithmError: " + report.to_message() + "\nTraceback (most recent call last): {not json"
    assert FailureReport.from_message(text) == report
    assert FailureReport.from_message("{broken " + report.to_message()) == report
    assert FailureReport.from_message("AlgorithmError: {\"no\": \"cause\"}") is None


@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        ("CapacityError: Unable to provision requested ML compute capacity", CauseCode.CAPACITY),
        ("InternalServerError: We encountered an internal error. ThrottlingException", CauseCode.THROTTLED),
        ("Training job exceeded MaxRuntimeInSeconds", CauseCode.TIMEOUT),
        ("AlgorithmError: ExitCode 137", CauseCode.OUT_OF_MEMORY),
        ("OutOfMemoryError: Please use an instance type with more memory", CauseCode.OUT_OF_MEMORY),
        ("AlgorithmError: exit code: 137; log ends: Killed", CauseCode.OUT_OF_MEMORY),
        ("ClientError: something we never saw", CauseCode.INTERNAL_ERROR),
    ],
)
def test_platform_failures_are_classified(reason, cause):
    assert classify_failure(change("Failed", reason), "train").cause is cause


def test_max_runtime_exceeded_is_a_timeout_with_the_limit_the_progress_and_the_parameter():
    found = classify_failure(
        change("Stopped", terminated(), "MaxRuntimeExceeded", max_runtime_s=21600), "train", max_runtime_s=3600
    )
    assert found.cause is CauseCode.TIMEOUT
    assert "6 h" in found.message and "step 1200 of 30000" in found.message
    assert "TrainMaxRuntimeSeconds" in found.advice and "21600" in found.advice
    assert "fewer photos" in found.advice


def test_a_processing_job_stopped_at_its_limit_is_a_timeout_and_one_stopped_early_is_a_cancellation():
    def stopped_after(seconds: int) -> SageMakerJobStateChange:
        return SageMakerJobStateChange.from_detail(
            PROCESSING_STATE_CHANGE,
            {"ProcessingJobName": "spaceport-sfm-" + "k" * 20 + "-a1", "ProcessingJobStatus": "Stopped",
             "ProcessingStartTime": T0, "ProcessingEndTime": T0 + seconds * 1000,
             "StoppingCondition": {"MaxRuntimeInSeconds": 14400}},
        )

    assert classify_failure(stopped_after(14400 + 110), "sfm").cause is CauseCode.TIMEOUT
    assert classify_failure(stopped_after(600), "sfm").cause is CauseCode.CANCELLED


def test_spot_max_wait_exceeded_is_missing_capacity_not_a_cancellation():
    found = classify_failure(change("Stopped", None, "MaxWaitTimeExceeded"), "train")
    assert found.cause is CauseCode.CAPACITY


def test_a_stopped_job_is_a_cancellation_even_when_the_program_reported_its_sigterm():
    found = classify_failure(change("Stopped", terminated(), "Stopped"), "train")
    assert found.cause is CauseCode.CANCELLED and "step 1200" in found.message


def test_a_sigterm_report_alone_is_not_taken_as_the_cause_of_a_failure():
    found = classify_failure(change("Failed", terminated()), "train")
    assert found.cause is CauseCode.INTERNAL_ERROR  # not a made-up input problem


def test_a_processing_failure_without_exit_message_asks_for_the_description():
    bare = change("Failed", "AlgorithmError: See job logs for more information")
    assert lacks_program_report(bare)
    report = FailureReport(cause=CauseCode.TOO_FEW_IMAGES, message="2 photos", advice="more")
    assert not lacks_program_report(change("Failed", None, exit_message=report.to_message()))
    assert not lacks_program_report(change("Completed"))


def test_failure_message_fits_sagemakers_1kib_limit():
    report = FailureReport(cause=CauseCode.UNREADABLE_IMAGES, message="x.jpg, " * 500, advice="y" * 500)
    text = report.to_message()
    assert len(text.encode()) <= 1024
    assert FailureReport.from_message(text).cause is CauseCode.UNREADABLE_IMAGES


@pytest.mark.parametrize(
    "value",
    [1_790_000_000_000, "1790000000000", "1790000000000.0", "2026-09-21T14:13:20Z", "2026-09-21T14:13:20+00:00",
     datetime(2026, 9, 21, 14, 13, 20, tzinfo=UTC)],
)
def test_event_times_parse_as_numbers_digit_strings_iso_text_or_datetimes(value):
    parsed = SageMakerJobStateChange.from_detail(
        TRAINING_STATE_CHANGE,
        {"TrainingJobName": JOB, "TrainingJobStatus": "Completed", "TrainingStartTime": value},
    ).start_time
    assert parsed == datetime(2026, 9, 21, 14, 13, 20, tzinfo=UTC)
