"""SOG v2 encoding follows the format notes; the reader decodes hand-made bytes per the spec."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from services.compress.container.codec_error import codec_error
from services.compress.container.sog import (
    Precision,
    decode_sog,
    default_palette_size,
    encode_sog,
    texture_size,
)
from services.compress.container.sog_io import encode_files, read_sog, write_bundle, write_unbundled
from services.compress.container.splats import unit_quats
from services.compress.container.synthetic import synthetic_splats


@pytest.mark.parametrize(("n", "size"), [(1, (4, 4)), (16, (4, 4)), (17, (8, 4)), (1000, (32, 32)), (28838, (172, 168))])
def test_texture_size_is_multiple_of_four_and_fits(n: int, size: tuple[int, int]) -> None:
    assert texture_size(n) == size


def test_default_palette_size_follows_the_reference_rule() -> None:
    assert default_palette_size(4000) == 2048
    assert default_palette_size(20_000) == 16_384
    assert default_palette_size(70_000) == 65_536
    assert default_palette_size(10_000_000) == 65_536


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_round_trip_error_is_within_the_format_precision(degree: int) -> None:
    splats = synthetic_splats(3000, sh_degree=degree, seed=degree)
    sog = encode_sog(splats, palette_size=256, sh_iterations=5)
    decoded = decode_sog(json.loads(json.dumps(sog.meta)), sog.images)
    err = codec_error(splats, decoded)
    logs = np.sign(splats.means) * np.log1p(np.abs(splats.means))
    span = logs.max(axis=0) - logs.min(axis=0)
    # half a 16-bit step in the log domain, mapped to world units at the largest |v|
    bound = float((0.5 * span / 65535 * (1 + np.abs(splats.means).max(axis=0))).max())
    assert err.positions_max_abs <= bound * 1.01
    assert err.rotation_max_deg < 1.0  # rounded smallest-three: ~0.8 deg worst case
    assert err.log_scale_max_abs < 0.1
    assert err.opacity_max_abs <= 0.5 / 255 + 1e-6
    assert err.sh0_max_abs < 0.05
    if degree:
        assert err.sh_rest_rms < np.sqrt(np.mean(splats.sh_rest**2))  # the palette explains the signal
    assert decoded.sh_degree == degree


def test_hand_made_texels_decode_per_spec() -> None:
    # GIVEN one splat whose bytes are written by hand from the format notes
    images = {name: np.zeros((4, 4, 4), np.uint8) for name in ("ml", "mu", "q", "s", "c")}
    images["ml"][0, 0] = (0x34, 0x00, 0xFF, 255)
    images["mu"][0, 0] = (0x12, 0x00, 0xFF, 255)
    images["q"][0, 0] = (128, 0, 255, 252 + 2)  # dropped y; kept w, x, z
    images["s"][0, 0] = (0, 1, 255, 255)
    images["c"][0, 0] = (1, 2, 3, 51)
    meta = {
        "version": 2, "count": 1,
        "means": {"mins": [-1.0, 0.0, 0.0], "maxs": [1.0, 0.0, 2.0], "files": ["ml", "mu"]},
        "quats": {"files": ["q"]},
        "scales": {"codebook": [-3.0, -2.0] + [0.0] * 253 + [1.0], "files": ["s"]},
        "sh0": {"codebook": [0.0, 0.1, 0.2, 0.3] + [0.0] * 252, "files": ["c"]},
    }  # fmt: skip
    # WHEN decoded
    s = decode_sog(meta, images)
    # THEN positions: l = min + (max-min)*q/65535, v = sign(l)(e^|l|-1); an empty range uses 1
    lx = -1.0 + 2.0 * 0x1234 / 65535
    ly = 0.0 + 1.0 * 0 / 65535
    lz = 0.0 + 2.0 * 0xFFFF / 65535
    expected = [np.sign(v) * np.expm1(abs(v)) for v in (lx, ly, lz)]
    np.testing.assert_allclose(s.means[0], expected, rtol=1e-6)
    # quaternion: c = (b/255*2-1)/sqrt2 in order (w, x, z), y = sqrt(1 - sum c^2)
    c = (np.array([128, 0, 255]) / 255 * 2 - 1) / np.sqrt(2)
    np.testing.assert_allclose(s.quats[0], [c[0], c[1], np.sqrt(max(0, 1 - (c**2).sum())), c[2]], atol=1e-6)
    np.testing.assert_array_equal(s.log_scales[0], [-3.0, -2.0, 1.0])
    np.testing.assert_allclose(s.sh0[0], [0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_allclose(s.opacities[0], np.log(0.2 / 0.8), rtol=1e-6)


def test_invalid_quaternion_tag_decodes_to_identity() -> None:
    splats = synthetic_splats(20, sh_degree=0)
    sog = encode_sog(splats)
    sog.images["quats.webp"][0, 0, 3] = 7
    np.testing.assert_array_equal(decode_sog(sog.meta, sog.images).quats[0], [1, 0, 0, 0])


def test_palette_texel_layout() -> None:
    # GIVEN 100 splats with SH degree 1 and a palette of 100 (every splat its own entry)
    splats = synthetic_splats(100, sh_degree=1)
    sog = encode_sog(splats, palette_size=100, sh_iterations=1)
    centroids = sog.images["shN_centroids.webp"]
    labels = sog.images["shN_labels.webp"].reshape(-1, 4)[:100]
    book = np.array(sog.meta["shN"]["codebook"], np.float32)
    assert centroids.shape == (2, 64 * 3, 4) and sog.meta["shN"]["count"] == 100
    # THEN palette entry n, coefficient j sits at (x, y) = ((n % 64) * 3 + j, n // 64), RGB = channels
    i = 7
    n = int(labels[i, 0]) | int(labels[i, 1]) << 8
    for j in range(3):
        texel = centroids[n // 64, (n % 64) * 3 + j]
        np.testing.assert_allclose(book[texel[:3]], splats.sh_rest[i, [j, j + 3, j + 6]], atol=0.05)


def test_negative_and_aligned_quaternions_keep_their_rotation() -> None:
    quats = np.array([[1, 0, 0, 0], [0, 0, 0, -1], [-0.5, 0.5, -0.5, 0.5], [0.1, -0.9, 0.3, 0.2]], np.float32)
    splats = synthetic_splats(4, sh_degree=0)
    splats.quats = quats
    decoded = decode_sog(*(lambda s: (s.meta, s.images))(encode_sog(splats)))
    dot = np.abs((unit_quats(quats) * unit_quats(decoded.quats)).sum(axis=1))
    assert dot.min() > 0.9999


def test_position_tolerance_bounds_error_by_splat_size() -> None:
    splats = synthetic_splats(2000, sh_degree=0)
    sog = encode_sog(splats, precision=Precision(position_tolerance=0.2))
    decoded = decode_sog(sog.meta, sog.images)
    size = np.exp(splats.log_scales.astype(np.float64).mean(axis=1))
    err = np.abs(decoded.means - splats.means).max(axis=1)
    assert np.all(err <= 0.1 * size * 1.05 + 1e-4)  # half a step of at most 0.2 x size
    assert err.max() > 1e-4  # and it does coarsen


def test_levels_limit_distinct_values() -> None:
    splats = synthetic_splats(3000, sh_degree=0)
    sog = encode_sog(splats, precision=Precision(colour_levels=16, opacity_levels=8))
    sh0 = sog.images["sh0.webp"].reshape(-1, 4)[:3000]
    assert len(np.unique(sh0[:, :3])) <= 16
    assert len(np.unique(sh0[:, 3])) <= 8


def test_bundle_is_stored_zip_with_meta_last_and_both_containers_decode_alike(tmp_path: Path) -> None:
    splats = synthetic_splats(500, sh_degree=2)
    files = encode_files(encode_sog(splats, palette_size=64, sh_iterations=2))
    write_bundle(tmp_path / "m.sog", files)
    write_unbundled(tmp_path / "sog", files)
    with zipfile.ZipFile(tmp_path / "m.sog") as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos][-1] == "meta.json"
    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
    assert {i.filename for i in infos} == {
        "means_l.webp", "means_u.webp", "quats.webp", "scales.webp", "sh0.webp",
        "shN_centroids.webp", "shN_labels.webp", "meta.json",
    }  # fmt: skip
    a, b = read_sog(tmp_path / "m.sog"), read_sog(tmp_path / "sog" / "meta.json")
    for name in ("means", "quats", "log_scales", "opacities", "sh0", "sh_rest"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_webp_is_lossless_and_keeps_colour_under_zero_alpha(tmp_path: Path) -> None:
    splats = synthetic_splats(400, sh_degree=0)
    splats.opacities[:50] = -20.0  # alpha byte 0: a lossy/inexact encoder would zero RGB
    sog = encode_sog(splats)
    write_bundle(tmp_path / "m.sog", encode_files(sog))
    decoded = read_sog(tmp_path / "m.sog")
    np.testing.assert_array_equal(decoded.sh0, decode_sog(sog.meta, sog.images).sh0)


def test_unsupported_version_is_rejected() -> None:
    with pytest.raises(ValueError, match="version"):
        decode_sog({"version": 1, "count": 1}, {})


def test_quaternion_angle_is_accurate_for_nearly_equal_rotations():
    from services.compress.container.codec_error import quat_angle_deg

    angles = np.array([0.0, 1e-5, 1e-3, 1.0, 90.0, 179.0])
    half = np.radians(angles) / 2
    axis = np.array([0.6, 0.0, 0.8])
    a = np.tile([1.0, 0.0, 0.0, 0.0], (len(angles), 1))
    b = np.concatenate([np.cos(half)[:, None], np.sin(half)[:, None] * axis], axis=1)
    np.testing.assert_allclose(quat_angle_deg(a, b), angles, rtol=1e-9, atol=0)
    np.testing.assert_allclose(quat_angle_deg(b, -b), 0.0, atol=1e-12)  # q and -q: one rotation
