"""Reads and writes standard 3DGS PLY files (binary little endian, SH degree 0-3).

Accepted: any property order, extra properties (nx, ny, nz, ...), float or double attributes,
other elements before or after `vertex` as long as they have fixed-size rows. Anything else
(ASCII or big-endian bodies, missing attributes, truncated bodies) is a `PlyError` whose message
names the problem; the stage turns it into `StageFailure(INVALID_MODEL_FILE, ...)`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from services.compress.container.splats import SH_COEFFS_BY_DEGREE, Splats

MAX_HEADER_BYTES = 1 << 20

PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip

REQUIRED = (
    "x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
    "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3",
)  # fmt: skip


class PlyError(ValueError):
    """The file is not a readable 3DGS PLY; the message says why."""


def _parse_header(blob: bytes, name: str) -> tuple[int, list[tuple[str, int, list[tuple[str, str]]]]]:
    end = blob.find(b"end_header")
    if not blob.startswith(b"ply") or end < 0:
        raise PlyError(f"{name}: not a PLY file (no 'ply' magic or no end_header in the first MiB)")
    newline = blob.find(b"\n", end)
    if newline < 0:
        raise PlyError(f"{name}: header ends without a newline after end_header")
    lines = blob[:end].decode("ascii", errors="replace").splitlines()
    fmt = None
    elements: list[tuple[str, int, list[tuple[str, str]]]] = []
    for line in lines[1:]:
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format":
            fmt = words[1] if len(words) > 1 else ""
        elif words[0] == "element" and len(words) == 3 and re.fullmatch(r"\d+", words[2]):
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property" and elements:
            if words[1] == "list":
                raise PlyError(f"{name}: element '{elements[-1][0]}' has a list property; 3DGS PLYs have none")
            if len(words) != 3 or words[1] not in PLY_TYPES:
                raise PlyError(f"{name}: unsupported property line '{line.strip()}'")
            elements[-1][2].append((words[2], PLY_TYPES[words[1]]))
        else:
            raise PlyError(f"{name}: unexpected header line '{line.strip()}'")
    if fmt != "binary_little_endian":
        raise PlyError(f"{name}: format '{fmt}' is not supported; export a binary_little_endian PLY")
    return newline + 1, elements


def read_ply(path: Path) -> Splats:
    """The Gaussians of a 3DGS PLY file; raises `PlyError` for malformed or truncated files."""
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PlyError(f"{name}: cannot read ({exc.strerror})") from exc
    body_start, elements = _parse_header(raw[:MAX_HEADER_BYTES], name)
    offset = body_start
    vertex = None
    for element, count, props in elements:
        dtype = np.dtype([(prop, "<" + kind) for prop, kind in props])
        size = count * dtype.itemsize
        if offset + size > len(raw):
            raise PlyError(
                f"{name}: truncated: element '{element}' needs {size} bytes from offset {offset}, "
                f"the file has {len(raw) - offset}"
            )
        if element == "vertex":
            vertex = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
        offset += size
    if vertex is None:
        raise PlyError(f"{name}: no 'vertex' element")
    if len(vertex) == 0:
        raise PlyError(f"{name}: the vertex element is empty")
    fields = set(vertex.dtype.names or ())
    missing = [prop for prop in REQUIRED if prop not in fields]
    if missing:
        raise PlyError(f"{name}: not a 3DGS PLY; missing properties {', '.join(missing)}")
    rest_names = sorted((f for f in fields if f.startswith("f_rest_")), key=lambda f: int(f[7:]))
    if [int(f[7:]) for f in rest_names] != list(range(len(rest_names))) or len(rest_names) not in (
        3 * c for c in SH_COEFFS_BY_DEGREE
    ):
        raise PlyError(f"{name}: {len(rest_names)} f_rest_* properties match no SH degree 0-3 (0, 9, 24 or 45)")

    def stack(names: list[str] | tuple[str, ...]) -> np.ndarray:
        if not names:
            return np.zeros((len(vertex), 0), np.float32)
        return np.stack([vertex[n].astype(np.float32) for n in names], axis=1)

    return Splats(
        means=stack(("x", "y", "z")),
        quats=stack(("rot_0", "rot_1", "rot_2", "rot_3")),
        log_scales=stack(("scale_0", "scale_1", "scale_2")),
        opacities=vertex["opacity"].astype(np.float32),
        sh0=stack(("f_dc_0", "f_dc_1", "f_dc_2")),
        sh_rest=stack(rest_names),
    )


def ply_property_names(sh_coeffs: int, normals: bool = True) -> list[str]:
    names = ["x", "y", "z"] + (["nx", "ny", "nz"] if normals else [])
    names += ["f_dc_0", "f_dc_1", "f_dc_2"] + [f"f_rest_{i}" for i in range(3 * sh_coeffs)]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    return names


def write_ply(path: Path, splats: Splats, normals: bool = True) -> None:
    """Write the standard 3DGS layout (the one the train stage writes), float32 little endian."""
    names = ply_property_names(splats.sh_coeffs, normals)
    n = len(splats)
    columns = [splats.means]
    if normals:
        columns.append(np.zeros((n, 3), np.float32))
    columns += [splats.sh0, splats.sh_rest, splats.opacities[:, None], splats.log_scales, splats.quats]
    body = np.concatenate([c.astype("<f4") for c in columns], axis=1)
    assert body.shape[1] == len(names)
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    header += [f"property float {p}" for p in names] + ["end_header"]
    with path.open("wb") as out:
        out.write(("\n".join(header) + "\n").encode("ascii"))
        out.write(np.ascontiguousarray(body).tobytes())
