"""SIGTERM in a stage program: SageMaker's stop, handled within its 120 s grace period.

SageMaker stops a job (StopTrainingJob/StopProcessingJob, MaxRuntimeInSeconds,
MaxWaitTimeInSeconds, a spot reclaim) by sending SIGTERM to the container and SIGKILL 120 s later;
the local launcher does the same. `handling_sigterm` turns that SIGTERM into an orderly end:

- a cooperative program (training) polls `stop_requested()` at each step boundary, saves a
  checkpoint and raises `StageTerminated`; the handler itself only sets the flag, so no step is
  torn in half;
- any other program gets `StageTerminated` raised in its main thread by the handler (the next
  time the interpreter runs, e.g. when pycolmap checks for signals);
- a watchdog thread hears the signal through the interpreter's wakeup fd even while the main
  thread sits in native code, and `deadline_s` after SIGTERM writes the failure itself and exits
  with `EXIT_TERMINATED`, well inside SageMaker's grace period.

`execute_stage` (shared/stage.py) turns `StageTerminated` into a failure report marked
`terminated`, so whoever reads it knows the program was stopped rather than failed on its own.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

EXIT_TERMINATED = 128 + signal.SIGTERM  # what a shell reports for a process ended by SIGTERM
DEADLINE_S = 90.0  # < SageMaker's 120 s between SIGTERM and SIGKILL

_requested = threading.Event()


class StageTerminated(Exception):
    """The program was asked to stop (SIGTERM); `str()` says how far it got."""


def stop_requested() -> bool:
    """True once SIGTERM arrived: a cooperative program saves its progress and raises
    `StageTerminated` at its next safe point."""
    return _requested.is_set()


def reset() -> None:
    """Forget an earlier SIGTERM (a program run again in the same interpreter, e.g. in tests)."""
    _requested.clear()


@contextmanager
def handling_sigterm(
    on_deadline: Callable[[], None], cooperative: bool, deadline_s: float | None = None
) -> Iterator[None]:
    """Handle SIGTERM while the block runs (see the module docstring). `on_deadline` writes the
    failure when the program did not end by itself in time; the process then exits. Outside the
    main thread (where no signal handler can be set) the block runs unguarded."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    reset()
    deadline = DEADLINE_S if deadline_s is None else deadline_s
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    finished = threading.Event()

    def on_sigterm(signum: int, frame: object) -> None:
        _requested.set()
        if not cooperative:
            raise StageTerminated("stopped by SIGTERM")

    def watchdog() -> None:
        while True:
            try:
                received = os.read(read_fd, 64)
            except OSError:
                return
            if not received:  # the block ended and closed the pipe
                return
            if signal.SIGTERM in received:
                break
        _requested.set()
        if finished.wait(deadline):
            return
        logger.error("stage did not stop within %.0f s of SIGTERM; writing its failure", deadline)
        try:
            on_deadline()
        finally:
            os._exit(EXIT_TERMINATED)

    previous_handler = signal.signal(signal.SIGTERM, on_sigterm)
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    thread = threading.Thread(target=watchdog, name="sigterm-watchdog", daemon=True)
    thread.start()
    try:
        yield
    finally:
        finished.set()
        signal.set_wakeup_fd(previous_fd)
        signal.signal(signal.SIGTERM, previous_handler)
        os.close(write_fd)
        thread.join(timeout=1.0)
        os.close(read_fd)
