"""`spaceport`: turn a folder of photos into a web-viewable 3D Gaussian Splatting model.

Local commands run the same services as the cloud on this machine (see spaceport/runtime.py);
`submit` and `status --cloud` talk to a deployed stack.

Exit codes:
    0  ok (the job succeeded, or the command did what it was asked)
    1  the job failed or was cancelled (the reason is printed)
    2  usage or input error (bad arguments, no photos, photos rejected)
    3  interrupted (Ctrl-C or SIGTERM); `spaceport resume JOB` continues
    4  environment error (data dir in use, viewer not installed, cloud settings or API error)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 3
EXIT_ENVIRONMENT = 4

STAGE_ORDER = ("sfm", "train", "compress")
LOCAL_CALLER = "local"

EPILOG = """exit codes: 0 ok, 1 job failed or cancelled, 2 usage or input error, 3 interrupted
(continue with `spaceport resume JOB`), 4 environment error (data dir in use, viewer missing,
cloud settings or API error).

data dir: --data-dir, else $SPACEPORT_DATA_DIR, else ~/.spaceport. Email is written to
<data dir>/outbox/*.eml, and also sent through SMTP when SPACEPORT_SMTP_HOST (and optionally
SPACEPORT_SMTP_PORT, SPACEPORT_SMTP_USER, SPACEPORT_SMTP_PASSWORD, SPACEPORT_SMTP_STARTTLS) is set."""


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class Interrupted(Exception):
    """Ctrl-C or SIGTERM while driving a job."""

    def __init__(self, job_id: str, stopped: list[str]) -> None:
        super().__init__(job_id)
        self.job_id = job_id
        self.stopped = stopped


# --- argument parsing -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="spaceport",
        description="Photos to a 3D Gaussian Splatting model you can open in a browser.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the services do (to stderr)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=help_text, description=help_text, epilog=EPILOG, formatter_class=formatter
        )

    run = add("run", "Process a folder of photos on this machine, showing progress until the model is ready.")
    run.add_argument(
        "photos", type=Path, metavar="PHOTOS_DIR",
        help="folder of photos, sub-folders included (JPEG, PNG, TIFF, WebP, HEIC, AVIF...; never modified)",
    )
    _job_options(run)
    _data_dir(run)
    run.add_argument("--stop-after", choices=STAGE_ORDER, help="stop once this stage is done (resume later)")

    demo = add("demo", "Render a synthetic scene with known cameras, run it, and score the result.")
    demo.add_argument(
        "--kind",
        choices=("drone", "orbit"),
        default="drone",
        help="drone survey with GPS (default) or an orbit",
    )
    demo.add_argument("--images", type=int, default=24, help="number of photos to render (default 24)")
    demo.add_argument("--width", type=int, default=480, help="photo width in pixels (default 480)")
    demo.add_argument("--height", type=int, default=360, help="photo height in pixels (default 360)")
    demo.add_argument("--seed", type=int, default=0, help="scene seed (default 0)")
    _job_options(demo)
    _data_dir(demo)

    status = add("status", "Show one job (stages, progress, failure) or list recent jobs.")
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
    _data_dir(status)

    resume = add("resume", "Continue a local job after an interruption, without redoing finished stages.")
    resume.add_argument("job", metavar="JOB", help="job id")
    _data_dir(resume)

    view = add("view", "Serve a finished job's model in the web viewer on localhost.")
    view.add_argument("job", metavar="JOB", help="job id")
    view.add_argument("--port", type=int, default=None, help="port (default 8765; 0 picks a free one)")
    view.add_argument("--no-browser", action="store_true", help="do not open a browser")
    _data_dir(view)

    submit = add("submit", "Upload photos to the cloud inbox and submit a job through the API (SigV4).")
    submit.add_argument("photos", type=Path, metavar="PHOTOS_DIR", help="folder of photos")
    submit.add_argument("--email", required=True, help="where the result is sent")
    submit.add_argument("--preset", choices=("preview", "standard", "quality"), default="standard")
    submit.add_argument("--name", help="inbox folder name (default: folder name + time)")
    submit.add_argument(
        "--api-url", default=os.environ.get("SPACEPORT_API_URL"), help="API base url ($SPACEPORT_API_URL)"
    )
    submit.add_argument(
        "--bucket", default=os.environ.get("SPACEPORT_BUCKET"), help="upload bucket ($SPACEPORT_BUCKET)"
    )
    submit.add_argument("--region", default=None, help="AWS region (default: from the url or profile)")
    return parser


def _job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--email", help="where the result email is addressed (default: you@spaceport.localhost)"
    )
    parser.add_argument(
        "--preset",
        choices=("preview", "standard", "quality"),
        help="speed/quality bundle (default: preview without a CUDA GPU, standard with one)",
    )
    parser.add_argument("--max-image-size", type=int, help="longest image side used, in pixels (256-8000)")
    parser.add_argument(
        "--matcher",
        choices=("auto", "exhaustive", "sequential", "spatial"),
        help="feature matcher",
    )


def _data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, help="where jobs live (default $SPACEPORT_DATA_DIR or ~/.spaceport)"
    )


# --- shared helpers -------------------------------------------------------------------------


def make_runtime(args: argparse.Namespace, view_port: int | None = None) -> Any:
    from spaceport.runtime import DEFAULT_VIEW_PORT, LocalRuntime, default_data_dir, smtp_from_env

    port = DEFAULT_VIEW_PORT if view_port is None else view_port
    data_dir = args.data_dir or default_data_dir()
    return LocalRuntime(
        data_dir,
        command=stage_command_from_env(),
        smtp=smtp_from_env(),
        link_base_url=f"http://127.0.0.1:{port}/files",
        view_port=port,
    )


def stage_command_from_env() -> Any:
    """$SPACEPORT_STAGE_COMMAND (development): a command prefix with `{stage}`, e.g.
    `python my_stage.py {stage}`; default: `python -m services.<stage>.container.entrypoint`."""
    from shared.adapters.local import module_command

    template = os.environ.get("SPACEPORT_STAGE_COMMAND", "").strip()
    if not template:
        return module_command
    parts = shlex.split(template)
    return lambda stage: [part.replace("{stage}", stage) for part in parts]


def default_preset() -> str:
    try:
        import torch
    except ImportError:
        return "preview"
    return "standard" if torch.cuda.is_available() else "preview"


def job_options(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError

    from shared.options import JobOptions

    values: dict[str, Any] = {"preset": args.preset or default_preset()}
    if args.max_image_size is not None:
        values["max_image_size"] = args.max_image_size
    if args.matcher is not None:
        values["matcher"] = args.matcher
    try:
        return JobOptions(**values)
    except ValidationError as exc:
        raise CliError(f"invalid option: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from exc


def default_email() -> str:
    user = re.sub(r"[^A-Za-z0-9._-]", "", os.environ.get("USER", "")) or "you"
    return f"{user}@spaceport.localhost"


def photo_folder(folder: Path, email: str | None = None) -> Any:
    """The folder's photos (spaceport/photos.py), checked before anything is copied or uploaded."""
    from shared.errors import UserInputError
    from spaceport.photos import read_photo_folder

    try:
        return read_photo_folder(folder, email)
    except UserInputError as exc:
        raise CliError(f"photos refused ({exc.cause}): {exc.message}") from exc


def inbox_name(folder: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", folder.resolve().name).strip("-.") or "photos"
    return f"{stem[:80]}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"


def install_signal_handlers() -> None:
    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)


# --- local: run, demo, resume ---------------------------------------------------------------


def submit_local(runtime: Any, photos_dir: Path, email: str, options: Any) -> Any:
    from services.ingest.logic import SubmitRequest, submit_job
    from shared.errors import UserInputError
    from spaceport.photos import copy_into_inbox, remove_inbox_copy

    photos = photo_folder(photos_dir, email)
    name = inbox_name(photos_dir)
    try:
        request = SubmitRequest(inbox=name, email=email, options=options)
    except ValueError as exc:
        raise CliError(f"invalid request: {exc}") from exc
    size = copy_into_inbox(photos, runtime.inbox_dir(name))
    print(f"copied {len(photos.selection.photos)} photos ({size / 1e6:.1f} MB) to {runtime.inbox_dir(name)}")
    try:
        job = submit_job(request, LOCAL_CALLER, runtime.ports, runtime.pipeline)
    except UserInputError as exc:
        remove_inbox_copy(runtime.inbox_dir(name))
        raise CliError(f"photos rejected ({exc.cause}): {exc.message}") from exc
    for warning in job.warnings:
        print(f"  left out: {warning}")
    return job


def drive_job(runtime: Any, job_id: str, stop_after: str | None = None) -> Any:
    """Run the services until the job settles (or `stop_after` is done); shows progress."""
    from shared.jobs import DONE, RANK
    from spaceport.progress import ProgressView

    view = ProgressView()
    stage_dir = lambda stage: runtime.job_dir(job_id) / stage

    def tick() -> None:
        job = runtime.table.get(job_id)
        if job is not None:
            view.update(job, stage_dir)

    def done() -> bool:
        job = runtime.table.get(job_id)
        reached = stop_after is not None and job is not None and job.state in RANK
        if reached and RANK[job.state] >= RANK[DONE[stop_after]] and not runtime.launcher.active(job_id):
            return True
        return runtime.settled(job_id) or runtime.stuck(job_id)

    try:
        runtime.drive(done, on_tick=tick)
    except KeyboardInterrupt:
        view.close()
        stopped = runtime.launcher.interrupt()
        raise Interrupted(job_id, stopped) from None
    view.close()
    return runtime.table.get(job_id)


def print_hops(runtime: Any) -> None:
    """With -v: what the local choreography cost (publish -> handler call), per delivery."""
    if not runtime.hops:
        return
    overheads = sorted(hop.overhead_s * 1000 for hop in runtime.hops)
    median = overheads[len(overheads) // 2]
    print(
        f"{len(overheads)} deliveries; hop overhead median {median:.1f} ms, max {overheads[-1]:.1f} ms",
        file=sys.stderr,
    )


def report_outcome(runtime: Any, job: Any, stop_after: str | None = None) -> int:
    from services.ingest.logic import photo_summary, quality_summary
    from shared.jobs import JobState
    from spaceport.photos import photo_notes, quality_notes

    total = (job.updated_at - job.created_at).total_seconds()
    notes = photo_notes({"photos": photo_summary(job)}, left_out=False)
    if job.state is JobState.SUCCEEDED:
        print(f"\njob {job.job_id} succeeded in {_duration(total)}")
        for note in quality_notes({"quality": quality_summary(job)}):
            print(f"  {note}")
        for note in notes:
            print(f"  photos: {note}")
        for label, path in outputs_of(runtime, job).items():
            print(f"  {label:<8}{path}")
        return EXIT_OK
    if job.state in (JobState.FAILED, JobState.CANCELLED):
        failure = job.failure
        print(f"\njob {job.job_id} {job.state}", file=sys.stderr)
        if failure is not None:
            print(f"  in {failure.stage}: {failure.cause}: {failure.message}", file=sys.stderr)
            print(f"  what to do: {failure.advice}", file=sys.stderr)
        for note in notes:
            print(f"  photos: {note}", file=sys.stderr)
        email = email_of(runtime, job.job_id)
        if email:
            print(f"  email:  {email}", file=sys.stderr)
        return EXIT_JOB_FAILED
    if stop_after is not None:
        print(
            f"\nstopped after {stop_after} (job {job.job_id} is {job.state}); continue with: spaceport resume {job.job_id}"
        )
        for note in notes:
            print(f"  photos: {note}")
        return EXIT_OK
    print(
        f"\njob {job.job_id} is {job.state} and nothing can move it on; see spaceport status {job.job_id}",
        file=sys.stderr,
    )
    return EXIT_JOB_FAILED


def outputs_of(runtime: Any, job: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    job_dir = runtime.job_dir(job.job_id)
    sog = job_dir / "compress/model.sog"
    if sog.exists():
        found["model:"] = f"{sog}  ({sog.stat().st_size / 1e6:.2f} MB)"
    found["viewer:"] = f"spaceport view {job.job_id}" + (
        f" --data-dir {runtime.data_dir}" if str(runtime.data_dir) != str(_default_dir()) else ""
    )
    report = job_dir / "notify/report.html"
    if report.exists():
        found["report:"] = str(report)
    email = email_of(runtime, job.job_id)
    if email:
        found["email:"] = f"{email}  (to {job.email})"
    return found


def _default_dir() -> Path:
    from spaceport.runtime import default_data_dir

    return default_data_dir().expanduser().resolve()


def email_of(runtime: Any, job_id: str) -> Path | None:
    outbox = runtime.mailer.outbox
    for path in sorted(outbox.glob("*.eml"), reverse=True) if outbox.is_dir() else []:
        if job_id.encode() in path.read_bytes():
            return path
    return None


def cmd_run(args: argparse.Namespace) -> int:
    runtime = make_runtime(args)
    options = job_options(args)
    with runtime.running():
        job = submit_local(runtime, args.photos, args.email or default_email(), options)
        print(
            f"job {job.job_id} submitted (preset {options.preset}); Ctrl-C stops it, `spaceport resume {job.job_id}` continues"
        )
        job = drive_job(runtime, job.job_id, args.stop_after)
        if args.verbose:
            print_hops(runtime)
        return report_outcome(runtime, job, args.stop_after)


def cmd_resume(args: argparse.Namespace) -> int:
    runtime = make_runtime(args)
    with runtime.running():
        job = runtime.table.get(args.job)
        if job is None:
            raise CliError(f"no job {args.job} in {runtime.data_dir}")
        if not runtime.settled(job.job_id):
            runtime.revive(job)
            done = [
                s for s in STAGE_ORDER if (r := job.stages.get(s)) is not None and r.status == "succeeded"
            ]
            print(f"resuming job {job.job_id} ({job.state}; done: {', '.join(done) or 'nothing yet'})")
            job = drive_job(runtime, job.job_id)
            if args.verbose:
                print_hops(runtime)
        return report_outcome(runtime, job)


def cmd_demo(args: argparse.Namespace) -> int:
    from spaceport.demo import score_demo
    from spaceport.synthetic import render_scene

    runtime = make_runtime(args)
    options = job_options(args)
    if args.images < 8:
        raise CliError("--images must be at least 8")
    render_dir = (
        runtime.data_dir / "demo" / f"{args.kind}-{args.seed}-{args.images}-{args.width}x{args.height}"
    )
    if not (render_dir / "truth.json").exists():
        print(f"rendering {args.images} {args.kind} photos ({args.width}x{args.height}) into {render_dir}")
        render_scene(
            args.kind, render_dir, n_images=args.images, width=args.width, height=args.height, seed=args.seed
        )
    with runtime.running():
        job = submit_local(runtime, render_dir, args.email or default_email(), options)
        print(f"job {job.job_id} submitted (preset {options.preset})")
        job = drive_job(runtime, job.job_id)
        code = report_outcome(runtime, job)
    scores = score_demo(render_dir, runtime.job_dir(job.job_id), job)
    for line in scores:
        print(line)
    return code


# --- local: status, view --------------------------------------------------------------------


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

    runtime = make_runtime(args)
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
    elif not runtime.is_driven():
        print(f"  nothing is running it now: continue with `spaceport resume {job.job_id}`")
    return EXIT_OK


def cmd_view(args: argparse.Namespace) -> int:
    import webbrowser

    from spaceport.runtime import DEFAULT_VIEW_PORT
    from spaceport.viewer.server import ViewerMissing, make_server

    port = DEFAULT_VIEW_PORT if args.port is None else args.port
    runtime = make_runtime(args, view_port=port)
    job = runtime.table.get(args.job)
    if job is None:
        raise CliError(f"no job {args.job} in {runtime.data_dir}")
    sog = runtime.job_dir(job.job_id) / "compress/model.sog"
    if not sog.exists():
        raise CliError(f"job {job.job_id} has no model yet ({job.state})", EXIT_JOB_FAILED)
    base = f"/files/{runtime.pipeline.bucket}/jobs/{job.job_id}"
    report = runtime.job_dir(job.job_id) / "notify/report.html"
    info = {
        "job_id": job.job_id,
        "content": f"{base}/compress/model.sog",
        "settings": "/settings.json",
        "report": f"{base}/notify/report.html" if report.exists() else None,
        "summary": f"job {job.job_id} · {job.photo_count} photos · {job.options.preset}",
    }
    try:
        server = make_server(runtime.data_dir, job=info, port=port)
    except ViewerMissing as exc:
        raise CliError(str(exc), EXIT_ENVIRONMENT) from exc
    except OSError as exc:
        raise CliError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror}; try --port 0", EXIT_ENVIRONMENT
        ) from exc
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(f"serving job {job.job_id} at {url}  (Ctrl-C to stop)")
    if not args.no_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return EXIT_OK


# --- cloud ----------------------------------------------------------------------------------


def cmd_submit(args: argparse.Namespace) -> int:
    from spaceport.cloud import CloudError, submit_cloud

    photos = photo_folder(args.photos, args.email)
    name = args.name or inbox_name(args.photos)
    try:
        body = submit_cloud(
            photos.files,
            name,
            args.email,
            args.preset,
            api_url=args.api_url,
            bucket=args.bucket,
            region=args.region,
        )
    except CloudError as exc:
        raise CliError(str(exc), EXIT_ENVIRONMENT) from exc
    job_id = body.get("job_id", "?")
    print(
        f"job {job_id} submitted ({len(photos.selection.photos)} photos in inbox/{name}/); "
        f"the result goes to {args.email}"
    )
    for warning in photos.warnings:
        print(f"  left out: {warning}")
    print(f"follow it with: spaceport status --cloud {job_id}")
    return EXIT_OK


COMMANDS = {
    "run": cmd_run,
    "demo": cmd_demo,
    "status": cmd_status,
    "resume": cmd_resume,
    "view": cmd_view,
    "submit": cmd_submit,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    install_signal_handlers()
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # progress reaches a log file as it happens
    from shared.errors import ConfigurationError, SpaceportError
    from spaceport.runtime import RuntimeBusy

    started = time.monotonic()
    try:
        return COMMANDS[args.command](args)
    except CliError as exc:
        print(f"spaceport: {exc}", file=sys.stderr)
        return exc.code
    except Interrupted as exc:
        stopped = f" (stopped {', '.join(exc.stopped)})" if exc.stopped else ""
        print(
            f"\nspaceport: interrupted after {_duration(time.monotonic() - started)}{stopped};"
            f" continue with: spaceport resume {exc.job_id}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("\nspaceport: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (RuntimeBusy, ConfigurationError) as exc:
        print(f"spaceport: {exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except SpaceportError as exc:
        print(f"spaceport: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT


def _duration(seconds: float) -> str:
    from spaceport.progress import duration_text

    return duration_text(seconds)


if __name__ == "__main__":
    sys.exit(main())
