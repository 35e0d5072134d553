"""Rasterization for training: gsplat's CUDA kernels on a GPU, our own tile kernel on a CPU."""

from __future__ import annotations

from typing import Any

from torch import Tensor


def rasterize(means: Tensor, *args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """`gsplat.rasterization` on CUDA tensors, `raster.cpu.rasterization` otherwise."""
    if means.is_cuda:
        from gsplat import rasterization

        return rasterization(means, *args, **kwargs)
    from services.train.container.raster.cpu import rasterization

    return rasterization(means, *args, **kwargs)
