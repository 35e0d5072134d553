"""Each stage's real container program, started the way SageMaker starts it: the image's ENTRYPOINT
from its Dockerfile plus SageMaker's arguments (`train` for the training image, none for the
processing images), the /opt/ml layout built from the job's own CreateTrainingJob /
CreateProcessingJob request, rooted in a temporary folder. Outputs, failure files, exit codes and
the end state SageMaker would derive from them are checked (small synthetic inputs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from services.compress.container.ply import write_ply
from services.compress.container.synthetic import synthetic_splats
from shared import sagemaker_jobs as sm
from shared.adapters.local.container import Container, Outcome, dockerfile_entrypoint, outcome, prepare
from shared.adapters.local.store import FileObjectStore
from shared.layout import checkpoint_uri, config_uri, sagemaker_job_name, stage_uri
from shared.ports import StageRun
from shared.stage import EXIT_INPUT, EXIT_OK, FailureReport
from shared.termination import EXIT_TERMINATED
from tests.support.photos import jpeg_bytes

REPO = Path(__file__).resolve().parents[2]
BUCKET = "bkt"
JOB = "c" * 20
TRAIN_FAST = {"max_image_size": 64, "sh_degree": 1, "sh_degree_interval": 40, "refine_start": 30, "refine_stop": 120,
              "refine_every": 30, "reset_every": 1000, "num_threads": 1, "preview_count": 1}


def stage_run(stage: str, input_uri: str, config: dict) -> StageRun:
    return StageRun(
        stage=stage,
        run_name=sagemaker_job_name(stage, JOB, 1),
        job_id=JOB,
        input_uri=input_uri,
        output_uri=stage_uri(BUCKET, JOB, stage),
        config=config,
        config_uri=config_uri(BUCKET, JOB, stage),
        instance_type="ml.c6i.2xlarge" if stage != "train" else "ml.g4dn.xlarge",
        max_runtime_s=3600,
        checkpoint_uri=checkpoint_uri(BUCKET, JOB) if stage == "train" else None,
    )


def container_for(run: StageRun, store: FileObjectStore, tmp_path: Path) -> Container:
    # The stage service writes config.json for processing jobs before it launches them.
    store.put_bytes(run.config_uri + "config.json", json.dumps(run.config).encode())
    request = sm.request_for(run, f"local/spaceport-{run.stage}", "arn:aws:iam::000000000000:role/x")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return prepare(run.stage, request, tmp_path / "run", store, dockerfile_entrypoint(run.stage), env)


def start(container: Container) -> subprocess.Popen[bytes]:
    return subprocess.Popen(container.argv, cwd=REPO, env=container.env, start_new_session=True)  # noqa: S603


def run_to_end(container: Container, timeout: float = 600) -> tuple[int, Outcome]:
    code = start(container).wait(timeout=timeout)
    result = outcome(container, code)
    assert result is not None
    return code, result


@pytest.fixture
def store(tmp_path: Path) -> FileObjectStore:
    return FileObjectStore(tmp_path / "s3")


def test_the_argv_is_the_dockerfile_entrypoint_plus_sagemakers_arguments(store, tmp_path):
    train = container_for(stage_run("train", stage_uri(BUCKET, JOB, "sfm"), {}), store, tmp_path / "t")
    assert train.argv[1:] == ["-m", "services.train.container.entrypoint", "train"]
    assert train.env["TRAINING_JOB_NAME"] == sagemaker_job_name("train", JOB, 1)
    hyper = json.loads((train.ml_root / sm.HYPERPARAMETERS).read_text())
    assert hyper == {"config": "{}", "output_uri": stage_uri(BUCKET, JOB, "train")}
    assert json.loads((train.ml_root / sm.INPUT_DATA_CONFIG).read_text())["sfm"]["TrainingInputMode"] == "File"
    resources = json.loads((train.ml_root / sm.TRAINING_RESOURCE_CONFIG).read_text())
    assert resources["current_host"] == "algo-1" and resources["current_instance_type"] == "ml.g4dn.xlarge"
    assert (train.ml_root / "checkpoints").resolve() == store.path_of(checkpoint_uri(BUCKET, JOB)).resolve()
    sfm = container_for(stage_run("sfm", f"s3://{BUCKET}/inbox/x/", {}), store, tmp_path / "s")
    assert sfm.argv[1:] == ["-m", "services.sfm.container.entrypoint"]  # no ContainerArguments
    job_config = json.loads((sfm.ml_root / sm.PROCESSING_JOB_CONFIG).read_text())
    assert job_config["ProcessingJobName"] == sagemaker_job_name("sfm", JOB, 1)
    assert (sfm.ml_root / sm.PROCESSING_CONFIG_DIR / "config.json").exists()
    # A request's ContainerEntrypoint / ContainerArguments replace the image's, as on SageMaker.
    request = sm.request_for(stage_run("compress", "s3://bkt/x/", {}), "img", "role")
    request["AppSpecification"].update(ContainerEntrypoint=["/bin/echo"], ContainerArguments=["a", "b"])
    custom = prepare("compress", request, tmp_path / "c", store, ["unused"], {})
    assert custom.argv == ["/bin/echo", "a", "b"]


def test_sfm_with_too_few_photos_fails_with_its_cause_as_the_exit_message(store, tmp_path):
    for i in range(3):
        store.put_bytes(f"s3://{BUCKET}/inbox/few/IMG_{i}.jpg", jpeg_bytes(i))
    container = container_for(stage_run("sfm", f"s3://{BUCKET}/inbox/few/", {}), store, tmp_path)
    code, result = run_to_end(container)
    assert code == EXIT_INPUT
    report = FailureReport.from_message((container.ml_root / sm.PROCESSING_MESSAGE).read_text())
    assert report.cause == "too_few_images"
    assert (result.status, FailureReport.from_message(result.exit_message)) == ("Failed", report)
    assert result.failure_reason == "AlgorithmError: See job logs for more information"
    assert json.loads(store.get_bytes(stage_uri(BUCKET, JOB, "sfm") + "failure.json"))["cause"] == "too_few_images"
    assert sorted(p.name for p in store.path_of(f"s3://{BUCKET}/inbox/few/").iterdir()) == [
        "IMG_0.jpg", "IMG_1.jpg", "IMG_2.jpg"]  # the photos are untouched


@pytest.mark.slow
def test_sfm_reconstructs_a_rendered_scene_into_its_processing_output(store, tmp_path):
    from spaceport.synthetic import render_scene

    render_scene("drone", store.path_of(f"s3://{BUCKET}/inbox/drone/"), n_images=10, width=480, height=360, seed=11)
    config = {"max_image_size": 480, "max_num_features": 2048, "num_threads": 2}
    container = container_for(stage_run("sfm", f"s3://{BUCKET}/inbox/drone/", config), store, tmp_path)
    code, result = run_to_end(container)
    assert (code, result.status, result.exit_message) == (EXIT_OK, "Completed", None)
    metrics = json.loads(store.get_bytes(stage_uri(BUCKET, JOB, "sfm") + "metrics.json"))
    assert metrics["images_registered"] >= 9
    assert store.path_of(stage_uri(BUCKET, JOB, "sfm") + "sparse/0/cameras.bin").exists()


@pytest.mark.slow
def test_sfm_on_sigterm_in_pycolmap_writes_its_failure_and_exits(store, tmp_path):
    # pycolmap's glog installs a SIGTERM handler of its own; the stage's must win over it.
    from spaceport.synthetic import render_scene

    render_scene("drone", store.path_of(f"s3://{BUCKET}/inbox/drone/"), n_images=10, width=480, height=360, seed=2)
    container = container_for(stage_run("sfm", f"s3://{BUCKET}/inbox/drone/", {"num_threads": 1}), store, tmp_path)
    proc = start(container)
    progress = store.path_of(stage_uri(BUCKET, JOB, "sfm") + "progress.json")
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if progress.exists() and json.loads(progress.read_text() or "{}").get("phase") not in (None, "prepare"):
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGTERM)
    code = proc.wait(timeout=sm.STOP_GRACE_S)
    assert code == EXIT_TERMINATED
    report = FailureReport.from_message((container.ml_root / sm.PROCESSING_MESSAGE).read_text())
    assert report.terminated and outcome(container, code).exit_message is not None


def train_container(store, tmp_path, config: dict) -> Container:
    from services.train.container.synthetic import write_scene

    write_scene(store.path_of(stage_uri(BUCKET, JOB, "sfm")), n_images=10, width=64, height=48,
                n_gaussians=2000, n_points=300, seed=3)
    return container_for(stage_run("train", stage_uri(BUCKET, JOB, "sfm"), config), store, tmp_path)


@pytest.mark.slow
def test_train_runs_as_docker_run_image_train_and_uploads_its_products_file_by_file(store, tmp_path):
    container = train_container(store, tmp_path, {**TRAIN_FAST, "steps": 40, "checkpoint_every": 20})
    code, result = run_to_end(container)
    assert (code, result.status) == (EXIT_OK, "Completed"), (container.ml_root / sm.TRAINING_FAILURE).read_text()
    out = stage_uri(BUCKET, JOB, "train")
    assert json.loads(store.get_bytes(out + "metrics.json"))["steps"] == 40
    assert store.head(out + "model.ply") is not None and store.list(out + "previews/")
    assert list(store.path_of(checkpoint_uri(BUCKET, JOB)).glob("ckpt_*.pt"))  # synced checkpoints
    assert not (container.ml_root / sm.TRAINING_FAILURE).exists()


@pytest.mark.slow
def test_train_on_sigterm_saves_a_checkpoint_and_writes_its_failure_within_the_grace_period(store, tmp_path):
    container = train_container(store, tmp_path, {**TRAIN_FAST, "steps": 5000, "checkpoint_every": 1000})
    proc = start(container)
    progress = container.ml_root / "spaceport-train-output" / "progress.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if progress.exists() and json.loads(progress.read_text() or "{}").get("step", 0) >= 3:
            break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGTERM)  # what SageMaker sends when it stops the job
    sent = time.monotonic()
    code = proc.wait(timeout=sm.STOP_GRACE_S)
    assert code == EXIT_TERMINATED and time.monotonic() - sent < 60  # well before SIGKILL
    report = FailureReport.from_message((container.ml_root / sm.TRAINING_FAILURE).read_text())
    assert report.terminated and "checkpoint saved" in report.message
    (saved,) = store.path_of(checkpoint_uri(BUCKET, JOB)).glob("ckpt_*.pt")
    assert 3 <= int(saved.stem.split("_")[1]) < 1000  # saved at the stop, not at a regular interval
    result = outcome(container, code)
    assert result.status == "Failed" and result.terminated and result.failure_reason.startswith("AlgorithmError: ")


@pytest.mark.slow  # the training program imports torch before it reads its command line
def test_the_training_image_started_without_train_fails_with_a_clear_failure(store, tmp_path):
    container = container_for(stage_run("train", stage_uri(BUCKET, JOB, "sfm"), {}), store, tmp_path)
    proc = subprocess.run([*container.argv[:-1]], cwd=REPO, env=container.env, timeout=120)  # noqa: S603, PLW1510
    assert proc.returncode == EXIT_INPUT
    report = FailureReport.from_message((container.ml_root / sm.TRAINING_FAILURE).read_text())
    assert "IMAGE train" in report.message


@pytest.mark.slow
def test_compress_turns_the_trained_model_into_sog_in_its_processing_output(store, tmp_path):
    model = store.path_of(stage_uri(BUCKET, JOB, "train") + "model.ply")
    model.parent.mkdir(parents=True)
    write_ply(model, synthetic_splats(1500, sh_degree=1))
    config = {"sh_iterations": 2, "palette_size": 256}
    container = container_for(stage_run("compress", stage_uri(BUCKET, JOB, "train"), config), store, tmp_path)
    code, result = run_to_end(container)
    assert (code, result.status) == (EXIT_OK, "Completed")
    out = stage_uri(BUCKET, JOB, "compress")
    assert json.loads(store.get_bytes(out + "metrics.json"))["splats_in"] == 1500
    assert store.get_bytes(out + "model.sog")[:2] == b"PK"


def test_compress_of_a_truncated_model_fails_with_its_cause_as_the_exit_message(store, tmp_path):
    store.put_bytes(stage_uri(BUCKET, JOB, "train") + "model.ply", b"ply\nformat binary_little_endian 1.0\n")
    container = container_for(stage_run("compress", stage_uri(BUCKET, JOB, "train"), {}), store, tmp_path)
    code, result = run_to_end(container)
    assert code == EXIT_INPUT and result.status == "Failed"
    assert FailureReport.from_message(result.exit_message).cause == "invalid_model_file"
