"""SqliteJobTable keeps DynamoJobTable's conditional-write semantics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.local import Database, SqliteJobTable
from shared.jobs import Job, JobState, StageRecord, states_before
from shared.options import JobOptions


def make_job(job_id: str = "a" * 20, owner: str = "local", created: datetime | None = None) -> Job:
    now = created or datetime.now(UTC)
    return Job(
        job_id=job_id,
        owner=owner,
        email="a@example.com",
        inbox_uri="s3://b/inbox/x/",
        options=JobOptions(),
        photo_count=9,
        photo_bytes=100,
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
def table(tmp_path) -> SqliteJobTable:
    return SqliteJobTable(Database(tmp_path / "db.sqlite"))


def test_create_refuses_a_second_job_with_the_same_id(table):
    assert table.create(make_job()) is True
    assert table.create(make_job()) is False
    assert table.get("a" * 20).state is JobState.SUBMITTED


def test_update_applies_only_from_an_allowed_state(table):
    table.create(make_job())
    assert (
        table.update("a" * 20, allowed_from=frozenset({JobState.SFM_DONE}), state=JobState.TRAIN_RUNNING)
        is False
    )
    assert table.get("a" * 20).state is JobState.SUBMITTED
    assert (
        table.update("a" * 20, allowed_from=frozenset({JobState.SUBMITTED}), state=JobState.SFM_RUNNING)
        is True
    )
    assert table.get("a" * 20).state is JobState.SFM_RUNNING


def test_update_of_a_missing_job_is_refused(table):
    assert table.update("b" * 20, allowed_from=states_before(JobState.FAILED), state=JobState.FAILED) is False


def test_update_sets_a_stage_record_and_top_level_fields(table):
    table.create(make_job())
    record = StageRecord(status="running", run_name="r", started_at=datetime.now(UTC))
    assert table.update(
        "a" * 20,
        allowed_from=frozenset({JobState.SUBMITTED}),
        state=JobState.SFM_RUNNING,
        changes={"stages.sfm": record.model_dump(mode="json"), "outputs": {"model.sog": "s3://b/k"}},
    )
    job = table.get("a" * 20)
    assert job.stages["sfm"].run_name == "r"
    assert job.outputs == {"model.sog": "s3://b/k"}
    assert job.updated_at >= job.created_at


def test_update_without_state_keeps_the_state(table):
    table.create(make_job())
    table.update("a" * 20, allowed_from=frozenset({JobState.SUBMITTED}), changes={"photo_count": 12})
    job = table.get("a" * 20)
    assert (job.state, job.photo_count) == (JobState.SUBMITTED, 12)


def test_final_state_refuses_further_transitions(table):
    table.create(make_job())
    table.update("a" * 20, allowed_from=states_before(JobState.FAILED), state=JobState.FAILED)
    assert (
        table.update("a" * 20, allowed_from=states_before(JobState.SUCCEEDED), state=JobState.SUCCEEDED)
        is False
    )


def test_notification_claim_is_exclusive_until_its_lease_expires(table):
    table.create(make_job())
    now = datetime.now(UTC)
    assert table.claim_notification("a" * 20, "t1", now, 300) is True
    assert table.claim_notification("a" * 20, "t2", now, 300) is False
    assert table.claim_notification("a" * 20, "t1", now, 300) is True  # the holder may renew
    assert table.claim_notification("a" * 20, "t2", now + timedelta(seconds=301), 300) is True


def test_released_claim_can_be_taken_by_another_delivery(table):
    table.create(make_job())
    now = datetime.now(UTC)
    table.claim_notification("a" * 20, "t1", now, 300)
    table.release_notification("a" * 20, "t2")  # not the holder: nothing happens
    assert table.claim_notification("a" * 20, "t2", now, 300) is False
    table.release_notification("a" * 20, "t1")
    assert table.claim_notification("a" * 20, "t2", now, 300) is True


def test_finished_notification_blocks_every_later_claim(table):
    table.create(make_job())
    now = datetime.now(UTC)
    table.claim_notification("a" * 20, "t1", now, 300)
    table.finish_notification("a" * 20, "t1", now)
    assert table.get("a" * 20).notified_at is not None
    assert table.claim_notification("a" * 20, "t1", now + timedelta(days=1), 300) is False


def test_finish_by_a_non_holder_does_not_mark_the_job_notified(table):
    table.create(make_job())
    now = datetime.now(UTC)
    table.claim_notification("a" * 20, "t1", now, 300)
    table.finish_notification("a" * 20, "t2", now)
    assert table.get("a" * 20).notified_at is None


def test_list_by_owner_is_newest_first_and_only_that_owner(table):
    base = datetime(2026, 1, 1, tzinfo=UTC)
    table.create(make_job("a" * 20, "me", base))
    table.create(make_job("b" * 20, "me", base + timedelta(hours=1)))
    table.create(make_job("c" * 20, "you", base + timedelta(hours=2)))
    assert [j.job_id for j in table.list_by_owner("me")] == ["b" * 20, "a" * 20]
    assert [j.job_id for j in table.list_by_owner("me", limit=1)] == ["b" * 20]


def test_jobs_are_listed_by_state_for_the_reconciler(tmp_path):
    from shared.adapters.local import Database, SqliteJobTable
    from shared.jobs import Job, JobState
    from shared.options import JobOptions

    table = SqliteJobTable(Database(tmp_path / "db.sqlite"))
    now = "2026-01-01T00:00:00+00:00"
    for job_id, state in (("a" * 20, JobState.SFM_RUNNING), ("b" * 20, JobState.SUCCEEDED)):
        table.create(Job(job_id=job_id, owner="o", email="a@example.com", inbox_uri="s3://b/inbox/x/",
                         options=JobOptions(), photo_count=8, photo_bytes=1, state=state,
                         created_at=now, updated_at=now))
    running = table.list_in_states(frozenset({JobState.SFM_RUNNING, JobState.TRAIN_RUNNING}))
    assert [job.job_id for job in running] == ["a" * 20]
