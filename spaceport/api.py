"""The small API the local commands use over `spaceport.runtime.LocalRuntime`: open a runtime for
a data dir, hand it a folder of photos, drive one job until it settles, and find what it made.

Commands (spaceport/commands/) print; these functions decide and return.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spaceport.commands.common import CliError, Interrupted
from spaceport.commands.hints import command_hint

LOCAL_CALLER = "local"


def make_runtime(data_dir: Path | None, view_port: int | None = None) -> Any:
    """The local runtime for a data dir. Its emails and reports name files on this machine and
    the viewer command spelled as the user runs spaceport (`Pipeline.viewer_command`)."""
    from dataclasses import replace

    from spaceport.runtime import DEFAULT_VIEW_PORT, LocalRuntime, default_data_dir, smtp_from_env

    port = DEFAULT_VIEW_PORT if view_port is None else view_port
    runtime = LocalRuntime(
        data_dir or default_data_dir(),
        command=stage_command_from_env(),
        smtp=smtp_from_env(),
        view_port=port,
    )
    marker = "JOB-ID-MARKER"
    command = command_hint(runtime.data_dir, "view", marker).replace("{", "{{").replace("}", "}}")
    runtime.pipeline = replace(runtime.pipeline, viewer_command=command.replace(marker, "{job_id}"))
    return runtime


def data_dir_of(data_dir: Path | None) -> Path:
    from spaceport.runtime import default_data_dir

    return Path(data_dir or default_data_dir()).expanduser().resolve()


def existing_runtime(data_dir: Path | None, view_port: int | None = None) -> Any | None:
    """A runtime over a data dir that already holds jobs; None (and nothing created) otherwise.
    For commands that only read (`status`, `view`)."""
    from spaceport.runtime import DB_NAME

    if not (data_dir_of(data_dir) / DB_NAME).is_file():
        return None
    return make_runtime(data_dir, view_port)


def stage_command_from_env() -> Any:
    """$SPACEPORT_STAGE_COMMAND (development): replaces the stage image's ENTRYPOINT, with `{stage}`,
    e.g. `python my_stage.py {stage}`; SageMaker's arguments follow. Default: the ENTRYPOINT of
    `services/<stage>/container/Dockerfile`."""
    from shared.adapters.local import module_command

    template = os.environ.get("SPACEPORT_STAGE_COMMAND", "").strip()
    if not template:
        return module_command
    parts = shlex.split(template)
    return lambda stage: [part.replace("{stage}", stage) for part in parts]


def default_email() -> str:
    user = re.sub(r"[^A-Za-z0-9._-]", "", os.environ.get("USER", "")) or "you"
    return f"{user}@spaceport.localhost"


def photo_folder(folder: Path, email: str | None = None, data_dir: Path | None = None) -> Any:
    """The folder's photos (spaceport/photos.py), checked before anything is copied or uploaded.
    The data dir (default: the default one) is never scanned when it lies in the folder."""
    from shared.errors import UserInputError
    from spaceport.photos import read_photo_folder

    try:
        return read_photo_folder(folder, email, exclude=own_paths(data_dir_of(data_dir), folder))
    except UserInputError as exc:
        raise CliError(f"photos refused ({exc.cause}): {exc.message}") from exc


def own_paths(data_dir: Path, folder: Path) -> list[Path]:
    """What of a data dir a scan of `folder` must leave alone: the data dir itself, or, when it is
    the folder itself, what the runtime keeps in it (spaceport/runtime.py DATA_DIR_ENTRIES)."""
    from spaceport.runtime import DATA_DIR_ENTRIES

    if data_dir != Path(folder).expanduser().resolve():
        return [data_dir]
    return [path for name in DATA_DIR_ENTRIES for path in data_dir.glob(name)]


def inbox_name(folder: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", folder.resolve().name).strip("-.") or "photos"
    return f"{stem[:80]}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"


MODEL_FILES = ("cameras", "images", "points3D", "rigs", "frames")


def copy_colmap_model(model_dir: Path, target: Path) -> None:
    """The model's files (.bin or .txt), nothing else from its folder."""
    target.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        for ext in (".bin", ".txt"):
            if (model_dir / f"{name}{ext}").is_file():
                shutil.copy2(model_dir / f"{name}{ext}", target / f"{name}{ext}")


def submit_local(
    runtime: Any,
    photos_dir: Path,
    email: str,
    options: Any,
    photos: Any = None,
    colmap_model: Path | None = None,
) -> Any:
    """Copy the photos (spaceport/photos.py; and a COLMAP model to reuse, as `sparse/0/`) into the
    inbox and submit the job through the ingest logic; a refused job's copy is taken back.
    Remembers the folder the photos came from (`read_sources`)."""
    from services.ingest.logic import SubmitRequest, submit_job
    from shared.errors import UserInputError
    from shared.layout import INBOX_COLMAP_MODEL
    from spaceport.photos import copy_into_inbox, remove_inbox_copy

    photos = photo_folder(photos_dir, email, runtime.data_dir) if photos is None else photos
    name = inbox_name(photos_dir)
    request = SubmitRequest(inbox=name, email=email, options=options)
    size = copy_into_inbox(photos, runtime.inbox_dir(name))
    if colmap_model is not None:
        copy_colmap_model(colmap_model, runtime.inbox_dir(name) / INBOX_COLMAP_MODEL / "0")
    print(f"copied {photos.counted} ({size / 1e6:.1f} MB) to {runtime.inbox_dir(name)}")
    try:
        job = submit_job(request, LOCAL_CALLER, runtime.ports, runtime.pipeline)
    except UserInputError as exc:
        remove_inbox_copy(runtime.inbox_dir(name))
        raise CliError(f"photos rejected ({exc.cause}): {exc.message}") from exc
    for warning in [*photos.uncopied_warnings, *job.warnings]:  # ingest names what it was given
        if colmap_model is None or not warning.endswith(": sparse/"):  # the model we import
            print(f"  left out: {warning}")
    remember_source(runtime.data_dir, job.job_id, photos_dir)
    return job


def remember_source(data_dir: Path, job_id: str, folder: Path) -> None:
    from spaceport.runtime import SOURCES_FILE

    path = Path(data_dir) / SOURCES_FILE
    sources = read_sources(data_dir)
    sources[job_id] = str(Path(folder).expanduser().resolve())
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(sources, indent=1))
    tmp.replace(path)


def read_sources(data_dir: Path) -> dict[str, str]:
    from spaceport.runtime import SOURCES_FILE

    try:
        body = json.loads((Path(data_dir) / SOURCES_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in body.items()} if isinstance(body, dict) else {}


def drive_job(runtime: Any, job_id: str, stop_after: str | None = None) -> Any:
    """Run the services until the job settles (or `stop_after` is done); shows progress."""
    from shared.jobs import DONE, RANK
    from spaceport.progress import ProgressView

    view = ProgressView()

    def tick() -> None:
        job = runtime.table.get(job_id)
        if job is not None:
            view.update(job, runtime.job_dir(job_id))

    def done() -> bool:
        job = runtime.table.get(job_id)
        reached = stop_after is not None and job is not None and job.state in RANK
        if reached and RANK[job.state] >= RANK[DONE[stop_after]] and not runtime.launcher.active(job_id):
            return True
        return runtime.settled(job_id) or runtime.stuck(job_id)

    try:
        runtime.drive(done, on_tick=tick, job_id=job_id)  # this job only: others stay queued
    except KeyboardInterrupt:
        view.close()
        stopped = runtime.launcher.interrupt()
        raise Interrupted(job_id, stopped, runtime.data_dir) from None
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


def outputs_of(runtime: Any, job: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    job_dir = runtime.job_dir(job.job_id)
    sog = job_dir / "compress/model.sog"
    if sog.exists():
        found["model:"] = f"{sog}  ({sog.stat().st_size / 1e6:.2f} MB)"
    if viewer_content(job_dir) is not None:  # what `view` opens: no model, no viewer line
        found["viewer:"] = command_hint(runtime.data_dir, "view", job.job_id)
    report = job_dir / "notify/report.html"
    if report.exists():
        found["report:"] = str(report)
    email = email_of(runtime, job.job_id)
    if email:
        found["email:"] = f"{email}  (to {job.email})"
    return found


def viewer_content(job_dir: Path) -> str | None:
    """What the viewer opens, relative to the job folder: the streamed level-of-detail SOG when the
    compress stage wrote one (large models: a coarse level draws first, bench/lod_bench.py), else
    the single-file SOG; None before there is a model."""
    for relative in ("compress/lod/lod-meta.json", "compress/model.sog"):
        if (job_dir / relative).is_file():
            return relative
    return None


def email_of(runtime: Any, job_id: str) -> Path | None:
    outbox = runtime.mailer.outbox
    for path in sorted(outbox.glob("*.eml"), reverse=True) if outbox.is_dir() else []:
        if job_id.encode() in path.read_bytes():
            return path
    return None
