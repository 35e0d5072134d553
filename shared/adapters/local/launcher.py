"""Stage programs as local subprocesses, reporting like SageMaker jobs.

`launch(run)` starts `python -m services.<stage>.container.entrypoint --input IN --output OUT
--config CFG [--checkpoints DIR]` on the folders behind the run's uris (the FileObjectStore root,
so nothing is copied). `poll()` watches the processes; when one ends it publishes the same
`aws.sagemaker` state-change event SageMaker would (Completed, or Failed with the stage's failure
message as `ExitMessage` for processing stages and as `FailureReason` for training), which the
routing rules deliver to the stage's queue.

Runs are recorded in SQLite, so a new runtime (after a crash or Ctrl-C) picks them up: a process
that is still alive is waited for; one that ended with a result is reported; one that died without
a result is started again with the same arguments (training resumes from its checkpoints).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from shared.adapters.local.db import Database
from shared.adapters.local.store import FileObjectStore
from shared.causes import CauseCode, advice_for
from shared.events import PROCESSING_STATE_CHANGE, SAGEMAKER_SOURCE, TRAINING_STATE_CHANGE
from shared.layout import checkpoint_uri, split_uri
from shared.ports import StageRun
from shared.stage import FAILURE_FILE, METRICS_FILE, PROGRESS_FILE, FailureReport

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
LOG_TAIL_BYTES = 600

# stage -> the argv that runs its program; tests substitute a small program of their own.
StageCommand = Callable[[str], Sequence[str]]


def module_command(stage: str) -> list[str]:
    return [sys.executable, "-m", f"services.{stage}.container.entrypoint"]


class Publisher(Protocol):  # what the launcher needs from the bus
    def publish_raw(self, source: str, detail_type: str, detail: dict[str, Any]) -> list[str]: ...


class SubprocessLauncher:
    def __init__(
        self,
        db: Database,
        store: FileObjectStore,
        bus: Publisher,
        runs_dir: Path,
        *,
        command: StageCommand = module_command,
        env: dict[str, str] | None = None,
        max_starts: int = 3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._store = store
        self._bus = bus
        self._runs_dir = Path(runs_dir)
        self._command = command
        self._env = env
        self._max_starts = max_starts
        self._clock = clock
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    # --- the StageLauncher port ---------------------------------------------------------

    def launch(self, run: StageRun) -> bool:
        """True if started now (or restarted after dying without a result), False if it exists."""
        row = self._row(run.run_name)
        if row is not None:
            if row["status"] == "running" and self._alive(row):
                return False
            if row["status"] in {"completed", "failed", "stopped"}:
                return False
            if self._result_exists(Path(row["output_dir"])):
                self.poll()  # it ended with a result while nobody watched: report it
                return False
        argv, out_dir = self._prepare(run)
        self._start(run, argv, out_dir, restart=row is not None)
        return True

    def stop(self, stage: str, run_name: str) -> None:
        row = self._row(run_name)
        if row is None or row["status"] != "running":
            return
        self._kill(row)
        self._finish(row, "Stopped", failure=None, exit_code=None)

    # --- watching -----------------------------------------------------------------------

    def poll(self) -> int:
        """Report every run that has ended; restart those that died without a result. Returns
        how many runs are still going."""
        going = 0
        for row in self._rows("status IN ('running', 'interrupted')"):
            name = row["run_name"]
            out_dir = Path(row["output_dir"])
            if row["status"] == "running" and self._alive(row):
                if row["max_runtime_s"] and self._clock() - row["started_at"] > row["max_runtime_s"]:
                    self._kill(row)
                    report = FailureReport(
                        cause=CauseCode.TIMEOUT,
                        message=f"{row['stage']} ran longer than its limit of {row['max_runtime_s']} s",
                        advice=advice_for(CauseCode.TIMEOUT),
                    )
                    self._finish(row, "Failed", failure=report.to_message(), exit_code=None)
                    continue
                going += 1
                continue
            proc = self._procs.pop(name, None)
            exit_code = proc.returncode if proc is not None else None
            if self._result_exists(out_dir) or (exit_code is not None and row["status"] == "running"):
                self._report(row, exit_code)
            elif row["starts"] < self._max_starts:
                logger.info("restarting run that ended without a result", extra={"run_name": name})
                run = StageRun(**json.loads(row["run_json"]))
                argv, out_dir = self._prepare(run)
                self._start(run, argv, out_dir, restart=True)
                going += 1
            else:
                self._finish(
                    row,
                    "Failed",
                    failure=f"process ended without a result {row['starts']} times",
                    exit_code=None,
                )
        return going

    def interrupt(self) -> list[str]:
        """Stop every process this launcher started without reporting them (the runtime is being
        interrupted); the next runtime starts them again. Returns the run names."""
        stopped = []
        for row in self._rows("status = 'running'"):
            if row["run_name"] in self._procs or self._alive(row):
                self._kill(row)
                with self._db.transaction() as conn:
                    conn.execute(
                        "UPDATE runs SET status = 'interrupted' WHERE run_name = ?", (row["run_name"],)
                    )
                stopped.append(row["run_name"])
        return stopped

    def runs(self, job_id: str) -> list[dict[str, Any]]:
        with self._db.connect() as conn:
            rows = conn.execute(
                "SELECT * FROM runs WHERE job_id = ? ORDER BY started_at", (job_id,)
            ).fetchall()
        return [dict(row) for row in rows]

    def active(self, job_id: str | None = None) -> list[dict[str, Any]]:
        rows = self._rows("status IN ('running', 'interrupted')")
        return [dict(row) for row in rows if job_id is None or row["job_id"] == job_id]

    # --- internals ----------------------------------------------------------------------

    def _prepare(self, run: StageRun) -> tuple[list[str], Path]:
        in_dir = self._store.path_of(run.input_uri)
        out_dir = self._store.path_of(run.output_uri)
        out_dir.mkdir(parents=True, exist_ok=True)
        run_dir = self._runs_dir / run.run_name
        run_dir.mkdir(parents=True, exist_ok=True)
        config = dict(run.config)
        argv = [*self._command(run.stage), "--input", str(in_dir), "--output", str(out_dir)]
        if run.stage == "train":
            bucket, _ = split_uri(run.output_uri)
            checkpoints = self._store.path_of(run.checkpoint_uri or checkpoint_uri(bucket, run.job_id))
            checkpoints.mkdir(parents=True, exist_ok=True)
            config["checkpoint_dir"] = str(checkpoints)  # the SageMaker path would not exist here
            argv += ["--checkpoints", str(checkpoints)]
        config_path = run_dir / "config.json"
        config_path.write_text(json.dumps(config, indent=2))
        argv += ["--config", str(config_path)]
        return argv, out_dir

    def _start(self, run: StageRun, argv: list[str], out_dir: Path, restart: bool) -> None:
        for stale in (METRICS_FILE, FAILURE_FILE, PROGRESS_FILE):
            (out_dir / stale).unlink(missing_ok=True)
        log_path = self._runs_dir / run.run_name / "log.txt"
        env = dict(os.environ if self._env is None else self._env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        with log_path.open("ab") as log:
            log.write(
                f"\n--- {'restart' if restart else 'start'} {time.ctime()}: {' '.join(argv)}\n".encode()
            )
            log.flush()
            proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO_ROOT,
                env=env,
                start_new_session=True,
            )
        self._procs[run.run_name] = proc
        now = self._clock()
        with self._db.transaction() as conn:
            if restart:
                conn.execute(
                    "UPDATE runs SET status = 'running', pid = ?, command = ?, starts = starts + 1, ended_at = NULL,"
                    " exit_code = NULL WHERE run_name = ?",
                    (proc.pid, json.dumps(argv), run.run_name),
                )
            else:
                conn.execute(
                    "INSERT INTO runs (run_name, stage, job_id, status, pid, command, output_dir, log_path,"
                    " started_at, max_runtime_s, run_json) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run.run_name,
                        run.stage,
                        run.job_id,
                        proc.pid,
                        json.dumps(argv),
                        str(out_dir),
                        str(log_path),
                        now,
                        int(run.max_runtime_s),
                        json.dumps(asdict(run)),
                    ),
                )

    def _report(self, row: Any, exit_code: int | None) -> None:
        out_dir = Path(row["output_dir"])
        failure_path = out_dir / FAILURE_FILE
        if (out_dir / METRICS_FILE).exists() and (exit_code in (None, 0)):
            self._finish(row, "Completed", failure=None, exit_code=exit_code)
            return
        if failure_path.exists():
            try:
                report = FailureReport.model_validate_json(failure_path.read_text())
                message = report.to_message()
            except ValueError:
                message = failure_path.read_text()[:1000]
        else:
            # Like a container runtime: a process killed by signal N exits with 128 + N.
            code = 128 - exit_code if exit_code is not None and exit_code < 0 else exit_code
            message = f"exit code {code}; log ends: {_tail(Path(row['log_path']))}"
        self._finish(row, "Failed", failure=message, exit_code=exit_code)

    def _finish(self, row: Any, status: str, failure: str | None, exit_code: int | None) -> None:
        now = self._clock()
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE runs SET status = ?, ended_at = ?, exit_code = ? WHERE run_name = ? AND status != ?",
                (status.lower(), now, exit_code, row["run_name"], status.lower()),
            )
            if cursor.rowcount == 0:
                return
        self._bus.publish_raw(
            SAGEMAKER_SOURCE,
            *state_change(row["stage"], row["run_name"], status, row["started_at"], now, failure),
        )

    def _kill(self, row: Any) -> None:
        proc = self._procs.pop(row["run_name"], None)
        pid = proc.pid if proc is not None else row["pid"]
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                return
            if proc is None and not _pid_alive(pid):
                return
            time.sleep(0.05)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        if proc is not None:
            proc.wait()

    def _alive(self, row: Any) -> bool:
        proc = self._procs.get(row["run_name"])
        if proc is not None:
            return proc.poll() is None
        # A process started by an earlier runtime: alive only if that pid still runs our command.
        return _pid_alive(row["pid"]) and row["output_dir"] in _cmdline(row["pid"])

    def _result_exists(self, out_dir: Path) -> bool:
        return (out_dir / METRICS_FILE).exists() or (out_dir / FAILURE_FILE).exists()

    def _row(self, run_name: str) -> Any:
        with self._db.connect() as conn:
            return conn.execute("SELECT * FROM runs WHERE run_name = ?", (run_name,)).fetchone()

    def _rows(self, where: str) -> list[Any]:
        with self._db.connect() as conn:
            return conn.execute(f"SELECT * FROM runs WHERE {where} ORDER BY started_at").fetchall()


def state_change(
    stage: str, run_name: str, status: str, started: float, ended: float, failure: str | None
) -> tuple[str, dict[str, Any]]:
    """The `aws.sagemaker` detail-type and detail SageMaker sends when a job ends."""
    start_ms, end_ms = int(started * 1000), int(ended * 1000)
    if stage == "train":
        detail: dict[str, Any] = {
            "TrainingJobName": run_name,
            "TrainingJobArn": f"arn:local:sagemaker:training-job/{run_name}",
            "TrainingJobStatus": status,
            "SecondaryStatus": status,
            "TrainingStartTime": start_ms,
            "TrainingEndTime": end_ms,
        }
        if failure:
            detail["FailureReason"] = f"AlgorithmError: {failure}" if status == "Failed" else failure
        return TRAINING_STATE_CHANGE, detail
    detail = {
        "ProcessingJobName": run_name,
        "ProcessingJobArn": f"arn:local:sagemaker:processing-job/{run_name}",
        "ProcessingJobStatus": status,
        "ProcessingStartTime": start_ms,
        "ProcessingEndTime": end_ms,
    }
    if failure:
        detail["FailureReason"] = "AlgorithmError: See job logs for more information"
        detail["ExitMessage"] = failure
    return PROCESSING_STATE_CHANGE, detail


def _pid_alive(pid: int | None) -> bool:
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


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - LOG_TAIL_BYTES))
            return handle.read().decode(errors="replace").strip()
    except OSError:
        return ""
