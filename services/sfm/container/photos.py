"""Find, read and copy the input photos: EXIF orientation, focal length, GPS, DJI attitude.

The photos themselves are never modified: `prepare_photos` writes upright, downscaled working
copies (no EXIF, so nothing downstream re-reads stale metadata) into a scratch folder. Which files
are photos is decided by shared/photo_formats.py (as in the CLI and ingest); whether a photo is
readable, by decoding it (services/sfm/container/decode.py and workcopy.py).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from services.sfm.container.workcopy import Refused, copy_names, decode_photo, fill_feature_masks, write_copy
from shared.photo_folder import scan_folder
from shared.photo_formats import PHOTO_SUFFIXES, Skip, Skipped

logger = logging.getLogger(__name__)

try:  # HEIC/HEIF support is optional at import time; the container installs it.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - the sfm extra installs pillow-heif
    pillow_heif = None

FULL_FRAME_DIAGONAL_MM = 43.27  # 35 mm film diagonal; "35 mm equivalent" focal is defined against it
DEFAULT_FOCAL_FACTOR = 1.2  # focal prior = 1.2 x longest side (COLMAP's default, ~ a 50 deg field of view)

# Sensor width (mm) of common drone and compact cameras without a 35 mm equivalent tag.
SENSOR_WIDTH_MM: dict[str, float] = {
    "canon powershot sx260 hs": 6.17,
    "canon powershot s100": 7.44,
    "canon powershot s110": 7.44,
    "dji fc300s": 6.17,
    "dji fc300x": 6.17,
    "dji fc330": 6.17,
    "dji fc220": 6.17,
    "dji fc2103": 6.17,
    "dji fc6310": 13.2,
    "dji fc6310s": 13.2,
    "dji fc7203": 6.3,
    "dji fc7303": 6.3,
    "dji fc3170": 6.4,
    "dji fc3411": 13.2,
    "dji fc3582": 9.7,
    "dji l1d-20c": 13.2,
    "dji zenmusex4s": 13.2,
    "dji zenmusep1": 35.9,
    "gopro hero4 black": 6.17,
    "sony dsc-rx100": 13.2,
}

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
MAKE, MODEL = 0x010F, 0x0110
FOCAL_LENGTH, FOCAL_35MM, DATETIME_ORIGINAL = 0x920A, 0xA405, 0x9003
DJI_ATTITUDE_KEYS = (
    "GimbalRollDegree", "GimbalPitchDegree", "GimbalYawDegree",
    "FlightRollDegree", "FlightPitchDegree", "FlightYawDegree",
    "RelativeAltitude", "AbsoluteAltitude",
)


@dataclass
class ExifInfo:
    make: str = ""
    model: str = ""
    focal_mm: float | None = None
    focal_35mm: float | None = None
    gps: tuple[float, float, float] | None = None  # (lat deg, lon deg, alt m; alt 0 if absent)
    captured: str | None = None  # DateTimeOriginal text
    attitude: dict[str, float] = field(default_factory=dict)  # DJI XMP gimbal / flight angles


@dataclass
class Photo:
    source: Path  # the original, never written
    name: str  # file name of the working copy (and of the undistorted output image)
    width: int  # working copy size, after EXIF rotation and downscaling
    height: int
    exif: ExifInfo
    focal_px: float  # focal length prior for the working copy, pixels
    focal_source: str  # "exif_35mm", "exif_sensor" or "prior"
    original: str = ""  # the photo's path relative to the input folder, as the user named it
    masked: bool = False  # some pixels are ignored (alpha or a mask file): masks/<name>.png exists
    focal_tags_ignored: list[str] = field(default_factory=list)  # implausible EXIF focal tags (focal_tags.py)

    @property
    def camera_key(self) -> tuple[str, str, float, int, int]:
        """Photos with the same key share one camera (intrinsics) in the model."""
        return (self.exif.make, self.exif.model, round(self.focal_px, 1), self.width, self.height)


@dataclass
class PhotoSet:
    """The usable photos, and every other file by what is wrong with it (original relative paths)."""

    photos: list[Photo]
    unreadable: list[str]  # a photo's name or signature, but the decoder fails on it
    too_large: list[str]  # more pixels than MAX_PIXELS (refused before decoding)
    duplicates: list[str]  # byte-identical copies of a kept photo
    ignored: list[str]  # files that are not photos: RAW, video, sidecars, hidden, our outputs
    too_small: list[str] = field(default_factory=list)  # shorter side below the minimum
    blank: list[str] = field(default_factory=list)  # one flat colour (or every pixel masked)
    bad_masks: list[str] = field(default_factory=list)  # "photo: why its mask does not fit"
    skipped: list[Skipped] = field(default_factory=list)  # what the folder scan left out, and why


def _ratio(value: object) -> float | None:
    try:
        out = float(value)  # IFDRational, int or float
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return out if math.isfinite(out) else None


def _dms_to_degrees(dms: object, ref: object) -> float | None:
    try:
        d, m, s = (float(x) for x in dms)  # type: ignore[union-attr]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60.0 + s / 3600.0
    if isinstance(ref, bytes):
        ref = ref.decode(errors="ignore")
    if str(ref).strip().upper() in ("S", "W"):
        value = -value
    return value if math.isfinite(value) else None


def parse_gps(gps_ifd: dict) -> tuple[float, float, float] | None:
    """EXIF GPS IFD (Pillow dict keyed by tag number) -> (lat, lon, alt) or None."""
    lat = _dms_to_degrees(gps_ifd.get(2), gps_ifd.get(1, "N"))
    lon = _dms_to_degrees(gps_ifd.get(4), gps_ifd.get(3, "E"))
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0) or abs(lat) > 90 or abs(lon) > 180:
        return None
    alt = _ratio(gps_ifd.get(6)) or 0.0
    ref = gps_ifd.get(5, 0)
    below = ref in (1, b"\x01") or (isinstance(ref, bytes) and ref[:1] == b"\x01")
    return lat, lon, -alt if below else alt


def parse_dji_xmp(xmp: bytes | str | None) -> dict[str, float]:
    """Gimbal/flight attitude and altitudes from DJI XMP (attribute or element form)."""
    if not xmp:
        return {}
    text = xmp.decode("utf-8", errors="ignore") if isinstance(xmp, bytes) else xmp
    out: dict[str, float] = {}
    for key in DJI_ATTITUDE_KEYS:
        match = re.search(rf'drone-dji:{key}\s*=\s*"([^"]+)"', text) or re.search(
            rf"<drone-dji:{key}>([^<]+)</drone-dji:{key}>", text
        )
        if match:
            try:
                out[key] = float(match.group(1))
            except ValueError:
                continue
    return out


def read_exif(image: Image.Image) -> ExifInfo:
    exif = image.getexif()
    sub = exif.get_ifd(EXIF_IFD)
    info = ExifInfo(
        make=str(exif.get(MAKE, "")).strip("\x00 ").strip(),
        model=str(exif.get(MODEL, "")).strip("\x00 ").strip(),
        focal_mm=_ratio(sub.get(FOCAL_LENGTH)),
        focal_35mm=_ratio(sub.get(FOCAL_35MM)),
        gps=parse_gps(exif.get_ifd(GPS_IFD)),
        captured=str(sub[DATETIME_ORIGINAL]) if DATETIME_ORIGINAL in sub else None,
    )
    if info.focal_mm is not None and info.focal_mm <= 0:
        info.focal_mm = None
    if info.focal_35mm is not None and info.focal_35mm <= 0:
        info.focal_35mm = None
    info.attitude = parse_dji_xmp(image.info.get("xmp") or image.info.get("XML:com.adobe.xmp"))
    return info


def sensor_width_mm(make: str, model: str) -> float | None:
    model_key = model.lower().strip()
    make_key = make.lower().strip()
    for key in (model_key, f"{make_key} {model_key}", f"{make_key.split()[0] if make_key else ''} {model_key}"):
        if key.strip() in SENSOR_WIDTH_MM:
            return SENSOR_WIDTH_MM[key.strip()]
    return None


def focal_prior_px(exif: ExifInfo, width: int, height: int) -> tuple[float, str]:
    """Focal length in pixels for an image of width x height, and where it came from."""
    if exif.focal_35mm:
        return exif.focal_35mm / FULL_FRAME_DIAGONAL_MM * math.hypot(width, height), "exif_35mm"
    sensor = sensor_width_mm(exif.make, exif.model)
    if exif.focal_mm and sensor:
        return exif.focal_mm / sensor * max(width, height), "exif_sensor"
    return DEFAULT_FOCAL_FACTOR * max(width, height), "prior"


def prepare_photos(
    in_dir: Path, work_dir: Path, max_image_size: int, min_side: int = 0, masks_dir: Path | None = None
) -> PhotoSet:
    """Decode every photo, read its metadata and write an upright copy <= max_image_size to work_dir.

    Photos with a mask (alpha or a masks/ file) get mask files under masks_dir (workcopy.py).
    Implausible EXIF focal tags are dropped before the focal prior is computed (focal_tags.py).
    """
    from services.sfm.container.focal_tags import vet_focal_tags  # it reads this module's tables

    work_dir.mkdir(parents=True, exist_ok=True)
    selection = scan_folder(in_dir)
    names = copy_names(selection.photos)
    found = PhotoSet([], [], [], [], [], skipped=selection.skipped)
    for skipped in selection.skipped:
        named_as_photo = Path(skipped.name).suffix.lower() in PHOTO_SUFFIXES
        if skipped.reason is Skip.DUPLICATE:
            found.duplicates.append(skipped.name)
        elif skipped.reason in (Skip.NOT_PHOTO, Skip.EMPTY) and named_as_photo:
            found.unreadable.append(skipped.name)  # named like a photo, but it is not one
        elif skipped.reason is Skip.TOO_LARGE:
            found.too_large.append(skipped.name)
        else:
            found.ignored.append(skipped.name)
    for original in selection.photos:
        mask = selection.masks.get(original)
        mask_path = None if mask is None else in_dir / mask
        try:
            decoded = decode_photo(in_dir / original, mask_path, min_side, read_exif)
        except Refused as refused:
            logger.warning("photo refused", extra={"image": original, "kind": refused.kind})
            if refused.kind == "bad_mask":
                found.bad_masks.append(f"{original} ({refused.detail})")
            else:
                getattr(found, refused.kind).append(original)
            continue
        name = names[original]
        size = write_copy(decoded, name, work_dir, masks_dir, max_image_size)
        meta, ignored = vet_focal_tags(decoded.meta, *size)
        focal, focal_source = focal_prior_px(meta, *size)
        masked = decoded.keep is not None
        photo = Photo(in_dir / original, name, *size, meta, focal, focal_source, original, masked, ignored)
        found.photos.append(photo)
    if masks_dir is not None:
        fill_feature_masks([(p.name, (p.width, p.height)) for p in found.photos], masks_dir)
    return found


def group_cameras(photos: list[Photo]) -> dict[tuple, list[Photo]]:
    """One group (one model camera) per distinct (make, model, focal, size), in first-seen order."""
    groups: dict[tuple, list[Photo]] = {}
    for photo in photos:
        groups.setdefault(photo.camera_key, []).append(photo)
    return groups
