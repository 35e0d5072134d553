"""Per-stage progress lines for the CLI, from the job record and the running stage's
`progress.json` (steps, ETA, current PSNR): one line per stage, redrawn in place on a terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from shared.jobs import Job
from shared.stage import read_progress

STAGES = ("sfm", "train", "compress")
BAR_WIDTH = 24


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def progress_line(stage: str, progress: dict[str, Any] | None) -> str:
    """`train [########....] 1200/3000  40%  ETA 2m10s  PSNR 23.4  (densify)`"""
    if not progress or not progress.get("total"):
        phase = f" ({progress['phase']})" if progress and progress.get("phase") else ""
        return f"{stage:<9}running{phase}"
    step, total = int(progress.get("step", 0)), int(progress["total"])
    filled = min(BAR_WIDTH, int(BAR_WIDTH * step / total)) if total else 0
    parts = [
        f"{stage:<9}[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {step}/{total} {100 * step / total:3.0f}%"
    ]
    if progress.get("eta_s") is not None:
        parts.append(f"ETA {duration_text(progress['eta_s'])}")
    if progress.get("psnr") is not None:
        parts.append(f"PSNR {float(progress['psnr']):.2f}")
    if progress.get("phase"):
        parts.append(f"({progress['phase']})")
    return "  ".join(parts)


def done_line(stage: str, record: Any) -> str:
    metrics = record.metrics or {}
    facts = []
    if stage == "sfm" and "images_registered" in metrics:
        facts.append(f"{metrics['images_registered']}/{metrics.get('images_in', '?')} images registered")
        if "points3d" in metrics:
            facts.append(f"{metrics['points3d']} points")
    if stage == "train":
        gaussians = metrics.get("n_gaussians")
        if gaussians is not None:
            facts.append(f"{gaussians} Gaussians")
        if metrics.get("psnr") is not None:
            facts.append(f"PSNR {float(metrics['psnr']):.2f} dB")
    if stage == "compress" and "sog_bytes" in metrics:
        facts.append(f"model.sog {metrics['sog_bytes'] / 1e6:.2f} MB")
        if metrics.get("ply_bytes"):
            facts.append(f"{metrics['ply_bytes'] / max(1, metrics['sog_bytes']):.1f}x smaller than PLY")
    mark = {"succeeded": "done", "failed": "FAILED", "stopped": "stopped"}.get(record.status, record.status)
    tail = f"  {', '.join(facts)}" if facts else ""
    return f"{stage:<9}{mark} in {duration_text(record.duration_s)}{tail}"


class ProgressView:
    """Call `update(job, stage_dir)` often; it prints only what changed."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._finished: set[str] = set()
        self._live = ""  # the line being redrawn (terminal only)
        self._last_plain: dict[str, tuple[str, int]] = {}

    def update(self, job: Job, stage_dir: Any) -> None:
        """`stage_dir(stage) -> Path` is where that stage writes (progress.json lives there)."""
        for stage in STAGES:
            record = job.stages.get(stage)
            if record is None or stage in self._finished:
                continue
            if record.status == "running":
                self._show_running(stage, read_progress(Path(stage_dir(stage))))
            else:
                self._finished.add(stage)
                self._print(done_line(stage, record))

    def close(self) -> None:
        if self._live:
            self._stream.write("\n")
            self._live = ""
        self._stream.flush()

    def _show_running(self, stage: str, progress: dict[str, Any] | None) -> None:
        line = progress_line(stage, progress)
        if self._tty:
            if line != self._live:
                self._stream.write("\r\033[K" + line)
                self._stream.flush()
                self._live = line
            return
        # Not a terminal (a log file, CI): a line per phase and per tenth of the steps.
        phase = str(progress.get("phase", "")) if progress else ""
        tenth = int(10 * progress["step"] / progress["total"]) if progress and progress.get("total") else -1
        if self._last_plain.get(stage) != (phase, tenth):
            self._last_plain[stage] = (phase, tenth)
            self._print(line)

    def _print(self, line: str) -> None:
        if self._live:
            self._stream.write("\r\033[K")
            self._live = ""
        self._stream.write(line + "\n")
        self._stream.flush()
