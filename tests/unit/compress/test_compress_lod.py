"""Levels of detail: moment-matched merges of mutual nearest pairs, and the streamed SOG layout."""

import json
from pathlib import Path

import numpy as np
import pytest

from services.compress.container.decimate import detail_levels, halve, merge_pairs, mutual_nearest_pairs
from services.compress.container.lod import LOD_META, extents, layout, read_lod, write_lod
from services.compress.container.rotations import matrix_quats, rotation_matrices
from services.compress.container.sog import encode_sog
from services.compress.container.sog_io import encode_files
from services.compress.container.splats import Splats, sigmoid, unit_quats
from services.compress.container.synthetic import synthetic_splats


def _pair(offset: float, sigma: float = 0.1, alpha: float = 0.5, colours=((1.0, 0, 0), (0, 0, 1.0))) -> Splats:
    return Splats(
        means=np.array([[-offset / 2, 0, 0], [offset / 2, 0, 0]], np.float32),
        quats=np.tile(np.array([1, 0, 0, 0], np.float32), (2, 1)),
        log_scales=np.full((2, 3), np.log(sigma), np.float32),
        opacities=np.full(2, np.log(alpha / (1 - alpha)), np.float32),
        sh0=np.array(colours, np.float32),
        sh_rest=np.zeros((2, 0), np.float32),
    )


def _covariance(s: Splats) -> np.ndarray:
    rot = rotation_matrices(unit_quats(s.quats))
    var = np.exp(2.0 * s.log_scales.astype(np.float64))
    return (rot * var[:, None, :]) @ rot.transpose(0, 2, 1)


def test_matrix_quats_inverts_rotation_matrices() -> None:
    q = unit_quats(np.random.default_rng(0).normal(size=(2000, 4)))
    q = np.where(q[:, :1] < 0, -q, q)
    np.testing.assert_allclose(matrix_quats(rotation_matrices(q)), q, atol=1e-12)


def test_merge_matches_the_mixture_mean_and_covariance() -> None:
    # GIVEN two equal isotropic splats 0.3 apart along x
    pair = _pair(0.3)
    # WHEN merged
    merged = merge_pairs(pair, np.array([0]), np.array([1]))
    # THEN the mean is the midpoint and the covariance that of the mixture: sigma^2 + (d/2)^2 along x
    np.testing.assert_allclose(merged.means[0], [0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(_covariance(merged)[0], np.diag([0.01 + 0.0225, 0.01, 0.01]), atol=1e-6)
    np.testing.assert_allclose(merged.sh0[0], [0.5, 0, 0.5], atol=1e-6)  # equal weights
    # alpha x area is kept: 2 x 0.5 x 0.01 over the merged footprint 0.1 x sqrt(0.0325)
    assert float(sigmoid(merged.opacities)[0]) == pytest.approx(0.01 / (0.1 * np.sqrt(0.0325)), rel=1e-4)


def test_coincident_opaque_splats_widen_instead_of_saturating() -> None:
    # GIVEN two opaque splats on top of each other
    merged = merge_pairs(_pair(0.0, alpha=0.9), np.array([0]), np.array([1]))
    # THEN the merged alpha is capped and the footprint grows so alpha x area is still 2 x 0.9 x sigma^2
    alpha = float(sigmoid(merged.opacities)[0])
    area = float(np.exp(np.sort(merged.log_scales[0])[1:].sum()))
    assert alpha == pytest.approx(0.999, abs=1e-5)
    assert alpha * area == pytest.approx(2 * 0.9 * 0.01, rel=1e-4)


def test_the_more_visible_splat_pulls_the_merge() -> None:
    pair = _pair(1.0, colours=((1.0, 0, 0), (0, 0, 1.0)))
    pair.opacities[1] = np.log(0.9 / 0.1)  # right splat 0.9, left 0.5
    merged = merge_pairs(pair, np.array([0]), np.array([1]))
    assert merged.means[0, 0] == pytest.approx((-0.5 * 0.5 + 0.5 * 0.9) / 1.4, abs=1e-6)
    assert merged.sh0[0, 2] == pytest.approx(0.9 / 1.4, abs=1e-6)


def test_pairs_are_disjoint_mutual_nearest_neighbours() -> None:
    splats = synthetic_splats(5000, sh_degree=0, seed=2)
    a, b = mutual_nearest_pairs(splats, rounds=1)
    both = np.concatenate([a, b])
    assert len(np.unique(both)) == len(both)  # each splat in at most one pair
    from scipy.spatial import cKDTree

    _, nearest = cKDTree(splats.means).query(splats.means, k=2)
    assert np.all(nearest[a, 1] == b) and np.all(nearest[b, 1] == a)


def test_each_level_has_about_half_the_splats() -> None:
    splats = synthetic_splats(20_000, sh_degree=1, seed=4)
    levels = detail_levels(splats, 4)
    counts = [len(level) for level in levels]
    assert counts[0] == 20_000 and len(counts) == 4
    for finer, coarser in zip(counts, counts[1:]):
        assert 0.45 * finer <= coarser <= 0.7 * finer
    assert levels[1].sh_degree == 1
    # merging keeps the scene where it was: the bulk of the splats stays put
    np.testing.assert_allclose(np.median(levels[-1].means, axis=0), np.median(splats.means, axis=0), atol=0.2)


def test_levels_stop_at_the_minimum_size() -> None:
    assert len(detail_levels(synthetic_splats(3000, sh_degree=0), 6, min_splats=1024)) == 2


def test_splats_far_apart_for_their_size_are_not_merged() -> None:
    assert len(halve(_pair(100 * 0.1))) == 2  # 100 sigma apart: stays two splats
    assert len(halve(_pair(2 * 0.1))) == 1


def test_layout_puts_every_splat_of_every_level_in_exactly_one_unit() -> None:
    # GIVEN three levels of a splat
    levels = detail_levels(synthetic_splats(12_000, sh_degree=0, seed=1), 3)
    # WHEN laid out in small leaves and file units
    plan = layout(levels, leaf_splats=2048, file_splats=4096)
    meta = plan.meta
    # THEN the manifest counts match and the units hold each level's splats once
    assert meta["version"] == 1 and meta["lodLevels"] == 3 and meta["lodErrors"] is False
    assert meta["counts"] == [len(level) for level in levels] and meta["count"] == sum(meta["counts"])
    assert sorted(meta["filenames"]) == sorted(f"{name}/meta.json" for name in plan.units)
    for lod, level in enumerate(levels):
        rows = np.concatenate([u.means for n, u in plan.units.items() if n.startswith(f"{lod}_")])
        np.testing.assert_array_equal(np.sort(rows, axis=0), np.sort(level.means, axis=0))
    # every leaf is small, its bound holds its splats, and its references stay inside their unit
    leaves = []

    def walk(node, parent=None):
        if parent is not None:
            assert np.all(np.array(node["bound"]["min"]) >= np.array(parent["bound"]["min"]) - 1e-5)
            assert np.all(np.array(node["bound"]["max"]) <= np.array(parent["bound"]["max"]) + 1e-5)
        if "children" in node:
            assert len(node["children"]) == 2
            for child in node["children"]:
                walk(child, node)
        else:
            leaves.append(node)

    walk(meta["tree"])
    for leaf in leaves:
        assert sum(ref["count"] for ref in leaf["lods"].values()) <= 2048
        for lod, ref in leaf["lods"].items():
            unit = plan.units[meta["filenames"][ref["file"]].split("/")[0]]
            assert ref["offset"] + ref["count"] <= len(unit)
            rows = unit.take(np.arange(ref["offset"], ref["offset"] + ref["count"]))
            lo, hi = np.array(leaf["bound"]["min"]), np.array(leaf["bound"]["max"])
            assert np.all(rows.means >= lo - 1e-4) and np.all(rows.means <= hi + 1e-4)
    assert all(len(u) <= 4096 + 2048 for u in plan.units.values())


def test_bound_is_the_rotated_ellipsoid_box() -> None:
    s = _pair(0.0)
    s.log_scales[:] = np.log([[1.0, 0.1, 0.1]] * 2)
    s.quats[:] = [np.cos(np.pi / 8), 0, 0, np.sin(np.pi / 8)]  # 45 deg about z
    half = np.sqrt((1.0 + 0.01) / 2)
    np.testing.assert_allclose(extents(s)[0], [half, half, 0.1], rtol=1e-6)


def test_written_lod_reads_back_and_counts_the_first_render_bytes(tmp_path: Path) -> None:
    levels = detail_levels(synthetic_splats(6000, sh_degree=1, seed=3), 3)
    plan = layout(levels, leaf_splats=2048, file_splats=3000)
    files = write_lod(tmp_path, plan, lambda s: encode_files(encode_sog(s, palette_size=64, sh_iterations=2)))
    # sizes are those on disk; the first render needs the manifest and the coarsest level only
    on_disk = {p.relative_to(tmp_path).as_posix(): p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()}
    assert files.file_bytes == on_disk
    coarsest = sum(size for name, size in on_disk.items() if name.startswith("2_"))
    assert files.first_render_bytes == on_disk[LOD_META] + coarsest
    back = read_lod(tmp_path / LOD_META)
    assert [len(level) for level in back] == [len(level) for level in levels]
    json.loads((tmp_path / LOD_META).read_text())  # plain JSON


def test_read_lod_refuses_other_versions(tmp_path: Path) -> None:
    (tmp_path / LOD_META).write_text(json.dumps({"version": 2, "filenames": [], "lodLevels": 1, "tree": {}}))
    with pytest.raises(ValueError, match="version 2"):
        read_lod(tmp_path / LOD_META)
