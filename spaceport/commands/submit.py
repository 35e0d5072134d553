"""`spaceport submit`: upload photos to the cloud inbox and submit a job through the API (SigV4)."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import Any

from spaceport.api import inbox_name, photo_folder
from spaceport.commands.common import EXIT_ENVIRONMENT, EXIT_OK, CliError, add_command, check_email
from spaceport.commands.hints import invoked_program


def register(commands: Any) -> None:
    submit = add_command(
        commands, "submit", "Upload photos to the cloud inbox and submit a job through the API (SigV4)."
    )
    submit.add_argument(
        "photos", type=Path, metavar="PHOTOS_DIR", help="folder of photos and videos, or one video"
    )
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
    submit.set_defaults(handler=cmd_submit)


def cmd_submit(args: argparse.Namespace) -> int:
    from spaceport.cloud import CloudError, submit_cloud

    check_email(args.email)
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
        f"job {job_id} submitted ({photos.counted} in inbox/{name}/); "
        f"the result goes to {args.email}"
    )
    for warning in photos.warnings:
        print(f"  left out: {warning}")
    follow = [invoked_program(), "status", "--cloud", shlex.quote(job_id)]
    if args.api_url and args.api_url != os.environ.get("SPACEPORT_API_URL"):
        follow += ["--api-url", shlex.quote(args.api_url)]
    print(f"follow it with: {' '.join(follow)}")
    return EXIT_OK
