"""Training in the normalised frame, export in the SfM frame, the warm-up clock, floater cleanup."""

from __future__ import annotations

import json
import pytest
import torch

from services.train.container import checkpoint
from services.train.container.config import Config
from services.train.container.data import load_scene
from services.train.container.entrypoint import main
from services.train.container.export import read_ply
from services.train.container.normalize import Similarity
from services.train.container.raster import cpu
from services.train.container.trainer import Trainer
from tests.support.train import FAST

def test_exported_model_renders_the_world_views_as_training_rendered_them(sfm_dir):
    cfg = Config(**FAST, steps=30)
    scene = load_scene(sfm_dir, cfg)
    trainer = Trainer(cfg, scene, torch.device("cpu"))
    trainer.train()
    assert trainer.scene.scene_scale == pytest.approx(1.1, rel=1e-5)  # cameras spread to radius 1
    assert trainer.similarity.scale == pytest.approx(1.1 / scene.scene_scale, rel=1e-5)
    world = trainer.world_params()
    for trained_view, world_view in zip(trainer.scene.test, scene.test, strict=True):
        ours, _, _ = trainer.render(trained_view)
        p = world
        colors = torch.cat([p["sh0"], p["shN"]], dim=1).detach()
        theirs, _, _ = cpu.rasterization(
            p["means"], p["quats"].detach(), torch.exp(p["scales"]), torch.sigmoid(p["opacities"].detach()), colors,
            world_view.viewmat[None], world_view.K[None], world_view.width, world_view.height, sh_degree=1,
        )
        assert (ours.detach() - theirs).abs().max() < 2e-3
    # The exported means sit among the SfM points, not around the origin of the training frame.
    assert (world["means"].mean(0) - scene.points.mean(0)).norm() < 0.5 * scene.scene_scale


def test_checkpoints_record_the_frame_and_an_old_checkpoint_resumes_in_world_units(sfm_dir, tmp_path):
    cfg = Config(**FAST, steps=20, checkpoint_every=10, checkpoint_dir=str(tmp_path))
    scene = load_scene(sfm_dir, cfg)
    first = Trainer(cfg, scene, torch.device("cpu"))
    first.train(stop_after=10)
    body = checkpoint.load_latest(tmp_path)
    assert Similarity.from_dict(body["similarity"]) == first.similarity != Similarity.identity()
    # A checkpoint written before normalisation existed: world-unit parameters, no "similarity".
    del body["similarity"]
    body["params"] = first.similarity.to_world(body["params"])
    checkpoint.save(tmp_path, 10, body)
    second = Trainer(cfg, scene, torch.device("cpu"))
    second.resume()
    assert second.similarity == Similarity.identity() and second.step == 10
    assert second.scene.scene_scale == pytest.approx(scene.scene_scale)
    assert second.train().steps == 20


def test_the_training_clock_starts_after_the_warm_up_step(sfm_dir, monkeypatch):
    import time

    cfg = Config(**FAST, steps=6)
    trainer = Trainer(cfg, load_scene(sfm_dir, cfg), torch.device("cpu"))
    real = trainer._one_step
    calls = []

    def slow_first(*args):
        calls.append(args[0])
        if len(calls) == 1:
            time.sleep(0.4)  # a kernel build, say
        return real(*args)

    monkeypatch.setattr(trainer, "_one_step", slow_first)
    result = trainer.train()
    assert result.steps_run == 6 and result.timed_steps == 5
    assert result.warmup_seconds >= 0.4 > result.train_seconds
    assert result.steps_per_second == pytest.approx(5 / result.train_seconds)


@pytest.mark.slow
def test_stage_reports_floaters_removed_and_psnr_on_both_sides(sfm_dir, tmp_path):
    out = tmp_path / "out"
    (tmp_path / "cfg.json").write_text(json.dumps({**FAST, "steps": 60, "preview_count": 1}))
    assert main(["--input", str(sfm_dir), "--output", str(out), "--config", str(tmp_path / "cfg.json")]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    removed = metrics["removed_gaussians"]
    assert set(removed) == {"low_opacity", "unseen"}
    assert metrics["n_gaussians"] == len(read_ply(out / "model.ply")["x"])
    # A 60-step toy at 48 px: the held-out figure may move a little either way (the bench measures it).
    assert abs(metrics["psnr"] - metrics["psnr_before_cleanup"]) < 0.5
    assert metrics["image_storage"] == "cpu" and metrics["warmup_seconds"] > 0


def test_a_sigterm_checkpoints_the_current_step_and_ends_the_stage(sfm_dir, tmp_path):
    from shared import termination

    cfg = Config(**FAST, steps=30, checkpoint_every=100, checkpoint_dir=str(tmp_path))
    trainer = Trainer(cfg, load_scene(sfm_dir, cfg), torch.device("cpu"))

    def on_step(step, total, figures):
        if step == 7:
            termination._requested.set()  # what the SIGTERM handler does (shared/termination.py)

    try:
        with pytest.raises(termination.StageTerminated, match="at step 7 of 30; checkpoint saved"):
            trainer.train(on_step=on_step)
    finally:
        termination.reset()
    assert checkpoint.load_latest(tmp_path)["step"] == 7