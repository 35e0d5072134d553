"""`spaceport view`: serve a finished job's model in the web viewer on localhost."""

from __future__ import annotations

import argparse
from typing import Any

from spaceport.api import data_dir_of, existing_runtime, viewer_content
from spaceport.commands.common import (
    EXIT_ENVIRONMENT,
    EXIT_JOB_FAILED,
    EXIT_OK,
    CliError,
    add_command,
    add_data_dir,
)
from shared.wording import counted


def register(commands: Any) -> None:
    view = add_command(commands, "view", "Serve a finished job's model in the web viewer on localhost.")
    view.add_argument("job", metavar="JOB", help="job id")
    view.add_argument("--port", type=int, default=None, help="port (default 8765; 0 picks a free one)")
    view.add_argument("--no-browser", action="store_true", help="do not open a browser")
    add_data_dir(view)
    view.set_defaults(handler=cmd_view)


def cmd_view(args: argparse.Namespace) -> int:
    import webbrowser

    from spaceport.runtime import DEFAULT_VIEW_PORT
    from spaceport.viewer.camera import initial_camera
    from spaceport.viewer.server import ViewerMissing, make_server, viewer_settings

    port = DEFAULT_VIEW_PORT if args.port is None else args.port
    runtime = existing_runtime(args.data_dir, view_port=port)
    job = None if runtime is None else runtime.table.get(args.job)
    if job is None:
        raise CliError(f"no job {args.job} in {data_dir_of(args.data_dir)}")
    content = viewer_content(runtime.job_dir(job.job_id))
    if content is None:
        raise CliError(f"job {job.job_id} has no model yet ({job.state})", EXIT_JOB_FAILED)
    base = f"/files/{runtime.pipeline.bucket}/jobs/{job.job_id}"
    report = runtime.job_dir(job.job_id) / "notify/report.html"
    camera = initial_camera(runtime.job_dir(job.job_id) / "sfm/sparse/0")
    summary = f"job {job.job_id} · {counted(job.photo_count, job.video_count)} · {job.options.preset}"
    info = {
        "job_id": job.job_id,
        "content": f"{base}/{content}",
        "settings": "/settings.json",
        "report": f"{base}/notify/report.html" if report.exists() else None,
        "summary": summary + (f" · opened where {camera['photo']} was taken" if camera else ""),
        "still": camera is not None,  # start on that view, not on the auto-orbit
    }
    try:
        server = make_server(runtime.data_dir, job=info, port=port, settings=viewer_settings(camera))
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
