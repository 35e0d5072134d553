"""The PLY reader accepts standard 3DGS files from any tool and rejects broken ones clearly."""

from pathlib import Path

import numpy as np
import pytest

from services.compress.container.ply import PlyError, read_ply, write_ply
from services.compress.container.synthetic import synthetic_splats

BANANA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "splats" / "banana_opensplat_2000.ply"


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_written_ply_reads_back_exactly(tmp_path: Path, degree: int) -> None:
    splats = synthetic_splats(300, sh_degree=degree, seed=degree)
    write_ply(tmp_path / "m.ply", splats)
    back = read_ply(tmp_path / "m.ply")
    assert back.sh_degree == degree
    for name in ("means", "quats", "log_scales", "opacities", "sh0", "sh_rest"):
        np.testing.assert_array_equal(getattr(back, name), getattr(splats, name))


def test_property_order_extra_properties_and_doubles_are_accepted(tmp_path: Path) -> None:
    # GIVEN a PLY with shuffled properties, an extra uchar, a double column and a trailing element
    splats = synthetic_splats(50, sh_degree=1)
    rng = np.random.default_rng(0)
    columns = {
        "x": splats.means[:, 0], "y": splats.means[:, 1], "z": splats.means[:, 2],
        "opacity": splats.opacities, "f_dc_0": splats.sh0[:, 0], "f_dc_1": splats.sh0[:, 1],
        "f_dc_2": splats.sh0[:, 2], "scale_0": splats.log_scales[:, 0], "scale_1": splats.log_scales[:, 1],
        "scale_2": splats.log_scales[:, 2], "rot_0": splats.quats[:, 0], "rot_1": splats.quats[:, 1],
        "rot_2": splats.quats[:, 2], "rot_3": splats.quats[:, 3],
    }  # fmt: skip
    columns |= {f"f_rest_{i}": splats.sh_rest[:, i] for i in range(9)}
    names = list(columns)
    rng.shuffle(names)
    dtype = [(n, "<f8" if n == "x" else "<f4") for n in names] + [("red", "u1")]
    body = np.zeros(50, dtype=dtype)
    for n in names:
        body[n] = columns[n]
    header = ["ply", "format binary_little_endian 1.0", "comment from another tool", "element vertex 50"]
    header += [f"property {'double' if n == 'x' else 'float'} {n}" for n in names] + ["property uchar red"]
    header += ["element extra 2", "property int a", "end_header"]
    (tmp_path / "m.ply").write_bytes(("\n".join(header) + "\n").encode() + body.tobytes() + bytes(8))
    # WHEN it is read THEN every attribute is where it belongs
    back = read_ply(tmp_path / "m.ply")
    np.testing.assert_allclose(back.means, splats.means, rtol=1e-6)
    np.testing.assert_array_equal(back.sh_rest, splats.sh_rest)
    np.testing.assert_array_equal(back.quats, splats.quats)


def test_truncated_file_is_rejected_with_sizes(tmp_path: Path) -> None:
    write_ply(tmp_path / "m.ply", synthetic_splats(100, sh_degree=3))
    data = (tmp_path / "m.ply").read_bytes()
    (tmp_path / "cut.ply").write_bytes(data[:-100])
    with pytest.raises(PlyError, match="truncated"):
        read_ply(tmp_path / "cut.ply")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n", "ascii"),
        ("ply\nformat binary_big_endian 1.0\nelement vertex 1\nproperty float x\nend_header\n", "big_endian"),
        ("solid cube\n", "not a PLY"),
        ("ply\nformat binary_little_endian 1.0\nelement face 1\nproperty list uchar int v\nend_header\n", "list"),
    ],
)
def test_unsupported_files_are_rejected(tmp_path: Path, header: str, message: str) -> None:
    (tmp_path / "m.ply").write_bytes(header.encode() + bytes(64))
    with pytest.raises(PlyError, match=message):
        read_ply(tmp_path / "m.ply")


def test_missing_attributes_are_named(tmp_path: Path) -> None:
    header = "ply\nformat binary_little_endian 1.0\nelement vertex 2\nproperty float x\nproperty float y\n"
    header += "property float z\nend_header\n"
    (tmp_path / "m.ply").write_bytes(header.encode() + bytes(24))
    with pytest.raises(PlyError, match="missing properties f_dc_0.*rot_3"):
        read_ply(tmp_path / "m.ply")


def test_sh_rest_count_must_match_a_degree(tmp_path: Path) -> None:
    splats = synthetic_splats(10, sh_degree=1)
    write_ply(tmp_path / "m.ply", splats)
    text = (tmp_path / "m.ply").read_bytes().replace(b"property float f_rest_8\n", b"")
    (tmp_path / "m.ply").write_bytes(text)
    with pytest.raises(PlyError, match="8 f_rest"):
        read_ply(tmp_path / "m.ply")


def test_reads_an_opensplat_model() -> None:
    if not BANANA.is_file():
        pytest.skip("shared data absent")
    splats = read_ply(BANANA)
    assert len(splats) == 28_838
    assert splats.sh_degree == 3
    assert np.isfinite(splats.means).all()
