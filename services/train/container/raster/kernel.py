"""Builds and loads the compiled CPU tile rasterizer, and calls it on torch tensors.

The library is compiled once per source version and machine with the system C++ compiler
(`$CXX`, else `g++`/`c++`), cached under `$SPACEPORT_CACHE_DIR` (default
`~/.cache/spaceport/raster`), written atomically so concurrent first uses cannot see half a file.
When no compiler works, `load()` returns None and callers use the pure-torch path.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import torch
from torch import Tensor

from services.train.container.raster.kernel_source import SOURCE

logger = logging.getLogger(__name__)

_LOCK = threading.Lock()
_LIB: ctypes.CDLL | None = None
_TRIED = False
_FLAG_SETS = (
    ["-O3", "-march=native", "-fopenmp"],
    ["-O3", "-fopenmp"],
    ["-O3"],
)


def cache_dir() -> Path:
    root = os.environ.get("SPACEPORT_CACHE_DIR") or Path.home() / ".cache" / "spaceport"
    return Path(root) / "raster"


def _compiler() -> str | None:
    for name in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if name and shutil.which(name):
            return name
    return None


def _machine_key() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags")):
                cpu += line
    except OSError:
        pass
    return cpu


def _build(cxx: str) -> Path | None:
    digest = hashlib.sha256((SOURCE + _machine_key()).encode()).hexdigest()[:16]
    target = cache_dir() / f"libspraster-{digest}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("building cpu rasterizer kernel (first use on this machine)", extra={"compiler": cxx})
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        src = Path(tmp) / "raster.cpp"
        src.write_text(SOURCE)
        for flags in _FLAG_SETS:
            out = Path(tmp) / "lib.so"
            cmd = [cxx, *flags, "-std=c++17", "-shared", "-fPIC", str(src), "-o", str(out)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode == 0:
                os.replace(out, target)
                logger.info("compiled cpu rasterizer", extra={"flags": " ".join(flags)})
                return target
            logger.info("cpu rasterizer build failed", extra={"flags": " ".join(flags), "stderr": proc.stderr[-500:]})
    return None


def load() -> ctypes.CDLL | None:
    """The compiled kernel library, or None when it cannot be built (cached either way)."""
    global _LIB, _TRIED
    with _LOCK:
        if _TRIED:
            return _LIB
        _TRIED = True
        if os.environ.get("SPACEPORT_NO_CPU_KERNEL"):
            return None
        cxx = _compiler()
        if cxx is None:
            logger.warning("no c++ compiler: cpu rasterizer falls back to pure torch")
            return None
        try:
            path = _build(cxx)
            if path is None:
                return None
            lib = ctypes.CDLL(str(path))
            if lib.sp_abi_version() != 7:
                return None
        except OSError as exc:
            logger.warning("cpu rasterizer unavailable", extra={"error": type(exc).__name__})
            return None
        _LIB = lib
        return lib


def _ptr(t: Tensor) -> ctypes.c_void_p:
    assert t.is_contiguous()
    return ctypes.c_void_p(t.data_ptr())


def _threads() -> int:
    return max(1, torch.get_num_threads())


def bin_tiles(
    lib: ctypes.CDLL,
    order: Tensor,  # [M] int32, visible gaussian ids front to back
    rect: Tensor,  # [N, 4] int32 tile x0, y0, x1, y1 (exclusive)
    n_isects: int,
    tiles_x: int,
    tiles_y: int,
) -> tuple[Tensor, Tensor]:
    offsets = torch.empty(tiles_x * tiles_y + 1, dtype=torch.int64)  # [T + 1]
    ids = torch.empty(n_isects, dtype=torch.int32)  # [n_isects]
    lib.sp_bin_tiles(
        ctypes.c_int32(order.numel()), _ptr(order), _ptr(rect), ctypes.c_int32(tiles_x),
        ctypes.c_int32(tiles_y), _ptr(offsets), _ptr(ids),
    )
    return offsets, ids


def _suffix(dtype: torch.dtype) -> str:
    if dtype == torch.float32:
        return "f32"
    if dtype == torch.float64:
        return "f64"
    raise TypeError(f"cpu rasterizer supports float32 and float64, not {dtype}")


def forward(
    lib: ctypes.CDLL,
    means2d: Tensor,  # [N, 2]
    conics: Tensor,  # [N, 3]
    colors: Tensor,  # [N, D]
    opacities: Tensor,  # [N]
    offsets: Tensor,  # [T + 1] int64
    ids: Tensor,  # [n_isects] int32
    width: int,
    height: int,
    tile_size: int,
) -> tuple[Tensor, Tensor, Tensor]:
    D = colors.shape[-1]
    out_color = torch.empty(height, width, D, dtype=means2d.dtype)  # [H, W, D]
    out_alpha = torch.empty(height, width, dtype=means2d.dtype)  # [H, W]
    last = torch.empty(height, width, dtype=torch.int32)  # [H, W]
    fn = getattr(lib, f"sp_forward_{_suffix(means2d.dtype)}")
    fn(
        ctypes.c_int(width), ctypes.c_int(height), ctypes.c_int(tile_size), ctypes.c_int(D),
        _ptr(means2d), _ptr(conics), _ptr(colors), _ptr(opacities), _ptr(offsets), _ptr(ids),
        _ptr(out_color), _ptr(out_alpha), _ptr(last), ctypes.c_int(_threads()),
    )
    return out_color, out_alpha, last


def backward(
    lib: ctypes.CDLL,
    means2d: Tensor,  # [N, 2]
    conics: Tensor,  # [N, 3]
    colors: Tensor,  # [N, D]
    opacities: Tensor,  # [N]
    offsets: Tensor,  # [T + 1]
    ids: Tensor,  # [n_isects]
    out_alpha: Tensor,  # [H, W]
    last: Tensor,  # [H, W]
    v_color: Tensor,  # [H, W, D]
    v_alpha: Tensor,  # [H, W]
    width: int,
    height: int,
    tile_size: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    N, D = colors.shape
    v_means2d = torch.zeros_like(means2d)
    v_conics = torch.zeros_like(conics)
    v_colors = torch.zeros_like(colors)
    v_opacities = torch.zeros_like(opacities)
    fn = getattr(lib, f"sp_backward_{_suffix(means2d.dtype)}")
    fn(
        ctypes.c_int(N), ctypes.c_int(width), ctypes.c_int(height), ctypes.c_int(tile_size),
        ctypes.c_int(D), _ptr(means2d), _ptr(conics), _ptr(colors), _ptr(opacities), _ptr(offsets),
        _ptr(ids), _ptr(out_alpha), _ptr(last), _ptr(v_color), _ptr(v_alpha), _ptr(v_means2d),
        _ptr(v_conics), _ptr(v_colors), _ptr(v_opacities), ctypes.c_int(_threads()),
    )
    return v_means2d, v_conics, v_colors, v_opacities
