"""What a report's figures mean, in plain words, with good / fair / poor bands.

Bands (where a figure falls for a 3D Gaussian Splatting capture):
- Held-out PSNR / SSIM / LPIPS: the 3DGS paper (Kerbl et al. 2023, Table 1) reports on the
  Mip-NeRF 360 scenes PSNR 27.2 dB, SSIM 0.815, LPIPS 0.214 on average, about 23-25 dB for the
  outdoor scenes; casual phone captures usually land lower. "good" is at or above that level,
  "poor" is where renders visibly blur or show artefacts.
- Reprojection error: COLMAP solves of sharp photos typically end below 1 px; above 2 px the
  camera poses (and so the model) are doubtful.
- Photos placed: every photo not placed is a view the model never learned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Band = Literal["good", "fair", "poor"]


@dataclass(frozen=True)
class Scale:
    """`good` at or beyond the first bound, `fair` up to the second; `higher_is_better` says which way."""

    good: float
    fair: float
    higher_is_better: bool
    meaning: str  # what the figure says, for a person who has never heard of it
    bounds_text: str  # the bands in words

    def band(self, value: float) -> Band:
        if self.higher_is_better:
            return "good" if value >= self.good else "fair" if value >= self.fair else "poor"
        return "good" if value <= self.good else "fair" if value <= self.fair else "poor"


SCALES: dict[str, Scale] = {
    "psnr": Scale(
        27.0, 22.0, True,
        "How closely the model's renders match photos it was never trained on (every 8th photo is "
        "held back). Higher is better; +6 dB halves the typical pixel error.",
        "good from 27 dB, fair from 22 dB, poor below",
    ),
    "ssim": Scale(
        0.85, 0.65, True,
        "How well those renders keep the photos' structure (edges, texture), from 0 to 1. Higher is better.",
        "good from 0.85, fair from 0.65, poor below",
    ),
    "lpips": Scale(
        0.2, 0.35, False,
        "How different the renders look to a neural network trained on human judgements. Lower is better.",
        "good up to 0.20, fair up to 0.35, poor above",
    ),
    "reprojection": Scale(
        1.0, 2.0, False,
        "How far, on average, the solved 3D points land from where they were seen in the photos. "
        "Lower is better; it measures how well the cameras were placed.",
        "good up to 1 px, fair up to 2 px, poor above",
    ),
    "registration": Scale(
        0.95, 0.8, True,
        "The share of photos the camera solve could place. A photo not placed is a view the model never saw.",
        "good from 95 %, fair from 80 %, poor below",
    ),
}


def band_of(name: str, value: float | None) -> Band | None:
    if value is None:
        return None
    return SCALES[name].band(float(value))
