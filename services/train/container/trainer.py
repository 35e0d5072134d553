"""The optimisation loop: render one training view per step, L1 + SSIM, densify, checkpoint."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from services.train.container import checkpoint
from services.train.container.config import Config
from services.train.container.data import Scene, View
from services.train.container.device import DeviceViews, image_budget_bytes
from services.train.container.losses import anisotropy, photometric
from services.train.container.model import PARAM_KEYS, init_params, make_optimizers, means_gamma
from services.train.container.normalize import Similarity, normalize_scene
from services.train.container.raster import rasterize
from services.train.container.strategy import build_strategy, initial_state, resolve_strategy
from shared.causes import CauseCode
from shared.stage import StageFailure
from shared.termination import StageTerminated, stop_requested

logger = logging.getLogger(__name__)

# (step, total, figures) -> None; called after every step.
StepCallback = Callable[[int, int, dict[str, float]], None]


@dataclass
class TrainResult:
    steps: int
    resumed_from: int | None
    train_seconds: float  # wall time of the steps run in this process after the first (warm-up) one
    steps_run: int  # steps run in this process, the warm-up step included
    timed_steps: int  # steps inside train_seconds
    warmup_seconds: float  # the first step: kernel builds or loads, allocations, cuDNN set-up
    last_loss: float

    @property
    def steps_per_second(self) -> float:
        return self.timed_steps / self.train_seconds if self.train_seconds > 0 else 0.0


class Trainer:
    def __init__(self, cfg: Config, scene: Scene, device: torch.device) -> None:
        """`scene` in the SfM/ENU frame; training runs in the normalised frame (`self.scene`)."""
        self.cfg = cfg
        self.world_scene = scene
        self.device = device
        self._use_similarity(Similarity.for_views(scene.train + scene.test) if cfg.normalize_scene else Similarity.identity())
        self.kind = resolve_strategy(cfg, device)
        mcmc = self.kind == "mcmc"
        self.init_opacity = cfg.init_opacity or (0.5 if mcmc else 0.1)
        self.init_scale = cfg.init_scale or (0.1 if mcmc else 1.0)
        self.lrs = {
            "means": cfg.lr_means, "scales": cfg.lr_scales, "quats": cfg.lr_quats,
            "opacities": cfg.lr_opacities, "sh0": cfg.lr_sh0, "shN": cfg.lr_shN,
        }
        torch.manual_seed(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        tensors = init_params(
            self.scene.points, self.scene.colors, cfg.sh_degree, self.init_opacity, self.init_scale, cfg.max_gaussians, gen
        )
        self._setup(tensors)
        self.strategy = build_strategy(cfg, self.kind)
        self.strategy.check_sanity(self.params, self.optimizers)
        self.strategy_state = initial_state(self.strategy, self.scene.scene_scale)
        self.step = 0
        self.resumed_from: int | None = None
        self._last_loss = math.nan
        self._last_psnr = math.nan

    def _use_similarity(self, similarity: Similarity) -> None:
        self.similarity = similarity
        self.scene = normalize_scene(self.world_scene, similarity)
        first = self.scene.train[0]
        budget = (
            image_budget_bytes(self.device, self.cfg, first.width, first.height) if self.device.type == "cuda" else None
        )
        self.views = DeviceViews(self.scene.train, self.device, budget)

    def _setup(self, tensors: dict[str, Tensor]) -> None:
        self.params = torch.nn.ParameterDict(
            {k: torch.nn.Parameter(tensors[k].to(self.device).contiguous()) for k in PARAM_KEYS}
        )
        self.optimizers = make_optimizers(self.params, self.lrs, self.scene.scene_scale)
        self.scheduler = torch.optim.lr_scheduler.ExponentialLR(
            self.optimizers["means"], gamma=means_gamma(self.cfg.steps)
        )

    # --- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "params": {k: v.detach().cpu() for k, v in self.params.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "scheduler": self.scheduler.state_dict(),
            "strategy_state": _to_device(self.strategy_state, torch.device("cpu")),
            "similarity": self.similarity.as_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
        }

    def load_state_dict(self, body: dict[str, Any]) -> None:
        # The checkpoint's frame wins (one written before normalisation existed trains on in world units).
        similarity = Similarity.from_dict(body.get("similarity"))
        if not similarity.close_to(self.similarity):
            self._use_similarity(similarity)
        self._setup(body["params"])
        for k, o in self.optimizers.items():
            o.load_state_dict(body["optimizers"][k])
        self.scheduler.load_state_dict(body["scheduler"])
        self.strategy_state = _to_device(body["strategy_state"], self.device)
        torch.set_rng_state(body["torch_rng"])
        if body.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(body["cuda_rng"])
        self.step = int(body["step"])
        self.resumed_from = self.step

    def resume(self) -> None:
        folder = Path(self.cfg.checkpoint_dir) if self.cfg.checkpoint_dir else None
        body = checkpoint.load_latest(folder)
        if body is not None:
            self.load_state_dict(body)
            logger.info("resumed from checkpoint", extra={"step": self.step})

    # --- rendering ---------------------------------------------------------------------------
    def render(
        self, view: View, sh_degree: int | None = None, camera: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor, dict[str, Any]]:
        """Render `view` (training frame); `camera` = its (viewmat [1, 4, 4], K [1, 3, 3]) already on the device."""
        p = self.params
        colors = torch.cat([p["sh0"], p["shN"]], dim=1)  # [N, K, 3]
        viewmat, K = camera if camera is not None else (view.viewmat[None].to(self.device), view.K[None].to(self.device))
        return rasterize(
            p["means"], p["quats"], torch.exp(p["scales"]), torch.sigmoid(p["opacities"]), colors,
            viewmat, K, view.width, view.height,
            sh_degree=self.cfg.sh_degree if sh_degree is None else sh_degree, packed=False,
        )

    def view_for_step(self, step: int) -> int:
        """Index of the training view for `step`: a fresh shuffle every epoch, reproducible from the step alone."""
        n = len(self.scene.train)
        epoch, i = divmod(step, n)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.cfg.seed * 100_003 + epoch))
        return int(order[i])

    def world_params(self) -> dict[str, Tensor]:
        """The trained parameters in the SfM/ENU frame (for export)."""
        return self.similarity.to_world(dict(self.params.items()))

    # --- loop --------------------------------------------------------------------------------
    def train(self, on_step: StepCallback | None = None, stop_after: int | None = None) -> TrainResult:
        """Run to cfg.steps (or `stop_after` steps in this call, for tests that simulate a kill)."""
        cfg = self.cfg
        ckpt_dir = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else None
        begun = time.monotonic()
        started: float | None = None  # the clock starts after the first (warm-up) step
        run = 0
        loss_value = math.nan
        while self.step < cfg.steps:
            if stop_after is not None and run >= stop_after:
                break
            if stop_requested():  # SIGTERM (SageMaker stopping the job): save progress, then end
                if ckpt_dir is not None:
                    checkpoint.save(ckpt_dir, self.step, self.state_dict())
                saved = "; checkpoint saved" if ckpt_dir is not None else ""
                raise StageTerminated(f"at step {self.step} of {cfg.steps}{saved}")
            step = self.step
            i = self.view_for_step(step)
            sh_degree = min(step // cfg.sh_degree_interval, cfg.sh_degree)
            try:
                loss_value = self._one_step(step, i, sh_degree)
            except torch.cuda.OutOfMemoryError as exc:
                raise _oom_failure(step, len(self.params["means"]), self.views.views[i], self.device) from exc
            self.step = step + 1
            run += 1
            if started is None:
                self._sync()
                started = time.monotonic()
            if on_step is not None:
                figures = {"loss": loss_value, "psnr": self._last_psnr, "gaussians": float(len(self.params["means"]))}
                on_step(self.step, cfg.steps, figures)
            # Also after the last step, so a run killed during evaluation or export skips training.
            if ckpt_dir is not None and (self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps):
                checkpoint.save(ckpt_dir, self.step, self.state_dict())
        self._sync()
        ended = time.monotonic()
        return TrainResult(
            steps=self.step, resumed_from=self.resumed_from,
            train_seconds=ended - started if started is not None else 0.0,
            steps_run=run, timed_steps=max(run - 1, 0),
            warmup_seconds=(started if started is not None else ended) - begun, last_loss=loss_value,
        )

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _one_step(self, step: int, i: int, sh_degree: int) -> float:
        """One optimisation step on training view `i`; returns the loss (read back every 20 steps: a GPU sync)."""
        cfg = self.cfg
        target = self.views.target(i)  # [1, H, W, 3]
        mask = self.views.mask(i)  # [1, H, W] bool or None
        renders, _, info = self.render(self.views.views[i], sh_degree, self.views.camera(i))
        if self.kind != "mcmc":
            self.strategy.step_pre_backward(self.params, self.optimizers, self.strategy_state, step, info)
        loss = photometric(renders, target, cfg.ssim_lambda, mask)
        if cfg.anisotropy_reg > 0:
            loss = loss + cfg.anisotropy_reg * anisotropy(self.params["scales"], cfg.max_anisotropy)
        if self.kind == "mcmc":
            loss = loss + cfg.opacity_reg * torch.sigmoid(self.params["opacities"]).mean()
            loss = loss + cfg.scale_reg * torch.exp(self.params["scales"]).mean()
        loss.backward()
        for opt in self.optimizers.values():
            opt.step()
            opt.zero_grad(set_to_none=True)
        self.scheduler.step()
        # Densify after the optimizer step, as gsplat's simple_trainer does.
        if self.kind == "mcmc":
            self.strategy.step_post_backward(
                self.params, self.optimizers, self.strategy_state, step, info, lr=self.scheduler.get_last_lr()[0]
            )
        else:
            self.strategy.step_post_backward(self.params, self.optimizers, self.strategy_state, step, info, packed=False)
        if step % 20 == 0 or step + 1 == cfg.steps or self.device.type != "cuda":
            self._last_loss = float(loss.detach())
            squared = (renders.detach() - target) ** 2
            mse = float(squared.mean() if mask is None else squared[mask].mean())
            self._last_psnr = -10.0 * math.log10(max(mse, 1e-10))  # on this training view
        return self._last_loss


def _to_device(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj


def _oom_failure(step: int, n_gaussians: int, view: View, device: torch.device) -> StageFailure:
    peak = total = 0.0
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        total = torch.cuda.get_device_properties(device).total_memory / 2**20
    return StageFailure(
        CauseCode.OUT_OF_MEMORY,
        f"the GPU ran out of memory at step {step} with {n_gaussians} Gaussians on "
        f"{view.width}x{view.height} images ({peak:.0f} MiB peak of {total:.0f} MiB); "
        "lower max_gaussians or max_image_size, or use a larger GPU",
    )
