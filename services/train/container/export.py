"""The standard 3DGS PLY (INRIA layout) every viewer reads, and a reader for it.

Properties, float32 little endian, in this order: x y z nx ny nz f_dc_0..2 f_rest_0..(3*(K-1)-1)
opacity scale_0..2 rot_0..3. f_rest is channel-major (all red coefficients, then green, then
blue); opacity is a logit, scales are logs, rot is a (w, x, y, z) quaternion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor


def property_names(n_rest: int) -> list[str]:
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(n_rest)]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    return names


@torch.no_grad()
def write_ply(path: Path, params: dict[str, Tensor]) -> int:
    """Write the model; returns the number of Gaussians written (non-finite ones are dropped)."""
    means = params["means"].detach().cpu().float()  # [N, 3]
    sh0 = params["sh0"].detach().cpu().float()  # [N, 1, 3]
    shN = params["shN"].detach().cpu().float()  # [N, K - 1, 3]
    n = len(means)
    rest = shN.transpose(1, 2).reshape(n, -1)  # [N, 3 (K - 1)] channel-major
    columns = [
        means,
        torch.zeros(n, 3),
        sh0.reshape(n, 3),
        rest,
        params["opacities"].detach().cpu().float().reshape(n, 1),
        params["scales"].detach().cpu().float(),
        torch.nn.functional.normalize(params["quats"].detach().cpu().float(), dim=-1),
    ]
    data = torch.cat(columns, dim=1).numpy().astype("<f4")
    data = data[np.isfinite(data).all(axis=1)]
    names = property_names(rest.shape[1])
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(data)}"]
    header += [f"property float {name}" for name in names]
    header += ["end_header"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        f.write(data.tobytes())
    tmp.replace(path)
    return len(data)


def read_ply(path: Path) -> dict[str, np.ndarray]:
    """Read a binary little-endian float PLY into {property: [N] array}."""
    raw = path.read_bytes()
    end = raw.index(b"end_header\n") + len(b"end_header\n")
    lines = raw[:end].decode("ascii").splitlines()
    if "format binary_little_endian 1.0" not in lines:
        raise ValueError("not a binary little-endian PLY")
    count = next(int(line.split()[2]) for line in lines if line.startswith("element vertex"))
    names = [line.split()[2] for line in lines if line.startswith("property float")]
    array = np.frombuffer(raw[end:], dtype="<f4", count=count * len(names)).reshape(count, len(names))
    return {name: array[:, i] for i, name in enumerate(names)}
