"""How long each stage program takes to end after SIGTERM, against SageMaker's 120 s grace period.

Each stage's real program is started as SageMaker starts it (the image's ENTRYPOINT + `train` or
no argument, the /opt/ml layout built from its request by the local launcher's code, rooted in a
temporary folder), left to work for `--after` seconds, then sent SIGTERM. Printed per stage:
seconds from SIGTERM to exit, the exit code, whether the failure file says `terminated`, and for
training the step of the checkpoint it saved.

    nice .venv/bin/python bench/sigterm_grace.py [--after 8]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shared import sagemaker_jobs as sm  # noqa: E402
from shared.adapters.local.container import dockerfile_entrypoint, prepare  # noqa: E402
from shared.adapters.local.store import FileObjectStore  # noqa: E402
from shared.layout import checkpoint_uri, config_uri, sagemaker_job_name, stage_uri  # noqa: E402
from shared.ports import StageRun  # noqa: E402
from shared.stage import FailureReport  # noqa: E402

BUCKET, JOB = "bench", "b" * 20


def inputs(stage: str, store: FileObjectStore) -> tuple[str, dict]:
    if stage == "sfm":
        from spaceport.synthetic import render_scene

        render_scene("drone", store.path_of(f"s3://{BUCKET}/inbox/drone/"), n_images=24, width=640, height=480, seed=1)
        return f"s3://{BUCKET}/inbox/drone/", {"num_threads": 2}
    if stage == "train":
        from services.train.container.synthetic import write_scene

        write_scene(store.path_of(stage_uri(BUCKET, JOB, "sfm")), n_images=16, width=96, height=72, seed=3)
        return stage_uri(BUCKET, JOB, "sfm"), {"steps": 30_000, "checkpoint_every": 10_000, "num_threads": 2}
    from services.compress.container.ply import write_ply
    from services.compress.container.synthetic import synthetic_splats

    model = store.path_of(stage_uri(BUCKET, JOB, "train") + "model.ply")
    model.parent.mkdir(parents=True, exist_ok=True)
    write_ply(model, synthetic_splats(400_000, sh_degree=3))
    return stage_uri(BUCKET, JOB, "train"), {}


def measure(stage: str, after_s: float, root: Path) -> str:
    store = FileObjectStore(root / "s3")
    input_uri, config = inputs(stage, store)
    run = StageRun(stage=stage, run_name=sagemaker_job_name(stage, JOB, 1), job_id=JOB, input_uri=input_uri,
                   output_uri=stage_uri(BUCKET, JOB, stage), config=config, config_uri=config_uri(BUCKET, JOB, stage),
                   instance_type="local", max_runtime_s=3600,
                   checkpoint_uri=checkpoint_uri(BUCKET, JOB) if stage == "train" else None)
    store.put_bytes(run.config_uri + "config.json", json.dumps(config).encode())
    request = sm.request_for(run, "local", "role")
    container = prepare(stage, request, root / "run", store, dockerfile_entrypoint(stage), dict(os.environ))
    log = (root / "log.txt").open("wb")
    proc = subprocess.Popen(container.argv, cwd=REPO, env=container.env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    time.sleep(after_s)
    if proc.poll() is not None:
        return f"{stage:<9} ended by itself before SIGTERM (exit {proc.returncode}); use a larger input"
    os.killpg(proc.pid, signal.SIGTERM)
    sent = time.monotonic()
    try:
        code = proc.wait(timeout=sm.STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return f"{stage:<9} still running {sm.STOP_GRACE_S:.0f} s after SIGTERM: SageMaker would SIGKILL it"
    seconds = time.monotonic() - sent
    failure = container.ml_root / (sm.TRAINING_FAILURE if stage == "train" else sm.PROCESSING_MESSAGE)
    report = FailureReport.from_message(failure.read_text()) if failure.exists() else None
    saved = ""
    if stage == "train":
        found = sorted(store.path_of(checkpoint_uri(BUCKET, JOB)).glob("ckpt_*.pt"))
        saved = f"  checkpoint at step {int(found[-1].stem.split('_')[1])}" if found else "  no checkpoint"
    terminated = report is not None and report.terminated
    return f"{stage:<9} exit {code} {seconds:6.2f} s after SIGTERM  failure file terminated={terminated}{saved}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--after", type=float, default=8.0, help="seconds of work before SIGTERM (default 8)")
    parser.add_argument("--stages", default="sfm,train,compress")
    args = parser.parse_args()
    for stage in args.stages.split(","):
        with tempfile.TemporaryDirectory() as folder:
            print(measure(stage, args.after, Path(folder)), flush=True)


if __name__ == "__main__":
    main()
