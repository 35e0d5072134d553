"""SubprocessLauncher runs stage programs and reports their end like SageMaker does."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from shared.adapters.local import Database, FileObjectStore, SubprocessLauncher
from shared.events import SageMakerJobStateChange
from shared.ports import StageRun
from shared.failures import classify_failure
from shared.stage import FailureReport

FAKE = Path(__file__).resolve().parents[2] / "support" / "fake_stage.py"
JOB = "j" * 20


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict]] = []

    def publish_raw(self, source: str, detail_type: str, detail: dict) -> list[str]:
        self.events.append((source, detail_type, detail))
        return []

    def changes(self) -> list[SageMakerJobStateChange]:
        return [SageMakerJobStateChange.from_detail(t, d) for _, t, d in self.events]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.delenv("FAKE_STAGE", raising=False)
    store = FileObjectStore(tmp_path / "data")
    bus = Recorder()
    launcher = SubprocessLauncher(
        Database(tmp_path / "db.sqlite"),
        store,
        bus,
        tmp_path / "runs",
        command=lambda stage: [sys.executable, str(FAKE), stage],
    )
    inbox = store.path_of("s3://bkt/inbox/x/")
    inbox.mkdir(parents=True)
    (inbox / "a.jpg").write_bytes(b"\xff\xd8")
    return launcher, bus, store


def sfm_run(name: str = f"spaceport-sfm-{JOB}-a1") -> StageRun:
    return StageRun(
        stage="sfm",
        run_name=name,
        job_id=JOB,
        input_uri="s3://bkt/inbox/x/",
        output_uri=f"s3://bkt/jobs/{JOB}/sfm/",
        config={"matcher": "auto"},
        config_uri=f"s3://bkt/jobs/{JOB}/config/sfm/",
        instance_type="local",
        max_runtime_s=600,
    )


def wait(launcher: SubprocessLauncher, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while launcher.poll() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_completed_run_reports_a_processing_state_change_and_writes_outputs_in_place(env):
    launcher, bus, store = env
    assert launcher.launch(sfm_run()) is True
    wait(launcher)
    (change,) = bus.changes()
    assert (change.job_name, change.status) == (f"spaceport-sfm-{JOB}-a1", "Completed")
    assert change.start_time is not None and change.end_time >= change.start_time
    assert bus.events[0][1] == "SageMaker Processing Job State Change"
    assert json.loads(store.get_bytes(f"s3://bkt/jobs/{JOB}/sfm/metrics.json"))["images_in"] == 1


def test_the_same_run_name_twice_is_not_started_again(env):
    launcher, bus, _ = env
    assert launcher.launch(sfm_run()) is True
    assert launcher.launch(sfm_run()) is False
    wait(launcher)
    assert launcher.launch(sfm_run()) is False  # finished: still the same job
    assert len(bus.events) == 1


def test_a_stage_failure_travels_as_the_exit_message(env, monkeypatch):
    launcher, bus, _ = env
    monkeypatch.setenv("FAKE_STAGE", "sfm=fail")
    launcher.launch(sfm_run())
    wait(launcher)
    (change,) = bus.changes()
    assert change.status == "Failed"
    report = FailureReport.from_message(change.exit_message)
    assert report is not None and report.cause == "low_registration"
    assert "2 of 24" in report.message


def test_a_crash_without_a_result_is_a_failure_with_the_exit_code(env, monkeypatch):
    launcher, bus, _ = env
    monkeypatch.setenv("FAKE_STAGE", "sfm=crash")
    launcher.launch(sfm_run())
    wait(launcher)
    (change,) = bus.changes()
    assert change.status == "Failed" and change.exit_message is None  # no /opt/ml/output/message
    assert change.failure_reason.startswith("AlgorithmError: See job logs") and "exit code: 1" in change.failure_reason


def test_training_gets_a_checkpoint_folder_and_reports_a_training_state_change(env):
    launcher, bus, store = env
    sfm = store.path_of(f"s3://bkt/jobs/{JOB}/sfm/")
    (sfm / "sparse/0").mkdir(parents=True)
    (sfm / "sparse/0/cameras.txt").write_text("x")
    run = StageRun(
        stage="train",
        run_name=f"spaceport-train-{JOB}-a1",
        job_id=JOB,
        input_uri=f"s3://bkt/jobs/{JOB}/sfm/",
        output_uri=f"s3://bkt/jobs/{JOB}/train/",
        config={},
        config_uri="s3://bkt/c/",
        instance_type="local",
        max_runtime_s=600,
        checkpoint_uri=f"s3://bkt/jobs/{JOB}/train-checkpoints/",
    )
    launcher.launch(run)
    wait(launcher)
    assert bus.events[0][1] == "SageMaker Training Job State Change"
    assert bus.changes()[0].status == "Completed"
    assert store.path_of(f"s3://bkt/jobs/{JOB}/train-checkpoints/step.json").exists()


def train_run(store: FileObjectStore) -> StageRun:
    sfm = store.path_of(f"s3://bkt/jobs/{JOB}/sfm/")
    (sfm / "sparse/0").mkdir(parents=True, exist_ok=True)
    (sfm / "sparse/0/cameras.txt").write_text("x")
    return StageRun(
        stage="train",
        run_name=f"spaceport-train-{JOB}-a1",
        job_id=JOB,
        input_uri=f"s3://bkt/jobs/{JOB}/sfm/",
        output_uri=f"s3://bkt/jobs/{JOB}/train/",
        config={},
        config_uri="s3://bkt/c/",
        instance_type="local",
        max_runtime_s=600,
        checkpoint_uri=f"s3://bkt/jobs/{JOB}/train-checkpoints/",
    )


def test_stop_sends_sigterm_and_reports_stopped_once_with_the_checkpoint_saved(env, monkeypatch):
    launcher, bus, store = env
    monkeypatch.setenv("FAKE_STAGE", "train=slow")  # 2 s of steps: still running when stopped
    launcher.launch(train_run(store))
    step = store.path_of(f"s3://bkt/jobs/{JOB}/train-checkpoints/step.json")
    deadline = time.monotonic() + 20
    while not step.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    launcher.stop("train", f"spaceport-train-{JOB}-a1")
    launcher.stop("train", f"spaceport-train-{JOB}-a1")
    wait(launcher)
    (change,) = bus.changes()
    assert (change.status, change.secondary_status) == ("Stopped", "Stopped")
    assert launcher.poll() == 0
    assert not store.path_of(f"s3://bkt/jobs/{JOB}/train/metrics.json").exists()
    # The program heard SIGTERM, stopped at a step boundary and said so in /opt/ml/output/failure.
    failure = (launcher._runs_dir / f"spaceport-train-{JOB}-a1/opt/ml/output/failure").read_text()
    report = FailureReport.from_message(failure)
    assert report.terminated and "checkpoint saved" in report.message
    assert 0 < json.loads(step.read_text())["step"] < 40


def test_a_program_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    store = FileObjectStore(tmp_path / "data")
    bus = Recorder()
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    launcher = SubprocessLauncher(
        Database(tmp_path / "db.sqlite"),
        store,
        bus,
        tmp_path / "runs",
        command=lambda stage: [sys.executable, "-c", stubborn],
        stop_grace_s=0.5,
    )
    launcher.launch(sfm_run())
    time.sleep(0.3)
    launcher.stop("sfm", f"spaceport-sfm-{JOB}-a1")
    started = time.monotonic()
    wait(launcher)
    assert 0.4 < time.monotonic() - started < 10
    (change,) = bus.changes()
    assert change.status == "Stopped"
    (row,) = launcher.runs(JOB)
    assert row["exit_code"] == 137  # SIGKILL, as a container runtime reports it


def test_a_run_past_its_time_limit_is_stopped_as_sagemaker_stops_it(env, monkeypatch):
    launcher, bus, store = env
    monkeypatch.setenv("FAKE_STAGE", "train=slow")
    run = train_run(store)
    launcher.launch(StageRun(**{**run.__dict__, "max_runtime_s": 1}))  # 40 steps x 0.05 s do not fit
    wait(launcher)
    (change,) = bus.changes()
    assert (change.status, change.secondary_status) == ("Stopped", "MaxRuntimeExceeded")
    assert change.max_runtime_s == 1
    assert classify_failure(change, "train").cause == "timeout"


def test_describe_answers_like_describe_training_job(env):
    launcher, bus, store = env
    run = train_run(store)
    assert launcher.describe("train", run.run_name) is None
    launcher.launch(run)
    running = launcher.describe("train", run.run_name)
    assert running.detail["TrainingJobStatus"] == "InProgress"
    wait(launcher)
    done = launcher.describe("train", run.run_name)
    assert done.detail == bus.events[-1][2]  # the description is the event's detail
    assert done.detail["TrainingJobStatus"] == "Completed"
    assert done.detail["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}


def test_a_run_that_died_without_a_result_is_restarted_by_a_new_launcher(env, tmp_path, monkeypatch):
    launcher, bus, store = env
    monkeypatch.setenv("FAKE_STAGE", "train=slow")
    run = train_run(store)
    launcher.launch(run)
    step = store.path_of(f"s3://bkt/jobs/{JOB}/train-checkpoints/step.json")
    deadline = time.monotonic() + 20
    while not step.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    (row,) = launcher.runs(JOB)
    os.killpg(row["pid"], signal.SIGKILL)  # the machine "crashed" while nobody watched
    launcher._procs[run.run_name].wait()
    fresh = SubprocessLauncher(
        Database(tmp_path / "db.sqlite"),
        store,
        bus,
        tmp_path / "runs",
        command=lambda stage: [sys.executable, str(FAKE), stage],
    )
    wait(fresh)
    assert [c.status for c in bus.changes()] == ["Completed"]
    (row,) = fresh.runs(JOB)
    assert row["starts"] == 2
    metrics = json.loads(store.get_bytes(f"s3://bkt/jobs/{JOB}/train/metrics.json"))
    assert metrics["resumed_from"] > 0


def test_poll_for_one_job_neither_watches_nor_restarts_another_jobs_runs(env, monkeypatch):
    launcher, bus, store = env
    monkeypatch.setenv("FAKE_STAGE", "train=slow")
    launcher.launch(train_run(store))
    launcher.interrupt()  # Ctrl-C: the run is left for its own job's next poll
    (row,) = launcher.runs(JOB)
    assert row["status"] == "interrupted"
    assert launcher.poll("z" * 20) == 0
    (row,) = launcher.runs(JOB)
    assert (row["status"], row["starts"]) == ("interrupted", 1)
    assert launcher.poll(JOB) == 1  # its own job restarts it
    (row,) = launcher.runs(JOB)
    assert (row["status"], row["starts"]) == ("running", 2)
    launcher.interrupt()
