"""Texel orders: Morton follows the Z-order curve; the self-organising sort smooths neighbours."""

import numpy as np

from services.compress.container.order import morton_codes, morton_order
from services.compress.container.plas import plas_order
from services.compress.container.sog import texture_size
from services.compress.container.synthetic import synthetic_splats


def test_morton_order_of_cube_corners_interleaves_x_then_y_then_z() -> None:
    corners = np.array([[x, y, z] for z in (0, 1) for y in (0, 1) for x in (0, 1)], np.float64)
    shuffled = corners[[5, 2, 7, 0, 3, 6, 1, 4]]
    ordered = shuffled[morton_order(shuffled)]
    np.testing.assert_array_equal(ordered, corners)  # x is the lowest bit, then y, then z
    codes = morton_codes(corners)
    x_bits = 0x1249249249249249  # every third bit of 63: the 21 bits of x = 2**21 - 1
    assert codes[1] == x_bits and codes[2] == x_bits << 1 and codes[4] == x_bits << 2 and codes[7] == 2**63 - 1


def _neighbour_distance(features: np.ndarray, width: int) -> float:
    rows = len(features) // width
    grid = features[: rows * width].reshape(rows, width, -1)
    return float(np.abs(np.diff(grid, axis=0)).mean() + np.abs(np.diff(grid, axis=1)).mean())


def test_plas_is_a_permutation_that_smooths_the_grid() -> None:
    # GIVEN splats whose features are unrelated to position (Morton cannot help)
    splats = synthetic_splats(4000, sh_degree=0)
    features = np.random.default_rng(0).normal(size=(4000, 3)).astype(np.float32)
    width, _ = texture_size(4000)
    # WHEN sorted
    order = plas_order(splats, features=features)
    # THEN every splat appears once and neighbours are far more alike than in Morton order
    assert np.array_equal(np.sort(order), np.arange(4000))
    morton = _neighbour_distance(features[morton_order(splats.means)], width)
    assert _neighbour_distance(features[order], width) < 0.7 * morton


def test_canonical_rotations_keep_the_covariance_and_maximise_w() -> None:
    from services.compress.container.rotations import canonical_rotations, rotation_matrices
    from services.compress.container.splats import unit_quats

    splats = synthetic_splats(2000, sh_degree=0)
    quats, log_scales = canonical_rotations(splats.quats, splats.log_scales)

    def covariance(q: np.ndarray, s: np.ndarray) -> np.ndarray:
        r = rotation_matrices(unit_quats(q))
        return np.einsum("nij,nj,nkj->nik", r, np.exp(2.0 * s.astype(np.float64)), r)

    before, after = covariance(splats.quats, splats.log_scales), covariance(quats, log_scales)
    np.testing.assert_allclose(after, before, atol=1e-6 * np.abs(before).max())
    assert np.all(np.abs(quats[:, 0]) >= np.abs(quats[:, 1:]).max(axis=1) - 1e-6)
    assert np.abs(quats[:, 0]).min() >= 0.5  # every rotation lies within ~120 deg of the identity
    np.testing.assert_array_equal(np.sort(log_scales, axis=1), np.sort(splats.log_scales, axis=1))
