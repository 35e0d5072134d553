"""Hop overhead of the local runtime: time from an event's publish to its handler call.

Runs N jobs through the real services with the test-only instant stage program
(tests/support/fake_stage.py), so what is measured is the runtime (SQLite queues, routing,
polling), not the stages. Prints per-hop-kind medians and p90s in milliseconds.

    .venv/bin/python bench/local_hop_overhead.py [--jobs 5] [--poll 0.2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.ingest.logic import SubmitRequest, submit_job
from spaceport.runtime import LocalRuntime

FAKE = REPO / "tests/support/fake_stage.py"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument(
        "--poll", type=float, default=0.2, help="runtime idle poll interval, s (CLI default 0.2)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runtime = LocalRuntime(
            Path(tmp), command=lambda stage: [sys.executable, str(FAKE), stage], poll_interval_s=args.poll
        )
        rng = np.random.default_rng(0)
        started = time.monotonic()
        with runtime.running():
            for index in range(args.jobs):
                inbox = runtime.inbox_dir(f"set{index}")
                inbox.mkdir(parents=True)
                for k in range(8):
                    Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(
                        inbox / f"{k}.jpg"
                    )
                job = submit_job(
                    SubmitRequest(inbox=f"set{index}", email="a@example.com"),
                    "local",
                    runtime.ports,
                    runtime.pipeline,
                )
                job_id = job.job_id
                runtime.drive(lambda job_id=job_id: runtime.settled(job_id), timeout_s=120)
        wall = time.monotonic() - started
    by_kind: dict[str, list[float]] = defaultdict(list)
    for hop in runtime.hops:
        kind = "sagemaker state change" if hop.detail_type.startswith("SageMaker") else "spaceport event"
        by_kind[kind].append(hop.overhead_s * 1000)
        by_kind["all"].append(hop.overhead_s * 1000)
    handler_ms = [hop.handler_s * 1000 for hop in runtime.hops]
    print(
        f"{args.jobs} jobs, {len(runtime.hops)} deliveries, poll interval {args.poll * 1000:.0f} ms, {wall:.1f} s wall"
    )
    for kind, values in sorted(by_kind.items()):
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) >= 2 else values[0]
        print(
            f"hop overhead ({kind:<23}): median {statistics.median(values):6.1f} ms  p90 {p90:6.1f} ms  n={len(values)}"
        )
    print(f"handler time (all)                : median {statistics.median(handler_ms):6.1f} ms")


if __name__ == "__main__":
    main()
