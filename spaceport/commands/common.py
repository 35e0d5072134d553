"""What every command shares: exit codes, the errors a command raises, and common options."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 3
EXIT_ENVIRONMENT = 4

STAGE_ORDER = ("sfm", "train", "compress")

EPILOG = """exit codes: 0 ok, 1 job failed or cancelled, 2 usage or input error, 3 interrupted
(continue with `spaceport resume JOB`), 4 environment error (data dir in use, viewer missing,
cloud settings or API error).

data dir: --data-dir, else $SPACEPORT_DATA_DIR, else ~/.spaceport. Email is written to
<data dir>/outbox/*.eml, and also sent through SMTP when SPACEPORT_SMTP_HOST (and optionally
SPACEPORT_SMTP_PORT, SPACEPORT_SMTP_USER, SPACEPORT_SMTP_PASSWORD, SPACEPORT_SMTP_STARTTLS) is set."""

FORMATTER = argparse.RawDescriptionHelpFormatter


class CliError(Exception):
    """A command cannot go on; `code` is the exit code, the message is printed as is."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class Interrupted(Exception):
    """Ctrl-C or SIGTERM while driving a job."""

    def __init__(self, job_id: str, stopped: list[str], data_dir: Path | None = None) -> None:
        super().__init__(job_id)
        self.job_id = job_id
        self.stopped = stopped
        self.data_dir = data_dir


def add_command(commands: Any, name: str, help_text: str, epilog: str = EPILOG) -> argparse.ArgumentParser:
    return commands.add_parser(
        name, help=help_text, description=help_text, epilog=epilog, formatter_class=FORMATTER
    )


def add_job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--email", help="where the result email is addressed (default: you@spaceport.localhost)"
    )
    parser.add_argument(
        "--preset",
        choices=("preview", "standard", "quality"),
        help="speed/quality bundle, see `spaceport presets` (default: preview without a CUDA GPU, "
        "standard with one)",
    )
    parser.add_argument(
        "--max-image-size",
        type=int,
        metavar="PX",
        help="longest image side for training, 256-8000 (default: the preset's); larger than the "
        "preset's also raises its Gaussian cap",
    )
    parser.add_argument("--steps", type=int, help="training steps, 100-200000 (default: the preset's)")
    parser.add_argument(
        "--sh-degree", type=int, choices=(0, 1, 2, 3), help="view-dependent colour detail (default: the preset's)"
    )
    parser.add_argument(
        "--max-gaussians", type=int, metavar="N", help="most Gaussians in the model (default: the preset's)"
    )
    parser.add_argument(
        "--matcher",
        choices=("auto", "exhaustive", "sequential", "spatial"),
        help="feature matcher (default auto: chosen from the photos)",
    )
    parser.add_argument(
        "--max-frames", type=int, metavar="N", help="most frames taken from videos (default: the preset's)"
    )
    parser.add_argument(
        "--trim-start", type=float, metavar="S", help="seconds left out at the start of every video"
    )
    parser.add_argument(
        "--trim-end", type=float, metavar="S", help="seconds left out at the end of every video"
    )
    parser.add_argument(
        "-y", "--yes", action="store_true", help="start a long CPU run without asking (see `spaceport presets`)"
    )


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, help="where jobs live (default $SPACEPORT_DATA_DIR or ~/.spaceport)"
    )


def job_options(args: argparse.Namespace) -> Any:
    """JobOptions from the command line; a bad value is one sentence per flag (exit 2)."""
    from pydantic import ValidationError

    from shared.options import JobOptions
    from spaceport.commands.hints import validation_sentences

    values: dict[str, Any] = {"preset": args.preset or default_preset()}
    for name in ("max_image_size", "steps", "sh_degree", "max_gaussians", "matcher"):
        if getattr(args, name, None) is not None:
            values[name] = getattr(args, name)
    for flag, name in (("max_frames", "max_video_frames"), ("trim_start", "video_trim_start_s"),
                       ("trim_end", "video_trim_end_s")):
        if getattr(args, flag, None) is not None:
            values[name] = getattr(args, flag)
    try:
        return JobOptions(**values)
    except ValidationError as exc:
        raise CliError(" ".join(validation_sentences(exc.errors()))) from exc


def check_email(address: str) -> str:
    """The address, or a CliError in one sentence (before anything is copied or started)."""
    from shared.events import check_email as valid_email

    try:
        return valid_email(address)
    except ValueError as exc:
        raise CliError(f"--email: {exc}.") from exc


def default_preset() -> str:
    try:
        import torch
    except ImportError:
        return "preview"
    return "standard" if torch.cuda.is_available() else "preview"


def duration(seconds: float) -> str:
    from spaceport.progress import duration_text

    return duration_text(seconds)
