import pytest
from pydantic import ValidationError

from shared.causes import CauseCode
from shared.events import EVENT_TYPES, JobFailed, JobSubmitted, SageMakerJobStateChange, parse_event
from shared.layout import new_job_id

JOB = new_job_id("contract")


def submitted(**overrides):
    body = dict(job_id=JOB, owner="arn:aws:iam::1:user/a", email="a@example.com", inbox_uri="s3://b/inbox/x/",
                photo_count=10, photo_bytes=100)
    return JobSubmitted(**{**body, **overrides})


def test_every_event_has_schema_version_1_and_round_trips():
    event = submitted()
    assert event.schema_version == 1
    assert parse_event("JobSubmitted", event.model_dump(mode="json")) == event


def test_consumers_ignore_fields_added_later_in_version_1():
    body = submitted().model_dump(mode="json") | {"added_later": 1}
    assert parse_event("JobSubmitted", body).job_id == JOB


@pytest.mark.parametrize(
    "email", ["not-an-email", "a@b", "x@example.com\r\nBcc: victim@example.com", "A <a@example.com>", "a b@example.com"]
)
def test_invalid_or_header_injecting_emails_are_rejected(email):
    with pytest.raises(ValidationError):
        submitted(email=email)


def test_unknown_event_type_is_an_error():
    with pytest.raises(ValueError):
        parse_event("SomethingElse", {})


def test_job_failed_carries_a_machine_readable_cause():
    failed = JobFailed(job_id=JOB, stage="sfm", cause=CauseCode.LOW_REGISTRATION, message="m", advice="a")
    assert parse_event("JobFailed", failed.model_dump(mode="json")).cause is CauseCode.LOW_REGISTRATION
    assert set(EVENT_TYPES) >= {"JobSubmitted", "SfmCompleted", "TrainingCompleted", "CompressionCompleted", "JobFailed"}


def test_sagemaker_state_changes_of_both_job_kinds_parse():
    processing = SageMakerJobStateChange.from_detail(
        "SageMaker Processing Job State Change",
        {"ProcessingJobName": "n", "ProcessingJobStatus": "Failed", "ExitMessage": "e", "ProcessingEndTime": 1700000000000},
    )
    assert (processing.status, processing.exit_message, processing.end_time.year) == ("Failed", "e", 2023)
    training = SageMakerJobStateChange.from_detail(
        "SageMaker Training Job State Change", {"TrainingJobName": "t", "TrainingJobStatus": "Completed"}
    )
    assert training.job_name == "t"
