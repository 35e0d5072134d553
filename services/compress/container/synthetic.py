"""Deterministic, plausible-looking splats for tests and benchmarks (not for production use).

Positions sit on noisy clustered surfaces plus a sparse far background; scales are log-normal and
grow with distance from the centre; opacities are bimodal like trained models (many near 1, a
tail of faint ones); colours vary smoothly per cluster; higher-order SH decays with the band.
"""

from __future__ import annotations

import numpy as np

from services.compress.container.splats import SH_COEFFS_BY_DEGREE, Splats


def synthetic_splats(n: int, sh_degree: int = 3, seed: int = 0, clusters: int = 64) -> Splats:
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, clusters, n)  # [N]
    centres = rng.normal(0.0, 1.5, (clusters, 3))  # [K, 3]
    normals = rng.normal(size=(clusters, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    # Points on a noisy disc per cluster (surfaces), 5% far background.
    tangent = np.cross(normals, rng.normal(size=(clusters, 3)))
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    bitangent = np.cross(normals, tangent)
    u, v = rng.normal(0, 0.6, (2, n))
    means = centres[cluster] + u[:, None] * tangent[cluster] + v[:, None] * bitangent[cluster]
    means += rng.normal(0, 0.02, (n, 1)) * normals[cluster]
    far = rng.random(n) < 0.05
    direction = rng.normal(size=(int(far.sum()), 3))
    means[far] = direction / np.linalg.norm(direction, axis=1, keepdims=True) * rng.uniform(8, 30, (len(direction), 1))
    dist = np.linalg.norm(means, axis=1)
    log_scales = rng.normal(-4.2, 0.6, (n, 3)) + 0.5 * np.log1p(dist)[:, None]
    log_scales[:, 2] -= rng.exponential(1.0, n)  # flattened along one axis, like trained splats
    quats = rng.normal(size=(n, 4))
    opacity = np.where(rng.random(n) < 0.6, rng.beta(8, 1.2, n), rng.beta(1.2, 4, n))
    opacities = np.log(np.clip(opacity, 1e-4, 1 - 1e-4) / np.clip(1 - opacity, 1e-4, 1))
    base_colour = rng.normal(0.0, 0.9, (clusters, 3))
    gradient = rng.normal(0.0, 0.5, (clusters, 3, 3))
    local = np.clip(means - centres[cluster], -1.5, 1.5)
    sh0 = base_colour[cluster] + np.einsum("nij,nj->ni", gradient[cluster], local) + rng.normal(0, 0.15, (n, 3))
    coeffs = SH_COEFFS_BY_DEGREE[sh_degree]
    band_of = np.array([1] * 3 + [2] * 5 + [3] * 7)[:coeffs]
    sh_base = rng.normal(0, 0.08, (clusters, 3, coeffs)) / band_of
    sh_rest = sh_base[cluster] + rng.normal(0, 0.03, (n, 3, coeffs)) / band_of
    return Splats(
        means=means.astype(np.float32),
        quats=quats.astype(np.float32),
        log_scales=log_scales.astype(np.float32),
        opacities=opacities.astype(np.float32),
        sh0=sh0.astype(np.float32),
        sh_rest=sh_rest.reshape(n, 3 * coeffs).astype(np.float32),
    )
