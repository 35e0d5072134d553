"""The whole local pipeline (ingest -> sfm -> train -> compress -> notify) through the real
services, queues, job table and launcher, with a tiny test-only stage program
(tests/support/fake_stage.py) standing in for the heavy stage programs."""

from __future__ import annotations

import email
import email.policy
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from services.ingest.logic import SubmitRequest, submit_job
from shared.jobs import JobState
from spaceport.runtime import LocalRuntime

REPO = Path(__file__).resolve().parents[2]
FAKE = REPO / "tests/support/fake_stage.py"


def fake_command(stage: str) -> list[str]:
    return [sys.executable, str(FAKE), stage]


def write_photos(folder: Path, count: int = 10) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for index in range(count):
        pixels = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"IMG_{index:03d}.jpg", quality=80)
    return folder


@pytest.fixture
def runtime(tmp_path, monkeypatch) -> LocalRuntime:
    monkeypatch.delenv("FAKE_STAGE", raising=False)
    return LocalRuntime(tmp_path / "data", command=fake_command, poll_interval_s=0.02, retry_delay_s=0.01)


def submit(runtime: LocalRuntime) -> str:
    write_photos(runtime.inbox_dir("set"))
    job = submit_job(
        SubmitRequest(inbox="set", email="a@example.com"), "local", runtime.ports, runtime.pipeline
    )
    return job.job_id


def drive(runtime: LocalRuntime, job_id: str) -> None:
    assert runtime.drive(lambda: runtime.settled(job_id) or runtime.stuck(job_id), timeout_s=90), (
        "job did not settle"
    )


def emails_for(runtime: LocalRuntime, job_id: str) -> list[Path]:
    return [p for p in (runtime.data_dir / "outbox").glob("*.eml") if job_id.encode() in p.read_bytes()]


def test_a_job_runs_through_every_service_to_one_email(runtime):
    with runtime.running():
        job_id = submit(runtime)
        drive(runtime, job_id)
    job = runtime.table.get(job_id)
    assert job.state is JobState.SUCCEEDED
    assert [job.stages[s].status for s in ("sfm", "train", "compress")] == ["succeeded"] * 3
    assert (runtime.job_dir(job_id) / "compress/model.sog").exists()
    assert (runtime.job_dir(job_id) / "notify/report.html").exists()
    assert len(emails_for(runtime, job_id)) == 1
    assert all(run["starts"] == 1 for run in runtime.launcher.runs(job_id))
    assert runtime.bus.dead_letters(job_id) == []
    assert all(hop.ok for hop in runtime.hops)
    delivered = {(hop.queue, hop.detail_type) for hop in runtime.hops}
    assert ("train", "SageMaker Training Job State Change") in delivered
    assert ("notify", "CompressionCompleted") in delivered


def test_a_stage_failure_fails_the_job_with_its_cause_and_emails_the_reason(runtime, monkeypatch):
    monkeypatch.setenv("FAKE_STAGE", "sfm=fail")
    with runtime.running():
        job_id = submit(runtime)
        drive(runtime, job_id)
    job = runtime.table.get(job_id)
    assert job.state is JobState.FAILED
    assert (job.failure.stage, job.failure.cause) == ("sfm", "low_registration")
    assert "train" not in job.stages
    (path,) = emails_for(runtime, job_id)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "only 2 of 24 images registered" in text


def test_a_poison_message_is_dead_lettered_and_its_job_failed_on_the_last_delivery(runtime):
    def broken(envelope, ports, pipeline):
        raise RuntimeError("bug in train")

    runtime.handlers["train"] = broken
    with runtime.running():
        job_id = submit(runtime)
        drive(runtime, job_id)
    job = runtime.table.get(job_id)
    assert job.state is JobState.FAILED
    assert job.failure.cause == "internal_error"
    train_hops = [hop for hop in runtime.hops if hop.queue == "train"]
    assert [hop.receive_count for hop in train_hops] == [1, 2, 3]
    (dead,) = runtime.bus.dead_letters(job_id)
    assert dead.queue == "train" and "bug in train" in dead.last_error
    assert len(emails_for(runtime, job_id)) == 1


def test_a_manifest_dropped_into_the_inbox_submits_a_job(runtime):
    write_photos(runtime.inbox_dir("drop"))
    with runtime.running():
        runtime.store.put_bytes(
            "s3://spaceport/inbox/drop/job.json", json.dumps({"email": "b@example.com"}).encode()
        )
        runtime.step()
        (job,) = runtime.table.list_all()
        drive(runtime, job.job_id)
    assert runtime.table.get(job.job_id).state is JobState.SUCCEEDED


def _cli(
    args: list[str], data: Path, fake_stage: str = "train=slow", step_s: float = 0.05, **kw
) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "spaceport.cli", *args, "--data-dir", str(data)],
        cwd=REPO,
        env=_env(fake_stage, step_s),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _env(fake_stage: str = "train=slow", step_s: float = 0.05) -> dict[str, str]:
    return {
        **os.environ,
        "FAKE_STEP_S": str(step_s),
        "SPACEPORT_STAGE_COMMAND": f"{sys.executable} {FAKE} {{stage}}",
        "FAKE_STAGE": fake_stage,
        "PYTHONPATH": str(REPO),
    }


def _run_and_ctrl_c_in_training(photos: Path, data: Path) -> tuple[str, int, str]:
    """`spaceport run`, Ctrl-C once training has checkpointed; (job id, exit code, stderr)."""
    # Slow steps (40 x 0.5 s): on a loaded machine the signal must still land mid-training.
    run = _cli(["run", str(photos), "--preset", "preview"], data, step_s=0.5)
    job_id = _wait_for_training(data)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    return job_id, run.returncode, err


def _status(job_id: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: PLW1510 - callers assert the exit code
        [sys.executable, "-m", "spaceport.cli", "status", job_id, "--data-dir", str(data)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _ends_by_itself(pid: int, timeout: float = 30.0) -> bool:
    """The process is gone (or a zombie) within `timeout` without anyone signalling it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (ProcessLookupError, FileNotFoundError):
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def _wait_for_training(data: Path, timeout: float = 60.0) -> str:
    """The job id once its train stage has written a checkpoint."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for step in (data / "spaceport/jobs").glob("*/train-checkpoints/step.json"):
            if json.loads(step.read_text() or '{"step": 0}')["step"] >= 5:
                return step.parts[-3]
        time.sleep(0.05)
    raise AssertionError("training never started")


def test_killing_everything_mid_training_then_resume_finishes_without_redoing_stages(tmp_path):
    photos = write_photos(tmp_path / "photos")
    data = tmp_path / "data"
    run = _cli(["run", str(photos), "--preset", "preview"], data)
    job_id = _wait_for_training(data)
    run.kill()  # SIGKILL: the runtime cannot clean up
    run.communicate()
    runtime = LocalRuntime(data)
    (train,) = [r for r in runtime.launcher.runs(job_id) if r["stage"] == "train"]
    assert _ends_by_itself(train["pid"]), "the stage process outlived the killed runtime"
    resume = _cli(["resume", job_id], data)
    out, err = resume.communicate(timeout=90)
    assert resume.returncode == 0, err
    assert "succeeded" in out
    starts = {r["stage"]: r["starts"] for r in runtime.launcher.runs(job_id)}
    assert starts == {"sfm": 1, "train": 2, "compress": 1}
    metrics = json.loads((data / f"spaceport/jobs/{job_id}/train/metrics.json").read_text())
    assert metrics["resumed_from"] >= 5  # training went on from its checkpoint
    assert runtime.table.get(job_id).state is JobState.SUCCEEDED
    view = subprocess.run(  # noqa: PLW1510 - the exit code is asserted
        [sys.executable, "-m", "spaceport.cli", "view", "x" * 20, "--no-browser", "--data-dir", str(data)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert view.returncode == 2 and "no job" in view.stderr


@pytest.mark.parametrize("stage", ["sfm", "compress"])
def test_killing_everything_during_a_stage_then_resume_reruns_only_that_stage(tmp_path, stage):
    photos = write_photos(tmp_path / "photos")
    data = tmp_path / "data"
    run = _cli(["run", str(photos), "--preset", "preview"], data, fake_stage=f"{stage}=slow")
    deadline = time.monotonic() + 60
    while not list((data / "spaceport/jobs").glob(f"*/{stage}/progress.json")):
        assert time.monotonic() < deadline, f"{stage} never started"
        time.sleep(0.05)
    (progress,) = (data / "spaceport/jobs").glob(f"*/{stage}/progress.json")
    job_id = progress.parts[-3]
    run.kill()  # SIGKILL the runtime: the stage process goes with it, without a result
    run.communicate()
    runtime = LocalRuntime(data)
    (running,) = [r for r in runtime.launcher.runs(job_id) if r["stage"] == stage]
    assert _ends_by_itself(running["pid"]), "the stage process outlived the killed runtime"
    resume = _cli(["resume", job_id], data, fake_stage="")
    _, err = resume.communicate(timeout=90)
    assert resume.returncode == 0, err
    starts = {r["stage"]: r["starts"] for r in runtime.launcher.runs(job_id)}
    assert starts == {"sfm": 1, "train": 1, "compress": 1, stage: 2}
    assert runtime.table.get(job_id).state is JobState.SUCCEEDED
    assert len(emails_for(runtime, job_id)) == 1


def test_ctrl_c_stops_the_stage_exits_3_and_resume_finishes(tmp_path):
    data = tmp_path / "data"
    job_id, code, err = _run_and_ctrl_c_in_training(write_photos(tmp_path / "photos"), data)
    assert code == 3
    hint = err.split("continue with: ")[1].strip()  # pasted as printed: same python, --data-dir
    assert f"-m spaceport.cli resume {job_id} --data-dir {data}" in hint
    runtime = LocalRuntime(data)
    (train,) = [r for r in runtime.launcher.runs(job_id) if r["stage"] == "train"]
    assert train["status"] == "interrupted"
    status = _status(job_id, data)
    assert status.returncode == 0
    assert "train_running" in status.stdout and hint in status.stdout
    resume = subprocess.Popen(  # the hint, pasted
        shlex.split(hint), cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, err = resume.communicate(timeout=90)
    assert resume.returncode == 0, err
    assert runtime.table.get(job_id).state is JobState.SUCCEEDED


def test_stop_after_sfm_leaves_the_job_resumable_and_resume_does_not_redo_sfm(tmp_path):
    photos = write_photos(tmp_path / "photos")
    data = tmp_path / "data"
    run = _cli(["run", str(photos), "--preset", "preview", "--stop-after", "sfm"], data)
    out, err = run.communicate(timeout=90)
    assert run.returncode == 0, err
    assert "stopped after sfm" in out
    runtime = LocalRuntime(data)
    (job,) = runtime.table.list_all()
    assert job.state is JobState.SFM_DONE
    assert [r["stage"] for r in runtime.launcher.runs(job.job_id)] == ["sfm"]
    resume = _cli(["resume", job.job_id], data)
    _, err = resume.communicate(timeout=90)
    assert resume.returncode == 0, err
    assert {r["stage"]: r["starts"] for r in runtime.launcher.runs(job.job_id)} == {
        "sfm": 1,
        "train": 1,
        "compress": 1,
    }


def test_a_data_dir_inside_the_photo_folder_is_never_scanned_by_the_next_run(tmp_path):
    """`run PHOTOS --data-dir PHOTOS/work` twice: the second run takes the same 10 photos, not the
    first job's inbox copy (which would be 10 identical copies) nor anything else of ours."""
    photos = write_photos(tmp_path / "photos")
    for _ in range(2):
        run = _cli(["run", str(photos), "--preset", "preview", "--stop-after", "sfm"], photos / "work",
                   fake_stage="")  # fmt: skip
        out, err = run.communicate(timeout=90)
        assert run.returncode == 0, err
        assert "copied 10 photos" in out and "identical" not in out
    assert "left out: 1 skipped, the local data dir (the copies and outputs of earlier jobs): work/" in out
    runtime = LocalRuntime(photos / "work")
    assert sorted(job.photo_count for job in runtime.table.list_all()) == [10, 10]


def test_a_run_drives_only_its_own_job_and_leaves_the_interrupted_one_queued(tmp_path):
    """Issue 12, item 1: run A, Ctrl-C during training, then run B with --stop-after sfm in the
    same data dir: A's training must not start again, nothing of A runs, status says A waits."""
    photos = write_photos(tmp_path / "photos")
    data = tmp_path / "data"
    job_a, code, err = _run_and_ctrl_c_in_training(photos, data)
    assert code == 3, err
    runtime = LocalRuntime(data)
    (train_a,) = [r for r in runtime.launcher.runs(job_a) if r["stage"] == "train"]
    assert train_a["status"] == "interrupted" and _ends_by_itself(train_a["pid"], timeout=5)
    checkpoint = json.loads((data / f"spaceport/jobs/{job_a}/train-checkpoints/step.json").read_text())
    second = _cli(["run", str(photos), "--preset", "preview", "--stop-after", "sfm"], data, step_s=0.5)
    out, err = second.communicate(timeout=90)
    assert second.returncode == 0, err
    (job_b,) = [job.job_id for job in runtime.table.list_all() if job.job_id != job_a]
    assert runtime.table.get(job_b).state is JobState.SFM_DONE
    # A was not touched: its training run was not started again and wrote no step.
    (train_a_after,) = [r for r in runtime.launcher.runs(job_a) if r["stage"] == "train"]
    assert (train_a_after["status"], train_a_after["starts"]) == ("interrupted", 1)
    assert json.loads((data / f"spaceport/jobs/{job_a}/train-checkpoints/step.json").read_text()) == checkpoint
    assert runtime.table.get(job_a).state is JobState.TRAIN_RUNNING
    status = _status(job_a, data)
    assert status.returncode == 0 and "queued" in status.stdout and f"resume {job_a} --data-dir {data}" in status.stdout
    # Its own resume finishes it, from its checkpoint.
    resume = _cli(["resume", job_a], data, step_s=0.01)
    _, err = resume.communicate(timeout=90)
    assert resume.returncode == 0, err
    assert runtime.table.get(job_a).state is JobState.SUCCEEDED
    assert runtime.table.get(job_b).state is JobState.SFM_DONE  # B stays where --stop-after left it
    metrics = json.loads((data / f"spaceport/jobs/{job_a}/train/metrics.json").read_text())
    assert metrics["resumed_from"] >= checkpoint["step"]
