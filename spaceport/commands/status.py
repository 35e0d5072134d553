"""`spaceport status`: the jobs in a data dir as a table, or one job (stages, progress, failure,
where its outputs are); `--cloud` asks the deployed API instead."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from spaceport.api import data_dir_of, existing_runtime, outputs_of, read_sources
from spaceport.commands.common import (
    EXIT_ENVIRONMENT,
    EXIT_OK,
    STAGE_ORDER,
    CliError,
    add_command,
    add_data_dir,
)
from spaceport.commands.hints import command_hint
from shared.wording import counted


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
        return cloud_status(args)
    runtime = existing_runtime(args.data_dir)
    if runtime is None:
        if args.job:
            raise CliError(f"no job {args.job} in {data_dir_of(args.data_dir)} (no jobs have run there)")
        print("[]" if args.json else f"no jobs in {data_dir_of(args.data_dir)}")
        return EXIT_OK
    if not args.job:
        return list_jobs(runtime, args.json)
    job = runtime.table.get(args.job)
    if job is None:
        raise CliError(f"no job {args.job} in {runtime.data_dir}")
    body = job_body(runtime, job)
    if args.json:
        print(json.dumps(body, indent=2, default=str))
        return EXIT_OK
    show_job(runtime, job, body)
    return EXIT_OK


def cloud_status(args: argparse.Namespace) -> int:
    from spaceport.cloud import CloudError, cloud_status

    if not args.job:
        raise CliError("status --cloud needs a JOB")
    try:
        body = cloud_status(args.api_url, args.job, args.region)
    except CloudError as exc:
        raise CliError(str(exc), EXIT_ENVIRONMENT) from exc
    print(json.dumps(body, indent=2))
    return EXIT_OK


def list_jobs(runtime: Any, as_json: bool) -> int:
    jobs = runtime.table.list_all()
    sources = read_sources(runtime.data_dir)
    if as_json:
        print(json.dumps([{**j.model_dump(mode="json"), "source": sources.get(j.job_id)} for j in jobs], indent=2))
        return EXIT_OK
    if not jobs:
        print(f"no jobs in {runtime.data_dir}")
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"jobs in {runtime.data_dir}", title_justify="left")
    for name, justify in (("job", "left"), ("state", "left"), ("created", "left"), ("inputs", "right"),
                          ("preset", "left"), ("photos from", "left")):  # fmt: skip
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for job in jobs:
        source = sources.get(job.job_id) or job.inbox_uri
        table.add_row(
            job.job_id, str(job.state), f"{job.created_at:%Y-%m-%d %H:%M}", counted(job.photo_count, job.video_count),
            str(job.options.preset), source,
        )  # fmt: skip
    console = Console()
    console.print(table)
    waiting = [j for j in jobs if not j.is_final and not runtime.is_driven(j.job_id)]
    if waiting:
        print(  # plain print: rich would wrap the command, and it must paste as one line
            f"{len(waiting)} queued: not finished and nothing is running them; continue one with: "
            f"{command_hint(runtime.data_dir, 'resume', waiting[0].job_id)}"
        )
    return EXIT_OK


def job_body(runtime: Any, job: Any) -> dict[str, Any]:
    from services.ingest.logic import job_view
    from shared.stage import read_stage_progress

    body = job_view(job, runtime.ports, runtime.pipeline, advancing=runtime.is_driven(job.job_id))
    body["source"] = read_sources(runtime.data_dir).get(job.job_id)
    body["runs"] = [
        {k: run[k] for k in ("run_name", "status", "starts", "exit_code", "log_path")}
        for run in runtime.launcher.runs(job.job_id)
    ]
    body["progress"] = {
        s: read_stage_progress(runtime.job_dir(job.job_id), s) for s in STAGE_ORDER if s in job.stages
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
    return body


def show_job(runtime: Any, job: Any, body: dict[str, Any]) -> None:
    from spaceport.progress import done_line, progress_line

    print(
        f"job {job.job_id}: {job.state}  ({counted(job.photo_count, job.video_count)}, preset {job.options.preset}, to {job.email})"
    )
    print(f"  photos from {body['source'] or job.inbox_uri}")
    for stage in STAGE_ORDER:
        record = job.stages.get(stage)
        if record is None:  # a failed or cancelled job runs no further stage
            print(f"  {stage:<9}{'not run' if job.is_final else 'waiting'}")
        elif record.status == "running":
            print("  " + progress_line(stage, body["progress"].get(stage)))
        else:
            print("  " + done_line(stage, record))
    if job.failure:
        print(f"  failed in {job.failure.stage}: {job.failure.cause}: {job.failure.message}")
        print(f"  what to do: {job.failure.advice}")
    from spaceport.photos import photo_notes, quality_notes

    for note in quality_notes(body):
        print(f"  {note}")
    for note in photo_notes(body):
        print(f"  photos: {note}")
    for dead in body["dead_letters"]:
        print(f"  dead letter in {dead['queue']}: {dead['detail_type']}: {dead['error']}")
    if job.is_final:
        for label, path in outputs_of(runtime, job).items():
            print(f"  {label:<8}{path}")
    elif not runtime.is_driven(job.job_id):
        print(f"  queued: nothing runs it now; continue with `{command_hint(runtime.data_dir, 'resume', job.job_id)}`")
