"""The Gaussian attributes the compressor works on, as float32 arrays in PLY conventions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SH_COEFFS_BY_DEGREE = (0, 3, 8, 15)  # higher-order SH coefficients per colour channel


@dataclass
class Splats:
    """N Gaussians; every array has N rows and the PLY's units (log scales, logit opacity)."""

    means: np.ndarray  # [N, 3] float32 world positions x, y, z
    quats: np.ndarray  # [N, 4] float32 rotation w, x, y, z (PLY rot_0..3, not necessarily unit)
    log_scales: np.ndarray  # [N, 3] float32 ln(sigma) per axis (PLY scale_0..2)
    opacities: np.ndarray  # [N] float32 logit(opacity) (PLY opacity)
    sh0: np.ndarray  # [N, 3] float32 DC SH coefficient per channel (PLY f_dc_0..2)
    sh_rest: np.ndarray  # [N, 3*C] float32 channel-major f_rest_*, C = coefficients per channel

    def __post_init__(self) -> None:
        n = len(self.means)
        for name in ("quats", "log_scales", "opacities", "sh0", "sh_rest"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"splats: {name} has {len(getattr(self, name))} rows, means has {n}")
        if self.sh_rest.shape[1] not in tuple(3 * c for c in SH_COEFFS_BY_DEGREE):
            raise ValueError(f"splats: {self.sh_rest.shape[1]} higher-order SH values per splat is no SH degree")

    def __len__(self) -> int:
        return len(self.means)

    @property
    def sh_degree(self) -> int:
        return SH_COEFFS_BY_DEGREE.index(self.sh_rest.shape[1] // 3)

    @property
    def sh_coeffs(self) -> int:
        """Higher-order coefficients per channel (0, 3, 8 or 15)."""
        return self.sh_rest.shape[1] // 3

    def take(self, index: np.ndarray) -> Splats:
        """The splats at `index` (a boolean mask or an integer array), in that order."""
        return Splats(
            means=self.means[index],
            quats=self.quats[index],
            log_scales=self.log_scales[index],
            opacities=self.opacities[index],
            sh0=self.sh0[index],
            sh_rest=self.sh_rest[index],
        )

    def without_sh_rest(self) -> Splats:
        return Splats(
            means=self.means,
            quats=self.quats,
            log_scales=self.log_scales,
            opacities=self.opacities,
            sh0=self.sh0,
            sh_rest=np.zeros((len(self), 0), np.float32),
        )


ATTRIBUTES = ("means", "quats", "log_scales", "opacities", "sh0", "sh_rest")


def concat_splats(parts: list[Splats]) -> Splats:
    """One Splats of `parts` in order (same SH degree)."""
    return Splats(**{name: np.concatenate([getattr(part, name) for part in parts]) for name in ATTRIBUTES})


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


def unit_quats(quats: np.ndarray) -> np.ndarray:
    """Normalised w,x,y,z quaternions; zero-length ones become the identity."""
    q = quats.astype(np.float64)
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    q = np.where(norm > 0, q / np.where(norm > 0, norm, 1.0), np.array([1.0, 0.0, 0.0, 0.0]))
    return q
