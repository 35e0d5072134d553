"""Resumable checkpoints: written atomically (tmp file + os.replace), newest one wins."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

PATTERN = re.compile(r"^ckpt_(\d{8})\.pt$")


def save(folder: Path, step: int, body: dict[str, Any], keep: int = 1) -> Path:
    """Write `ckpt_<step>.pt`, then delete older ones beyond `keep`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ckpt_{step:08d}.pt"
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    torch.save(body, tmp)
    os.replace(tmp, path)
    for old in sorted(_listing(folder))[:-keep]:
        old[1].unlink(missing_ok=True)
    logger.info("checkpoint saved", extra={"step": step})
    return path


def _listing(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    out = []
    for p in folder.iterdir():
        m = PATTERN.match(p.name)
        if m:
            out.append((int(m.group(1)), p))
    return out


def load_latest(folder: Path | None) -> dict[str, Any] | None:
    """The newest readable checkpoint in `folder`, or None (an unreadable one is skipped)."""
    if folder is None:
        return None
    for step, path in sorted(_listing(folder), reverse=True):
        try:
            body = torch.load(path, map_location="cpu", weights_only=False)
        except Exception:  # noqa: BLE001 - a torn or foreign file: try the previous one
            logger.warning("unreadable checkpoint skipped", extra={"path": path.name})
            continue
        if body.get("step") == step:
            return body
    return None
