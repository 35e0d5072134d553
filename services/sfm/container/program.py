"""The SfM stage program: photos -> undistorted COLMAP model (images/, sparse/0/) + metrics.

`run(cfg, in_dir, out_dir) -> Metrics` is called by `execute_stage` (see shared/stage.py).
Steps: prepare working copies -> SIFT -> matching (chosen from the data) -> mapping (with a
fallback matcher when too few photos register) -> geo-referencing, final bundle adjustment with
GPS and focal priors, re-triangulation (services/sfm/container/solve.py) -> undistortion.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from services.sfm.container.config import Config
from services.sfm.container.export import export_undistorted
from services.sfm.container.features import count_verified_pairs, extract_features, write_pose_priors
from services.sfm.container.georef import GEOREF_FILE
from services.sfm.container.gps import describe_exclusions, gps_targets
from services.sfm.container.matching import MatcherPlan, choose_matcher, run_matcher
from services.sfm.container.metrics import Metrics
from services.sfm.container.photos import PhotoSet, group_cameras, prepare_photos
from services.sfm.container.solve import finish_solve, map_photos, plan_solve, solve_metrics
from shared.causes import CauseCode
from shared.stage import ProgressReporter, StageFailure, write_json_atomic

logger = logging.getLogger(__name__)

PHASES = ("prepare", "extract", "match", "map", "georeference", "undistort")


class StepTimer:
    def __init__(self, progress: ProgressReporter) -> None:
        self.seconds: dict[str, float] = {}
        self._progress = progress

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        phase = name.split("_")[0]
        index = PHASES.index(phase) if phase in PHASES else len(PHASES) - 1
        self._progress.update(index, len(PHASES), phase=name, force=True)
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.monotonic() - started, 3)
            logger.info("sfm step done", extra={"step": name, "seconds": self.seconds[name]})


def check_inputs(photo_set: PhotoSet, cfg: Config) -> list[str]:
    """Raise for sets that cannot work; return warnings for the ones that can."""
    n = len(photo_set.photos)
    if photo_set.too_large:
        raise StageFailure(
            CauseCode.IMAGE_TOO_LARGE,
            f"{len(photo_set.too_large)} photos exceed the pixel limit: {', '.join(photo_set.too_large[:10])}",
        )
    if n < cfg.min_images:
        if photo_set.unreadable and n + len(photo_set.unreadable) >= cfg.min_images:
            raise StageFailure(
                CauseCode.UNREADABLE_IMAGES,
                f"{len(photo_set.unreadable)} photos could not be read "
                f"({', '.join(photo_set.unreadable[:10])}); {n} readable, {cfg.min_images} needed",
            )
        raise StageFailure(
            CauseCode.TOO_FEW_IMAGES,
            f"{n} readable photos found, at least {cfg.min_images} are needed"
            + (f" ({len(photo_set.duplicates)} duplicates dropped)" if photo_set.duplicates else ""),
        )
    warnings = []
    if photo_set.unreadable:
        warnings.append(f"unreadable photos skipped: {', '.join(photo_set.unreadable[:20])}")
    if photo_set.duplicates:
        warnings.append(f"duplicate photos skipped: {', '.join(photo_set.duplicates[:20])}")
    no_focal = [p for p in photo_set.photos if p.focal_source == "prior"]
    if no_focal:
        warnings.append(
            f"no EXIF focal length for {len(no_focal)}/{n} photos: focal estimated from prior, refined in the solve"
        )
    return warnings


def run(cfg: Config, in_dir: Path, out_dir: Path) -> Metrics:
    import pycolmap

    pycolmap.logging.minloglevel = 1  # warnings and errors only
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = ProgressReporter(out_dir, phase="prepare")
    timer = StepTimer(progress)
    with tempfile.TemporaryDirectory(prefix="spaceport-sfm-") as scratch_name:
        scratch = Path(scratch_name)
        work_images = scratch / "images"
        database = scratch / "database.db"
        with timer.step("prepare"):
            photo_set = prepare_photos(in_dir, work_images, cfg.max_image_size)
        warnings = check_inputs(photo_set, cfg)
        photos = photo_set.photos
        n = len(photos)
        targets = gps_targets(photos)
        if targets is not None:
            warnings += describe_exclusions(targets)
        n_gps = len(targets.names) if targets is not None else 0

        with timer.step("extract"):
            extract_features(database, work_images, list(group_cameras(photos).values()), cfg)
            if n_gps:
                write_pose_priors(database, targets)

        plan = choose_matcher(cfg.matcher, [p.name for p in photos], n_gps, cfg)
        logger.info("matcher chosen", extra={"matcher": plan.first, "reason": plan.reason})
        solve_plan = plan_solve(photos, targets, cfg)
        logger.info("mapper chosen", extra={"mapper": solve_plan.mapper, "reason": solve_plan.mapper_reason})
        with timer.step("match"):
            run_matcher(plan.first, database, cfg,
                        unlocated=[p.name for p in photos if targets is None or p.name not in targets.index()])
        with timer.step("map"):
            model, mapper = map_photos(database, work_images, scratch / "mapped", cfg, solve_plan)
        fallback_used = None
        if plan.fallback and _registered(model) < cfg.fallback_registration_ratio * n:
            logger.info("matcher fallback", extra={"registered": _registered(model), "fallback": plan.fallback})
            fallback_used = plan.fallback
            with timer.step("match_fallback"):
                run_matcher(plan.fallback, database, cfg)
            with timer.step("map_fallback"):
                retry, retry_mapper = map_photos(database, work_images, scratch / "mapped_fallback", cfg, solve_plan)
            if _registered(retry) >= _registered(model):
                model, mapper = retry, retry_mapper
        _check_model(model, n, database, plan, fallback_used, cfg)
        assert model is not None
        model, solved = finish_solve(model, database, work_images, scratch, photos, targets, mapper, cfg, timer.step)
        warnings += solved.warnings
        if solved.georef is not None:
            write_json_atomic(out_dir / GEOREF_FILE, solved.georef.to_json())
        else:
            (out_dir / GEOREF_FILE).unlink(missing_ok=True)

        with timer.step("undistort"):
            model_dir = scratch / "model"
            model_dir.mkdir()
            model.write(str(model_dir))
            export_undistorted(model_dir, work_images, out_dir, cfg.num_threads)

        registered = model.num_reg_images()
        progress.update(len(PHASES), len(PHASES), phase="done", force=True)
        return Metrics(
            images_in=n,
            images_registered=registered,
            registration_ratio=round(registered / n, 4),
            points3d=model.num_points3D(),
            mean_reprojection_error_px=round(float(model.compute_mean_reprojection_error()), 4),
            mean_track_length=round(float(model.compute_mean_track_length()), 3),
            cameras=model.num_cameras(),
            photos_with_gps=sum(1 for p in photos if p.exif.gps is not None),
            photos_with_attitude=sum(1 for p in photos if p.exif.attitude),
            matcher=plan.first,
            matcher_fallback=fallback_used,
            mapper=mapper,
            image_size=(max(p.width for p in photos), max(p.height for p in photos)),
            georeferenced=solved.georef is not None,
            **solve_metrics(solved, targets, solve_plan),
            seconds=timer.seconds,
            warnings=warnings,
        )


def _registered(model) -> int:
    return 0 if model is None else model.num_reg_images()


def _check_model(model, n: int, database: Path, plan: MatcherPlan, fallback: str | None, cfg: Config) -> None:
    matchers = plan.first + (f" then {fallback}" if fallback else "")
    if model is None or model.num_reg_images() < 3:
        pairs = count_verified_pairs(database, cfg.min_pair_inliers)
        raise StageFailure(
            CauseCode.NO_OVERLAP,
            f"no camera model could be built from {n} photos ({matchers} matching): "
            f"{pairs} photo pairs share enough features"
            + (f", largest model {model.num_reg_images()} photos" if model is not None else ""),
        )
    ratio = model.num_reg_images() / n
    if ratio < cfg.min_registration_ratio:
        raise StageFailure(
            CauseCode.LOW_REGISTRATION,
            f"only {model.num_reg_images()} of {n} photos ({ratio:.0%}) could be placed in 3D "
            f"({matchers} matching); at least {cfg.min_registration_ratio:.0%} are needed",
        )
    if model.num_points3D() < cfg.min_points3d:
        raise StageFailure(
            CauseCode.DEGENERATE_MODEL,
            f"the camera solve has {model.num_points3D()} 3D points, at least {cfg.min_points3d} are needed",
        )
