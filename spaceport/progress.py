"""Per-stage progress for the CLI, from the job record and the running stage's `progress.json`
(steps, ETA, current PSNR). On a terminal, rich draws a live bar per running stage; elsewhere (a log
file, CI) a plain line per phase and per tenth of the steps. A finished stage prints one line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from shared.jobs import Job
from shared.stage import read_stage_progress

STAGES = ("sfm", "train", "compress")


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


def progress_facts(progress: dict[str, Any] | None) -> str:
    """`ETA 2m10s  PSNR 23.46  (densify)`: what the stage says about itself besides its steps."""
    parts = []
    if progress and progress.get("eta_s") is not None:
        parts.append(f"ETA {duration_text(progress['eta_s'])}")
    if progress and progress.get("psnr") is not None:
        parts.append(f"PSNR {float(progress['psnr']):.2f}")
    if progress and progress.get("phase"):
        parts.append(f"({progress['phase']})")
    return "  ".join(parts)


def progress_line(stage: str, progress: dict[str, Any] | None) -> str:
    """`train    1200/3000  40%  ETA 2m10s  PSNR 23.4  (densify)` (plain text, for logs and status)."""
    if not progress or not progress.get("total"):
        phase = f" ({progress['phase']})" if progress and progress.get("phase") else ""
        return f"{stage:<9}running{phase}"
    step, total = int(progress.get("step", 0)), int(progress["total"])
    facts = progress_facts(progress)
    return f"{stage:<9}{step}/{total} {100 * step / total:3.0f}%" + (f"  {facts}" if facts else "")


def done_facts(stage: str, metrics: dict[str, Any]) -> list[str]:
    facts = []
    if stage == "sfm" and "images_registered" in metrics:
        facts.append(f"{metrics['images_registered']}/{metrics.get('images_in', '?')} images registered")
        if "points3d" in metrics:
            facts.append(f"{metrics['points3d']} points")
    if stage == "train":
        if metrics.get("n_gaussians") is not None:
            facts.append(f"{metrics['n_gaussians']} Gaussians")
        if metrics.get("psnr") is not None:
            facts.append(f"PSNR {float(metrics['psnr']):.2f} dB")
    if stage == "compress" and "sog_bytes" in metrics:
        facts.append(f"model.sog {metrics['sog_bytes'] / 1e6:.2f} MB")
        if metrics.get("ply_bytes"):
            facts.append(f"{metrics['ply_bytes'] / max(1, metrics['sog_bytes']):.1f}x smaller than PLY")
    return facts


def done_line(stage: str, record: Any) -> str:
    facts = done_facts(stage, record.metrics or {})
    mark = {"succeeded": "done", "failed": "FAILED", "stopped": "stopped"}.get(record.status, record.status)
    tail = f"  {', '.join(facts)}" if facts else ""
    return f"{stage:<9}{mark} in {duration_text(record.duration_s)}{tail}"


class ProgressView:
    """Call `update(job, stage_dir)` often; it shows only what changed. `close()` at the end."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._finished: set[str] = set()
        self._last_plain: dict[str, tuple[str, int]] = {}
        self._live: Any = None  # rich Progress, on a terminal
        self._tasks: dict[str, Any] = {}

    def update(self, job: Job, job_dir: Path) -> None:
        """`job_dir`: the job's folder in the local bucket (its stages' progress.json are read there)."""
        for stage in STAGES:
            record = job.stages.get(stage)
            if record is None or stage in self._finished:
                continue
            if record.status == "running":
                self._show_running(stage, read_stage_progress(job_dir, stage))
            else:
                self._finished.add(stage)
                self._finish(stage, done_line(stage, record))

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        self._stream.flush()

    # --- terminal: rich ------------------------------------------------------------------

    def _progress(self) -> Any:
        if self._live is None:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

            self._live = Progress(
                TextColumn("{task.description:<9}"),
                BarColumn(bar_width=28),
                TextColumn("{task.fields[count]}"),  # "300/1500"; empty before a stage knows its total
                TaskProgressColumn(),
                TextColumn("{task.fields[facts]}"),
                console=Console(file=self._stream),
                transient=True,
                refresh_per_second=4,
            )
            self._live.start()
        return self._live

    def _show_running(self, stage: str, progress: dict[str, Any] | None) -> None:
        if not self._tty:
            self._plain_running(stage, progress)
            return
        bars = self._progress()
        total = float(progress["total"]) if progress and progress.get("total") else None
        step = float(progress.get("step", 0)) if progress else 0.0
        phase = f"({progress['phase']})" if progress and progress.get("phase") else ""
        facts = progress_facts(progress) if total else phase
        count = f"{step:.0f}/{total:.0f}" if total else ""
        if stage not in self._tasks:
            self._tasks[stage] = bars.add_task(stage, total=total, completed=step, facts=facts, count=count)
        else:
            bars.update(self._tasks[stage], total=total, completed=step, facts=facts, count=count)

    def _finish(self, stage: str, line: str) -> None:
        if self._tty and self._live is not None:
            if stage in self._tasks:
                self._live.remove_task(self._tasks.pop(stage))
            self._live.console.print(line, highlight=False, markup=False)
            return
        self._stream.write(line + "\n")
        self._stream.flush()

    # --- not a terminal: plain lines -----------------------------------------------------

    def _plain_running(self, stage: str, progress: dict[str, Any] | None) -> None:
        """A line per phase and per tenth of the steps."""
        phase = str(progress.get("phase", "")) if progress else ""
        tenth = int(10 * progress["step"] / progress["total"]) if progress and progress.get("total") else -1
        if self._last_plain.get(stage) != (phase, tenth):
            self._last_plain[stage] = (phase, tenth)
            self._stream.write(progress_line(stage, progress) + "\n")
            self._stream.flush()
