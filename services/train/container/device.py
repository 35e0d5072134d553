"""Where training runs, and how its images and cameras reach the device.

CUDA is chosen only when gsplat's compiled CUDA extension loads: gsplat 1.5.3 compiles it on first
use (minutes) and, without a CUDA toolkit, silently leaves its backend as None so that the first
`rasterization()` dies with an AttributeError. Training images stay uint8 (a quarter of float32)
and are uploaded to the GPU once when they fit beside the model; otherwise they live in pinned
host memory and are copied with `non_blocking=True`. Conversion to float happens on the device.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from services.train.container.config import Config
from services.train.container.data import View
from shared.causes import CauseCode
from shared.stage import StageFailure

logger = logging.getLogger(__name__)

GiB = 2**30
# Training memory model (bytes), checked against measured peaks by bench/gpu_check.py ("memory").
# Per Gaussian: parameters, gradients and two Adam moments (4 x 4 bytes per float), the transient
# copy made when densification concatenates them, and projection/SH intermediates with gradients.
BYTES_PER_GAUSSIAN_FLOAT = 4 * 4 * 2
BYTES_PER_GAUSSIAN_RASTER = 400
# Per pixel of a training image: render, alpha, target, loss maps (SSIM's five blurred statistics
# twice) with their gradients, and gsplat's per-pixel bookkeeping.
BYTES_PER_PIXEL = 600
# CUDA context, cuBLAS/cuDNN workspaces and allocator slack.
FIXED_BYTES = 1 * GiB
# Share of the card torch may plan to use (the rest: fragmentation and other processes).
USABLE_SHARE = 0.9


@dataclass(frozen=True)
class Backend:
    ok: bool
    seconds: float  # time to load (or build, on first use) the extension
    error: str | None  # why it is unavailable


_BACKEND: Backend | None = None


def _build_cached() -> bool:
    """Whether gsplat's extension is prebuilt or already JIT-compiled (so loading takes seconds)."""
    if importlib.util.find_spec("gsplat.csrc") is not None:
        return True
    try:
        from torch.utils.cpp_extension import _get_build_directory

        return (Path(_get_build_directory("gsplat_cuda", verbose=False)) / "gsplat_cuda.so").exists()
    except Exception:  # noqa: BLE001 - a private torch helper; unknown means "may build"
        return False


def gsplat_cuda_backend() -> Backend:
    """Load gsplat's CUDA extension once per process, building it on first use (logged)."""
    global _BACKEND
    if _BACKEND is not None:
        return _BACKEND
    if _build_cached():
        logger.info("loading gsplat cuda kernels")
    else:
        logger.warning("building gsplat cuda kernels (first use on this machine: several minutes)")
    started = time.monotonic()
    error: str | None
    try:
        from gsplat.cuda._backend import _C

        error = None if _C is not None else "gsplat found no CUDA toolkit (nvcc) to build its kernels with"
    except Exception as exc:  # noqa: BLE001 - a failed nvcc/ninja build surfaces as any of several errors
        lines = [line for line in str(exc).strip().splitlines() if line.strip()]
        error = f"building gsplat's CUDA kernels failed ({type(exc).__name__}: {lines[-1] if lines else ''})"
    seconds = time.monotonic() - started
    _BACKEND = Backend(ok=error is None, seconds=seconds, error=error)
    if error is None:
        logger.info("gsplat cuda kernels ready", extra={"seconds": round(seconds, 1)})
    else:
        logger.error("gsplat cuda kernels unavailable", extra={"error": error})
    return _BACKEND


def pick_device(cfg: Config) -> torch.device:
    """CUDA when requested or ("auto") visible, after checking gsplat's kernels load; else CPU.

    Raises StageFailure: INVALID_REQUEST when "cuda" is asked for and no GPU is visible;
    INTERNAL_ERROR when a GPU is visible but gsplat's kernels cannot be loaded or built.
    """
    if cfg.device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        if cfg.device == "cuda":
            raise StageFailure(CauseCode.INVALID_REQUEST, "device 'cuda' requested but no CUDA GPU is visible")
        return torch.device("cpu")
    backend = gsplat_cuda_backend()
    if not backend.ok:
        raise StageFailure(
            CauseCode.INTERNAL_ERROR,
            f"a CUDA GPU is visible but gsplat's CUDA kernels are unavailable: {backend.error}",
            advice=(
                f"On your own machine: install the CUDA toolkit (nvcc) for torch's CUDA {torch.version.cuda}, "
                "or train on the CPU by hiding the GPU (run with CUDA_VISIBLE_DEVICES= set empty). "
                "In the cloud the training image is broken: reply to this email with the job id."
            ),
        )
    return torch.device("cuda")


def training_memory_bytes(n_gaussians: int, sh_degree: int, width: int, height: int) -> int:
    """Estimated peak device memory of training (bytes), images not included."""
    floats = 3 + 3 + 4 + 1 + 3 * (sh_degree + 1) ** 2  # means, scales, quats, opacity, SH
    per_gaussian = floats * BYTES_PER_GAUSSIAN_FLOAT + BYTES_PER_GAUSSIAN_RASTER
    return n_gaussians * per_gaussian + width * height * BYTES_PER_PIXEL + FIXED_BYTES


def image_budget_bytes(device: torch.device, cfg: Config, width: int, height: int) -> int:
    """Device memory left for uint8 training images once the model at its cap is planned for."""
    total = torch.cuda.get_device_properties(device).total_memory
    need = training_memory_bytes(cfg.max_gaussians, cfg.sh_degree, width, height)
    return max(0, int(total * USABLE_SHARE) - need)


Storage = Literal["device", "pinned", "cpu"]


class DeviceViews:
    """Training views with their cameras uploaded once and images (and masks) placed by `image_budget_bytes`."""

    def __init__(self, views: list[View], device: torch.device, budget_bytes: int | None = None) -> None:
        self.views = views
        self.device = device
        size = sum(v.pixels.numel() + (0 if v.mask is None else v.mask.numel()) for v in views)  # uint8, bool
        if device.type != "cuda":
            self.storage: Storage = "cpu"
        elif budget_bytes is None or size <= budget_bytes:
            self.storage = "device"
        else:
            self.storage = "pinned"
        self.pixels = [self._place(v.pixels) for v in views]  # [H, W, 3] uint8 each
        self.masks = [None if v.mask is None else self._place(v.mask) for v in views]  # [H, W] bool each
        self.viewmats = torch.stack([v.viewmat for v in views]).to(device)  # [V, 4, 4]
        self.Ks = torch.stack([v.K for v in views]).to(device)  # [V, 3, 3]
        self.image_bytes = size
        logger.info("training images placed", extra={"storage": self.storage, "mib": round(size / 2**20, 1)})

    def __len__(self) -> int:
        return len(self.views)

    def target(self, i: int) -> Tensor:
        """[1, H, W, 3] float32 in [0, 1] on the device (converted there from uint8)."""
        pixels = self.pixels[i].to(self.device, non_blocking=True)
        return pixels.float().div_(255.0)[None]

    def mask(self, i: int) -> Tensor | None:
        """[1, H, W] bool on the device, True where the pixel counts (None: every pixel)."""
        mask = self.masks[i]
        return None if mask is None else mask.to(self.device, non_blocking=True)[None]

    def _place(self, tensor: Tensor) -> Tensor:
        if self.storage == "device":
            return tensor.to(self.device)
        return tensor.pin_memory() if self.storage == "pinned" else tensor

    def camera(self, i: int) -> tuple[Tensor, Tensor]:
        """(viewmat [1, 4, 4], K [1, 3, 3]) on the device, without a copy."""
        return self.viewmats[i : i + 1], self.Ks[i : i + 1]
