"""Which photos the camera solve could not place, and whether the set splits into separate groups.

Two captures in one folder (an object orbit and an unrelated facade) share no features: the
verified-match graph (photos as nodes, pairs with enough geometrically verified inliers as edges)
falls into connected components, and one model can hold only one of them. The user is told the
names of the photos left out and the sizes of the groups, whichever mapper ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from shared.photo_formats import name_list
from shared.wording import agree, plural

if TYPE_CHECKING:
    import pycolmap

    from services.sfm.container.photos import Photo


def verified_pairs(database: Path) -> tuple[dict[int, str], list[tuple[int, int, int]]]:
    """Image names by id, and every geometrically verified pair: (image id, image id, inliers)."""
    import pycolmap

    db = pycolmap.Database.open(database)
    try:
        names = {image.image_id: image.name for image in db.read_all_images()}
        pair_ids, counts = db.read_two_view_geometry_num_inliers()
    finally:
        db.close()
    pairs = [(*pycolmap.pair_id_to_image_pair(int(pair_id)), int(count))
             for pair_id, count in zip(pair_ids, counts, strict=True)]
    return names, pairs


def match_groups(database: Path, min_inliers: int) -> list[list[str]]:
    """Connected components of the verified-match graph: image names per group, largest first
    (a photo that matches no other is a group of one)."""
    names, pairs = verified_pairs(database)
    parent = {image_id: image_id for image_id in names}

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for first, second, count in pairs:
        if count >= min_inliers and first in parent and second in parent:
            parent[root(first)] = root(second)
    members: dict[int, list[str]] = {}
    for image_id in sorted(names, key=lambda i: names[i]):
        members.setdefault(root(image_id), []).append(names[image_id])
    return sorted(members.values(), key=lambda group: (-len(group), group[0]))


@dataclass
class Placement:
    unplaced: list[str] = field(default_factory=list)  # original names of photos not in the model
    groups: list[int] = field(default_factory=list)  # sizes of the groups of 2+ linked photos, largest first
    isolated: int = 0  # photos that share enough features with no other photo
    warnings: list[str] = field(default_factory=list)


def placement(photos: list[Photo], model: pycolmap.Reconstruction, groups: list[list[str]]) -> Placement:
    """Name the photos the model lacks; say how the set split when it did."""
    placed = {image.name for image in model.images.values() if image.has_pose}
    original = {p.name: p.original or p.name for p in photos}
    result = Placement(
        unplaced=[original[p.name] for p in photos if p.name not in placed],
        groups=sorted((len(g) for g in groups if len(g) > 1), reverse=True),
        isolated=sum(1 for g in groups if len(g) == 1),
    )
    if result.unplaced:
        result.warnings.append(
            f"{len(result.unplaced)} of {len(photos)} photos could not be placed in 3D and "
            f"{agree(len(result.unplaced), 'are')} not in the model: {name_list(result.unplaced)}"
        )
    if len(result.groups) > 1:
        sizes = ", ".join(str(size) for size in result.groups)
        result.warnings.append(
            f"the photos form {len(result.groups)} separate groups that share no features ({sizes} photos): "
            f"the model holds {len(placed)} photos of one group; submit each capture as its own job"
        )
    if result.isolated:
        alone = result.isolated
        result.warnings.append(
            f"{plural(alone, 'photo')} {agree(alone, 'share')} enough features with no other photo"
        )
    return result


def describe_split(groups: list[list[str]]) -> str:
    """' (the photos form 2 separate groups: 16, 11 photos)' or ''."""
    sizes = sorted((len(g) for g in groups if len(g) > 1), reverse=True)
    if len(sizes) < 2:
        return ""
    return f"; the photos form {len(sizes)} separate groups that share no features ({', '.join(map(str, sizes))})"
