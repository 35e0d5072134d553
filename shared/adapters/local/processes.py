"""Process helpers of the local launcher: dying with the parent, liveness of a pid we did not
start, reading another process's environment, a log's tail."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

LOG_TAIL_BYTES = 600

_PR_SET_PDEATHSIG = 1
_LIBC: Any = None
if sys.platform.startswith("linux"):
    import ctypes

    _LIBC = ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    """In the child before exec: SIGTERM when the runtime that started us dies (even by SIGKILL),
    so no stage process outlives its runtime (Linux; elsewhere `interrupt()` covers normal exits)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as ended.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def environ_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def log_tail(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - LOG_TAIL_BYTES))
            return handle.read().decode(errors="replace").strip()
    except OSError:
        return ""
