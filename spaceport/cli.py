"""`spaceport`: turn a folder of photos into a web-viewable 3D Gaussian Splatting model.

Local commands run the same services as the cloud on this machine (see spaceport/runtime.py);
`submit` and `status --cloud` talk to a deployed stack. The commands live in spaceport/commands/,
over the small local API in spaceport/api.py.

Exit codes:
    0  ok (the job succeeded, or the command did what it was asked)
    1  the job failed or was cancelled (the reason is printed)
    2  usage or input error (bad arguments, no photos, photos rejected)
    3  interrupted (Ctrl-C or SIGTERM); `spaceport resume JOB` continues
    4  environment error (data dir in use, viewer not installed, cloud settings or API error)
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from spaceport.commands import jobs, presets, status, submit, view
from spaceport.commands.common import (
    EPILOG,
    EXIT_ENVIRONMENT,
    EXIT_INTERRUPTED,
    EXIT_JOB_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    FORMATTER,
    CliError,
    Interrupted,
    duration,
)
from spaceport.commands.hints import command_hint

__all__ = ["EXIT_ENVIRONMENT", "EXIT_INTERRUPTED", "EXIT_JOB_FAILED", "EXIT_OK", "EXIT_USAGE", "main"]

COMMAND_MODULES = (jobs, status, view, presets, submit)


def busy_advice(args: argparse.Namespace) -> str:
    return (
        "A `run`, `resume` or `demo` is still driving jobs there, perhaps in another terminal: let it "
        "finish, or stop it with Ctrl-C and continue later with `resume`; or use another --data-dir. "
        f"To watch it: {command_hint(getattr(args, 'data_dir', None), 'status')}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spaceport",
        description="Photos to a 3D Gaussian Splatting model you can open in a browser.",
        epilog=EPILOG,
        formatter_class=FORMATTER,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the services do (to stderr)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def install_signal_handlers() -> None:
    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)


def main(argv: Sequence[str] | None = None) -> int:
    from shared.threads import apply_cpu_thread_defaults

    apply_cpu_thread_defaults()  # before torch loads, here and in the stage processes
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
        return args.handler(args)
    except CliError as exc:
        print(f"spaceport: {exc}", file=sys.stderr)
        return exc.code
    except Interrupted as exc:
        stopped = f" (stopped {', '.join(exc.stopped)})" if exc.stopped else ""
        print(
            f"\nspaceport: interrupted after {duration(time.monotonic() - started)}{stopped};"
            f" continue with: {command_hint(exc.data_dir, 'resume', exc.job_id)}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("\nspaceport: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except RuntimeBusy as exc:
        print(f"spaceport: {exc}. {busy_advice(args)}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except ConfigurationError as exc:
        print(f"spaceport: {exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except SpaceportError as exc:
        print(f"spaceport: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT


if __name__ == "__main__":
    sys.exit(main())
