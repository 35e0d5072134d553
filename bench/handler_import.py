"""Cold import time of each Lambda handler module, in fresh interpreters (min and median of N).

    .venv/bin/python bench/handler_import.py [N]

Also reports whether any heavy module (torch, pycolmap, gsplat, numpy, PIL) came along.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

HANDLERS = [
    "services.ingest.handler",
    "services.sfm.handler",
    "services.train.handler",
    "services.compress.handler",
    "services.notify.handler",
]
PROBE = (
    "import sys, time; t = time.perf_counter(); import {module}; dt = time.perf_counter() - t; "
    "heavy = sorted({{m.split('.')[0] for m in sys.modules}} & {{'torch', 'pycolmap', 'gsplat', 'numpy', 'PIL'}}); "
    "print(dt, ','.join(heavy))"
)


def measure(module: str, runs: int) -> tuple[list[float], str]:
    times, heavy = [], ""
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module)], capture_output=True, text=True, check=True
        ).stdout.split()
        times.append(float(out[0]))
        heavy = out[1] if len(out) > 1 else ""
    return times, heavy


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    print(f"{'handler':32} {'min ms':>8} {'median ms':>10}  heavy modules")
    for module in HANDLERS:
        times, heavy = measure(module, runs)
        print(f"{module:32} {min(times) * 1000:8.0f} {statistics.median(times) * 1000:10.0f}  {heavy or 'none'}")
