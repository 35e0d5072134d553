"""Conformance with the reference tool, @playcanvas/splat-transform 3.7.0, in both directions.

Needs node and the package: `npm install --prefix .node @playcanvas/splat-transform@3.7.0` at the
repository root (or $SPLAT_TRANSFORM pointing at its CLI). Skipped otherwise.
"""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from services.compress.container.codec_error import codec_error
from services.compress.container.ply import read_ply, write_ply
from services.compress.container.sog import encode_sog
from services.compress.container.sog_io import encode_files, read_sog, write_bundle, write_unbundled
from services.compress.container.synthetic import synthetic_splats

REPO = Path(__file__).resolve().parents[3]
ATTRIBUTES = ("means", "quats", "log_scales", "opacities", "sh0", "sh_rest")

pytestmark = [pytest.mark.node, pytest.mark.slow]


def _splat_transform() -> list[str]:
    cli = os.environ.get("SPLAT_TRANSFORM") or str(REPO / ".node/node_modules/.bin/splat-transform")
    if shutil.which("node") is None or not Path(cli).exists():
        pytest.skip("node or @playcanvas/splat-transform absent (npm install --prefix .node ...)")
    return [cli, "-q", "-w"]


def _convert(*args: str) -> None:
    result = subprocess.run([*_splat_transform(), *args], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def _assert_same(a, b, atol: float = 1e-5) -> None:
    assert len(a) == len(b)
    for name in ATTRIBUTES:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), atol=atol, rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("degree", [0, 3])
def test_reference_tool_reads_our_sog_as_we_do(tmp_path: Path, degree: int) -> None:
    # GIVEN our bundled and unbundled SOG of a model (some splats fully transparent)
    splats = synthetic_splats(1500, sh_degree=degree, seed=5)
    splats.opacities[:10] = -30.0
    files = encode_files(encode_sog(splats, palette_size=128, sh_iterations=2))
    write_bundle(tmp_path / "ours.sog", files)
    write_unbundled(tmp_path / "ours", files)
    # WHEN splat-transform converts each to PLY
    _convert(str(tmp_path / "ours.sog"), str(tmp_path / "bundled.ply"))
    _convert(str(tmp_path / "ours" / "meta.json"), str(tmp_path / "unbundled.ply"))
    # THEN its splats equal our reader's decode
    ours = read_sog(tmp_path / "ours.sog")
    _assert_same(read_ply(tmp_path / "bundled.ply"), ours)
    _assert_same(read_ply(tmp_path / "unbundled.ply"), ours)


def test_we_read_the_reference_tools_sog(tmp_path: Path) -> None:
    # GIVEN a SOG written by splat-transform (CPU, one k-means iteration) from a small model
    splats = synthetic_splats(2500, sh_degree=1, seed=6)
    write_ply(tmp_path / "in.ply", splats)
    _convert("-g", "cpu", "-i", "1", str(tmp_path / "in.ply"), str(tmp_path / "ref.sog"))
    # WHEN we read it, and splat-transform decodes it to PLY
    ours = read_sog(tmp_path / "ref.sog")
    _convert(str(tmp_path / "ref.sog"), str(tmp_path / "ref_decoded.ply"))
    # THEN both decodes agree, and they are close to the input (matched by position: it reorders)
    _assert_same(ours, read_ply(tmp_path / "ref_decoded.ply"))
    assert ours.sh_degree == 1 and len(ours) == len(splats)
    distance, match = cKDTree(splats.means).query(ours.means)
    assert np.median(distance) < 1e-3 and distance.max() < 0.01  # truncated 16-bit log positions
    err = codec_error(splats.take(match), ours)
    assert err.rotation_p50_deg < 1.0 and err.log_scale_rms < 0.05 and err.sh0_rms < 0.05


def test_reference_tool_reads_the_stage_output(tmp_path: Path) -> None:
    # GIVEN the stage's standard output (reduced tables, rounded positions, canonical rotations)
    from services.compress.container.config import Config
    from services.compress.container.program import run

    write_ply(tmp_path / "model.ply", synthetic_splats(2000, sh_degree=2, seed=7))
    run(Config(sh_iterations=2), tmp_path, tmp_path / "out")
    # WHEN splat-transform converts model.sog THEN it decodes exactly what our reader decodes
    _convert(str(tmp_path / "out" / "model.sog"), str(tmp_path / "back.ply"))
    _assert_same(read_ply(tmp_path / "back.ply"), read_sog(tmp_path / "out" / "model.sog"))


@pytest.mark.parametrize("degree", [0, 3])
def test_reference_tool_reads_our_spz_as_we_do(tmp_path: Path, degree: int) -> None:
    from services.compress.container.spz import read_spz, write_spz

    # GIVEN our SPZ of a model with far splats, faint splats and values at the format's limits
    splats = synthetic_splats(2000, sh_degree=degree, seed=8)
    splats.opacities[:10] = -30.0
    write_spz(tmp_path / "ours.spz", splats)
    # WHEN splat-transform converts it to PLY
    _convert(str(tmp_path / "ours.spz"), str(tmp_path / "back.ply"))
    # THEN it finds the same count and the values our reader decodes (within float32 rounding)
    ours = read_spz(tmp_path / "ours.spz")
    _assert_same(read_ply(tmp_path / "back.ply"), ours)
    err = codec_error(splats, ours)
    assert err.rotation_max_deg < 0.3 and err.opacity_rms < 0.003


def test_we_read_the_reference_tools_spz_v3(tmp_path: Path) -> None:
    from services.compress.container.spz import read_spz

    # GIVEN an SPZ version 3 written by splat-transform (the Niantic library inside it)
    splats = synthetic_splats(1500, sh_degree=2, seed=9)
    write_ply(tmp_path / "in.ply", splats)
    _convert("--spz-version", "3", str(tmp_path / "in.ply"), str(tmp_path / "ref.spz"))
    # WHEN we read it and splat-transform decodes it to PLY
    ours = read_spz(tmp_path / "ref.spz")
    _convert(str(tmp_path / "ref.spz"), str(tmp_path / "ref_decoded.ply"))
    # THEN both decodes agree, in the input's order, and are close to the input
    _assert_same(ours, read_ply(tmp_path / "ref_decoded.ply"))
    assert len(ours) == len(splats) and ours.sh_degree == 2
    assert np.abs(ours.means - splats.means).max() < 2.0**-12
    assert codec_error(splats, ours).rotation_max_deg < 0.3


def test_reference_tool_reads_our_streamed_lod_level_by_level(tmp_path: Path) -> None:
    from services.compress.container.config import Config
    from services.compress.container.lod import read_lod
    from services.compress.container.program import run

    # GIVEN the stage's streamed SOG of a model with SH (three levels, several leaves and file units)
    write_ply(tmp_path / "model.ply", synthetic_splats(6000, sh_degree=1, seed=10))
    lod = {"lod_min_splats": 0, "lod_levels": 3, "lod_leaf_splats": 2048, "lod_file_splats": 4096}
    run(Config(sh_iterations=2, **lod), tmp_path, tmp_path / "out")
    meta = tmp_path / "out" / "lod" / "lod-meta.json"
    ours = read_lod(meta)
    for level, splats in enumerate(ours):
        # WHEN splat-transform reads one level of it (-L) to PLY
        _convert("-L", str(level), str(meta), str(tmp_path / f"level{level}.ply"))
        # THEN it finds that level's count and the values our reader decodes
        _assert_same(read_ply(tmp_path / f"level{level}.ply"), splats)
