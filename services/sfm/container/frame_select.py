"""Which video frames become SfM images: the sharpest frame of each time window, unless it is
blurry next to its neighbours or the camera barely moved since the last frame kept.

Pure logic on measures (services/sfm/container/frame_measures.py); video.py decodes and feeds it.
The window length makes the cap hold by construction: a video of D usable seconds with a cap of
N frames gets windows of max(min_interval_s, D / N) seconds, so at most N windows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Verdict(StrEnum):
    KEPT = "kept"
    BLURRY = "blurry"  # its window's sharpest frame is still far below its neighbours' sharpness
    REDUNDANT = "redundant"  # the camera barely moved since the last frame kept


@dataclass(frozen=True)
class SelectionRules:
    min_interval_s: float = 0.5  # shortest window: at most 2 frames per second of video
    blur_ratio: float = 0.45  # blurry: sharpness below this share of the median around it...
    blur_context_s: float = 3.0  # ... over the scored frames within this many seconds
    min_motion: float = 0.02  # redundant: the picture moved less than this share of its width


@dataclass(frozen=True)
class Candidate:
    """A window's sharpest scored frame."""

    window: int  # window number, from 0
    time_s: float  # presentation time, seconds from the start of the video
    sharpness: float  # laplacian_variance of the scored (small, gray) frame


def window_length(usable_s: float, cap: int, rules: SelectionRules) -> float:
    """Seconds per window so that a video of usable_s seconds yields at most `cap` windows."""
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap}")
    return max(rules.min_interval_s, usable_s / cap)


def window_of(time_s: float, start_s: float, length_s: float) -> int:
    return max(0, math.floor((time_s - start_s) / length_s + 1e-9))


def blur_reference(times: np.ndarray, sharpness: np.ndarray, at_s: float, context_s: float) -> float:
    """Median sharpness of the scored frames (times [N], sharpness [N]) within context_s of at_s."""
    near = np.abs(times - at_s) <= context_s
    return float(np.median(sharpness[near])) if near.any() else float(np.median(sharpness))


def judge(
    candidates: Sequence[Candidate],
    scored_times: np.ndarray,
    scored_sharpness: np.ndarray,
    motion_since: Callable[[Candidate, Candidate], float | None],
    rules: SelectionRules,
) -> list[Verdict]:
    """A verdict per candidate (in time order).

    scored_times, scored_sharpness: [N] every scored frame, for the blur reference.
    motion_since(last_kept, candidate): picture motion as a share of the width, None when it
    cannot be measured (a flat picture): then the candidate counts as moved.
    """
    verdicts: list[Verdict] = []
    last_kept: Candidate | None = None
    for candidate in candidates:
        reference = blur_reference(scored_times, scored_sharpness, candidate.time_s, rules.blur_context_s)
        if candidate.sharpness < rules.blur_ratio * reference:
            verdicts.append(Verdict.BLURRY)
            continue
        if last_kept is not None:
            motion = motion_since(last_kept, candidate)
            if motion is not None and motion < rules.min_motion:
                verdicts.append(Verdict.REDUNDANT)
                continue
        verdicts.append(Verdict.KEPT)
        last_kept = candidate
    return verdicts
