"""Capture checks: per-photo exposure, sharpness and feature counts, and the photos they flag.

Each photo's working copy (what SIFT sees) is measured with services/sfm/container/
photo_measures.py; the thresholds below were chosen with bench/capture_bench.py on the shared
real sets (banana, caliterra, fountain_p11) and the synthetic scenes, clean and with the faults
of issue 16 rebuilt (darkened, motion-blurred). None of them fires on a clean set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from services.sfm.container.photo_measures import downscaled, exposure, luma, sharpness, stretch_contrast
from shared.photo_formats import name_list
from shared.quality import CAPTURE_CHECKS
from shared.wording import agree

CAPTURE_FILE = "capture.json"  # per-photo figures and findings, written beside metrics.json

# Mean luma (sRGB-coded, 0-1) below which a photo is called dark. Clean sets: lowest photo 0.22
# (caliterra), set means 0.27-0.44; banana x0.25 (two stops under) reads 0.11, x0.06 0.03.
DARK_MEAN_LUMA = 0.15
# Share of pixels clipped to black (or to white) above which a photo has lost detail to its
# exposure. Clean sets: no black pixels, at most 0.8 % white (fountain_p11's sky); banana x0.06
# (four stops under, still solvable once stretched) has at most 7 % black.
CLIPPED_FRACTION = 0.25
# A photo is blurred when its sharpness is below this share of the set's upper-quartile sharpness
# (the set's sharp photos; a median would sit among the blurred ones when half the set shakes).
# Clean sets: lowest ratio 0.17 (banana); a 25-pixel shake reads 0.01-0.04.
BLUR_RATIO = 0.1
SHARP_QUANTILE = 0.75
# Sharpness is compared within one camera at one size (a video's frames are softer than photos):
# each camera with at least this many photos is its own reference; smaller ones use the whole set.
MIN_CAMERA_PHOTOS = 4
# SIFT features below which a photo is called featureless: a share of the set's median count (the
# extraction cap changes with the preset and the image size), and never fewer than FEW_FEATURES_MIN
# (a photo needs ~15 matched 3D points to be placed). Clean sets: lowest 0.58 of the median and
# 1,183 features (800 px synthetic orbit); banana x0.06 finds 0.
FEW_FEATURES_RATIO = 0.2
FEW_FEATURES_MIN = 100


@dataclass
class PhotoFigures:
    """One photo's capture figures (working copy, unmasked pixels)."""

    name: str  # working copy name
    original: str  # the photo's path in the input folder
    luma_mean: float  # 0-1
    dark_fraction: float  # share of pixels clipped dark
    bright_fraction: float  # share of pixels clipped bright
    sharpness: float  # photo_measures.sharpness (weakest direction, variance-normalised)
    sharpness_ratio: float = 1.0  # sharpness / the upper-quartile sharpness of its camera (or the set)
    features: int | None = None  # SIFT keypoints extracted (None before extraction)
    camera: str = ""  # photos with the same camera and size are compared for sharpness

    def to_json(self) -> dict:
        return {k: round(v, 5) if isinstance(v, float) else v for k, v in asdict(self).items()}


@dataclass
class CaptureFindings:
    """The set's figures and which photos each check flags (original names)."""

    photos: list[PhotoFigures]
    dark: list[str] = field(default_factory=list)
    clipped_dark: list[str] = field(default_factory=list)
    clipped_bright: list[str] = field(default_factory=list)
    blurred: list[str] = field(default_factory=list)
    few_features: list[str] = field(default_factory=list)
    normalised: list[str] = field(default_factory=list)  # contrast stretched for feature extraction

    def flagged(self) -> dict[str, list[str]]:
        return {
            "dark": self.dark, "clipped_dark": self.clipped_dark, "clipped_bright": self.clipped_bright,
            "blurred": self.blurred, "few_features": self.few_features,
        }

    def to_json(self) -> dict:
        return {
            **self.flagged(),
            "normalised": self.normalised,
            "thresholds": thresholds(),
            "photos": [p.to_json() for p in self.photos],
        }


def thresholds() -> dict[str, float]:
    return {
        "dark_mean_luma": DARK_MEAN_LUMA, "clipped_fraction": CLIPPED_FRACTION,
        "blur_ratio": BLUR_RATIO, "few_features_ratio": FEW_FEATURES_RATIO, "few_features_min": FEW_FEATURES_MIN,
    }


def measure_photo(image_path: Path, name: str, original: str, mask_path: Path | None = None) -> PhotoFigures:
    """Exposure and sharpness figures of one working copy (and its 255/0 mask file, if any)."""
    with Image.open(image_path) as image:
        rgb = np.asarray(image.convert("RGB"))
    keep = None
    if mask_path is not None and mask_path.exists():
        with Image.open(mask_path) as mask:
            keep = np.asarray(mask.convert("L")) > 127
    small, small_keep = downscaled(rgb, keep)
    gray = luma(small)
    shown = exposure(gray, small_keep)
    return PhotoFigures(name, original, shown.mean, shown.dark_fraction, shown.bright_fraction,
                        sharpness(gray, small_keep))


def assess(photos: list[PhotoFigures]) -> CaptureFindings:
    """Flag photos by exposure and sharpness (features are added by `add_feature_counts`)."""
    findings = CaptureFindings(photos)
    if not photos:
        return findings
    reference = _sharpness_references(photos)
    for photo in photos:
        ref = reference[photo.camera]
        photo.sharpness_ratio = photo.sharpness / ref if ref > 0 else 1.0
        if photo.luma_mean < DARK_MEAN_LUMA:
            findings.dark.append(photo.original)
        if photo.dark_fraction > CLIPPED_FRACTION:
            findings.clipped_dark.append(photo.original)
        if photo.bright_fraction > CLIPPED_FRACTION:
            findings.clipped_bright.append(photo.original)
        if photo.sharpness_ratio < BLUR_RATIO:
            findings.blurred.append(photo.original)
    return findings


def _sharpness_references(photos: list[PhotoFigures]) -> dict[str, float]:
    """Upper-quartile sharpness per camera; cameras with few photos get the whole set's."""
    whole = float(np.quantile([p.sharpness for p in photos], SHARP_QUANTILE))
    by_camera: dict[str, list[float]] = {}
    for photo in photos:
        by_camera.setdefault(photo.camera, []).append(photo.sharpness)
    return {camera: float(np.quantile(values, SHARP_QUANTILE)) if len(values) >= MIN_CAMERA_PHOTOS else whole
            for camera, values in by_camera.items()}


def add_feature_counts(findings: CaptureFindings, counts: dict[str, int]) -> None:
    """Record SIFT keypoints per photo (working-copy name -> count) and flag the featureless."""
    for photo in findings.photos:
        photo.features = counts.get(photo.name, 0)
    median = float(np.median([p.features for p in findings.photos])) if findings.photos else 0.0
    floor = max(FEW_FEATURES_MIN, FEW_FEATURES_RATIO * median)
    findings.few_features = [p.original for p in findings.photos if p.features < floor]


def feature_counts(database: Path) -> dict[str, int]:
    """SIFT keypoints per image name in a COLMAP database."""
    import pycolmap

    db = pycolmap.Database.open(database)
    try:
        return {image.name: db.num_keypoints_for_image(image.image_id) for image in db.read_all_images()}
    finally:
        db.close()


def capture_warnings(findings: CaptureFindings) -> list[str]:
    """One sentence per check that fired, naming the photos (wording: shared/quality.py)."""
    lines = []
    for check, names in findings.flagged().items():
        if not names:
            continue
        phrase = agree(len(names), CAPTURE_CHECKS[check][0])
        line = f"{len(names)} of {len(findings.photos)} photos {phrase}: {name_list(names)}"
        if check == "dark" and findings.normalised:
            line += f"; {'its' if len(names) == 1 else 'their'} contrast was stretched for feature detection"
        lines.append(line)
    return lines


def measure_set(photos: list, work_images: Path, masks_dir: Path | None) -> CaptureFindings:
    """Measure every photo's working copy (services.sfm.container.photos.Photo) and flag them."""
    figures = []
    for photo in photos:
        mask = masks_dir / f"{photo.name}.png" if masks_dir is not None else None
        figures.append(measure_photo(work_images / photo.name, photo.name, photo.original or photo.name, mask))
        figures[-1].camera = "|".join(map(str, photo.camera_key))
    return assess(figures)


def feature_images(findings: CaptureFindings, work_images: Path, target: Path) -> Path:
    """The folder SIFT reads: the working copies, with the dark photos' contrast stretched.

    Only feature detection sees the stretched copies (same names, links for the others); the
    model's colours and the undistorted training images come from the working copies as they are.
    Returns `work_images` itself when no photo is dark.
    """
    dark = {p.name for p in findings.photos if p.original in set(findings.dark)}
    if not dark:
        return work_images
    target.mkdir(parents=True, exist_ok=True)
    for photo in findings.photos:
        if photo.name not in dark:
            (target / photo.name).symlink_to(work_images / photo.name)
            continue
        with Image.open(work_images / photo.name) as image:
            stretched, gain = stretch_contrast(np.asarray(image.convert("RGB")))
        Image.fromarray(stretched).save(target / photo.name, "PNG" if photo.name.lower().endswith(".png") else "JPEG",
                                        quality=95)
        findings.normalised.append(photo.original)
    return target
