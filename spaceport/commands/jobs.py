"""`spaceport run`, `resume` and `demo`: submit or continue a local job and drive it to its end."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from spaceport.api import (
    default_email,
    drive_job,
    email_of,
    make_runtime,
    outputs_of,
    photo_folder,
    print_hops,
    submit_local,
)
from spaceport.commands.common import (
    EPILOG,
    EXIT_JOB_FAILED,
    EXIT_OK,
    STAGE_ORDER,
    CliError,
    add_command,
    add_data_dir,
    add_job_options,
    check_email,
    duration,
    job_options,
)
from spaceport.commands.hints import command_hint
from spaceport.commands.presets import confirm_long_cpu_run, preset_rows


def presets_epilog() -> str:
    """The preset table for `run --help` and `demo --help` (`spaceport presets` has the notes)."""
    lines = ["presets (`spaceport presets` explains the times):"]
    for row in preset_rows():
        lines.append(
            f"  {row['preset']:<9}{row['image size']:>8}, {row['steps']:>6} steps, {row['Gaussian cap']:>9} "
            f"Gaussians, SH {row['SH degree']}; 2 CPU cores {row['2 CPU cores']}, T4 GPU {row['T4 GPU (estimate)']}"
        )
    return "\n".join(lines) + "\n\n" + EPILOG


def register(commands: Any) -> None:
    run = add_command(
        commands,
        "run",
        "Process a folder of photos, or a video, on this machine, showing progress until the model is ready.",
        epilog=presets_epilog(),
    )
    run.add_argument(
        "photos",
        type=Path,
        nargs="?",
        metavar="PHOTOS_DIR",
        help="folder of photos and videos, sub-folders included (JPEG, PNG, TIFF, WebP, HEIC, AVIF..., MP4, "
        "MOV, MKV...), or one video file (its DJI .SRT beside it is read); never modified; "
        "optional with --colmap: DIR/images",
    )
    run.add_argument(
        "--colmap",
        type=Path,
        metavar="DIR",
        help="reuse this COLMAP model (DIR/sparse/0, DIR/sparse or DIR with cameras, images, points3D "
        ".bin/.txt) instead of solving the cameras; a PHOTOS_DIR with sparse/0 is used the same way",
    )
    run.add_argument(
        "--solve", action="store_true", help="solve the cameras even when PHOTOS_DIR holds a COLMAP model"
    )
    add_job_options(run)
    add_data_dir(run)
    run.add_argument("--stop-after", choices=STAGE_ORDER, help="stop once this stage is done (resume later)")
    run.set_defaults(handler=cmd_run)

    demo = add_command(
        commands,
        "demo",
        "Render a synthetic scene with known cameras, run it, and score the result.",
        epilog=presets_epilog(),
    )
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
    add_job_options(demo)
    add_data_dir(demo)
    demo.set_defaults(handler=cmd_demo)

    resume = add_command(
        commands, "resume", "Continue a local job after an interruption, without redoing finished stages."
    )
    resume.add_argument("job", metavar="JOB", help="job id")
    add_data_dir(resume)
    resume.set_defaults(handler=cmd_resume)


def report_outcome(runtime: Any, job: Any, stop_after: str | None = None) -> int:
    from services.ingest.logic import photo_summary, quality_summary
    from shared.jobs import JobState
    from spaceport.photos import photo_notes, quality_notes

    total = (job.updated_at - job.created_at).total_seconds()
    notes = photo_notes({"photos": photo_summary(job)}, left_out=False)
    if job.state is JobState.SUCCEEDED:
        print(f"\njob {job.job_id} succeeded in {duration(total)}")
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
            f"\nstopped after {stop_after} (job {job.job_id} is {job.state}); continue with: "
            f"{command_hint(runtime.data_dir, 'resume', job.job_id)}"
        )
        for note in notes:
            print(f"  photos: {note}")
        return EXIT_OK
    print(
        f"\njob {job.job_id} is {job.state} and nothing can move it on; see: "
        f"{command_hint(runtime.data_dir, 'status', job.job_id)}",
        file=sys.stderr,
    )
    return EXIT_JOB_FAILED


def prepare(args: argparse.Namespace, photos_dir: Path) -> tuple[Any, str, Any]:
    """Everything checked before anything is copied or started: options, address, photos, and
    the question before a long CPU run. Prints the notes about settings that differ from the preset."""
    from shared.options import resolve

    options = job_options(args)
    if getattr(args, "colmap_model", None) is not None:
        options = options.model_copy(update={"sfm_mode": "import"})
    elif getattr(args, "solve", False):
        options = options.model_copy(update={"sfm_mode": "solve"})
    email = check_email(args.email or default_email())
    photos = photo_folder(photos_dir, email, getattr(args, "data_dir", None))
    settings = resolve(options)
    for note in settings.notes:
        print(f"note: {note}")
    selection = photos.selection
    images = len(selection.photos) + len(selection.videos) * options.video_frame_cap  # frames: at most
    first = photos.folder / (selection.photos or selection.videos)[0]
    confirm_long_cpu_run(options, images, longest_side(first), args.yes)
    return options, email, photos


def longest_side(photo: Path) -> int | None:
    """The photo's longest side in pixels (header only), or None when Pillow cannot tell."""
    try:
        from PIL import Image

        with Image.open(photo) as image:
            return max(image.size)
    except Exception:  # noqa: BLE001 - only an estimate depends on it
        return None


def submitted_line(runtime: Any, job: Any, options: Any) -> str:
    from shared.options import resolve

    s = resolve(options)
    return (
        f"job {job.job_id} submitted: preset {options.preset}, {s.max_image_size} px, {s.steps:,} steps, "
        f"<= {s.max_gaussians:,} Gaussians, SH degree {s.sh_degree}. Ctrl-C stops it; "
        f"`{command_hint(runtime.data_dir, 'resume', job.job_id)}` continues"
    )


def project_root(model: Path) -> Path:
    """The COLMAP project folder of a model folder (above sparse/0, sparse, colmap/sparse/0)."""
    folder = model
    while folder.name in ("0", "sparse", "colmap") and folder.parent != folder:
        folder = folder.parent
    return folder


def find_colmap_model(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """(photos folder, COLMAP model folder or None) from PHOTOS_DIR, --colmap and --solve."""
    from services.sfm.container.importer import find_model

    if args.colmap is not None:
        model = find_model(args.colmap)
        if model is None:
            raise CliError(
                f"no COLMAP model in {args.colmap}: expected cameras, images and points3D (.bin or .txt) in "
                f"{args.colmap / 'sparse/0'}, {args.colmap / 'sparse'} or {args.colmap} itself"
            )
        return args.photos or project_root(model), model
    if args.photos is None:
        raise CliError("give a PHOTOS_DIR, or --colmap DIR for a COLMAP project")
    return args.photos, None if args.solve else find_model(args.photos)


def cmd_run(args: argparse.Namespace) -> int:
    photos_dir, args.colmap_model = find_colmap_model(args)
    options, email, photos = prepare(args, photos_dir)
    if args.colmap_model is not None:
        print(f"using the COLMAP model in {args.colmap_model}: no new camera solve (it is checked and undistorted)")
    runtime = make_runtime(args.data_dir)
    with runtime.running():
        job = submit_local(runtime, photos_dir, email, options, photos, args.colmap_model)
        print(submitted_line(runtime, job, options))
        job = drive_job(runtime, job.job_id, args.stop_after)
        if args.verbose:
            print_hops(runtime)
        return report_outcome(runtime, job, args.stop_after)


def cmd_resume(args: argparse.Namespace) -> int:
    runtime = make_runtime(args.data_dir)
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

    if args.images < 8:
        raise CliError("--images must be at least 8")
    runtime = make_runtime(args.data_dir)
    render_dir = (
        runtime.data_dir / "demo" / f"{args.kind}-{args.seed}-{args.images}-{args.width}x{args.height}"
    )
    if not (render_dir / "truth.json").exists():
        print(f"rendering {args.images} {args.kind} photos ({args.width}x{args.height}) into {render_dir}")
        render_scene(
            args.kind, render_dir, n_images=args.images, width=args.width, height=args.height, seed=args.seed
        )
    options, email, photos = prepare(args, render_dir)
    with runtime.running():
        job = submit_local(runtime, render_dir, email, options, photos)
        print(submitted_line(runtime, job, options))
        job = drive_job(runtime, job.job_id)
        code = report_outcome(runtime, job)
    scores = score_demo(render_dir, runtime.job_dir(job.job_id), job)
    for line in scores:
        print(line)
    return code
