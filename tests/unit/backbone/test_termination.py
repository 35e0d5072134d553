"""SIGTERM ends a stage program in order within SageMaker's grace period (shared/termination.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from shared.stage import FailureReport
from shared.termination import EXIT_TERMINATED

REPO = Path(__file__).resolve().parents[3]

PROGRAM = """
import os, sys, time
from pathlib import Path
from pydantic import BaseModel
import shared.termination as termination
from shared.stage import StageName, execute_stage

termination.DEADLINE_S = 1.0  # the watchdog's wait, shortened for the test
out = Path(sys.argv[1])

class Cfg(BaseModel):
    pass

def program(cfg, in_dir, out_dir):
    (out_dir / "started").write_text("1")
    {body}

sys.exit(execute_stage(StageName.SFM, program, Cfg(), out, out, out / "message", cooperative_stop={cooperative}))
"""


def start(tmp_path: Path, body: str, cooperative: bool) -> subprocess.Popen[bytes]:
    script = tmp_path / "program.py"
    script.write_text(PROGRAM.format(body=textwrap.indent(body, "    ").strip(), cooperative=cooperative))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], cwd=REPO,  # noqa: S603
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "program did not start"
        time.sleep(0.02)
    return proc


def stopped(proc: subprocess.Popen[bytes], tmp_path: Path) -> tuple[int, float, FailureReport]:
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=30)
    report = FailureReport.from_message((tmp_path / "message").read_text())
    assert json.loads((tmp_path / "failure.json").read_text())["terminated"] is True
    return code, time.monotonic() - sent, report


def test_a_program_in_python_code_is_interrupted_at_once(tmp_path):
    proc = start(tmp_path, "while True:\n    sum(range(1000))", cooperative=False)
    code, seconds, report = stopped(proc, tmp_path)
    assert code == EXIT_TERMINATED and seconds < 5
    assert report.terminated and "SIGTERM" in report.message


def test_a_cooperative_program_stops_at_its_next_safe_point(tmp_path):
    body = (
        "step = 0\nwhile not termination.stop_requested():\n    step += 1\n    time.sleep(0.01)\n"
        "raise termination.StageTerminated(f'at step {step}; checkpoint saved')"
    )
    proc = start(tmp_path, body, cooperative=True)
    code, seconds, report = stopped(proc, tmp_path)
    assert code == EXIT_TERMINATED and seconds < 5
    assert "checkpoint saved" in report.message


def test_a_program_stuck_where_it_cannot_look_is_ended_by_the_watchdog_with_its_failure(tmp_path):
    # A blocking read is retried after every signal (PEP 475): the cooperative program never gets
    # back to its loop; the watchdog, woken through the wakeup fd, writes the failure and exits.
    proc = start(tmp_path, "r, w = os.pipe()\nos.read(r, 1)", cooperative=True)
    code, seconds, report = stopped(proc, tmp_path)
    assert code == EXIT_TERMINATED and 0.9 < seconds < 10
    assert "did not stop by itself" in report.message
