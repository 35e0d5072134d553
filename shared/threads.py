"""CPU thread defaults for torch and OpenMP, applied before the libraries read them by the CLI (its
stage processes inherit them) and by the training entrypoint (torch), so a direct `spaceport run`
or training run gets the same settings as `make`. The SfM and compress programs are left alone on
SageMaker: pycolmap sizes its own thread pools, and their instances are not shared.

- OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep instead of spinning, which otherwise steals
  the cores the other process of a local run (the runtime loop, a second stage) needs.
- OMP_NUM_THREADS: half the cores, at least 1 and at most 2 (1 on a 2-core machine, where the
  runtime loop and the stage program share the cores). Small CPU training steps gain little
  from more threads; set OMP_NUM_THREADS yourself to use more.

Values already in the environment are kept.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping


def default_thread_count(cores: int | None = None) -> int:
    cores = os.cpu_count() if cores is None else cores
    return max(1, min(2, (cores or 1) // 2))


def apply_cpu_thread_defaults(environ: MutableMapping[str, str] | None = None, cores: int | None = None) -> None:
    env = os.environ if environ is None else environ
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.setdefault("OMP_NUM_THREADS", str(default_thread_count(cores)))
