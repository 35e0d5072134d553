"""SageMaker on this machine: each stage job is its container's program as a local process.

`launch(run)` builds the job's SageMaker request with the cloud's own code, lays out what the
container would get in `<runs>/<run name>/opt/ml` and starts the stage image's ENTRYPOINT with
SageMaker's arguments (shared/adapters/local/container.py). `poll()` watches the processes; when
one ends it publishes the `aws.sagemaker` state-change event SageMaker would - Completed, Failed
with FailureReason / ExitMessage, or Stopped with SecondaryStatus - which the routing rules
deliver to the stage's queue. Stopping follows SageMaker: SIGTERM to the process group, SIGKILL
`stop_grace_s` (120 s) later; a run past its MaxRuntimeInSeconds is stopped the same way and
reported with SecondaryStatus MaxRuntimeExceeded (training) or as Stopped at its limit
(processing). `describe()` answers like Describe*Job.

Runs are recorded in SQLite, so a new runtime (after a crash or Ctrl-C) picks them up: a process
still alive is waited for; one that ended with a result is reported; one that died without a
result (or was stopped by someone other than this launcher) is started again with the same
request, resuming from its checkpoints. Every process dies with the runtime that started it
(process group, SIGTERM from the kernel when the parent dies, `interrupt()` on the way out).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from shared import sagemaker_jobs as sm
from shared.adapters.local.container import (
    LOCAL_ARN,
    REPO_ROOT,
    Container,
    Outcome,
    dockerfile_entrypoint,
    outcome,
    prepare,
)
from shared.adapters.local.db import Database
from shared.adapters.local.processes import die_with_parent, environ_of, log_tail, pid_alive
from shared.adapters.local.store import FileObjectStore
from shared.events import PROCESSING_STATE_CHANGE, SAGEMAKER_SOURCE, TRAINING_STATE_CHANGE
from shared.ports import JobDescription, StageRun
from shared.stage import FAILURE_FILE, METRICS_FILE, PROGRESS_FILE

logger = logging.getLogger(__name__)

INTERRUPT_GRACE_S = 10.0  # Ctrl-C: the run restarts on resume, so the wait is short
LOCAL_ROLE = "arn:aws:iam::000000000000:role/spaceport-local"
ACTIVE = ("running", "stopping", "interrupted")

# stage -> the stage image's ENTRYPOINT; tests substitute a small program of their own.
StageCommand = Callable[[str], Sequence[str]]


def module_command(stage: str) -> list[str]:
    """The stage image's ENTRYPOINT, read from its Dockerfile (`python -m services.<stage>...`)."""
    return dockerfile_entrypoint(stage)


class Publisher(Protocol):  # what the launcher needs from the bus
    def publish_raw(self, source: str, detail_type: str, detail: dict[str, Any]) -> list[str]: ...


def _image(stage: str) -> str:
    return f"local/spaceport-{stage}"


def _request(row: Any) -> tuple[StageRun, dict[str, Any]]:
    run = StageRun(**json.loads(row["run_json"]))
    return run, sm.request_for(run, _image(run.stage), LOCAL_ROLE)


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
        stop_grace_s: float = sm.STOP_GRACE_S,
        interrupt_grace_s: float = INTERRUPT_GRACE_S,
    ) -> None:
        self._db = db
        self._store = store
        self._bus = bus
        self._runs_dir = Path(runs_dir)
        self._command = command
        self._env = env
        self._max_starts = max_starts
        self._clock = clock
        self._stop_grace_s = stop_grace_s
        self._interrupt_grace_s = interrupt_grace_s
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    # --- the StageLauncher port ---------------------------------------------------------

    def launch(self, run: StageRun) -> bool:
        """True if started now; False if a job of this name exists (SageMaker's ResourceInUse)."""
        if self._row(run.run_name) is not None:
            return False
        self._start(run, restart=False)
        return True

    def stop(self, stage: str, run_name: str) -> None:
        """Like StopTrainingJob: SIGTERM now; Stopped once the process ends (SIGKILL after the
        grace period). A finished or stopping run is left alone."""
        row = self._row(run_name)
        if row is None or row["status"] not in ("running", "interrupted"):
            return
        if row["status"] == "running" and not self._alive(row):
            return  # it ended already: `poll` reports how, as SageMaker would
        self._begin_stop(row, "Stopped")

    def describe(self, stage: str, run_name: str) -> JobDescription | None:
        row = self._row(run_name)
        if row is None:
            return None
        if row["detail"]:
            detail_type, detail = json.loads(row["detail"])
            return JobDescription(detail_type, detail)
        status = "Stopping" if row["status"] == "stopping" else "InProgress"
        return JobDescription(*self._detail(row, status, None, None, None))

    # --- watching -----------------------------------------------------------------------

    def poll(self, job_id: str | None = None) -> int:
        """Report every run that has ended, stop those past their limit, restart those that died
        without a result; only `job_id`'s runs when given. Returns how many are still going."""
        going = 0
        for row in self._rows(job_id):
            if row["status"] == "interrupted":
                self._restart(row)
                going += 1
                continue
            if self._alive(row):
                if row["status"] == "running" and row["max_runtime_s"] and (
                    self._clock() - row["started_at"] > row["max_runtime_s"]
                ):
                    self._begin_stop(row, "MaxRuntimeExceeded")
                elif row["status"] == "stopping" and self._clock() > (row["stop_deadline"] or 0):
                    self._signal(row, signal.SIGKILL)
                going += 1
                continue
            exit_code = self._exit_code(row)
            result = outcome(self._container(row), exit_code, log_tail(Path(row["log_path"])))
            if row["status"] == "stopping":
                self._finish(row, "Stopped", result, row["stop_reason"] or "Stopped")
            elif result is None or result.terminated:
                going += self._restart_or_give_up(row)
            else:
                self._finish(row, result.status, result, result.status)
        return going

    def interrupt(self) -> list[str]:
        """End every process this runtime runs (the runtime is being interrupted): SIGTERM, then
        SIGKILL after `interrupt_grace_s`. Their runs start again on the job's next `poll`; runs
        being stopped are reported Stopped. Returns the run names."""
        rows = [row for row in self._rows(None) if row["status"] != "interrupted" and self._alive(row)]
        for row in rows:
            self._signal(row, signal.SIGTERM)
        deadline = time.monotonic() + self._interrupt_grace_s
        while any(self._alive(row) for row in rows) and time.monotonic() < deadline:
            time.sleep(0.05)
        for row in rows:
            if self._alive(row):
                self._signal(row, signal.SIGKILL)
                self._wait_gone(row, 5.0)
        for row in rows:
            if row["status"] == "stopping":
                result = outcome(self._container(row), self._exit_code(row))
                self._finish(row, "Stopped", result, row["stop_reason"] or "Stopped")
            else:
                self._procs.pop(row["run_name"], None)
                self._set(row["run_name"], status="interrupted")
        return [row["run_name"] for row in rows]

    def runs(self, job_id: str) -> list[dict[str, Any]]:
        with self._db.connect() as conn:
            rows = conn.execute("SELECT * FROM runs WHERE job_id = ? ORDER BY started_at", (job_id,)).fetchall()
        return [dict(row) for row in rows]

    def active(self, job_id: str | None = None) -> list[dict[str, Any]]:
        return [dict(row) for row in self._rows(job_id)]

    # --- starting -----------------------------------------------------------------------

    def _start(self, run: StageRun, restart: bool) -> None:
        request = sm.request_for(run, _image(run.stage), LOCAL_ROLE)
        run_dir = self._runs_dir / run.run_name
        base_env = dict(os.environ if self._env is None else self._env)
        container = prepare(run.stage, request, run_dir, self._store, list(self._command(run.stage)), base_env)
        for stale in (METRICS_FILE, FAILURE_FILE, PROGRESS_FILE):  # of an earlier start or attempt
            (container.products / stale).unlink(missing_ok=True)
        log_path = run_dir / "log.txt"
        with log_path.open("ab") as log:
            log.write(f"\n--- {'restart' if restart else 'start'} {time.ctime()}: {' '.join(container.argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(  # noqa: S603 - our own stage program
                container.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO_ROOT,
                env=container.env,
                start_new_session=True,  # its own process group: stopped as a whole
                preexec_fn=die_with_parent,  # noqa: PLW1509 - a single prctl call
            )
        self._procs[run.run_name] = proc
        with self._db.transaction() as conn:
            if restart:
                conn.execute(
                    "UPDATE runs SET status = 'running', pid = ?, command = ?, starts = starts + 1, ended_at = NULL,"
                    " exit_code = NULL, stop_reason = NULL, stop_deadline = NULL, detail = NULL WHERE run_name = ?",
                    (proc.pid, json.dumps(container.argv), run.run_name),
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
                        json.dumps(container.argv),
                        str(container.products),
                        str(log_path),
                        self._clock(),
                        int(run.max_runtime_s),
                        json.dumps(asdict(run)),
                    ),
                )

    def _restart(self, row: Any) -> None:
        logger.info("restarting run", extra={"run_name": row["run_name"]})
        run, _ = _request(row)
        self._start(run, restart=True)

    def _restart_or_give_up(self, row: Any) -> int:
        self._procs.pop(row["run_name"], None)
        if row["starts"] < self._max_starts:
            self._restart(row)
            return 1
        reason = f"AlgorithmError: the process ended without a result {row['starts']} times"
        self._finish(row, "Failed", Outcome("Failed", failure_reason=reason), "Failed")
        return 0

    # --- stopping and reporting ---------------------------------------------------------

    def _begin_stop(self, row: Any, reason: str) -> None:
        self._set(row["run_name"], status="stopping", stop_reason=reason, stop_deadline=self._clock() + self._stop_grace_s)
        self._signal(row, signal.SIGTERM)

    def _finish(self, row: Any, status: str, result: Outcome | None, secondary: str) -> None:
        """Publish the end of a run once; the record is written after the event, so a crash in
        between publishes it again (consumers are idempotent) instead of never."""
        current = self._row(row["run_name"])
        if current is None or current["status"] not in ACTIVE:
            return
        detail_type, detail = self._detail(current, status, result, secondary, self._clock())
        exit_code = self._exit_code(current)
        self._bus.publish_raw(SAGEMAKER_SOURCE, detail_type, detail)
        self._procs.pop(row["run_name"], None)
        self._set(
            row["run_name"],
            status=status.lower(),
            ended_at=self._clock(),
            exit_code=exit_code,
            detail=json.dumps([detail_type, detail]),
        )

    def _detail(
        self, row: Any, status: str, result: Outcome | None, secondary: str | None, ended: float | None
    ) -> tuple[str, dict[str, Any]]:
        """The state-change detail SageMaker sends (its Describe*Job answer, times in epoch ms)."""
        run, request = _request(row)
        detail = {key: value for key, value in request.items() if key != "Tags"}
        start_ms = int(row["started_at"] * 1000)
        end_ms = None if ended is None else int(ended * 1000)
        if sm.is_training(run.stage):
            detail.update(
                TrainingJobArn=f"{LOCAL_ARN}:training-job/{run.run_name}",
                TrainingJobStatus=status,
                SecondaryStatus=secondary or ("Training" if status == "InProgress" else status),
                TrainingStartTime=start_ms,
            )
            if end_ms is not None:
                detail["TrainingEndTime"] = end_ms
            if status == "Failed" and result is not None and result.failure_reason:
                detail["FailureReason"] = result.failure_reason
            return TRAINING_STATE_CHANGE, detail
        detail.update(
            ProcessingJobArn=f"{LOCAL_ARN}:processing-job/{run.run_name}",
            ProcessingJobStatus=status,
            ProcessingStartTime=start_ms,
        )
        if end_ms is not None:
            detail["ProcessingEndTime"] = end_ms
        if result is not None and result.exit_message is not None:
            detail["ExitMessage"] = result.exit_message
        if status == "Failed" and result is not None and result.failure_reason:
            detail["FailureReason"] = result.failure_reason
        return PROCESSING_STATE_CHANGE, detail

    # --- processes ----------------------------------------------------------------------

    def _container(self, row: Any) -> Container:
        kind = "training" if sm.is_training(row["stage"]) else "processing"
        ml_root = self._runs_dir / row["run_name"] / "opt" / "ml"
        return Container(kind, json.loads(row["command"]), {}, ml_root, Path(row["output_dir"]))

    def _signal(self, row: Any, signum: int) -> None:
        proc = self._procs.get(row["run_name"])
        pid = proc.pid if proc is not None else row["pid"]
        if proc is None and not self._alive(row):
            return
        try:
            os.killpg(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def _wait_gone(self, row: Any, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self._alive(row) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _exit_code(self, row: Any) -> int | None:
        """The exit status as a container runtime reports it (128 + N when killed by signal N);
        None for a process of an earlier runtime (not our child: its status is unknowable)."""
        proc = self._procs.get(row["run_name"])
        if proc is None or proc.poll() is None:
            return None
        return 128 - proc.returncode if proc.returncode < 0 else proc.returncode

    def _alive(self, row: Any) -> bool:
        proc = self._procs.get(row["run_name"])
        if proc is not None:
            return proc.poll() is None
        # A process started by an earlier runtime: alive only if that pid still runs this container.
        ml_root = str(self._runs_dir / row["run_name"] / "opt" / "ml")
        return pid_alive(row["pid"]) and ml_root in environ_of(row["pid"])

    # --- records ------------------------------------------------------------------------

    def _row(self, run_name: str) -> Any:
        with self._db.connect() as conn:
            return conn.execute("SELECT * FROM runs WHERE run_name = ?", (run_name,)).fetchone()

    def _rows(self, job_id: str | None) -> list[Any]:
        marks = ",".join("?" for _ in ACTIVE)
        query = f"SELECT * FROM runs WHERE status IN ({marks})"
        values: tuple[Any, ...] = ACTIVE
        if job_id is not None:
            query += " AND job_id = ?"
            values = (*ACTIVE, job_id)
        with self._db.connect() as conn:
            return conn.execute(query + " ORDER BY started_at", values).fetchall()

    def _set(self, run_name: str, **values: Any) -> None:
        assignments = ", ".join(f"{column} = ?" for column in values)
        with self._db.transaction() as conn:
            conn.execute(f"UPDATE runs SET {assignments} WHERE run_name = ?", (*values.values(), run_name))
