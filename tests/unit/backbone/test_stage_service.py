"""The choreography of a compute stage, driven through in-memory ports."""

import json

import pytest

from services.compress import logic as compress
from services.ingest import logic as ingest
from services.ingest.logic import SubmitRequest
from services.sfm import logic as sfm
from services.train import logic as train
from shared.causes import CauseCode
from shared.consumer import consume
from shared.errors import TransientError
from shared.events import JobCancelRequested, JobFailed, SfmCompleted, StageStarted, TrainingCompleted
from shared.jobs import JobState
from shared.ports import Envelope
from shared.stage import FailureReport
from tests.support.fakes import BUCKET, FakeWorld, test_pipeline
from tests.support.photos import jpeg_bytes
from tests.support.sagemaker import description, fail_stage, finish_stage

PIPELINE = test_pipeline()


def envelope_of(event, receive_count=1):
    return Envelope("spaceport", event.detail_type(), event.model_dump(mode="json"), receive_count=receive_count)


@pytest.fixture
def world():
    world = FakeWorld()
    for i in range(8):
        world.store.put_bytes(f"s3://{BUCKET}/inbox/site/IMG_{i}.jpg", jpeg_bytes(i))
    return world


@pytest.fixture
def job(world):
    return ingest.submit_job(SubmitRequest(inbox="site", email="a@example.com"), "me", world.ports, PIPELINE)


def start_sfm(world):
    sfm.handle(envelope_of(world.bus.events[0]), world.ports, PIPELINE)
    return next(iter(world.launcher.runs.values()))


def test_trigger_claims_the_job_writes_config_and_launches(world, job):
    run = start_sfm(world)
    assert run.run_name == f"spaceport-sfm-{job.job_id}-a1"
    assert run.input_uri == job.inbox_uri and run.output_uri == f"s3://{BUCKET}/jobs/{job.job_id}/sfm/"
    assert json.loads(world.store.get_bytes(run.config_uri + "config.json")) == run.config
    assert world.table.get(job.job_id).state is JobState.SFM_RUNNING
    assert len(world.bus.of_type(StageStarted)) == 1


def test_a_duplicate_trigger_starts_nothing_new(world, job):
    start_sfm(world)
    sfm.handle(envelope_of(world.bus.events[0]), world.ports, PIPELINE)
    assert len(world.launcher.runs) == 1
    assert len(world.bus.of_type(StageStarted)) == 1


def test_a_throttled_launch_is_retried_without_a_second_job(world, job):
    world.launcher.fail_next = 1
    with pytest.raises(TransientError):
        sfm.handle(envelope_of(world.bus.events[0]), world.ports, PIPELINE)
    sfm.handle(envelope_of(world.bus.events[0]), world.ports, PIPELINE)
    assert len(world.launcher.runs) == 1 and len(world.launcher.launch_calls) == 2


def test_completion_publishes_figures_from_metrics_once_per_state_change(world, job):
    run = start_sfm(world)
    done = finish_stage(world.store, "sfm", run.output_uri, run.run_name)
    sfm.handle(done, world.ports, PIPELINE)
    (completed,) = world.bus.of_type(SfmCompleted)
    assert completed.images_registered == 10 and completed.duration_s == 300.0
    assert world.table.get(job.job_id).state is JobState.SFM_DONE
    # A redelivery republishes (at-least-once) but the job does not move.
    sfm.handle(done, world.ports, PIPELINE)
    assert world.table.get(job.job_id).state is JobState.SFM_DONE


def test_a_stale_trigger_cannot_move_a_job_backwards(world, job):
    run = start_sfm(world)
    sfm.handle(finish_stage(world.store, "sfm", run.output_uri, run.run_name), world.ports, PIPELINE)
    sfm.handle(envelope_of(world.bus.events[0]), world.ports, PIPELINE)  # JobSubmitted again, late
    assert world.table.get(job.job_id).state is JobState.SFM_DONE
    assert len(world.launcher.runs) == 1


def test_the_next_stage_starts_from_the_completion_event(world, job):
    run = start_sfm(world)
    sfm.handle(finish_stage(world.store, "sfm", run.output_uri, run.run_name), world.ports, PIPELINE)
    train.handle(envelope_of(world.bus.of_type(SfmCompleted)[0]), world.ports, PIPELINE)
    train_run = world.launcher.runs[f"spaceport-train-{job.job_id}-a1"]
    assert train_run.input_uri == run.output_uri
    assert train_run.checkpoint_uri == f"s3://{BUCKET}/jobs/{job.job_id}/train-checkpoints/"
    assert train_run.spot is True


def test_input_failure_fails_the_job_with_the_programs_cause(world, job):
    run = start_sfm(world)
    report = FailureReport(cause=CauseCode.LOW_REGISTRATION, message="2 of 8 photos registered (25%)", advice="more")
    sfm.handle(fail_stage("sfm", run.run_name, report.to_message()), world.ports, PIPELINE)
    (failed,) = world.bus.of_type(JobFailed)
    assert failed.cause is CauseCode.LOW_REGISTRATION and "25%" in failed.message
    stored = world.table.get(job.job_id)
    assert stored.state is JobState.FAILED and stored.stages["sfm"].status == "failed"


def test_capacity_failure_relaunches_once_then_fails(world, job):
    run = start_sfm(world)
    sfm.handle(fail_stage("sfm", run.run_name, "CapacityError: no ml.c6i.2xlarge"), world.ports, PIPELINE)
    second = f"spaceport-sfm-{job.job_id}-a2"
    assert second in world.launcher.runs and world.bus.of_type(JobFailed) == []
    assert [started.attempt for started in world.bus.of_type(StageStarted)] == [1, 2]
    # The first attempt's late duplicate is ignored: it was superseded.
    sfm.handle(fail_stage("sfm", run.run_name, "CapacityError"), world.ports, PIPELINE)
    assert len(world.launcher.runs) == 2
    sfm.handle(fail_stage("sfm", second, "CapacityError: still none"), world.ports, PIPELINE)
    assert world.bus.of_type(JobFailed)[0].cause is CauseCode.CAPACITY
    assert len(world.launcher.runs) == 2


def test_cancel_stops_the_running_job_and_ignores_its_stopped_event(world, job):
    run = start_sfm(world)
    ingest.cancel_job(job.job_id, "me", world.ports)
    (request,) = world.bus.of_type(JobCancelRequested)
    sfm.handle(envelope_of(request), world.ports, PIPELINE)
    assert world.launcher.stopped == [run.run_name]
    sfm.handle(fail_stage("sfm", run.run_name, "", status="Stopped"), world.ports, PIPELINE)
    assert [f.cause for f in world.bus.of_type(JobFailed)] == [CauseCode.CANCELLED]


def test_state_changes_of_other_stages_or_unknown_jobs_are_ignored(world, job):
    run = start_sfm(world)
    compress.handle(finish_stage(world.store, "sfm", run.output_uri, run.run_name), world.ports, PIPELINE)
    sfm.handle(fail_stage("sfm", "spaceport-sfm-00000000000000000000-a1", "x"), world.ports, PIPELINE)
    assert world.table.get(job.job_id).state is JobState.SFM_RUNNING


def test_a_poison_message_fails_the_job_on_its_last_delivery(world, job):
    def explode(envelope, ports, pipeline):
        raise RuntimeError("bug")

    envelope = envelope_of(world.bus.events[0], receive_count=2)
    with pytest.raises(RuntimeError):
        consume("sfm", explode, envelope, world.ports, PIPELINE)
    assert world.table.get(job.job_id).state is JobState.SUBMITTED
    last = envelope_of(world.bus.events[0], receive_count=3)
    with pytest.raises(RuntimeError):
        consume("sfm", explode, last, world.ports, PIPELINE)
    assert world.table.get(job.job_id).state is JobState.FAILED
    assert world.bus.of_type(JobFailed)[0].cause is CauseCode.INTERNAL_ERROR


def start_train(world, job):
    run = start_sfm(world)
    sfm.handle(finish_stage(world.store, "sfm", run.output_uri, run.run_name), world.ports, PIPELINE)
    train.handle(envelope_of(world.bus.of_type(SfmCompleted)[0]), world.ports, PIPELINE)
    return world.launcher.runs[f"spaceport-train-{job.job_id}-a1"]


def test_a_quota_refusal_fails_the_job_at_once_naming_the_quota_and_instance_type(world, job):
    run = start_sfm(world)
    sfm.handle(finish_stage(world.store, "sfm", run.output_uri, run.run_name), world.ports, PIPELINE)
    world.launcher.quota_refuses = True
    train.handle(envelope_of(world.bus.of_type(SfmCompleted)[0]), world.ports, PIPELINE)  # no retry: no raise
    (failed,) = world.bus.of_type(JobFailed)
    assert failed.stage == "train" and failed.cause is CauseCode.SERVICE_QUOTA
    assert '"ml.g4dn.xlarge for spot training job usage"' in failed.advice  # spot: the separate quota
    assert "Service Quotas" in failed.advice and "TrainInstanceType" in failed.advice
    assert "TrainUseSpot=false" in failed.advice and "ml.g4dn.xlarge" in failed.message
    stored = world.table.get(job.job_id)
    assert stored.state is JobState.FAILED and stored.stages["train"].status == "failed"
    assert world.launcher.launch_calls[-1] == f"spaceport-train-{job.job_id}-a1"


def test_spot_max_wait_relaunches_once_on_demand_then_finishes(world, job):
    run = start_train(world, job)
    assert run.spot is True
    train.handle(fail_stage("train", run.run_name, "", status="Stopped", secondary="MaxWaitTimeExceeded"),
                 world.ports, PIPELINE)
    second = world.launcher.runs[f"spaceport-train-{job.job_id}-a2"]
    assert second.spot is False and world.bus.of_type(JobFailed) == []
    train.handle(finish_stage(world.store, "train", second.output_uri, second.run_name), world.ports, PIPELINE)
    assert len(world.bus.of_type(TrainingCompleted)) == 1
    assert world.table.get(job.job_id).state is JobState.TRAIN_DONE


def test_max_runtime_exceeded_fails_as_a_timeout_without_a_relaunch(world, job):
    run = start_train(world, job)
    train.handle(fail_stage("train", run.run_name, "", status="Stopped", secondary="MaxRuntimeExceeded"),
                 world.ports, PIPELINE)
    (failed,) = world.bus.of_type(JobFailed)
    assert failed.cause is CauseCode.TIMEOUT and "6 h" in failed.message
    assert len(world.launcher.runs) == 2  # sfm and one train attempt


def test_a_launch_that_finds_its_job_finished_feeds_the_lost_end_state(world, job):
    run = start_sfm(world)  # ... and its Completed event never arrives
    finish_stage(world.store, "sfm", run.output_uri, run.run_name)
    world.launcher.descriptions[run.run_name] = description("sfm", run.run_name, "Completed")
    sfm.handle(envelope_of(world.bus.events[0]), world.ports, PIPELINE)  # the trigger, redelivered
    assert len(world.bus.of_type(SfmCompleted)) == 1
    assert world.table.get(job.job_id).state is JobState.SFM_DONE


def test_a_processing_failure_without_exit_message_is_read_from_the_description(world, job):
    run = start_sfm(world)
    report = FailureReport(cause=CauseCode.NO_OVERLAP, message="no two photos share features", advice="overlap")
    world.launcher.descriptions[run.run_name] = description("sfm", run.run_name, "Failed", report.to_message())
    sfm.handle(fail_stage("sfm", run.run_name, ""), world.ports, PIPELINE)  # event without ExitMessage
    (failed,) = world.bus.of_type(JobFailed)
    assert failed.cause is CauseCode.NO_OVERLAP and world.launcher.described == [run.run_name]
