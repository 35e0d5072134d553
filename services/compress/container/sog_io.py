"""SOG files: lossless WebP images, meta.json, the bundled `.sog` ZIP; reading either container."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from services.compress.container.sog import SogImages, decode_sog
from services.compress.container.splats import Splats

META = "meta.json"


class SogError(ValueError):
    """The SOG file cannot be read; the message says why."""


def webp_bytes(rgba: np.ndarray, method: int = 4, quality: int = 90) -> bytes:
    """Lossless WebP of an [H, W, 4] uint8 image; `exact` keeps RGB under alpha 0 intact."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba), "RGBA").save(
        out, "WEBP", lossless=True, exact=True, quality=quality, method=method
    )
    return out.getvalue()


def decode_webp(data: bytes, name: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "WEBP":
                raise SogError(f"{name} is {img.format}, not WebP")
            return np.asarray(img.convert("RGBA"))
    except (OSError, Image.DecompressionBombError) as exc:
        raise SogError(f"{name} is not a readable WebP image ({exc})") from exc


def meta_bytes(meta: dict) -> bytes:
    return json.dumps(meta, separators=(",", ":")).encode()


def encode_files(sog: SogImages, method: int = 4, quality: int = 90) -> dict[str, bytes]:
    """File name -> bytes, images first in meta.json's order, meta.json last."""
    files = {name: webp_bytes(img, method, quality) for name, img in sog.images.items()}
    files[META] = meta_bytes(sog.meta)
    return files


def write_bundle(path: Path, files: dict[str, bytes]) -> None:
    """The `.sog` ZIP: STORED entries at the root, in the given order (meta.json last)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, data)


def write_unbundled(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def _image_names(meta: dict) -> list[str]:
    names: list[str] = []
    for key in ("means", "quats", "scales", "sh0", "shN"):
        if key in meta:
            names += list(meta[key]["files"])
    return names


def read_sog(path: Path) -> Splats:
    """Splats of a bundled `.sog` file or an unbundled `meta.json` (images beside it)."""
    if path.suffix.lower() == ".json":
        try:
            meta = json.loads(path.read_text())
            blobs = {name: (path.parent / name).read_bytes() for name in _image_names(meta)}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SogError(f"{path.name}: unreadable SOG meta.json or image ({exc})") from exc
    else:
        try:
            with zipfile.ZipFile(path) as archive:
                meta = json.loads(archive.read(META))
                blobs = {name: archive.read(name) for name in _image_names(meta)}
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            raise SogError(f"{path.name}: unreadable SOG bundle ({exc})") from exc
    images = {name: decode_webp(data, name) for name, data in blobs.items()}
    try:
        return decode_sog(meta, images)
    except (KeyError, TypeError, IndexError) as exc:
        raise SogError(f"{path.name}: malformed SOG meta.json ({type(exc).__name__}: {exc})") from exc
