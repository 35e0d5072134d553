"""CPU versions of the two CUDA-only operations gsplat's MCMCStrategy calls.

gsplat 1.5.3's `strategy.ops` calls `compute_relocation` (a CUDA kernel) when relocating or adding
Gaussians, and the CUDA `quat_scale_to_covar_preci` when injecting position noise. `install()`
wraps both names in `gsplat.strategy.ops` with a dispatcher: CUDA tensors still go to gsplat's
kernels, CPU tensors to the torch code below, so the unchanged MCMCStrategy runs on either device.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from gsplat.cuda._torch_impl import _quat_scale_to_covar_preci
from torch import Tensor


def compute_relocation(
    opacities: Tensor,  # [N]
    scales: Tensor,  # [N, 3]
    ratios: Tensor,  # [N] how many Gaussians share the old one's mass
    binoms: Tensor,  # [n_max, n_max] binomial coefficients
) -> tuple[Tensor, Tensor]:
    """Eq. 9 of 3DGS-as-MCMC, as gsplat's relocation kernel: (new opacities [N], new scales [N, 3]).

    new_o = 1 - (1 - o)^(1/n);  s' = s * o / sum_{i=1..n} sum_{k=0..i-1} C(i-1, k) (-1)^k / sqrt(k+1) new_o^(k+1).
    Evaluated in float64: the alternating sum of large binomials cancels badly in float32.
    """
    n_max = binoms.shape[0]
    n = ratios.clamp(1, n_max).to(torch.int64)  # [N]
    o = opacities.double()
    new_o = 1.0 - torch.pow(1.0 - o, 1.0 / n.double())  # [N]
    # C[m, k] = sum_{i=1..m+1} binoms[i-1, k]  (binoms[i-1, k] = 0 for k > i-1)
    C = torch.cumsum(binoms.double(), dim=0)  # [n_max, n_max]
    k = torch.arange(n_max, dtype=torch.float64)
    sign = torch.where(k % 2 == 0, 1.0, -1.0) / torch.sqrt(k + 1)  # [n_max]
    powers = new_o[:, None] ** (k[None] + 1)  # [N, n_max]
    denom = (C[n - 1] * sign[None] * powers).sum(-1)  # [N]
    coeff = o / denom
    return new_o.to(opacities.dtype), (coeff[:, None] * scales.double()).to(scales.dtype)


def _dispatch(cuda_fn: Callable[..., Any], cpu_fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(cuda_fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        first = next(a for a in (*args, *kwargs.values()) if isinstance(a, Tensor))
        return (cuda_fn if first.is_cuda else cpu_fn)(*args, **kwargs)

    call.spaceport_dispatch = True  # type: ignore[attr-defined]
    return call


def install() -> None:
    """Make gsplat's MCMC operations work on CPU tensors (idempotent)."""
    from gsplat.strategy import ops

    if not getattr(ops.compute_relocation, "spaceport_dispatch", False):
        ops.compute_relocation = _dispatch(ops.compute_relocation, compute_relocation)
    if not getattr(ops.quat_scale_to_covar_preci, "spaceport_dispatch", False):
        ops.quat_scale_to_covar_preci = _dispatch(ops.quat_scale_to_covar_preci, _covar_cpu)


def _covar_cpu(
    quats: Tensor, scales: Tensor, compute_covar: bool = True, compute_preci: bool = True, triu: bool = False
) -> tuple[Tensor | None, Tensor | None]:
    return _quat_scale_to_covar_preci(quats, scales, compute_covar, compute_preci, triu)
