"""Find, read and copy the input photos: EXIF orientation, focal length, GPS, DJI attitude.

The photos themselves are never modified: `prepare_photos` writes upright, downscaled working
copies (no EXIF, so nothing downstream re-reads stale metadata) into a scratch folder. Which files
are photos is decided by shared/photo_formats.py (as in the CLI and ingest); whether a photo is
readable, by decoding it (services/sfm/container/decode.py and workcopy.py). Videos become
frames (services/sfm/container/video.py) that join the photos, each with its video's camera and
its own GPS position from a DJI subtitle.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from services.sfm.container.metrics import VideoMetrics
from services.sfm.container.srt import parse_srt
from services.sfm.container.video import (
    VideoInfo,
    VideoRefused,
    check_limits,
    extract_frames,
    probe,
    share_cap,
    usable_range,
)
from services.sfm.container.config import VideoConfig
from services.sfm.container.workcopy import Refused, copy_names, decode_photo, fill_feature_masks, write_copy
from shared.photo_folder import scan_folder
from shared.photo_formats import PHOTO_SUFFIXES, Selection, Skip, Skipped

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
    # RTK: solution status (50 fixed, 34 float, 16 single point) and 1-sigma errors in metres
    "RtkFlag", "RtkStdLon", "RtkStdLat", "RtkStdHgt",
)
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_ALT_REF, GPS_ALT = 1, 2, 3, 4, 5, 6
GPS_H_POSITIONING_ERROR = 31  # EXIF 2.31 GPSHPositioningError, metres


@dataclass(frozen=True)
class GpsFix:
    """A photo's GPS position as its EXIF states it, and whether it can be used."""

    lat: float  # degrees, north positive
    lon: float  # degrees, east positive
    alt: float | None  # metres above sea level; None when the photo has no altitude (a 2D fix)
    h_error_m: float | None = None  # horizontal error the receiver reports (GPSHPositioningError)
    problem: str | None = None  # why the fix is unusable ("zero coordinates", ...); None when usable

    @property
    def usable(self) -> bool:
        return self.problem is None


@dataclass
class ExifInfo:
    make: str = ""
    model: str = ""
    focal_mm: float | None = None
    focal_35mm: float | None = None
    gps: GpsFix | None = None  # None when the photo has no GPS position tags at all
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
    video: str = ""  # a video frame: the video's path relative to the input folder

    @property
    def camera_key(self) -> tuple[str, str, float, int, int, str]:
        """Photos with the same key share one camera (intrinsics) in the model; the frames of one
        video share one camera (while its focal length stays the same)."""
        return (self.exif.make, self.exif.model, round(self.focal_px, 1), self.width, self.height, self.video)


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
    videos: list[VideoMetrics] = field(default_factory=list)  # what each usable video gave
    unreadable_videos: list[str] = field(default_factory=list)  # "name (why)"
    short_videos: list[str] = field(default_factory=list)  # too short (after trimming)
    large_videos: list[str] = field(default_factory=list)  # over the duration or pixel limits


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


def _gps_ref(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode(errors="ignore")
    text = str(value).strip("\x00 ").upper() if value is not None else ""
    return text or None


def parse_gps(gps_ifd: dict) -> GpsFix | None:
    """EXIF GPS IFD (Pillow dict keyed by tag number, EXIF 2.32 section 4.6.6) -> GpsFix.

    None when there is no latitude/longitude at all. A fix that exists but cannot be trusted
    (missing N/S or E/W reference, 0/0 coordinates, out of range) comes back with `problem` set,
    so that it can be named to the user. A missing altitude stays unknown (alt None), never 0.
    """
    if gps_ifd.get(GPS_LAT) is None and gps_ifd.get(GPS_LON) is None:
        return None
    lat_ref, lon_ref = _gps_ref(gps_ifd.get(GPS_LAT_REF)), _gps_ref(gps_ifd.get(GPS_LON_REF))
    lat = _dms_to_degrees(gps_ifd.get(GPS_LAT), lat_ref or "N")
    lon = _dms_to_degrees(gps_ifd.get(GPS_LON), lon_ref or "E")
    if lat is None or lon is None:
        return GpsFix(float("nan"), float("nan"), None, problem="unreadable coordinates")
    alt = _ratio(gps_ifd.get(GPS_ALT))
    if alt is not None and _gps_ref(gps_ifd.get(GPS_ALT_REF)) in ("\x01", "1"):
        alt = -alt
    h_error = _ratio(gps_ifd.get(GPS_H_POSITIONING_ERROR))
    problem = None
    if lat == 0.0 and lon == 0.0:
        problem = "zero coordinates"
    elif abs(lat) > 90 or abs(lon) > 180:
        problem = "coordinates out of range"
    elif lat_ref not in ("N", "S") or lon_ref not in ("E", "W"):
        problem = "no N/S or E/W reference"
    return GpsFix(lat, lon, alt, h_error if h_error and h_error > 0 else None, problem)


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
    """Focal length in pixels for an image of width x height, and where it came from.

    In order of precision: the physical focal length over a sensor width from SENSOR_WIDTH_MM
    ("exif_sensor": exact, and right for 16:9 frames cut from a 4:3 sensor, which keep its
    width); the 35 mm equivalent against the full-frame diagonal ("exif_35mm", CIPA DC-008;
    rounded to a millimetre, ~2 %); else 1.2 x the longest side ("prior", a guess the solve
    must refine). The first two are trusted measurements (see services/sfm/container/focal.py).
    Focal-plane resolution tags are not used: resizing tools update the pixel size tags but not
    them (caliterra's say 2.5 mm for a 6.2 mm sensor).
    """
    sensor = sensor_width_mm(exif.make, exif.model)
    if exif.focal_mm and sensor:
        return exif.focal_mm / sensor * max(width, height), "exif_sensor"
    if exif.focal_35mm:
        return exif.focal_35mm / FULL_FRAME_DIAGONAL_MM * math.hypot(width, height), "exif_35mm"
    return DEFAULT_FOCAL_FACTOR * max(width, height), "prior"


def prepare_photos(
    in_dir: Path, work_dir: Path, max_image_size: int, min_side: int = 0, masks_dir: Path | None = None,
    video: VideoConfig | None = None,
) -> PhotoSet:
    """Decode every photo, read its metadata and write an upright copy <= max_image_size to work_dir;
    choose the frames of every video (video: how) and write them there too.

    Photos with a mask (alpha or a masks/ file) get mask files under masks_dir (workcopy.py).
    Implausible EXIF focal tags are dropped before the focal prior is computed (focal_tags.py).
    """
    from services.sfm.container.focal_tags import vet_focal_tags  # it reads this module's tables

    work_dir.mkdir(parents=True, exist_ok=True)
    selection = scan_folder(in_dir)
    names = copy_names([*selection.photos, *selection.videos])
    found = PhotoSet([], [], [], [], [], skipped=selection.skipped)
    for skipped in selection.skipped:
        named_as_photo = Path(skipped.name).suffix.lower() in PHOTO_SUFFIXES
        if skipped.reason is Skip.DUPLICATE:
            found.duplicates.append(skipped.name)
        elif skipped.reason in (Skip.NOT_PHOTO, Skip.EMPTY) and named_as_photo:
            found.unreadable.append(skipped.name)  # named like a photo, but it is not one
        elif skipped.reason is Skip.TOO_LARGE:
            found.too_large.append(skipped.name)
        elif skipped.reason in (Skip.NOT_VIDEO, Skip.VIDEO_360, Skip.EMPTY):
            found.unreadable_videos.append(f"{skipped.name} ({skipped.reason.value})")
        elif skipped.reason is Skip.VIDEO_TOO_LARGE:
            found.large_videos.append(f"{skipped.name} ({skipped.reason.value})")
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
    video = video or VideoConfig()
    _add_video_frames(found, selection, in_dir, work_dir, names, max_image_size, min_side, video)
    if masks_dir is not None:
        fill_feature_masks([(p.name, (p.width, p.height)) for p in found.photos], masks_dir)
    return found


def _refuse_video(found: PhotoSet, name: str, refused: VideoRefused) -> None:
    logger.warning("video refused", extra={"video": name, "kind": refused.kind, "detail": refused.detail})
    target = {"unreadable": found.unreadable_videos, "too_short": found.short_videos,
              "too_large": found.large_videos, "too_small": found.too_small}[refused.kind]
    target.append(f"{name} ({refused.detail})")


def _add_video_frames(found: PhotoSet, selection: Selection, in_dir: Path, work_dir: Path,
                      names: dict[str, str], max_image_size: int, min_side: int, cfg: VideoConfig) -> None:
    """Probe every video, share the frame cap among the usable ones by duration, add their frames."""
    usable: dict[str, tuple[VideoInfo, float]] = {}
    for name in selection.videos:
        try:
            info = probe(in_dir / name)
            check_limits(info, min_side)
            start, end = usable_range(info, cfg)
        except VideoRefused as refused:
            _refuse_video(found, name, refused)
            continue
        usable[name] = (info, end - start)
    caps = share_cap({name: seconds for name, (_, seconds) in usable.items()}, cfg.max_frames)
    for name, (info, _) in usable.items():
        sidecar = selection.sidecars.get(name)
        telemetry = parse_srt((in_dir / sidecar).read_text(errors="replace")) if sidecar else None
        stem = Path(names[name]).stem
        try:
            frames, report = extract_frames(
                in_dir / name, stem, info, work_dir, cfg, caps[name], max_image_size, telemetry
            )
        except VideoRefused as refused:
            _refuse_video(found, name, refused)
            continue
        report.name = name
        if sidecar and telemetry is not None and not report.frames_with_gps:
            report.warnings.append(f"{sidecar} gives no GPS position: its frames have no GPS")
        elif report.frames_with_gps and report.altitude != "absolute":
            report.warnings.append(f"{sidecar} gives no altitude above sea level: its frames' GPS is horizontal")
        found.videos.append(report)
        for frame in frames:
            fix = GpsFix(*frame.gps) if frame.gps is not None else None
            exif = ExifInfo(make=info.make, model=info.model, focal_35mm=frame.focal_35mm, gps=fix)
            focal, focal_source = focal_prior_px(exif, frame.width, frame.height)
            found.photos.append(Photo(in_dir / name, frame.name, frame.width, frame.height, exif, focal,
                                      focal_source, f"{name} at {frame.time_s:.2f} s", video=name))


def group_cameras(photos: list[Photo]) -> dict[tuple, list[Photo]]:
    """One group (one model camera) per distinct (make, model, focal, size), in first-seen order."""
    groups: dict[tuple, list[Photo]] = {}
    for photo in photos:
        groups.setdefault(photo.camera_key, []).append(photo)
    return groups
