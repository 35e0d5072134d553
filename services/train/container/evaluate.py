"""Held-out evaluation (PSNR, SSIM) and preview images (render next to photo).

A view with a mask is scored on its kept pixels only: PSNR from their mean squared error; SSIM
(torchmetrics' map, averaged over the kept pixels) and LPIPS on the render with the ignored pixels
taken from the photo, so that no window sees a difference there; previews show ignored pixels as
a grey checkerboard on both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from services.train.container.data import View
from services.train.container.trainer import Trainer


def lpips_metric(device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None:
    """torchmetrics' LPIPS (AlexNet) when torchvision and its weights are already on disk, else None.

    Never downloads: without the weights the metric is reported as null, not estimated.
    """
    try:
        import torchvision  # noqa: F401 - LPIPS builds its backbone from torchvision
        from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity
    except ImportError:
        return None
    if not any((Path(torch.hub.get_dir()) / "checkpoints").glob("alexnet-*.pth")):
        return None
    try:
        metric = LearnedPerceptualImagePatchSimilarity(net_type="alex", normalize=True).to(device)
    except Exception:  # noqa: BLE001 - any failure to build it means: no LPIPS
        return None
    return lambda a, b: metric(a, b)


@dataclass
class Evaluation:
    psnr: float | None  # mean over held-out views, dB
    ssim: float | None
    lpips: float | None  # None: LPIPS weights are not on disk (never downloaded, never estimated)
    n_views: int


@torch.no_grad()
def evaluate(trainer: Trainer, views: list[View]) -> Evaluation:
    if not views:
        return Evaluation(psnr=None, ssim=None, lpips=None, n_views=0)
    psnrs, ssims, lpipses = [], [], []
    lpips = lpips_metric(trainer.device)
    for view in views:
        render = render_view(trainer, view)  # [H, W, 3]
        a = render.permute(2, 0, 1)[None]  # [1, 3, H, W]
        b = view.image.to(render.device).permute(2, 0, 1)[None]
        if view.mask is None:
            psnrs.append(float(peak_signal_noise_ratio(a, b, data_range=1.0)))
            ssims.append(float(structural_similarity_index_measure(a, b, data_range=1.0)))
        else:
            keep = view.mask.to(render.device)[None, None].to(a.dtype)  # [1, 1, H, W]
            psnrs.append(masked_psnr(a, b, keep))
            a = a * keep + b * (1 - keep)  # ignored pixels agree: no SSIM window or LPIPS sees them
            _, ssim_image = structural_similarity_index_measure(a, b, data_range=1.0, return_full_image=True)
            ssims.append(float((ssim_image * keep).sum() / (keep.sum() * a.shape[1]).clamp(min=1.0)))
        if lpips is not None:
            lpipses.append(float(lpips(a.clamp(0, 1), b)))
    return Evaluation(
        psnr=float(np.mean(psnrs)), ssim=float(np.mean(ssims)),
        lpips=float(np.mean(lpipses)) if lpipses else None, n_views=len(views),
    )


def masked_psnr(a: torch.Tensor, b: torch.Tensor, keep: torch.Tensor) -> float:
    """PSNR (dB, data range 1) of images [1, C, H, W] over the pixels where keep [1, 1, H, W] is 1."""
    mse = ((a - b) ** 2 * keep).sum() / (keep.sum() * a.shape[1]).clamp(min=1.0)
    return float(-10.0 * torch.log10(mse.clamp(min=1e-10)))


def checkerboard(height: int, width: int, cell: int = 8) -> torch.Tensor:
    """[H, W, 3] light and dark grey squares: how previews show ignored pixels."""
    y, x = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    shade = torch.where(((y // cell) + (x // cell)) % 2 == 0, 0.8, 0.6)
    return shade[..., None].expand(height, width, 3)


@torch.no_grad()
def render_view(trainer: Trainer, view: View) -> torch.Tensor:
    renders, _, _ = trainer.render(view)
    return renders[0].clamp(0, 1)


WEB_PREVIEW_WIDTH = 1200  # px; the JPEG copy that reports and emails carry inside themselves


@torch.no_grad()
def write_previews(trainer: Trainer, views: list[View], folder: Path) -> list[str]:
    """previews/<name>.png: the render (left) next to the held-out photo (right), lossless; and
    previews/<name>.jpg, the same at most WEB_PREVIEW_WIDTH wide (JPEG quality 85), small enough
    to embed in report.html and a local email. Returns the PNG names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for view in views:
        render = render_view(trainer, view).cpu()
        photo = view.image
        if view.mask is not None:
            keep = view.mask[..., None].cpu()  # [H, W, 1]
            board = checkerboard(view.height, view.width)
            render, photo = torch.where(keep, render, board), torch.where(keep, photo, board)
        side = torch.cat([render, photo], dim=1)  # [H, 2W, 3]
        name = Path(view.name).stem.replace("/", "_") + ".png"
        image = Image.fromarray((side.numpy() * 255).round().astype(np.uint8))
        image.save(folder / name)
        if image.width > WEB_PREVIEW_WIDTH:
            height = max(1, round(image.height * WEB_PREVIEW_WIDTH / image.width))
            image = image.resize((WEB_PREVIEW_WIDTH, height), Image.Resampling.LANCZOS)
        image.save(folder / (Path(name).stem + ".jpg"), quality=85)
        names.append(name)
    return names
