"""Densification strategies: gsplat's, with a Gaussian cap added to the default one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from gsplat.strategy import DefaultStrategy, MCMCStrategy
from gsplat.strategy.ops import duplicate, reset_opa, split

from services.train.container import mcmc_cpu
from services.train.container.config import Config


@dataclass
class CappedDefaultStrategy(DefaultStrategy):
    """3DGS clone/split/prune that never grows past `cap_max` Gaussians.

    When more Gaussians qualify than the cap leaves room for, those with the largest mean
    screen-space gradient are grown first.

    Also resets opacities every `reset_every` steps, which gsplat 1.5.3's `DefaultStrategy` never
    does: it tests `step % reset_every == 0 & step > 0`, a chained comparison (`&` binds before
    `==`) that is always false. Fixed upstream after 1.5.3 (the newest release on PyPI).
    """

    cap_max: int = 1_000_000

    def step_post_backward(self, params, optimizers, state, step, info, packed=False) -> None:  # type: ignore[override]
        super().step_post_backward(params, optimizers, state, step, info, packed=packed)
        if 0 < step < self.refine_stop_iter and step % self.reset_every == 0:
            # reset_opa only lowers opacities above the value, so a fixed gsplat resetting too is harmless.
            reset_opa(params=params, optimizers=optimizers, state=state, value=self.prune_opa * 2.0)

    @torch.no_grad()
    def _grow_gs(self, params, optimizers, state, step) -> tuple[int, int]:  # type: ignore[override]
        count = state["count"]
        grads = state["grad2d"] / count.clamp_min(1)  # [N]
        n = len(grads)
        is_grad_high = grads > self.grow_grad2d
        room = max(0, self.cap_max - n)
        if int(is_grad_high.sum()) > room:
            keep = torch.zeros_like(is_grad_high)
            if room > 0:
                keep[torch.topk(torch.where(is_grad_high, grads, -1.0), room).indices] = True
            is_grad_high &= keep
        is_small = torch.exp(params["scales"]).max(dim=-1).values <= self.grow_scale3d * state["scene_scale"]
        is_dupli = is_grad_high & is_small
        is_split = is_grad_high & ~is_small
        if step < self.refine_scale2d_stop_iter:
            is_split |= state["radii"] > self.grow_scale2d
        n_dupli = int(is_dupli.sum())
        n_split = int(is_split.sum())
        if n_dupli > 0:
            duplicate(params=params, optimizers=optimizers, state=state, mask=is_dupli)
        is_split = torch.cat([is_split, torch.zeros(n_dupli, dtype=torch.bool, device=is_split.device)])
        if n_split > 0:
            split(params=params, optimizers=optimizers, state=state, mask=is_split, revised_opacity=self.revised_opacity)
        return n_dupli, n_split


def resolve_strategy(cfg: Config, device: torch.device) -> str:
    """"auto": MCMC on CUDA (gsplat's recommendation), the capped default strategy on CPU."""
    if cfg.strategy == "auto":
        return "mcmc" if device.type == "cuda" else "default"
    return cfg.strategy


def build_strategy(cfg: Config, kind: str) -> DefaultStrategy | MCMCStrategy:
    if kind == "mcmc":
        mcmc_cpu.install()  # CPU versions of the two CUDA-only MCMC operations
        return MCMCStrategy(
            cap_max=cfg.max_gaussians,
            refine_start_iter=cfg.refine_start,
            refine_stop_iter=cfg.refine_stop,
            refine_every=cfg.refine_every,
        )
    return CappedDefaultStrategy(
        cap_max=cfg.max_gaussians,
        prune_opa=cfg.prune_opacity,
        grow_grad2d=cfg.grow_grad2d,
        refine_start_iter=cfg.refine_start,
        refine_stop_iter=cfg.refine_stop,
        refine_every=cfg.refine_every,
        reset_every=cfg.reset_every,
    )


def initial_state(strategy: DefaultStrategy | MCMCStrategy, scene_scale: float) -> dict[str, Any]:
    if isinstance(strategy, MCMCStrategy):
        return strategy.initialize_state()
    return strategy.initialize_state(scene_scale=scene_scale)
