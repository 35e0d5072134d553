"""Streamed SOG (PlayCanvas `lod-meta.json`, version 1): levels of detail in spatial chunks.

Layout (PlayCanvas "The Streamed SOG Format" v1; splat-transform 3.7 `write-lod.ts`/`read-lod.ts`;
engine `GSplatOctree`):

    lod/lod-meta.json      {version: 1, count, counts[L], lodLevels: L, lodErrors: false,
                            filenames: ["0_0/meta.json", ...], tree}
    lod/<lod>_<i>/         one unbundled SOG v2 per file unit (meta.json + WebP images)

`tree` is a binary spatial tree: inner nodes {bound, children: [2 nodes]}, leaves {bound, lods:
{"<lod>": {file, offset, count}}}; a leaf's splats of level l are rows offset..offset+count-1 of
file unit `filenames[file]`. `bound` is {min: [x, y, z], max: [x, y, z]}, here the union of the
splats' 1-sigma ellipsoid boxes over every level. The viewer reads `lod-meta.json`, fetches the
file units of the levels it wants per leaf, and (SuperSplat viewer 1.36) shows the coarsest level
of every leaf first, then refines within its splat budget.

The tree splits at the median of all levels' centres along the widest axis until a leaf holds at
most `leaf_splats` (counted over all levels). A level's leaves are appended to its current file
unit, which closes once it holds `file_splats`. Inside a unit each leaf's rows are in Morton order.
splat-transform also splits leaves wider than 16 world units; our scenes have no fixed unit, so
only counts decide here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np

from services.compress.container.order import morton_order
from services.compress.container.rotations import rotation_matrices
from services.compress.container.sog_io import read_sog, write_unbundled
from services.compress.container.splats import Splats, concat_splats, unit_quats

LOD_META = "lod-meta.json"
VERSION = 1


@dataclass
class LodLayout:
    """What goes where: the lod-meta.json body and the splats of each file unit, by its folder name."""

    meta: dict[str, Any]
    units: dict[str, Splats] = field(default_factory=dict)  # "<lod>_<i>" -> splats in row order


def extents(splats: Splats) -> np.ndarray:
    """Half-widths [N, 3] of each splat's 1-sigma ellipsoid's axis-aligned box."""
    rot = rotation_matrices(unit_quats(splats.quats))  # [N, 3, 3]
    sigma = np.exp(splats.log_scales.astype(np.float64))  # [N, 3]
    return np.sqrt(((rot * sigma[:, None, :]) ** 2).sum(axis=2))


def _split(points: np.ndarray, index: np.ndarray, leaf_splats: int) -> Any:
    """A nested tree of index arrays: leaves are arrays, inner nodes are [left, right]."""
    if len(index) <= leaf_splats:
        return index
    sub = points[index]
    axis = int(np.argmax(sub.max(axis=0) - sub.min(axis=0)))
    half = len(index) // 2
    order = np.argpartition(sub[:, axis], half)
    return [_split(points, index[order[:half]], leaf_splats), _split(points, index[order[half:]], leaf_splats)]


def _round7(value: float) -> float:
    return float(f"{value:.7g}")


def _bound(lo: np.ndarray, hi: np.ndarray) -> dict[str, list[float]]:
    return {"min": [_round7(v) for v in lo], "max": [_round7(v) for v in hi]}


def layout(levels: list[Splats], leaf_splats: int = 131_072, file_splats: int = 524_288) -> LodLayout:
    """Spatial tree and file units for `levels` (level 0 the finest)."""
    sizes = [len(level) for level in levels]
    start = np.concatenate([[0], np.cumsum(sizes)])  # level l owns flat rows start[l]..start[l+1]-1
    points = np.concatenate([level.means for level in levels]).astype(np.float64)
    level_of = np.repeat(np.arange(len(levels)), sizes)
    box = np.concatenate([extents(level) for level in levels])
    units: dict[int, list[list[np.ndarray]]] = {lod: [[]] for lod in range(len(levels))}
    filenames: list[str] = []

    def node(tree: Any) -> dict[str, Any]:
        if isinstance(tree, list):
            children = [node(tree[0]), node(tree[1])]
            lo = np.minimum(children[0]["bound"]["min"], children[1]["bound"]["min"])
            hi = np.maximum(children[0]["bound"]["max"], children[1]["bound"]["max"])
            return {"bound": _bound(lo, hi), "children": children}
        lods: dict[str, dict[str, int]] = {}
        for lod in range(len(levels)):
            rows = tree[level_of[tree] == lod] - start[lod]  # rows of this level in the leaf
            if len(rows) == 0:
                continue
            rows = rows[morton_order(levels[lod].means[rows])]
            unit = units[lod][-1]
            offset = sum(len(part) for part in unit)
            name = f"{lod}_{len(units[lod]) - 1}/meta.json"
            if name not in filenames:
                filenames.append(name)
            lods[str(lod)] = {"file": filenames.index(name), "offset": offset, "count": len(rows)}
            unit.append(rows)
            if offset + len(rows) >= file_splats:
                units[lod].append([])
        lo = (points[tree] - box[tree]).min(axis=0)
        hi = (points[tree] + box[tree]).max(axis=0)
        return {"bound": _bound(lo, hi), "lods": lods}

    tree = node(_split(points, np.arange(len(points)), leaf_splats))
    meta = {
        "version": VERSION,
        "asset": {"generator": "spaceport compress"},
        "count": int(sum(sizes)),
        "counts": sizes,
        "lodLevels": len(levels),
        "lodErrors": False,
        "filenames": filenames,
        "tree": tree,
    }
    result = LodLayout(meta=meta)
    for lod, parts in units.items():
        for i, unit in enumerate(parts):
            if unit:
                result.units[f"{lod}_{i}"] = levels[lod].take(np.concatenate(unit))
    return result


def _leaves(tree: dict[str, Any]) -> list[dict[str, Any]]:
    if "children" in tree:
        return [leaf for child in tree["children"] for leaf in _leaves(child)]
    return [tree]


def read_lod(path: Path) -> list[Splats]:
    """The levels of a streamed SOG (level 0 first), each in the tree's leaf order.

    Raises `ValueError` for a version other than 1 or references outside their file unit.
    """
    meta = json.loads(path.read_text())
    if meta.get("version", 1) != VERSION:
        raise ValueError(f"{path.name}: lod-meta.json version {meta.get('version')!r} is not supported (only 1)")
    files = [read_sog(path.parent / name) for name in meta["filenames"]]
    parts: list[list[Splats]] = [[] for _ in range(meta["lodLevels"])]
    for leaf in _leaves(meta["tree"]):
        for lod, ref in sorted(leaf.get("lods", {}).items(), key=lambda item: int(item[0])):
            unit = files[ref["file"]]
            if ref["offset"] + ref["count"] > len(unit):
                raise ValueError(f"{path.name}: LOD {lod} reference past the end of {meta['filenames'][ref['file']]}")
            parts[int(lod)].append(unit.take(np.arange(ref["offset"], ref["offset"] + ref["count"])))
    return [concat_splats(level) for level in parts]


@dataclass
class LodFiles:
    """Sizes of what `write_lod` wrote."""

    file_bytes: dict[str, int]  # path relative to the folder -> bytes
    first_render_bytes: int  # lod-meta.json + every file unit of the coarsest level

    @property
    def total_bytes(self) -> int:
        return sum(self.file_bytes.values())


def write_lod(folder: Path, plan: LodLayout, encode_unit: Callable[[Splats], dict[str, bytes]]) -> LodFiles:
    """Write `lod-meta.json` and each unit as an unbundled SOG (`encode_unit` gives its files)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta_body = json.dumps(plan.meta, separators=(",", ":")).encode()
    (folder / LOD_META).write_bytes(meta_body)
    sizes = {LOD_META: len(meta_body)}
    coarsest = f"{plan.meta['lodLevels'] - 1}_"
    first = len(meta_body)
    for name, splats in plan.units.items():
        files = encode_unit(splats)
        write_unbundled(folder / name, files)
        for file, data in files.items():
            sizes[f"{name}/{file}"] = len(data)
            if name.startswith(coarsest):
                first += len(data)
    return LodFiles(file_bytes=sizes, first_render_bytes=first)
