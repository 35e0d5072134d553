"""`spaceport presets`: what each preset trains with and how long it typically takes; and the
question asked before a long CPU run starts."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spaceport.commands.common import EXIT_OK, CliError, add_command

# The set the typical times are for: 30 phone photos of 12 MP.
REFERENCE_PHOTOS = 30
REFERENCE_SIDE = 4000

TABLE_NOTE = (
    f"Typical times are for {REFERENCE_PHOTOS} photos of 12 MP. 2 CPU cores: the whole job, from "
    "training step times measured with bench/preset_times.py (the preview row is also a measured "
    "run); treat them as ±50 %. T4 GPU: training only, estimated from published 3DGS/gsplat "
    "timings scaled by the T4's memory bandwidth and FP32 throughput, not measured. Flags "
    "--max-image-size, --steps, --max-gaussians and --sh-degree change any preset."
)


def register(commands: Any) -> None:
    presets = add_command(
        commands,
        "presets",
        "Show the presets: image size, steps, Gaussian cap, SH degree and typical times.",
        epilog=TABLE_NOTE,
    )
    presets.add_argument("--markdown", action="store_true", help="print the table as Markdown (docs/local.md)")
    presets.set_defaults(handler=cmd_presets)


def preset_rows() -> list[dict[str, str]]:
    from shared.options import PRESETS, JobOptions, resolve
    from spaceport.estimate import cpu_estimate, range_words

    rows = []
    for preset, spec in PRESETS.items():
        cpu = cpu_estimate(resolve(JobOptions(preset=preset)), REFERENCE_PHOTOS, REFERENCE_SIDE)
        low, high = spec.t4_minutes
        rows.append(
            {
                "preset": str(preset),
                "image size": f"{spec.max_image_size} px",
                "steps": f"{spec.steps:,}",
                "Gaussian cap": f"{spec.max_gaussians:,}",
                "SH degree": str(spec.sh_degree),
                "2 CPU cores": range_words(cpu.low_s, cpu.high_s),
                "T4 GPU (estimate)": range_words(low * 60, high * 60),
                "for": spec.summary,
            }
        )
    return rows


def markdown_table() -> str:
    rows = preset_rows()
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row[h] for h in header) + " |" for row in rows]
    return "\n".join(lines)


def cmd_presets(args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown_table())
        print(f"\n{TABLE_NOTE}")
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Spaceport presets", title_justify="left")
    rows = preset_rows()
    shown = [name for name in rows[0] if name != "for"]
    for name in shown:
        table.add_column(name, justify="right" if name in ("steps", "Gaussian cap", "SH degree") else "left")
    for row in rows:
        table.add_row(*(row[name] for name in shown))
    console = Console()
    console.print(table)
    for row in rows:
        console.print(f"  {row['preset']}: {row['for']}")
    console.print(TABLE_NOTE, style="dim")
    return EXIT_OK


def on_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def confirm_long_cpu_run(options: Any, photo_count: int, photo_side: int | None, assume_yes: bool) -> None:
    """Before a run that would train on this CPU for longer than CPU_CONFIRM_MINUTES: say so, and
    in a terminal ask (unless --yes). Elsewhere (a script, CI) the warning is printed and the run goes on."""
    from shared.options import CPU_CONFIRM_MINUTES, resolve
    from spaceport.estimate import cpu_estimate, range_words

    if on_cuda():
        return
    estimate = cpu_estimate(resolve(options), photo_count, photo_side)
    if estimate.high_minutes <= CPU_CONFIRM_MINUTES:
        return
    print(
        f"warning: no CUDA GPU here; preset {options.preset} on {photo_count} photos would take about "
        f"{range_words(estimate.low_s, estimate.high_s)} on this CPU (see `spaceport presets`). "
        "The preview preset takes minutes.",
        file=sys.stderr,
    )
    if assume_yes or not sys.stdin.isatty():
        return
    try:
        answer = input("Start it anyway? [y/N] (--yes skips this question) ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise CliError("not started; nothing was copied", code=EXIT_OK)
