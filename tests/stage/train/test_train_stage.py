"""The training stage program end to end on small synthetic SfM outputs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pycolmap
import pytest
import torch
from PIL import Image

from services.train.container.config import Config
from services.train.container.data import load_scene
from services.train.container.entrypoint import main
from services.train.container.export import read_ply
from services.train.container.trainer import Trainer
from tests.support.train import FAST

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_stage_trains_and_writes_model_previews_and_metrics(sfm_dir, tmp_path):
    out = tmp_path / "out"
    (tmp_path / "cfg.json").write_text(json.dumps({**FAST, "steps": 200, "checkpoint_every": 100}))
    code = main(["--input", str(sfm_dir), "--output", str(out), "--config", str(tmp_path / "cfg.json")])
    assert code == 0, (out / "failure.json").read_text() if (out / "failure.json").exists() else ""
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "succeeded" and metrics["steps"] == 200
    assert metrics["n_test_views"] == 2 and metrics["n_train_views"] == 10  # every 8th held out
    assert metrics["psnr"] > 18.0 and 0 < metrics["ssim"] <= 1
    assert metrics["lpips"] is None
    assert metrics["rasterizer"] in ("cpu-kernel", "cpu-torch") and metrics["strategy"] == "default"
    ply = read_ply(out / "model.ply")
    assert len(ply["x"]) == metrics["n_gaussians"] > 400  # densified beyond the SfM points
    assert [k for k in ply if k.startswith("f_rest_")] == [f"f_rest_{i}" for i in range(9)]
    previews = sorted((out / "previews").iterdir())
    assert [p.name for p in previews] == ["view_000.jpg", "view_000.png", "view_008.jpg", "view_008.png"]
    assert metrics["previews"] == ["view_000.png", "view_008.png"]
    with Image.open(previews[1]) as img, Image.open(previews[0]) as web:
        assert img.size == web.size == (128, 48)  # render and photo side by side; the JPEG for reports
    assert metrics["sh_degree"] == FAST.get("sh_degree", 3) and metrics["max_gaussians"] > 0
    progress = json.loads((out / "progress.json").read_text())
    assert progress["phase"] == "done" and progress["step"] == 200
    # Checkpoints went to <output>/checkpoints by default; the last one marks training as complete.
    # the last checkpoint, and the progress copy the bucket sees while training runs
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["ckpt_00000200.pt", "progress.json"]
    assert json.loads((out / "checkpoints/progress.json").read_text())["phase"] == "done"
    # A rerun (say the job was killed while exporting) skips straight to evaluation and export.
    (out / "model.ply").unlink()
    assert main(["--input", str(sfm_dir), "--output", str(out), "--config", str(tmp_path / "cfg.json")]) == 0
    again = json.loads((out / "metrics.json").read_text())
    assert again["resumed_from_step"] == 200 and again["steps"] == 200
    assert again["psnr"] == pytest.approx(metrics["psnr"], abs=1e-4)
    assert (out / "model.ply").exists()


@pytest.mark.slow
def test_killed_run_resumes_from_its_checkpoint_and_matches_an_uninterrupted_run(sfm_dir, tmp_path):
    cfg = Config(**FAST, steps=90, checkpoint_every=40, checkpoint_dir=str(tmp_path / "ckpt"))
    scene = load_scene(sfm_dir, cfg)
    first = Trainer(cfg, scene, torch.device("cpu"))
    first.resume()
    stopped = first.train(stop_after=55)  # "killed" at step 55: checkpoint 40 survives
    assert stopped.steps == 55
    second = Trainer(cfg, scene, torch.device("cpu"))
    second.resume()
    assert second.step == 40
    result = second.train()
    assert result.steps == 90 and result.resumed_from == 40 and result.steps_run == 50

    straight = Trainer(cfg.model_copy(update={"checkpoint_dir": None}), scene, torch.device("cpu"))
    straight.train()
    for key in ("means", "sh0", "opacities"):
        assert torch.allclose(second.params[key], straight.params[key], atol=1e-5), key


def _write_model(folder: Path, n_points: int, n_images: int = 4) -> None:
    rec = pycolmap.Reconstruction()
    cam = pycolmap.Camera.create_from_model_name(1, "PINHOLE", 50.0, 32, 24)
    rec.add_camera_with_trivial_rig(cam)
    (folder / "images").mkdir(parents=True)
    for i in range(n_images):
        name = f"{i}.png"
        Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(folder / "images" / name)
        pose = np.hstack([np.eye(3), np.array([[i * 0.1], [0.0], [3.0]])])
        rec.add_image_with_trivial_frame(pycolmap.Image(name=name, camera_id=1, image_id=i + 1), pycolmap.Rigid3d(pose))
    for j in range(n_points):
        rec.add_point3D(np.array([j * 0.01, 0.0, 0.0]), pycolmap.Track(), np.array([9, 9, 9], np.uint8))
    (folder / "sparse" / "0").mkdir(parents=True)
    rec.write(str(folder / "sparse" / "0"))


def test_a_model_with_too_few_points_fails_as_degenerate_with_numbers(tmp_path):
    _write_model(tmp_path / "in", n_points=7)
    code = main(["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out")])
    failure = json.loads((tmp_path / "out" / "failure.json").read_text())
    assert code == 2 and failure["cause"] == "degenerate_model"
    assert re.search(r"4 posed images and 7 3D points", failure["message"])


def test_a_folder_without_a_model_fails_as_degenerate(tmp_path):
    (tmp_path / "in").mkdir()
    code = main(["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out")])
    failure = json.loads((tmp_path / "out" / "failure.json").read_text())
    assert code == 2 and failure["cause"] == "degenerate_model"


@pytest.mark.slow
def test_mcmc_strategy_trains_on_cpu_within_its_cap(sfm_dir, tmp_path):
    cfg = Config(**{**FAST, "refine_start": 20, "refine_every": 20}, steps=100, strategy="mcmc", max_gaussians=450)
    trainer = Trainer(cfg, load_scene(sfm_dir, cfg), torch.device("cpu"))
    before = trainer.params["means"].detach().clone()
    trainer.train()
    n = len(trainer.params["means"])
    assert trainer.kind == "mcmc" and 400 < n <= 450  # grew 5% per round, stopped at the cap
    assert torch.isfinite(trainer.params["scales"]).all() and torch.isfinite(trainer.params["means"]).all()
    assert not torch.allclose(trainer.params["means"][:400], before)  # noise injection moved them


def test_entrypoint_help_runs():
    out = subprocess.run(
        [sys.executable, "-m", "services.train.container.entrypoint", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0 and "--input" in out.stdout


def test_dockerfile_entrypoint_module_exists():
    text = (REPO / "services/train/container/Dockerfile").read_text()
    module = re.search(r'ENTRYPOINT \["python", "-m", "([\w.]+)"\]', text).group(1)
    assert (REPO / (module.replace(".", "/") + ".py")).exists()
    assert re.search(r'"\.\[train[,\]]', text)  # installs the [train] extra (plus [lpips])


def test_an_unreadable_image_fails_with_its_name(tmp_path):
    _write_model(tmp_path / "in", n_points=200)
    (tmp_path / "in" / "images" / "2.png").write_bytes(b"not a png")
    code = main(["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out")])
    failure = json.loads((tmp_path / "out" / "failure.json").read_text())
    assert code == 2 and failure["cause"] == "unreadable_images" and "2.png" in failure["message"]


@pytest.mark.slow
def test_a_sigkilled_job_resumes_from_its_last_checkpoint(sfm_dir, tmp_path):
    import os
    import signal
    import time

    out = tmp_path / "out"
    (tmp_path / "cfg.json").write_text(json.dumps({**FAST, "steps": 200, "checkpoint_every": 20}))
    argv = ["--input", str(sfm_dir), "--output", str(out), "--config", str(tmp_path / "cfg.json")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "services.train.container.entrypoint", *argv], cwd=REPO, env=env)
    deadline = time.monotonic() + 120
    while not list((out / "checkpoints").glob("ckpt_*.pt")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "metrics.json").exists()
    saved = int(next((out / "checkpoints").glob("ckpt_*.pt")).stem.split("_")[1])
    assert 20 <= saved < 200
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["resumed_from_step"] >= saved and metrics["steps"] == 200
