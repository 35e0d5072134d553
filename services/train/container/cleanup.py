"""Floater removal before export.

Two kinds of Gaussian are removed after the last training step (thresholds in `Config`):

- low opacity: sigmoid(opacity) < cleanup_min_opacity; haze that adds nothing a photo showed;
- unseen: in no training view does the Gaussian reach cleanup_min_weight pixels of blending
  weight, the sum over the pixels the loss used (a mask's kept ones) of alpha_i T_i, its share
  of the rendered colour. Out of every training frustum, behind the cameras, hidden behind
  surfaces or only under masks, such a Gaussian was never constrained by a photo, yet it can
  show up from the viewer's other angles.

Large Gaussians are kept: in our sets they draw the sky and distant background, and removing the
15 above half the camera spread cost 0.4 dB of held-out PSNR on the synthetic orbit scene
(docs/bench/train.md). Needles are prevented during training (`losses.anisotropy`).

The blending weight of every Gaussian in one view comes from one forward and backward pass:
rendering constant colours c_i = 0, d(sum of the image) / d c_i = sum over pixels of alpha_i T_i.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from gsplat.strategy.ops import remove
from torch import Tensor

from services.train.container.config import Config
from services.train.container.device import DeviceViews
from services.train.container.raster import rasterize

logger = logging.getLogger(__name__)


@dataclass
class CleanupReport:
    # Each Gaussian is counted once, under the first rule it breaks (in this order).
    low_opacity: int
    unseen: int
    kept: int

    @property
    def removed(self) -> int:
        return self.low_opacity + self.unseen


def view_weights(params: dict[str, Tensor], views: DeviceViews) -> Tensor:
    """[N] largest blending weight (pixels, sum of alpha * T) of each Gaussian over the views."""
    means = params["means"].detach()
    quats = params["quats"].detach()
    scales = torch.exp(params["scales"].detach())
    opacities = torch.sigmoid(params["opacities"].detach())
    best = torch.zeros(len(means), device=means.device)
    for i, view in enumerate(views.views):
        colors = torch.zeros(len(means), 1, device=means.device, requires_grad=True)  # [N, 1]
        viewmat, K = views.camera(i)
        image, _, _ = rasterize(means, quats, scales, opacities, colors, viewmat, K, view.width, view.height,
                                sh_degree=None, packed=False)
        mask = views.mask(i)  # pixels outside a mask never constrained a Gaussian
        (grad,) = torch.autograd.grad(image.sum() if mask is None else image[..., 0][mask].sum(), colors)
        best = torch.maximum(best, grad[:, 0])
    return best


def remove_floaters(
    params: torch.nn.ParameterDict, optimizers: dict[str, torch.optim.Optimizer], views: DeviceViews, cfg: Config
) -> CleanupReport:
    """Remove low-opacity and unseen Gaussians from `params` in place (after training)."""
    with torch.no_grad():
        low = torch.sigmoid(params["opacities"]) < cfg.cleanup_min_opacity
    unseen = (view_weights(dict(params.items()), views) < cfg.cleanup_min_weight) & ~low
    mask = low | unseen
    report = CleanupReport(low_opacity=int(low.sum()), unseen=int(unseen.sum()), kept=int((~mask).sum()))
    if report.kept == 0:  # never export an empty model: keep everything and say so
        logger.warning("cleanup would remove every gaussian; skipped")
        return CleanupReport(low_opacity=0, unseen=0, kept=len(mask))
    if report.removed:
        remove(params=params, optimizers=optimizers, state={}, mask=mask)
    logger.info("floaters removed", extra={**report.__dict__, "share": round(report.removed / max(len(mask), 1), 4)})
    return report

