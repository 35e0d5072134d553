"""`spaceport status`: one job (stages, progress, failure) or the list of jobs; `--cloud` asks the API."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from spaceport.api import make_runtime, outputs_of
from spaceport.commands.common import (
    EXIT_ENVIRONMENT,
    EXIT_OK,
    STAGE_ORDER,
    CliError,
    add_command,
    add_data_dir,
)


def register(commands: Any) -> None:
    status = add_command(commands, "status", "Show one job (stages, progress, failure) or list recent jobs.")
    status.add_argument("job", nargs="?", metavar="JOB", help="job id (omit to list jobs)")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument(
        "--cloud", action="store_true", help="ask the deployed API instead of the local data dir"
    )
    status.add_argument(
        "--api-url", default=os.environ.get("SPACEPORT_API_URL"), help="API base url ($SPACEPORT_API_URL)"
    )
    status.add_argument(
        "--region", default=None, help="AWS region for signing (default: from the url or profile)"
    )
    add_data_dir(status)
    status.set_defaults(handler=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    if args.cloud:
        from spaceport.cloud import CloudError, cloud_status

        if not args.job:
            raise CliError("status --cloud needs a JOB")
        try:
            body = cloud_status(args.api_url, args.job, args.region)
        except CloudError as exc:
            raise CliError(str(exc), EXIT_ENVIRONMENT) from exc
        print(json.dumps(body, indent=2))
        return EXIT_OK
    from services.ingest.logic import job_view
    from shared.stage import read_progress

    runtime = make_runtime(args.data_dir)
    if not args.job:
        jobs = runtime.table.list_all()
        if args.json:
            print(json.dumps([j.model_dump(mode="json") for j in jobs], indent=2))
        elif not jobs:
            print(f"no jobs in {runtime.data_dir}")
        for job in [] if args.json else jobs:
            print(
                f"{job.job_id}  {job.state:<17} {job.created_at:%Y-%m-%d %H:%M}  {job.photo_count:>4} photos  {job.options.preset}"
            )
        return EXIT_OK
    job = runtime.table.get(args.job)
    if job is None:
        raise CliError(f"no job {args.job} in {runtime.data_dir}")
    body = job_view(job, runtime.ports, runtime.pipeline)
    body["runs"] = [
        {k: run[k] for k in ("run_name", "status", "starts", "exit_code", "log_path")}
        for run in runtime.launcher.runs(job.job_id)
    ]
    body["progress"] = {
        s: read_progress(runtime.job_dir(job.job_id) / s) for s in STAGE_ORDER if s in job.stages
    }
    body["pending_messages"] = runtime.bus.pending(job.job_id)
    body["dead_letters"] = [
        {
            "queue": d.queue,
            "detail_type": d.detail_type,
            "error": d.last_error.splitlines()[0] if d.last_error else "",
        }
        for d in runtime.bus.dead_letters(job.job_id)
    ]
    if args.json:
        print(json.dumps(body, indent=2, default=str))
        return EXIT_OK
    from spaceport.progress import done_line, progress_line

    print(
        f"job {job.job_id}: {job.state}  ({job.photo_count} photos, preset {job.options.preset}, to {job.email})"
    )
    for stage in STAGE_ORDER:
        record = job.stages.get(stage)
        if record is None:
            print(f"  {stage:<9}waiting")
        elif record.status == "running":
            print("  " + progress_line(stage, body["progress"].get(stage)))
        else:
            print("  " + done_line(stage, record))
    if job.failure:
        print(f"  failed in {job.failure.stage}: {job.failure.cause}: {job.failure.message}")
        print(f"  what to do: {job.failure.advice}")
    for dead in body["dead_letters"]:
        print(f"  dead letter in {dead['queue']}: {dead['detail_type']}: {dead['error']}")
    if job.is_final:
        for label, path in outputs_of(runtime, job).items():
            print(f"  {label:<8}{path}")
    elif not runtime.is_driven():
        print(f"  nothing is running it now: continue with `spaceport resume {job.job_id}`")
    return EXIT_OK
