"""How long a job takes on this kind of machine, before it starts: a CPU estimate from measured
step times, and the T4 estimate of the preset table (shared/options.py).

CPU training step model (seconds per step, torch + our CPU rasterizer on 2 threads), fitted to
`bench/preset_times.py` on the banana photos (docs/local.md#presets has the measurements; the
machine was shared, so they carry ±50 %):

    t(MP, G) = 0.03 + 1.5 MP + 1.5 G + 4.0 MP G      (MP: megapixels per image, G: millions of Gaussians)

A run passes through growing Gaussian counts; the range below takes a quarter of the cap as the
low average and the full cap as the high one. SfM: about 10 s plus 1.5 s per photo at 1600 px
(docs/bench/sfm.md: banana 16 photos 22 s, caliterra 40 photos 40 s), scaling with pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.options import Resolved

ASPECT = 0.75  # height / width assumed when the photos' own shape is unknown (4:3)


def step_seconds(megapixels: float, gaussians: float) -> float:
    g = gaussians / 1e6
    return 0.03 + 1.5 * megapixels + 1.5 * g + 4.0 * megapixels * g


@dataclass(frozen=True)
class Estimate:
    low_s: float
    high_s: float

    @property
    def high_minutes(self) -> float:
        return self.high_s / 60.0


def cpu_estimate(settings: Resolved, photo_count: int, photo_side: int | None = None) -> Estimate:
    """Whole-job wall time on 2 CPU cores: SfM + training (+ a minute for evaluation and compression).

    `photo_side` is the photos' longest side when known: training never upsamples them."""
    side = min(settings.max_image_size, photo_side or settings.max_image_size)
    megapixels = side * side * ASPECT / 1e6
    sfm_side = max(side, 1000)
    sfm = 10.0 + 1.5 * photo_count * (sfm_side / 1600) ** 2
    low = settings.steps * step_seconds(megapixels, 0.25 * settings.max_gaussians)
    high = settings.steps * step_seconds(megapixels, settings.max_gaussians)
    return Estimate(low_s=sfm + low + 60.0, high_s=sfm + high + 60.0)


def duration_words(seconds: float) -> str:
    """`4 min`, `2.5 h`, `3 days`, `5 weeks`: the unit a person would use."""
    minutes = seconds / 60
    if minutes < 90:
        return f"{max(1, round(minutes))} min"
    hours = minutes / 60
    if hours < 48:
        return f"{hours:.0f} h" if hours >= 10 else f"{hours:.1f}".removesuffix(".0") + " h"
    days = hours / 24
    if days < 14:
        return f"{days:.0f} days"
    return f"{days / 7:.0f} weeks"


def range_words(low_s: float, high_s: float) -> str:
    low, high = duration_words(low_s), duration_words(high_s)
    if low == high:
        return low
    low_number, low_unit = low.split(" ", 1)
    high_number, high_unit = high.split(" ", 1)
    if low_unit == high_unit:
        return f"{low_number}–{high_number} {high_unit}"
    return f"{low}–{high}"
