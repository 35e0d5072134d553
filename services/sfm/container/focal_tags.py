"""Plausibility of a photo's EXIF focal tags, checked before they become the solve's focal prior.

Some action cameras and apps write FocalLengthIn35mmFilm = 1 (or 0, or 1000); trusted, such a tag
seeds the solve with a field of view of 175 deg (or 2.5 deg) and the camera model never recovers.
`vet_focal_tags` returns the EXIF with every implausible focal tag removed and the reasons, so
that `photos.focal_prior_px` falls back as it does for a photo without the tag: the physical focal
length over a known sensor width, then the default prior.

Ranges (CIPA DC-008 defines the 35 mm equivalent against the 43.27 mm full-frame diagonal):
- 35 mm equivalent 8-2000 mm: from a full-frame fisheye (8 mm, 180 deg) to the longest
  super-zoom bridge cameras (Nikon P900, 2000 mm); 1 mm would be a 175 deg diagonal view.
- physical focal length 1-2000 mm: phone ultra-wide modules are 1.5 mm and up.
- crop factor (35 mm equivalent / physical focal) 0.5-15: medium-format backs (53.4 x 40 mm,
  0.65) to 1/5-inch phone sensors (about 12). A pair outside it contradicts itself: without a
  known sensor width neither tag can be told right, and both are dropped.
- with a sensor width (photos.SENSOR_WIDTH_MM) the physical focal's 35 mm equivalent must fall in
  the 35 mm range too, and a 35 mm tag more than 25 % away from it is dropped.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

from services.sfm.container.photos import FULL_FRAME_DIAGONAL_MM, ExifInfo, Photo, sensor_width_mm
from shared.photo_formats import name_list

EQUIVALENT_RANGE_MM = (8.0, 2000.0)
FOCAL_RANGE_MM = (1.0, 2000.0)
CROP_FACTOR_RANGE = (0.5, 15.0)
SENSOR_AGREEMENT = 0.25  # largest relative gap between a 35 mm tag and the one a sensor width implies
FOCAL_SOURCES = {
    "exif_35mm": "EXIF 35 mm equivalent focal length",
    "exif_sensor": "EXIF focal length and sensor width",
    "prior": "default guess (no usable EXIF focal length)",
}


def _outside(value: float, bounds: tuple[float, float]) -> bool:
    return not bounds[0] <= value <= bounds[1]


def vet_focal_tags(exif: ExifInfo, width: int, height: int) -> tuple[ExifInfo, list[str]]:
    """The EXIF without implausible focal tags, and one reason per dropped tag.

    width, height: the image in pixels (the aspect ratio gives the sensor diagonal from a known
    sensor width). Reasons read like "FocalLengthIn35mmFilm 1 mm is outside 8-2000 mm".
    """
    f35, focal = exif.focal_35mm, exif.focal_mm
    reasons = []
    if f35 is not None and _outside(f35, EQUIVALENT_RANGE_MM):
        reasons.append(f"FocalLengthIn35mmFilm {f35:g} mm is outside {_span(EQUIVALENT_RANGE_MM)} mm")
        f35 = None
    if focal is not None and _outside(focal, FOCAL_RANGE_MM):
        reasons.append(f"FocalLength {focal:g} mm is outside {_span(FOCAL_RANGE_MM)} mm")
        focal = None
    sensor = sensor_width_mm(exif.make, exif.model)
    if focal is not None and sensor:
        implied = focal * FULL_FRAME_DIAGONAL_MM / (sensor * math.hypot(width, height) / max(width, height))
        if _outside(implied, EQUIVALENT_RANGE_MM):
            reasons.append(f"FocalLength {focal:g} mm on a {sensor:g} mm wide sensor is {implied:.0f} mm "
                           f"equivalent, outside {_span(EQUIVALENT_RANGE_MM)} mm")
            focal = None
        elif f35 is not None and abs(f35 - implied) > SENSOR_AGREEMENT * implied:
            reasons.append(f"FocalLengthIn35mmFilm {f35:g} mm disagrees with FocalLength {focal:g} mm on a "
                           f"{sensor:g} mm wide sensor ({implied:.0f} mm equivalent)")
            f35 = None
    elif focal is not None and f35 is not None and _outside(f35 / focal, CROP_FACTOR_RANGE):
        reasons.append(f"FocalLengthIn35mmFilm {f35:g} mm and FocalLength {focal:g} mm imply a crop factor of "
                       f"{f35 / focal:.2g}, outside {_span(CROP_FACTOR_RANGE)}")
        f35 = focal = None
    if not reasons:
        return exif, []
    return replace(exif, focal_35mm=f35, focal_mm=focal), reasons


def _span(bounds: tuple[float, float]) -> str:
    return f"{bounds[0]:g}-{bounds[1]:g}"


def focal_tag_warnings(photos: list[Photo]) -> list[str]:
    """One warning naming the photos whose focal tags were ignored as implausible, and why."""
    ignored = [p for p in photos if p.focal_tags_ignored]
    if not ignored:
        return []
    fallback = Counter(FOCAL_SOURCES[p.focal_source] for p in ignored).most_common(1)[0][0]
    return [
        f"implausible EXIF focal tags ignored on {len(ignored)} of {len(photos)} photos "
        f"({'; '.join(focal_tag_reasons(photos))}): focal length taken from the "
        f"{fallback} instead: {name_list([p.original or p.name for p in ignored])}"
    ]


def focal_tag_reasons(photos: list[Photo], most: int = 2) -> list[str]:
    """Why focal tags were ignored, the commonest reasons first (at most `most`)."""
    reasons = Counter(reason for p in photos for reason in p.focal_tags_ignored)
    return [reason for reason, _ in reasons.most_common(most)]
