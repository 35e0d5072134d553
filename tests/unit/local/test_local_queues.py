"""The SQLite bus and queues behave like EventBridge rules into SQS standard queues."""

from __future__ import annotations

import pytest

from shared.adapters.local import Database, SqliteEventBus
from shared.events import JobSubmitted, SfmCompleted


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


JOB = "a" * 20


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bus(tmp_path, clock) -> SqliteEventBus:
    return SqliteEventBus(
        Database(tmp_path / "db.sqlite"), max_receive_count=3, visibility_timeout_s=30, clock=clock
    )


def submitted() -> JobSubmitted:
    return JobSubmitted(
        job_id=JOB,
        owner="local",
        email="a@example.com",
        inbox_uri="s3://b/inbox/x/",
        photo_count=9,
        photo_bytes=1,
    )


def test_publish_routes_each_event_to_its_consumers_queue_only(bus):
    bus.publish(submitted())
    assert [m.envelope.detail_type for m in bus.receive("sfm")] == ["JobSubmitted"]
    assert bus.receive("train") == []
    assert bus.receive("notify") == []


def test_received_message_is_invisible_until_the_visibility_timeout_then_redelivered(bus, clock):
    bus.publish(submitted())
    first = bus.receive("sfm")
    assert first[0].envelope.receive_count == 1
    clock.now += 29
    assert bus.receive("sfm") == []
    clock.now += 2
    again = bus.receive("sfm")
    assert again[0].envelope.receive_count == 2
    assert again[0].envelope.event_id == first[0].envelope.event_id


def test_deleted_message_is_never_redelivered_and_stale_receipts_do_nothing(bus, clock):
    bus.publish(submitted())
    first = bus.receive("sfm")[0]
    clock.now += 31
    second = bus.receive("sfm")[0]
    assert bus.delete(first.receipt) is False  # superseded by the redelivery
    assert bus.delete(second.receipt) is True
    clock.now += 100
    assert bus.receive("sfm") == []
    assert bus.pending(JOB) == 0


def test_message_goes_to_dead_letters_after_max_receive_count_deliveries(bus, clock):
    bus.publish(submitted())
    for count in (1, 2, 3):
        (message,) = bus.receive("sfm")
        assert message.envelope.receive_count == count
        bus.retry_later(message.receipt, 0.0, f"boom {count}")
    assert bus.receive("sfm") == []
    (dead,) = bus.dead_letters(JOB)
    assert (dead.queue, dead.detail_type, dead.receive_count) == ("sfm", "JobSubmitted", 3)
    assert dead.last_error == "boom 3"
    assert bus.pending(JOB) == 0


def test_retry_later_makes_a_failed_message_visible_after_the_delay(bus, clock):
    bus.publish(submitted())
    (message,) = bus.receive("sfm")
    bus.retry_later(message.receipt, 5.0)
    clock.now += 4
    assert bus.receive("sfm") == []
    clock.now += 1
    assert len(bus.receive("sfm")) == 1


def test_release_in_flight_makes_messages_of_a_dead_worker_visible_now(bus):
    bus.publish(submitted())
    bus.receive("sfm")
    assert bus.release_in_flight() == 1
    (message,) = bus.receive("sfm")
    assert message.envelope.receive_count == 2


def test_sagemaker_state_change_reaches_only_the_stage_named_in_the_job_name(bus):
    detail = {"TrainingJobName": f"spaceport-train-{JOB}-a1", "TrainingJobStatus": "Completed"}
    assert bus.publish_raw("aws.sagemaker", "SageMaker Training Job State Change", detail) == ["train"]
    foreign = {"ProcessingJobName": "someone-else-job", "ProcessingJobStatus": "Completed"}
    assert bus.publish_raw("aws.sagemaker", "SageMaker Processing Job State Change", foreign) == []
    (message,) = bus.receive("train")
    assert message.job_id == JOB
    assert message.envelope.source == "aws.sagemaker"


def test_manifest_upload_event_reaches_ingest(bus):
    detail = {"bucket": {"name": "b"}, "object": {"key": "inbox/roof/job.json", "etag": "e"}}
    assert bus.publish_raw("aws.s3", "Object Created", detail) == ["ingest"]
    photo = {"bucket": {"name": "b"}, "object": {"key": "inbox/roof/IMG_1.jpg"}}
    assert bus.publish_raw("aws.s3", "Object Created", photo) == []


def test_one_event_fans_out_to_every_consumer_with_independent_deliveries(bus):
    bus.publish(
        SfmCompleted(
            job_id=JOB,
            sfm_uri="s3://b/jobs/x/sfm/",
            images_total=9,
            images_registered=9,
            points=10,
            reprojection_error_px=0.5,
            matcher="exhaustive",
            duration_s=1.0,
        )
    )
    (message,) = bus.receive("train")
    bus.delete(message.receipt)
    assert bus.events(JOB)[0]["consumers"] == "train"


def test_queues_survive_a_new_bus_on_the_same_file(tmp_path, clock):
    path = tmp_path / "db.sqlite"
    SqliteEventBus(Database(path), clock=clock).publish(submitted())
    (message,) = SqliteEventBus(Database(path), clock=clock).receive("sfm")
    assert message.envelope.detail["job_id"] == JOB


def test_a_receive_for_one_job_leaves_other_jobs_messages_queued(bus):
    other = submitted().model_copy(update={"job_id": "b" * 20})
    bus.publish(submitted())
    bus.publish(other)
    (mine,) = bus.receive("sfm", job_id=JOB)
    assert mine.job_id == JOB
    assert bus.receive("sfm", job_id=JOB) == []  # in flight
    (theirs,) = bus.receive("sfm")  # an unfocused receive still sees the other job
    assert theirs.job_id == "b" * 20
