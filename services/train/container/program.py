"""The training stage program: SfM output folder in, model.ply + previews/ + metrics out."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch
from pydantic import BaseModel

from services.train.container.cleanup import CleanupReport, remove_floaters
from services.train.container.config import Config
from services.train.container.data import load_scene
from services.train.container.device import pick_device
from services.train.container.evaluate import evaluate, write_previews
from services.train.container.export import write_ply
from services.train.container.raster import kernel
from services.train.container.trainer import Trainer
from shared.stage import ProgressReporter

logger = logging.getLogger(__name__)


class TrainMetrics(BaseModel):
    # Mean held-out PSNR (dB) and SSIM over the test views (every cfg.test_every-th image).
    psnr: float | None
    ssim: float | None
    # LPIPS (AlexNet) when torchvision and its weights are on disk; null otherwise (never downloaded).
    lpips: float | None
    n_test_views: int
    n_train_views: int
    # Views with a mask (pixels to ignore): the loss, PSNR, SSIM and previews skip their masked pixels.
    masked_views: int = 0
    n_gaussians: int
    steps: int
    # Step the run resumed from (None: started fresh).
    resumed_from_step: int | None
    # Wall time of the steps run in this process after the first one, and their rate.
    train_seconds: float
    steps_per_second: float
    # The first step of this process: kernel builds or loads, allocations (not in train_seconds).
    warmup_seconds: float
    # Where the uint8 training images lived: "device" (GPU), "pinned" (host, async copies) or "cpu".
    image_storage: str
    # Gaussians removed before export, by rule (low_opacity, unseen); see cleanup.py.
    removed_gaussians: dict[str, int]
    # Held-out PSNR (dB) before that removal (None: no cleanup or no held-out views).
    psnr_before_cleanup: float | None
    # Peak GPU memory allocated by torch (None on CPU; execute_stage adds the process RSS peak).
    peak_gpu_memory_mb: float | None
    device: str
    # "gsplat-cuda", "cpu-kernel" (compiled tile kernel) or "cpu-torch" (fallback).
    rasterizer: str
    strategy: str
    # The settings trained with (the preset's, or the job's own): SH degree and Gaussian cap.
    sh_degree: int
    max_gaussians: int
    # Longest image side asked for; image_width/height are what the photos gave at most that.
    max_image_size: int
    image_width: int
    image_height: int
    final_loss: float
    previews: list[str]


def run(cfg: Config, in_dir: Path, out_dir: Path) -> TrainMetrics:
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    device = pick_device(cfg)
    # Outputs reach the bucket when the job ends; the checkpoint folder is synced while it runs.
    watched = [Path(cfg.checkpoint_dir)] if cfg.checkpoint_dir else []
    progress = ProgressReporter(out_dir, phase="load", copies=watched)
    progress.update(0, cfg.steps, force=True)
    scene = load_scene(in_dir, cfg)
    trainer = Trainer(cfg, scene, device)
    trainer.resume()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    progress.update(trainer.step, cfg.steps, phase="train", force=True)

    def on_step(step: int, total: int, figures: dict[str, float]) -> None:
        progress.update(step, total, **{k: round(v, 4) for k, v in figures.items() if math.isfinite(v)})

    result = trainer.train(on_step=on_step)
    progress.update(result.steps, cfg.steps, phase="evaluate", force=True)
    started = time.monotonic()
    test = trainer.scene.test  # in the training frame
    removed = CleanupReport(low_opacity=0, unseen=0, kept=len(trainer.params["means"]))
    psnr_before: float | None = None
    if cfg.cleanup:
        psnr_before = evaluate(trainer, test).psnr
        removed = remove_floaters(trainer.params, trainer.optimizers, trainer.views, cfg)
    scores = evaluate(trainer, test)
    previews = write_previews(trainer, test[: cfg.preview_count], out_dir / "previews")
    n_written = write_ply(out_dir / "model.ply", trainer.world_params())
    logger.info("evaluated and exported", extra={"seconds": round(time.monotonic() - started, 2)})
    progress.update(result.steps, cfg.steps, phase="done", force=True, psnr=scores.psnr or 0.0)
    peak_gpu = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    first = scene.train[0]
    return TrainMetrics(
        psnr=scores.psnr,
        ssim=scores.ssim,
        lpips=scores.lpips,
        n_test_views=scores.n_views,
        n_train_views=len(scene.train),
        masked_views=sum(1 for v in scene.train + scene.test if v.mask is not None),
        n_gaussians=n_written,
        steps=result.steps,
        resumed_from_step=result.resumed_from,
        train_seconds=round(result.train_seconds, 3),
        steps_per_second=round(result.steps_per_second, 3),
        warmup_seconds=round(result.warmup_seconds, 3),
        image_storage=trainer.views.storage,
        removed_gaussians={"low_opacity": removed.low_opacity, "unseen": removed.unseen},
        psnr_before_cleanup=psnr_before,
        peak_gpu_memory_mb=None if peak_gpu is None else round(peak_gpu, 1),
        device=str(device),
        rasterizer="gsplat-cuda" if device.type == "cuda" else ("cpu-kernel" if kernel.load() else "cpu-torch"),
        strategy=trainer.kind,
        sh_degree=cfg.sh_degree,
        max_gaussians=cfg.max_gaussians,
        max_image_size=cfg.max_image_size,
        image_width=first.width,
        image_height=first.height,
        final_loss=result.last_loss,
        previews=previews,
    )
