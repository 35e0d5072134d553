"""Canonical rotations: the same Gaussians, with quaternions that compress better.

A Gaussian with rotation R and scales S has covariance R S^2 R^T. Turning its frame by any of the
24 rotations G of the cube (signed axis permutations) and permuting the scales to match gives the
identical covariance: (R G) (G^T S^2 G) (R G)^T. Picking, per splat, the G that makes |w| the
largest quaternion component keeps the smallest-three tag at w and shrinks the spread of the three
stored components, so lossless WebP spends fewer bits on quats.webp. Nothing is lost.
"""

from __future__ import annotations

import itertools

import numpy as np

from services.compress.container.splats import unit_quats


def _cube_rotations() -> np.ndarray:
    """The 24 rotations of the cube as unit quaternions (w, x, y, z), one sign each -> [24, 4]."""
    quats = [np.eye(4)[i] for i in range(4)]  # 1, i, j, k (180 deg about the axes)
    for signs in itertools.product((1, -1), repeat=3):
        quats.append(np.array([1.0, *signs]) / 2.0)  # 120/240 deg about body diagonals
    for a, b in itertools.combinations(range(4), 2):
        for sign in (1, -1):
            q = np.zeros(4)
            q[a], q[b] = 1.0, sign
            quats.append(q / np.sqrt(2.0))  # 90 deg about axes, 180 about face diagonals
    return np.array(quats)


CUBE = _cube_rotations()  # [24, 4]


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton products of (w, x, y, z) quaternions, broadcasting -> [..., 4]."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def rotation_matrices(quats: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] of unit (w, x, y, z) quaternions [..., 4]."""
    w, x, y, z = np.moveaxis(quats, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def canonical_rotations(quats: np.ndarray, log_scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equivalent (quats [N, 4], log_scales [N, 3]) whose quaternions have the largest possible |w|."""
    q = unit_quats(quats)  # [N, 4]
    candidates = quat_multiply(q[:, None, :], CUBE[None, :, :])  # [N, 24, 4]
    best = np.argmax(np.abs(candidates[:, :, 0]), axis=1)  # [N]
    new_q = candidates[np.arange(len(q)), best]  # [N, 4]
    # new scale j = old scale pi(j), where column j of G has its +-1 in row pi(j)
    perm = np.argmax(np.abs(rotation_matrices(CUBE)), axis=1)  # [24, 3]: pi per cube rotation
    new_scales = np.take_along_axis(log_scales, perm[best], axis=1)
    return new_q.astype(np.float32), new_scales.astype(np.float32)


def matrix_quats(matrices: np.ndarray) -> np.ndarray:
    """Unit (w, x, y, z) quaternions [N, 4] of rotation matrices [N, 3, 3] (w >= 0).

    Shepperd's method: of 4w^2, 4x^2, 4y^2, 4z^2 (each from the trace and the diagonal), the
    largest is taken as the pivot, so no division by a near-zero component happens.
    """
    m = matrices.astype(np.float64)
    m00, m11, m22 = m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]
    squares = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], 1)
    pivot = np.argmax(squares, axis=1)  # [N]
    root = np.sqrt(np.maximum(squares[np.arange(len(m)), pivot], 1e-300))  # [N] = 2 |q_pivot|
    zy, yz = m[:, 2, 1], m[:, 1, 2]
    xz, zx = m[:, 0, 2], m[:, 2, 0]
    yx, xy = m[:, 1, 0], m[:, 0, 1]
    candidates = np.stack(
        [
            np.stack([root, zy - yz, xz - zx, yx - xy], 1),  # w pivot
            np.stack([zy - yz, root, xy + yx, xz + zx], 1),  # x pivot
            np.stack([xz - zx, xy + yx, root, yz + zy], 1),  # y pivot
            np.stack([yx - xy, xz + zx, yz + zy, root], 1),  # z pivot
        ],
        1,
    )  # [N, 4 pivots, 4]
    rows = np.arange(len(m))
    q = candidates[rows, pivot] / (2.0 * root[:, None])  # off-pivot: 4 q_p q_k / (4 |q_p|) = q_k
    q[rows, pivot] = root / 2.0
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return np.where(q[:, :1] < 0, -q, q)
