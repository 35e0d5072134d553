"""The photos and videos of a folder on this machine: the rules of shared/photo_formats.py applied
to files.

Used by the CLI (before anything is copied) and by the SfM stage (on its downloaded input), so
both see the same photos, videos, masks, sidecars, skipped files and dropped duplicates.
Standard library only.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Collection, Iterable
from pathlib import Path

from shared.photo_formats import (
    HEAD_BYTES,
    SIDECAR_SUFFIXES,
    Selection,
    Skip,
    Skipped,
    drop_duplicates,
    needs_head,
    order_key,
    select_photos,
)

HASH_CHUNK = 1024 * 1024


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes (duplicate photos are byte-identical files)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def list_files(folder: Path, exclude: Collection[str] = ()) -> list[str]:
    """Every regular file under folder (recursively, symlinked folders not followed), as POSIX paths
    relative to folder; `exclude` (relative POSIX paths) are neither listed nor walked into."""
    names = []
    for root, dirs, files in os.walk(folder):
        base = Path(root).relative_to(folder).as_posix()
        relative = (lambda name: name) if base == "." else (lambda name: f"{base}/{name}")
        dirs[:] = [d for d in dirs if relative(d) not in exclude]
        for file in files:
            if (Path(root) / file).is_file() and relative(file) not in exclude:
                names.append(relative(file))
    return names


def scan_folder(folder: Path, exclude: Iterable[Path] = ()) -> Selection:
    """The folder's photos and videos (relative paths, stable order), their masks and sidecars, and
    every file left out with the reason (duplicates name the file kept).

    exclude: files and folders of ours that may lie inside (the CLI's data dir, with its copies of
    earlier uploads): never read, and named (Skip.DATA_DIR) when present.
    """
    root = folder.resolve()
    inside = {}
    for path in exclude:
        resolved = Path(path).resolve()
        if resolved != root and resolved.is_relative_to(root) and resolved.exists():
            inside[resolved.relative_to(root).as_posix()] = resolved.is_dir()
    selection = _scan(folder, list_files(folder, set(inside)))
    selection.skipped.extend(Skipped(name + "/" * is_dir, Skip.DATA_DIR) for name, is_dir in inside.items())
    selection.skipped.sort(key=lambda s: order_key(s.name))
    return selection


def scan_file(path: Path) -> Selection:
    """One file given on its own (`spaceport run clip.mp4`) with its sidecar beside it (`clip.SRT`),
    as names relative to its folder; nothing else in that folder is looked at."""
    stem = path.stem.casefold()
    sidecars = [p.name for p in path.parent.iterdir()
                if p.is_file() and p.stem.casefold() == stem and p.suffix.lower() in SIDECAR_SUFFIXES]
    return _scan(path.parent, [path.name, *sidecars])


def _scan(folder: Path, names: list[str]) -> Selection:
    heads: dict[str, bytes] = {}
    sizes: dict[str, int] = {}
    for name in names:
        path = folder / name
        sizes[name] = path.stat().st_size
        if needs_head(name):
            with path.open("rb") as handle:
                heads[name] = handle.read(HEAD_BYTES)
    selection = select_photos(names, heads, sizes)
    files = [*selection.photos, *selection.videos]
    same_size = Counter(sizes[name] for name in files)
    # Identical files have equal sizes: only files sharing a size with another are read through.
    fingerprints = {n: content_hash(folder / n) for n in files if same_size[sizes[n]] > 1}
    return drop_duplicates(selection, fingerprints)
