"""The photos of a folder on this machine: the rules of shared/photo_formats.py applied to files.

Used by the CLI (before anything is copied) and by the SfM stage (on its downloaded input), so
both see the same photos, masks, skipped files and dropped duplicates. Standard library only.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path

from shared.photo_formats import HEAD_BYTES, Selection, drop_duplicates, needs_head, select_photos

HASH_CHUNK = 1024 * 1024


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes (duplicate photos are byte-identical files)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def list_files(folder: Path) -> list[str]:
    """Every regular file under folder (recursively, symlinked folders not followed), as POSIX paths
    relative to folder."""
    names = []
    for root, _dirs, files in os.walk(folder):
        base = Path(root).relative_to(folder).as_posix()
        for file in files:
            if (Path(root) / file).is_file():
                names.append(file if base == "." else f"{base}/{file}")
    return names


def scan_folder(folder: Path) -> Selection:
    """The folder's photos (relative paths, stable order), their masks, and every file left out
    with the reason (duplicates name the photo kept)."""
    names = list_files(folder)
    heads: dict[str, bytes] = {}
    sizes: dict[str, int] = {}
    for name in names:
        path = folder / name
        sizes[name] = path.stat().st_size
        if needs_head(name):
            with path.open("rb") as handle:
                heads[name] = handle.read(HEAD_BYTES)
    selection = select_photos(names, heads, sizes)
    same_size = Counter(sizes[photo] for photo in selection.photos)
    # Identical files have equal sizes: only photos sharing a size with another are read through.
    fingerprints = {p: content_hash(folder / p) for p in selection.photos if same_size[sizes[p]] > 1}
    return drop_duplicates(selection, fingerprints)
