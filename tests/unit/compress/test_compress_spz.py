"""SPZ v3: the writer follows the byte layout of the Niantic format; the reader decodes hand-made bytes."""

import gzip
import struct

import numpy as np
import pytest

from services.compress.container.codec_error import codec_error
from services.compress.container.spz import (
    SpzError,
    SpzPrecision,
    decode_spz,
    encode_spz,
    fractional_bits_for,
)
from services.compress.container.splats import Splats
from services.compress.container.synthetic import synthetic_splats


def _in_range(splats: Splats) -> Splats:
    """The synthetic splats clipped to what SPZ can express (log-scale -10..5.9, DC colour +-3.3)."""
    splats.log_scales = np.clip(splats.log_scales, -9.9, 5.9)
    splats.sh0 = np.clip(splats.sh0, -3.3, 3.3)
    splats.sh_rest = np.clip(splats.sh_rest, -0.99, 0.99)
    return splats


def _one_splat(**fields) -> Splats:
    base = {
        "means": np.zeros((1, 3), np.float32),
        "quats": np.array([[1, 0, 0, 0]], np.float32),
        "log_scales": np.zeros((1, 3), np.float32),
        "opacities": np.zeros(1, np.float32),
        "sh0": np.zeros((1, 3), np.float32),
        "sh_rest": np.zeros((1, 0), np.float32),
    }
    base.update({k: np.asarray(v, np.float32) for k, v in fields.items()})
    return Splats(**base)


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_round_trip_error_is_within_the_format_precision(degree: int) -> None:
    splats = _in_range(synthetic_splats(3000, sh_degree=degree, seed=degree))
    data = encode_spz(splats, SpzPrecision(fractional_bits=12))
    decoded = decode_spz(data)
    err = codec_error(splats, decoded)
    assert len(decoded) == 3000 and decoded.sh_degree == degree
    assert err.positions_max_abs <= 0.5 / 4096 + 1e-7  # half a 12-bit step
    assert err.rotation_max_deg < 0.3  # 9-bit smallest three: ~0.2 deg worst case
    assert err.log_scale_max_abs <= 0.5 / 16 + 1e-6
    assert err.opacity_max_abs <= 0.5 / 255 + 1e-6
    assert err.sh0_max_abs <= 0.5 / (0.15 * 255) + 1e-6
    if degree:
        # band 1 rounds to 8/128, bands 2-3 to 16/128: at most half a bucket
        n = len(splats)
        coeffs = splats.sh_coeffs
        diff = np.abs(decoded.sh_rest - splats.sh_rest).reshape(n, 3, coeffs)
        assert diff[:, :, :3].max() <= 4 / 128 + 1e-6
        assert diff.max() <= 8 / 128 + 1e-6


def test_stream_is_gzip_with_the_v3_header_and_block_sizes() -> None:
    splats = _in_range(synthetic_splats(100, sh_degree=2, seed=3))
    raw = gzip.decompress(encode_spz(splats, SpzPrecision(fractional_bits=10)))
    magic, version, count, degree, bits, flags, reserved = struct.unpack_from("<IIIBBBB", raw)
    assert (magic, version, count, degree, bits, flags, reserved) == (0x5053474E, 3, 100, 2, 10, 0, 0)
    assert raw[:4] == b"NGSP"
    # positions 9, alpha 1, colour 3, scale 3, rotation 4, SH 8 coefficients x 3 channels
    assert len(raw) == 16 + 100 * (9 + 1 + 3 + 3 + 4 + 24)


def test_hand_made_v3_bytes_decode_per_spec() -> None:
    # GIVEN one splat written byte by byte from the format description (SH degree 1)
    header = struct.pack("<IIIBBBB", 0x5053474E, 3, 1, 1, 8, 0, 0)
    position = (-256).to_bytes(3, "little", signed=True) + (384).to_bytes(3, "little", signed=True) + bytes(3)
    alpha = bytes([255 // 2])
    colour = bytes([128, 166, 90])  # (b/255 - 0.5) / 0.15
    scale = bytes([160, 144, 0])  # b / 16 - 10
    # largest = w (index 3 in x, y, z, w); x = +0.5 -> 511 * 0.5 * sqrt 2 = 361; y = -0.5 (sign bit); z = 0
    word = (3 << 30) | (361 << 20) | ((1 << 9 | 361) << 10) | 0
    rotation = struct.pack("<I", word)
    sh = bytes([128 + 64, 128, 128 - 32, 128, 128, 128, 128, 128, 128])  # coeff 0: r, g, b first
    data = gzip.compress(header + position + alpha + colour + scale + rotation + sh)
    # WHEN decoded
    s = decode_spz(data)
    # THEN every field follows the spec's formulas
    np.testing.assert_allclose(s.means[0], [-1.0, 1.5, 0.0])
    assert s.opacities[0] == pytest.approx(np.log(127 / 128), abs=1e-6)
    np.testing.assert_allclose(s.sh0[0], (np.array([128, 166, 90]) / 255 - 0.5) / 0.15, rtol=1e-6)
    np.testing.assert_allclose(s.log_scales[0], [0.0, -1.0, -10.0])
    c = 361 / 511 / np.sqrt(2)
    np.testing.assert_allclose(s.quats[0], [np.sqrt(1 - 2 * c * c), c, -c, 0.0], atol=1e-6)
    # channel-major f_rest: R coefficients first, then G, then B
    np.testing.assert_allclose(s.sh_rest[0], [0.5, 0, 0, 0, 0, 0, -0.25, 0, 0])


def test_hand_made_v2_rotation_bytes_decode_with_w_implied() -> None:
    header = struct.pack("<IIIBBBB", 0x5053474E, 2, 1, 0, 12, 0, 0)
    body = bytes(9) + bytes([255]) + bytes([128] * 3) + bytes([160] * 3) + bytes([255, 128, 0])
    s = decode_spz(gzip.compress(header + body))
    x, y, z = 255 / 127.5 - 1, 128 / 127.5 - 1, -1.0
    w = np.sqrt(max(0.0, 1 - x * x - y * y - z * z))
    np.testing.assert_allclose(s.quats[0], [w, x, y, z], atol=1e-6)


def test_rotations_are_stored_up_to_sign_and_largest_component_is_dropped() -> None:
    q = np.array([[0.1, -0.7, 0.2, 0.68]], np.float32)
    a = gzip.decompress(encode_spz(_one_splat(quats=q)))
    b = gzip.decompress(encode_spz(_one_splat(quats=-q)))
    assert a == b
    word = struct.unpack_from("<I", a, 16 + 9 + 1 + 3 + 3)[0]
    assert word >> 30 == 0  # |x| is largest
    decoded = decode_spz(encode_spz(_one_splat(quats=q))).quats[0]
    unit = q[0] / np.linalg.norm(q[0])
    assert abs(abs(float(np.dot(decoded, unit))) - 1.0) < 1e-5


def test_fractional_bits_shrink_until_positions_fit() -> None:
    far = _one_splat(means=[[5000.0, -3.0, 0.0]])
    assert fractional_bits_for(far, 12) == 10  # 5000 * 2**10 < 2**23 <= 5000 * 2**11
    decoded = decode_spz(encode_spz(far, SpzPrecision(fractional_bits=12)))
    np.testing.assert_allclose(decoded.means[0], [5000.0, -3.0, 0.0], atol=2**-11)
    with pytest.raises(SpzError, match="24-bit"):
        encode_spz(_one_splat(means=[[1e7, 0.0, 0.0]]))


def test_default_step_follows_the_splat_size() -> None:
    tiny = _one_splat(log_scales=[[np.log(1e-3)] * 3])
    big = _one_splat(log_scales=[[np.log(1.0)] * 3])
    assert fractional_bits_for(tiny, None) == 13  # 1e-3 / 8 -> 2**-13
    assert fractional_bits_for(big, None) == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not gzip at all", "not a gzip stream"),
        (gzip.compress(b"short"), "shorter than the 16-byte"),
        (gzip.compress(struct.pack("<IIIBBBB", 0x12345678, 3, 0, 0, 12, 0, 0)), "bad magic"),
        (gzip.compress(struct.pack("<IIIBBBB", 0x5053474E, 1, 0, 0, 12, 0, 0)), "version 1"),
        (b"NGSP" + bytes(28), "version 4"),
        (gzip.compress(struct.pack("<IIIBBBB", 0x5053474E, 3, 10, 0, 12, 0, 0) + bytes(50)), "truncated"),
        (gzip.compress(struct.pack("<IIIBBBB", 0x5053474E, 3, 0, 0, 12, 2, 0)), "extensions"),
        (gzip.compress(struct.pack("<IIIBBBB", 0x5053474E, 3, 0, 4, 12, 0, 0)), "SH degree 4"),
    ],
)
def test_bad_streams_fail_with_a_specific_reason(data: bytes, message: str) -> None:
    with pytest.raises(SpzError, match=message):
        decode_spz(data)
