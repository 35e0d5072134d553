"""The checks run by bench/gpu_check.py; each returns a Verdict with its figures and tolerance.

On a CUDA device the candidate is gsplat's CUDA code and the reference our CPU code. With
DRY_RUN=1 both run on the CPU: the rasterizer candidate is our pure-torch tile path (a second,
independent implementation), the MCMC candidate is the same function run in float64, so a dry
run proves the script and its plumbing, not the kernels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from services.train.container.config import Config
from services.train.container.data import Scene, View
from services.train.container.raster import cpu

PARAMS = ("means", "quats", "scales", "opacities", "sh")


@dataclass
class Verdict:
    name: str
    ok: bool
    figures: str
    tolerance: str
    data: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name}: {self.figures}  [tolerance: {self.tolerance}]"


def failed(name: str, why: str) -> Verdict:
    return Verdict(name=name, ok=False, figures=why, tolerance="-")


# --- rasterizer ------------------------------------------------------------------------------------
def raster_inputs(n: int, width: int, height: int, seed: int) -> dict[str, Tensor]:
    """n Gaussians in front of a camera at the origin (looking +z), 5 % behind it, ~15 % off screen."""
    g = torch.Generator().manual_seed(seed)
    f = 0.5 * width / math.tan(math.radians(30))
    depth = 1.0 + 7.0 * torch.rand(n, generator=g)
    behind = torch.rand(n, generator=g) < 0.05
    depth = torch.where(behind, -depth, depth)
    spread = 1.3 * torch.tensor([width / (2 * f), height / (2 * f)])  # 1.3x the field of view
    xy = (torch.rand(n, 2, generator=g) * 2 - 1) * spread * depth.abs()[:, None]
    return {
        "means": torch.cat([xy, depth[:, None]], 1),
        "quats": torch.randn(n, 4, generator=g),
        "scales": torch.exp(torch.randn(n, 3, generator=g) * 0.5 - 1.0) * (2.0 / n) ** (1 / 3),
        "opacities": torch.sigmoid(torch.randn(n, generator=g) * 2),
        "sh": torch.randn(n, 16, 3, generator=g) * 0.3,
        "viewmat": torch.eye(4),
        "K": torch.tensor([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1.0]]),
        "weights": torch.randn(height, width, 4, generator=g),  # loss = sum(w * [colour, alpha])
    }


def raster_run(inputs: dict[str, Tensor], width: int, height: int, device: str, candidate: bool) -> dict[str, Tensor]:
    """Render with SH degree 3 and backpropagate a weighted sum; returns outputs and gradients (CPU)."""
    leaves = {k: inputs[k].to(device).clone().requires_grad_(True) for k in PARAMS}
    args = (*(leaves[k] for k in PARAMS), inputs["viewmat"][None].to(device), inputs["K"][None].to(device), width, height)
    if candidate and device == "cuda":
        from gsplat import rasterization

        colors, alphas, _ = rasterization(*args, sh_degree=3, packed=False)
    else:
        colors, alphas, _ = cpu.rasterization(*args, sh_degree=3, use_kernel=not candidate)
    w = inputs["weights"].to(device)
    ((colors[0] * w[..., :3]).sum() + (alphas[0, ..., 0] * w[..., 3]).sum()).backward()
    out = {"colors": colors[0].detach().cpu(), "alphas": alphas[0].detach().cpu()}
    out.update({f"d_{k}": leaves[k].grad.detach().cpu() for k in PARAMS})
    return out


def compare_raster(name: str, ref: dict[str, Tensor], cand: dict[str, Tensor]) -> Verdict:
    """Values: 99.9th percentile |diff| <= 1e-3 (max reported); gradients: relative L2 error <= 1e-2 each."""
    diffs = torch.cat([(ref[k] - cand[k]).abs().flatten() for k in ("colors", "alphas")])
    p999 = float(torch.quantile(diffs[:: max(1, len(diffs) // 1_000_000)], 0.999))
    worst = float(diffs.max())
    rel = {k: float((ref[f"d_{k}"] - cand[f"d_{k}"]).norm() / ref[f"d_{k}"].norm().clamp_min(1e-30)) for k in PARAMS}
    ok = p999 <= 1e-3 and max(rel.values()) <= 1e-2 and all(math.isfinite(v) for v in rel.values())
    grads = " ".join(f"{k} {v:.1e}" for k, v in rel.items())
    return Verdict(
        name, ok, f"|dvalue| p99.9 {p999:.1e} max {worst:.1e}; grad rel L2 {grads}",
        "value p99.9 <= 1e-3, every grad rel L2 <= 1e-2", {"p999": p999, "max": worst, "grad_rel": rel},
    )


# --- MCMC operations ---------------------------------------------------------------------------------
def mcmc_inputs(n: int, seed: int) -> dict[str, Tensor]:
    from gsplat.strategy import MCMCStrategy

    g = torch.Generator().manual_seed(seed)
    return {
        "opacities": 0.005 + 0.99 * torch.rand(n, generator=g),
        "scales": torch.exp(torch.randn(n, 3, generator=g) - 3),
        "ratios": torch.randint(1, 9, (n,), generator=g),  # MCMC shares a Gaussian among a few
        "binoms": MCMCStrategy().initialize_state()["binoms"],
        "quats": torch.randn(n, 4, generator=g),
    }


def mcmc_run(x: dict[str, Tensor], device: str, candidate: bool) -> dict[str, Tensor]:
    from services.train.container import mcmc_cpu

    if candidate and device == "cuda":
        from gsplat import quat_scale_to_covar_preci
        from gsplat.relocation import compute_relocation

        dev = {k: v.to(device) for k, v in x.items()}
        new_o, new_s = compute_relocation(dev["opacities"], dev["scales"], dev["ratios"].int(), dev["binoms"])
        covar, preci = quat_scale_to_covar_preci(dev["quats"], dev["scales"], True, True, False)
    else:
        dtype = torch.float64 if candidate else torch.float32
        new_o, new_s = mcmc_cpu.compute_relocation(
            x["opacities"].to(dtype), x["scales"].to(dtype), x["ratios"], x["binoms"].to(dtype)
        )
        covar, preci = mcmc_cpu._covar_cpu(x["quats"].to(dtype), x["scales"].to(dtype), True, True, False)
    return {k: v.detach().cpu().double() for k, v in
            {"opacity": new_o, "scale": new_s, "covar": covar, "preci": preci}.items()}


def compare_mcmc(ref: dict[str, Tensor], cand: dict[str, Tensor]) -> Verdict:
    """Relative error (|diff| / |ref|, 99.9th percentile) <= 1e-4 for each output."""
    rel = {}
    for k in ref:
        r = ((ref[k] - cand[k]).abs() / ref[k].abs().clamp_min(1e-12)).flatten()
        rel[k] = float(torch.quantile(r[:: max(1, len(r) // 1_000_000)], 0.999))
    ok = max(rel.values()) <= 1e-4
    return Verdict("mcmc ops cpu vs device (relocation, covariance)", ok,
                   " ".join(f"{k} {v:.1e}" for k, v in rel.items()), "rel p99.9 <= 1e-4 each", rel)


# --- training internals --------------------------------------------------------------------------------
def strategy_check(kind: str, scene: Scene, device: torch.device, base: dict[str, Any]) -> Verdict:
    """Short run: params and every optimizer state tensor on `device` after densification, cap held,
    (default) an opacity reset seen at `reset_every`."""
    from services.train.container.trainer import Trainer

    cfg = Config(**{**base, "strategy": kind})
    trainer = Trainer(cfg, scene, device)
    seen_reset: list[float] = []
    hook = trainer.strategy.step_post_backward

    def recording(params, optimizers, state, step, info, **kw):
        hook(params, optimizers, state, step, info, **kw)
        if step == cfg.reset_every:
            seen_reset.append(float(torch.sigmoid(params["opacities"].detach()).max()))

    trainer.strategy.step_post_backward = recording  # type: ignore[method-assign]
    trainer.train()
    n = len(trainer.params["means"])
    on_device = all(p.device.type == device.type for p in trainer.params.values())
    for key, opt in trainer.optimizers.items():
        for p, st in opt.state.items():
            on_device &= p is trainer.params[key] and all(
                v.device.type == device.type for v in st.values() if isinstance(v, Tensor) and v.dim() > 0
            )
    cap_ok = n <= cfg.max_gaussians and (kind != "mcmc" or n == cfg.max_gaussians)
    ok = on_device and cap_ok and math.isfinite(float(trainer.params["means"].detach().sum()))
    figures = f"{n} Gaussians (cap {cfg.max_gaussians}), params+optimizer state on {device.type}: {on_device}"
    if kind == "default":
        reset_ok = bool(seen_reset) and seen_reset[0] <= 2 * cfg.prune_opacity + 1e-6
        ok &= reset_ok
        figures += f", max opacity after the step-{cfg.reset_every} reset {seen_reset[0] if seen_reset else 'n/a'}"
    tolerance = "all on device, n <= cap" + (" (== cap for mcmc)" if kind == "mcmc" else ", reset to <= 2 x prune_opa")
    return Verdict(f"strategy {kind} on {device.type}", ok, figures, tolerance, {"n": n})


def memory_scene(n_points: int, width: int, height: int, n_views: int = 3) -> Scene:
    """A scene that only costs memory: n random points in front of a few cameras, noise images."""
    g = torch.Generator().manual_seed(0)
    f = 0.5 * width / math.tan(math.radians(30))
    K = torch.tensor([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1.0]])
    views = []
    for i in range(n_views):
        viewmat = torch.eye(4)
        viewmat[0, 3] = 0.2 * i
        viewmat[2, 3] = 4.0
        pixels = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8, generator=g)
        views.append(View(name=f"{i}.png", pixels=pixels, K=K, viewmat=viewmat))
    points = (torch.rand(n_points, 3, generator=g) - 0.5) * torch.tensor([3.0, 2.0, 2.0])
    return Scene(train=views[1:], test=views[:1], points=points, colors=torch.rand(n_points, 3, generator=g),
                 scene_scale=1.1)


def memory_check(n: int, width: int, height: int, device: torch.device, t4_gib: float = 14.5) -> Verdict:
    """Peak allocated memory over MCMC steps at the cap (SH 3), against our planning estimate; and
    whether a 16 GB T4 (torch sees about 14.6 GiB) holds it with 300 images of this size."""
    from services.train.container.device import training_memory_bytes
    from services.train.container.trainer import Trainer

    # init_scale 1: splats of several pixels, as a trained model has (MCMC's default 0.1 would be dots).
    cfg = Config(steps=12, sh_degree=3, sh_degree_interval=1, max_gaussians=n, strategy="mcmc", refine_start=4,
                 refine_stop=12, refine_every=4, max_image_size=max(width, height), init_scale=1.0)
    scene = memory_scene(n, width, height)
    estimate = training_memory_bytes(n, 3, width, height)
    images = 300 * width * height * 3
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    trainer = Trainer(cfg, scene, device)
    trainer.train()
    if device.type != "cuda":
        return Verdict(f"memory {n} Gaussians {width}x{height}", True,
                       f"estimate {estimate / 2**30:.2f} GiB (no device memory to measure on CPU)", "-")
    peak = torch.cuda.max_memory_allocated(device)
    reserved = torch.cuda.max_memory_reserved(device)
    t4_need = reserved + images + 0.5 * 2**30  # + CUDA context
    ok = peak <= estimate
    figures = (f"peak allocated {peak / 2**30:.2f} GiB, reserved {reserved / 2**30:.2f} GiB, estimate "
               f"{estimate / 2**30:.2f} GiB; T4 with 300 images: {t4_need / 2**30:.1f} of {t4_gib} GiB -> "
               f"{'enough' if t4_need <= t4_gib * 2**30 else 'NOT enough'}")
    return Verdict(f"memory {n} Gaussians {width}x{height}", ok, figures, "peak <= estimate",
                   {"peak": peak, "reserved": reserved, "estimate": estimate, "t4_need": t4_need})
