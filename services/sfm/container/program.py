"""The SfM stage program: photos and videos -> undistorted COLMAP model (images/, sparse/0/) + metrics.

`run(cfg, in_dir, out_dir) -> Metrics` is called by `execute_stage` (see shared/stage.py).
Steps: prepare working copies (photos, and chosen video frames) -> SIFT -> matching (chosen from
the data; video frames: sequential with loop detection) -> mapping (with a fallback matcher when
too few photos register) -> geo-referencing -> undistortion.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from services.sfm.container.capture import (
    CAPTURE_FILE, CaptureFindings, add_feature_counts, capture_warnings, feature_counts, feature_images, measure_set,
)
from services.sfm.container.config import Config
from services.sfm.container.diagnosis import capture_cause, geometry_cause
from services.sfm.container.export import export_masks, export_undistorted
from services.sfm.container.features import count_verified_pairs, extract_features, write_pose_priors
from services.sfm.container.focal_tags import focal_tag_reasons, focal_tag_warnings
from services.sfm.container.georef import GEOREF_FILE
from services.sfm.container.gps import describe_exclusions, gps_targets
from services.sfm.container.groups import describe_split, match_groups, placement
from services.sfm.container.importer import find_model, import_model
from services.sfm.container.loops import match_sequential_with_loops
from services.sfm.container.matching import MatcherPlan, choose_matcher, run_matcher
from services.sfm.container.metrics import Metrics, VideoMetrics
from services.sfm.container.photos import PhotoSet, group_cameras, prepare_photos
from services.sfm.container.solve import finish_solve, map_photos, plan_solve, solve_metrics
from services.sfm.container.workcopy import EXACT, FEATURES
from shared.causes import CauseCode
from shared.photo_formats import MAX_FILE_BYTES, MAX_PIXELS, Skip, describe_skipped, name_list
from shared.stage import ProgressReporter, StageFailure, write_json_atomic
from shared.wording import agree, plural

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


@dataclass(frozen=True)
class Problem:
    cause: CauseCode
    noun: str  # "photo" or "video"
    what: str  # for a plural subject: "could not be read", "are too short"
    photos: list[str]
    scanned: bool  # found by the folder scan (named by describe_skipped), not by decoding

    def sentence(self, skipped: bool = False) -> str:
        """'2 photos could not be read[ and were skipped]: a.jpg, b.jpg' ('1 video is too short: c.mp4')."""
        count = len(self.photos)
        tail = f" and {agree(count, 'were skipped')}" if skipped else ""
        return f"{plural(count, self.noun)} {agree(count, self.what)}{tail}: {name_list(self.photos)}"


def _problems(photo_set: PhotoSet, cfg: Config) -> list[Problem]:
    """Every kind of unusable photo in the set, in the order users fix them."""
    raw = [s.name for s in photo_set.skipped if s.reason is Skip.RAW]
    too_small = f"are smaller than {cfg.min_image_side} pixels on the short side"
    too_large = f"are too large (over {MAX_PIXELS // 1_000_000} megapixels or {MAX_FILE_BYTES // 2**20} MiB)"
    found = [
        Problem(CauseCode.UNREADABLE_VIDEO, "video", "could not be read", photo_set.unreadable_videos, False),
        Problem(CauseCode.VIDEO_TOO_LARGE, "video", "are over the limits", photo_set.large_videos, False),
        Problem(CauseCode.VIDEO_TOO_SHORT, "video", "are too short", photo_set.short_videos, False),
        Problem(CauseCode.UNREADABLE_IMAGES, "photo", "could not be read", photo_set.unreadable, False),
        Problem(CauseCode.UNREADABLE_IMAGES, "photo", "are camera RAW, which is not read", raw, True),
        Problem(CauseCode.IMAGE_TOO_SMALL, "photo", too_small, photo_set.too_small, False),
        Problem(CauseCode.BLANK_IMAGES, "photo", "show one flat colour (or nothing unmasked)",
                photo_set.blank, False),
        Problem(CauseCode.IMAGE_TOO_LARGE, "photo", too_large, photo_set.too_large, False),
        Problem(CauseCode.DUPLICATE_IMAGES, "photo", "are identical to others", photo_set.duplicates, True),
    ]
    return [p for p in found if p.photos]


VIDEO_CAUSES = frozenset({CauseCode.UNREADABLE_VIDEO, CauseCode.VIDEO_TOO_LARGE, CauseCode.VIDEO_TOO_SHORT})


def describe_video(video: VideoMetrics) -> str:
    """'DJI_0001.MP4: 40 frames kept from 60.0 s (1800 decoded, 480 scored; 6 blurry and 12 redundant
    windows skipped), 40 with GPS'."""
    reasons = ((video.rejected_blurry, "blurry"),
               (video.rejected_redundant, "redundant: the camera barely moved"))
    skipped = [f"{count} {what}" for count, what in reasons if count]
    gps = f", {video.frames_with_gps} with GPS" if video.frames_with_gps else ""
    return (f"{video.name}: {plural(video.frames_kept, 'frame')} kept from {video.used_s:.1f} s "
            f"({video.frames_decoded} decoded, {video.frames_scored} scored"
            + (f"; windows skipped: {', '.join(skipped)}" if skipped else "") + f"){gps}")


def skipped_inputs(photo_set: PhotoSet, cfg: Config) -> list[str]:
    """One sentence per kind of photo or video this stage found unusable on decoding and skipped
    (unreadable, blank, too small...): metrics `photos_skipped`. What the folder scan left out
    (RAW files, identical copies, ...) is named by ingest."""
    return [p.sentence(skipped=True) for p in _problems(photo_set, cfg) if not p.scanned]


def check_inputs(photo_set: PhotoSet, cfg: Config) -> list[str]:
    """Raise for sets that cannot work; return warnings (naming every file left out) for those that can.

    An unusable photo is skipped and named; the set fails only when fewer than cfg.min_images
    usable photos remain, with the cause of the largest problem, or when a mask does not fit its
    photo (the user asked for pixels to be ignored; a wrong mask would not do that).
    """
    n = len(photo_set.photos)
    if bad := len(photo_set.bad_masks):
        raise StageFailure(
            CauseCode.INVALID_MASKS,
            f"{plural(bad, 'mask')} {agree(bad, 'do')} not fit "
            f"{'its photo' if bad == 1 else 'their photos'}: {name_list(photo_set.bad_masks, 5)}",
        )
    problems = _problems(photo_set, cfg)
    if n < cfg.min_images:
        what = ("usable photo or video frame", "usable photos and video frames") if photo_set.videos else (
            "usable photo", "usable photos")
        found = f"{plural(n, *what)} found, at least {cfg.min_images} are needed"
        details = "; ".join([*map(describe_video, photo_set.videos), *(p.sentence() for p in problems)])
        largest = max(problems, key=lambda p: len(p.photos), default=None)
        # a readable video would have been enough on its own
        enough = largest is not None and (n == 0 or n + len(largest.photos) >= cfg.min_images
                                           or largest.cause in VIDEO_CAUSES)
        if largest is not None and enough:
            raise StageFailure(largest.cause, f"{found}: {details}")
        cause = CauseCode.VIDEO_TOO_SHORT if photo_set.videos else CauseCode.TOO_FEW_IMAGES
        raise StageFailure(cause, found + (f" ({details})" if details else ""))
    warnings = skipped_inputs(photo_set, cfg)
    warnings += [describe_video(v) for v in photo_set.videos]
    warnings += [w for v in photo_set.videos for w in v.warnings]
    named = set(photo_set.unreadable) | set(photo_set.too_large)
    warnings += describe_skipped([s for s in photo_set.skipped if s.name not in named])
    masked = sum(1 for p in photo_set.photos if p.masked)
    if masked:
        have = agree(masked, "have") + (" a mask" if masked == 1 else " masks")
        warnings.append(f"{masked} of {n} photos {have}: SfM and training ignore their masked pixels")
    warnings += focal_tag_warnings(photo_set.photos)
    no_focal = [p for p in photo_set.photos if p.focal_source == "prior" and not p.focal_tags_ignored]
    if no_focal:
        warnings.append(
            f"no EXIF focal length for {len(no_focal)}/{n} photos: focal estimated from prior, refined in the solve"
        )
    return warnings


def run(cfg: Config, in_dir: Path, out_dir: Path) -> Metrics:
    import pycolmap

    pycolmap.logging.minloglevel = 1  # warnings and errors only
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.mode == "import" or (cfg.mode == "auto" and find_model(in_dir) is not None):
        return import_model(cfg, in_dir, out_dir, ProgressReporter(out_dir, phase="import"))
    progress = ProgressReporter(out_dir, phase="prepare")
    timer = StepTimer(progress)
    with tempfile.TemporaryDirectory(prefix="spaceport-sfm-") as scratch_name:
        scratch = Path(scratch_name)
        work_images = scratch / "images"
        database = scratch / "database.db"
        masks = scratch / "masks"
        with timer.step("prepare"):
            photo_set = prepare_photos(
                in_dir, work_images, cfg.max_image_size, cfg.min_image_side, masks, cfg.video
            )
        warnings = check_inputs(photo_set, cfg)
        photos = photo_set.photos
        n = len(photos)
        targets = gps_targets(photos)
        if targets is not None:
            warnings += describe_exclusions(targets)
        n_gps = len(targets.names) if targets is not None else 0

        with timer.step("extract"):
            capture = measure_set(photos, work_images, masks / EXACT)
            sift_images = feature_images(capture, work_images, scratch / "sift")
            feature_masks = masks / FEATURES if (masks / FEATURES).is_dir() else None
            extract_features(database, sift_images, list(group_cameras(photos).values()), cfg, feature_masks)
            add_feature_counts(capture, feature_counts(database))
            write_json_atomic(out_dir / CAPTURE_FILE, capture.to_json())
            if n_gps:
                write_pose_priors(database, targets)
        warnings += capture_warnings(capture)

        frames = sum(1 for p in photos if p.video)
        plan = choose_matcher(cfg.matcher, [p.name for p in photos], n_gps, cfg, frames)
        logger.info("matcher chosen", extra={"matcher": plan.first, "reason": plan.reason})
        solve_plan = plan_solve(photos, targets, cfg)
        logger.info("mapper chosen", extra={"mapper": solve_plan.mapper, "reason": solve_plan.mapper_reason})
        with timer.step("match"):
            loops = plan.first == "sequential" and frames > 0 and cfg.video.loop_detection
            if loops and not match_sequential_with_loops(database, cfg, scratch):
                warnings.append("loop detection failed: video frames matched with their neighbours only")
                loops = False
            if not loops:
                unlocated = [p.name for p in photos if targets is None or p.name not in targets.index()]
                run_matcher(plan.first, database, cfg, unlocated=unlocated)
        with timer.step("map"):
            model, mapper, rechecked = map_photos(database, work_images, scratch / "mapped", cfg, solve_plan)
        fallback_used = None
        if plan.fallback and _registered(model) < cfg.fallback_registration_ratio * n:
            logger.info("matcher fallback", extra={"registered": _registered(model), "fallback": plan.fallback})
            fallback_used = plan.fallback
            with timer.step("match_fallback"):
                run_matcher(plan.fallback, database, cfg)
            with timer.step("map_fallback"):
                retry, retry_mapper, retry_rechecked = map_photos(database, work_images, scratch / "mapped_fallback",
                                                                  cfg, solve_plan)
            if _registered(retry) >= _registered(model):
                model, mapper, rechecked = retry, retry_mapper, retry_rechecked
        groups = match_groups(database, cfg.min_pair_inliers)
        _check_model(model, n, database, plan, fallback_used, cfg, groups, photos, capture)
        assert model is not None
        placed = placement(photos, model, groups)
        warnings.extend(placed.warnings)
        warnings.extend(rechecked.warnings())
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
            masked = export_masks(model_dir, masks / EXACT, out_dir)

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
            **solve_metrics(solved, targets, solve_plan, rechecked.retried),
            unplaced_photos=placed.unplaced,
            poses_rechecked=rechecked.to_json(photos),
            photo_groups=placed.groups,
            photos_with_masks=sum(1 for p in photos if p.masked),
            masks_exported=masked,
            capture={**capture.flagged(),
                     "focal_tags_ignored": [p.original or p.name for p in photos if p.focal_tags_ignored],
                     "focal_tag_reasons": focal_tag_reasons(photos)},
            videos=photo_set.videos,
            photos_skipped=skipped_inputs(photo_set, cfg),
            seconds=timer.seconds,
            warnings=warnings,
        )


def _registered(model) -> int:
    return 0 if model is None else model.num_reg_images()


def _check_model(
    model, n: int, database: Path, plan: MatcherPlan, fallback: str | None, cfg: Config,
    groups: list[list[str]] | None = None, photos: list | None = None, capture: CaptureFindings | None = None,
) -> None:
    """Raise when the model is unusable, with the cause the evidence points to (diagnosis.py)."""
    matchers = plan.first + (f" then {fallback}" if fallback else "")
    split = describe_split(groups or [])
    if model is None or model.num_reg_images() < 3:
        pairs = count_verified_pairs(database, cfg.min_pair_inliers)
        found = capture_cause([p.original or p.name for p in photos or []], capture)
        if found is None or found.cause is None:  # not exposure or blur: the camera prior, else overlap
            found = geometry_cause(n, groups or [], photos) or found
        raise StageFailure(
            found.cause if found and found.cause else CauseCode.NO_OVERLAP,
            f"no camera model could be built from {plural(n, 'photo')} ({matchers} matching): "
            f"{plural(pairs, 'photo pair')} {agree(pairs, 'share')} enough features"
            + (f", largest model {plural(model.num_reg_images(), 'photo')}" if model is not None else "")
            + split + (found.detail if found else ""),
        )
    ratio = model.num_reg_images() / n
    if ratio < cfg.min_registration_ratio:
        unplaced = placement(photos, model, []).unplaced if photos else []
        found = capture_cause(unplaced, capture)
        raise StageFailure(
            found.cause if found and found.cause else CauseCode.LOW_REGISTRATION,
            f"only {model.num_reg_images()} of {n} photos ({ratio:.0%}) could be placed in 3D "
            f"({matchers} matching); at least {cfg.min_registration_ratio:.0%} are needed" + split
            + (found.detail if found else f"; not placed: {name_list(unplaced)}" if unplaced else ""),
        )
    if model.num_points3D() < cfg.min_points3d:
        raise StageFailure(
            CauseCode.DEGENERATE_MODEL,
            f"the camera solve has {model.num_points3D()} 3D points, at least {cfg.min_points3d} are needed",
        )
