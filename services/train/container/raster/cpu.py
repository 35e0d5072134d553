"""A CPU stand-in for `gsplat.rasterization` (the subset of arguments training uses).

Projection, covariance and spherical harmonics reuse gsplat's pure-torch functions (autograd
gives their gradients); the per-pixel compositing is a custom autograd.Function whose forward and
hand-written backward run in the compiled tile kernel (`kernel.py`), or, when no compiler is
available, in a slower pure-torch tile loop with the same semantics.

Outputs match gsplat 1.5.3 with `packed=False, render_mode="RGB", rasterize_mode="classic"`:
`(render_colors [C, H, W, D], render_alphas [C, H, W, 1], meta)`, where meta carries what
`DefaultStrategy` reads: "means2d" (non-leaf, gradients land there), "radii" [C, N, 2] int32,
"width", "height", "n_cameras", "gaussian_ids" (None, unpacked), plus "depths" and "conics".
"""

from __future__ import annotations

import math
from typing import Any

import torch
from gsplat.cuda._torch_impl import (
    _persp_proj,
    _quat_scale_to_covar_preci,
    _eval_sh_bases_fast,
    _world_to_cam,
)
from torch import Tensor

from services.train.container.raster import kernel

ALPHA_THRESHOLD = 1.0 / 255.0
MAX_CHANNELS = 16


def project(
    means: Tensor,  # [N, 3]
    quats: Tensor,  # [N, 4] (w, x, y, z), any norm
    scales: Tensor,  # [N, 3] (activated)
    opacities: Tensor,  # [N] (activated)
    viewmats: Tensor,  # [C, 4, 4] world to camera
    Ks: Tensor,  # [C, 3, 3]
    width: int,
    height: int,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = 0.3,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """EWA projection as gsplat's fused CUDA kernel does it, opacity-aware radii included.

    Returns radii [C, N, 2] int32 (0 = culled), means2d [C, N, 2], depths [C, N], conics [C, N, 3].
    """
    covars, _ = _quat_scale_to_covar_preci(quats, scales, compute_preci=False)  # [N, 3, 3]
    means_c, covars_c = _world_to_cam(means, covars, viewmats)  # [C, N, 3], [C, N, 3, 3]
    depths = means_c[..., 2]  # [C, N]
    in_depth = (depths > near_plane) & (depths < far_plane)  # [C, N]
    # Culled Gaussians get a harmless stand-in so no inf/nan reaches autograd.
    safe = means_c.new_tensor([0.0, 0.0, 1.0])
    means_c = torch.where(in_depth[..., None], means_c, safe)
    means2d, cov2d = _persp_proj(means_c, covars_c, Ks, width, height)  # [C, N, 2], [C, N, 2, 2]
    a = cov2d[..., 0, 0] + eps2d
    b = 0.5 * (cov2d[..., 0, 1] + cov2d[..., 1, 0])
    c = cov2d[..., 1, 1] + eps2d
    det = a * c - b * b  # [C, N]
    ok = in_depth & (det > 0)
    det_safe = torch.where(ok, det, torch.ones_like(det))
    conics = torch.stack([c / det_safe, -b / det_safe, a / det_safe], dim=-1)  # [C, N, 3]
    with torch.no_grad():
        opac = opacities.detach().expand_as(det)
        ok = ok & (opac >= ALPHA_THRESHOLD)
        extend = torch.sqrt(2.0 * torch.log(opac.clamp_min(ALPHA_THRESHOLD) / ALPHA_THRESHOLD))
        extend = extend.clamp_max(3.33)
        rx = torch.ceil(extend * torch.sqrt(a.detach().clamp_min(0)))
        ry = torch.ceil(extend * torch.sqrt(c.detach().clamp_min(0)))
        mx, my = means2d.detach().unbind(-1)
        inside = (mx + rx > 0) & (mx - rx < width) & (my + ry > 0) & (my - ry < height)
        ok = ok & inside & ((rx > 0) | (ry > 0))
        radii = torch.stack([rx, ry], dim=-1).masked_fill(~ok[..., None], 0).to(torch.int32)
    return radii, means2d, depths, conics


def _sh_to_color(
    sh_degree: int,
    dirs: Tensor,  # [C, N, 3]
    coeffs: Tensor,  # [N, K, 3] or [C, N, K, 3]
) -> Tensor:
    """Spherical harmonics to RGB (before the +0.5 offset) with one batched matmul: [C, N, 3]."""
    n_bases = (sh_degree + 1) ** 2
    if coeffs.shape[-2] < n_bases:
        raise ValueError(f"sh_degree {sh_degree} needs {n_bases} coefficients, got {coeffs.shape[-2]}")
    C, N = dirs.shape[:2]
    dirs = torch.nn.functional.normalize(dirs, dim=-1)
    bases = _eval_sh_bases_fast(n_bases, dirs)  # [C, N, n_bases]
    coeffs = coeffs[..., :n_bases, :].expand(C, N, n_bases, 3)
    out = torch.matmul(bases.reshape(C * N, 1, n_bases), coeffs.reshape(C * N, n_bases, 3))
    return out.reshape(C, N, 3)


def tile_rects(
    means2d: Tensor,  # [N, 2]
    radii: Tensor,  # [N, 2] int32
    tile_size: int,
    tiles_x: int,
    tiles_y: int,
) -> Tensor:
    """Tiles each Gaussian's bounding box covers, as gsplat's isect_tiles: [N, 4] int32."""
    m = means2d.detach()
    r = radii.to(m.dtype)
    x0 = torch.floor((m[:, 0] - r[:, 0]) / tile_size).clamp(0, tiles_x)
    x1 = torch.ceil((m[:, 0] + r[:, 0]) / tile_size).clamp(0, tiles_x)
    y0 = torch.floor((m[:, 1] - r[:, 1]) / tile_size).clamp(0, tiles_y)
    y1 = torch.ceil((m[:, 1] + r[:, 1]) / tile_size).clamp(0, tiles_y)
    rect = torch.stack([x0, y0, x1, y1], dim=-1).to(torch.int32)
    culled = (radii <= 0).all(dim=-1)
    rect[culled] = 0
    return rect.contiguous()


def bin_tiles_torch(
    order: Tensor,  # [M] visible gaussian ids front to back
    rect: Tensor,  # [N, 4]
    tiles_x: int,
    tiles_y: int,
) -> tuple[Tensor, Tensor]:
    """Pure-torch counterpart of the kernel's counting sort: (offsets [T + 1], ids [n_isects])."""
    r = rect[order.long()].long()  # [M, 4]
    w = (r[:, 2] - r[:, 0]).clamp_min(0)
    cnt = w * (r[:, 3] - r[:, 1]).clamp_min(0)  # [M]
    total = int(cnt.sum())
    gid = torch.repeat_interleave(order.long(), cnt)  # [n_isects]
    row = torch.repeat_interleave(torch.arange(len(order)), cnt)
    start = torch.cumsum(cnt, 0) - cnt
    local = torch.arange(total) - start[row]
    tx = r[row, 0] + local % w[row]
    ty = r[row, 1] + local // w[row]
    tid = ty * tiles_x + tx
    tid_sorted, perm = torch.sort(tid, stable=True)
    counts = torch.bincount(tid_sorted, minlength=tiles_x * tiles_y)
    offsets = torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(counts, 0)])
    return offsets, gid[perm].to(torch.int32)


class _Composite(torch.autograd.Function):
    """Front-to-back alpha compositing of one image in the compiled kernel."""

    @staticmethod
    def forward(ctx: Any, means2d, conics, colors, opacities, offsets, ids, width, height, tile_size, lib):  # type: ignore[override]
        out_color, out_alpha, last = kernel.forward(
            lib, means2d, conics, colors, opacities, offsets, ids, width, height, tile_size
        )
        ctx.save_for_backward(means2d, conics, colors, opacities, offsets, ids, out_alpha, last)
        ctx.dims = (width, height, tile_size, lib)
        return out_color, out_alpha[..., None]

    @staticmethod
    def backward(ctx: Any, v_color: Tensor, v_alpha: Tensor):  # type: ignore[override]
        means2d, conics, colors, opacities, offsets, ids, out_alpha, last = ctx.saved_tensors
        width, height, tile_size, lib = ctx.dims
        grads = kernel.backward(
            lib, means2d, conics, colors, opacities, offsets, ids, out_alpha, last,
            v_color.contiguous(), v_alpha[..., 0].contiguous(), width, height, tile_size,
        )
        return (*grads, None, None, None, None, None, None)


def _composite_torch(
    means2d: Tensor,  # [N, 2]
    conics: Tensor,  # [N, 3]
    colors: Tensor,  # [N, D]
    opacities: Tensor,  # [N]
    offsets: Tensor,  # [T + 1]
    ids: Tensor,  # [n_isects]
    width: int,
    height: int,
    tile_size: int,
) -> tuple[Tensor, Tensor]:
    """Same compositing with autograd, one tile at a time (fallback when nothing compiles)."""
    D = colors.shape[-1]
    tiles_x = math.ceil(width / tile_size)
    out_color = means2d.new_zeros(height, width, D)
    out_alpha = means2d.new_zeros(height, width, 1)
    for t in range(len(offsets) - 1):
        s, e = int(offsets[t]), int(offsets[t + 1])
        if s == e:
            continue
        x0, y0 = (t % tiles_x) * tile_size, (t // tiles_x) * tile_size
        x1, y1 = min(width, x0 + tile_size), min(height, y0 + tile_size)
        ys, xs = torch.meshgrid(
            torch.arange(y0, y1, dtype=means2d.dtype), torch.arange(x0, x1, dtype=means2d.dtype), indexing="ij"
        )
        pix = torch.stack([xs.reshape(-1), ys.reshape(-1)], -1) + 0.5  # [P, 2]
        g = ids[s:e].long()  # [K]
        d = means2d[g][None] - pix[:, None]  # [P, K, 2]
        cn = conics[g]  # [K, 3]
        sigma = 0.5 * (cn[:, 0] * d[..., 0] ** 2 + cn[:, 2] * d[..., 1] ** 2) + cn[:, 1] * d[..., 0] * d[..., 1]
        alpha = torch.clamp_max(opacities[g] * torch.exp(-sigma), 0.999)  # [P, K]
        valid = (sigma >= 0) & (alpha >= ALPHA_THRESHOLD)
        alpha = torch.where(valid, alpha, torch.zeros_like(alpha))
        T_after = torch.cumprod(1 - alpha, dim=1)  # [P, K]
        T_before = torch.cat([torch.ones_like(alpha[:, :1]), T_after[:, :-1]], dim=1)
        stops = valid & (T_after <= 1e-4)
        keep = torch.cumprod((~stops).to(alpha.dtype), dim=1)
        weights = alpha * T_before * keep  # [P, K]
        out_color[y0:y1, x0:x1] = (weights @ colors[g]).reshape(y1 - y0, x1 - x0, D)
        out_alpha[y0:y1, x0:x1] = weights.sum(1).reshape(y1 - y0, x1 - x0, 1)
    return out_color, out_alpha


def rasterization(
    means: Tensor,  # [N, 3]
    quats: Tensor,  # [N, 4]
    scales: Tensor,  # [N, 3]
    opacities: Tensor,  # [N]
    colors: Tensor,  # [N, K, 3] SH coefficients with sh_degree, else [N, D] or [C, N, D]
    viewmats: Tensor,  # [C, 4, 4]
    Ks: Tensor,  # [C, 3, 3]
    width: int,
    height: int,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = 0.3,
    sh_degree: int | None = None,
    packed: bool = False,
    tile_size: int = 16,
    backgrounds: Tensor | None = None,  # [C, D]
    render_mode: str = "RGB",
    absgrad: bool = False,
    rasterize_mode: str = "classic",
    use_kernel: bool = True,
) -> tuple[Tensor, Tensor, dict[str, Any]]:
    if packed or render_mode != "RGB" or absgrad or rasterize_mode != "classic":
        raise NotImplementedError("cpu rasterization supports packed=False, RGB, classic only")
    C = viewmats.shape[0]
    N = means.shape[0]
    radii, means2d, depths, conics = project(
        means, quats, scales, opacities, viewmats, Ks, width, height, near_plane, far_plane, eps2d
    )
    if sh_degree is not None:
        campos = torch.linalg.inv(viewmats.detach())[:, :3, 3]  # [C, 3]
        dirs = means[None] - campos[:, None]  # [C, N, 3]
        rgb = _sh_to_color(sh_degree, dirs, colors)  # [C, N, 3]
        rgb = torch.clamp_min(rgb + 0.5, 0.0)
    else:
        rgb = colors.expand(C, *colors.shape) if colors.dim() == 2 else colors  # [C, N, D]
    D = rgb.shape[-1]
    if D > MAX_CHANNELS:
        raise ValueError(f"cpu rasterization supports up to {MAX_CHANNELS} channels, got {D}")
    opac = opacities.expand(C, N)  # [C, N]
    lib = kernel.load() if use_kernel else None
    tiles_x, tiles_y = math.ceil(width / tile_size), math.ceil(height / tile_size)
    images, alphas = [], []
    for ci in range(C):
        visible = torch.nonzero((radii[ci] > 0).any(-1)).squeeze(1)  # [M]
        order = visible[torch.argsort(depths[ci, visible].detach(), stable=True)].to(torch.int32)
        rect = tile_rects(means2d[ci], radii[ci], tile_size, tiles_x, tiles_y)
        args = (means2d[ci], conics[ci], rgb[ci], opac[ci])
        if lib is not None:
            n_isects = int(((rect[:, 2] - rect[:, 0]) * (rect[:, 3] - rect[:, 1])).sum())
            offsets, ids = kernel.bin_tiles(lib, order.contiguous(), rect, n_isects, tiles_x, tiles_y)
            img, alpha = _Composite.apply(
                *(a.contiguous() for a in args), offsets, ids, width, height, tile_size, lib
            )
        else:
            offsets, ids = bin_tiles_torch(order, rect, tiles_x, tiles_y)
            img, alpha = _composite_torch(*args, offsets, ids, width, height, tile_size)
        if backgrounds is not None:
            img = img + backgrounds[ci] * (1.0 - alpha)
        images.append(img)
        alphas.append(alpha)
    meta: dict[str, Any] = {
        "camera_ids": None,
        "gaussian_ids": None,
        "radii": radii,
        "means2d": means2d,
        "depths": depths,
        "conics": conics,
        "opacities": opac,
        "tile_size": tile_size,
        "tile_width": tiles_x,
        "tile_height": tiles_y,
        "width": width,
        "height": height,
        "n_cameras": C,
    }
    return torch.stack(images), torch.stack(alphas), meta
