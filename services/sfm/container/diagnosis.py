"""Why a camera solve failed, in the order the evidence points: exposure, blur, camera prior, overlap.

When too few photos are placed, the photos the solve lost are compared with what the capture
checks flagged (capture.py): if most of them are dark, blown out or blurred, that is the cause, and
they are named. When photo pairs verify (share enough geometrically consistent matches) and link
most of the set, yet no model comes out, overlap is not the problem: the camera prior (focal
length) or the geometry (photos from one spot) is, and the message says which focal was used.
Only then is the cause a lack of overlap.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.sfm.container.focal_tags import FOCAL_SOURCES
from shared.causes import CauseCode
from shared.photo_formats import name_list
from shared.wording import agree, plural

if TYPE_CHECKING:
    from services.sfm.container.capture import CaptureFindings
    from services.sfm.container.photos import Photo

# Flagged photos must be at least this share of the photos the solve lost to be named the cause.
FLAGGED_SHARE_OF_LOST = 0.5
# Verified pairs "link the set" when their largest connected group holds this share of the photos.
LINKED_SHARE = 0.5


@dataclass(frozen=True)
class Diagnosis:
    cause: CauseCode | None  # None: the usual cause stands, the detail adds to it
    detail: str  # appended to the failure message


def capture_cause(lost: list[str], findings: CaptureFindings | None) -> Diagnosis | None:
    """Exposure or blur when those photos are most of the photos the solve lost (original names);
    photos with few features (a textureless subject) are named without changing the cause."""
    if findings is None or not lost:
        return None
    features = {p.original: p.features for p in findings.photos}
    candidates = (
        (CauseCode.DARK_IMAGES, sorted(set(findings.dark) | set(findings.clipped_dark)), "too dark"),
        (CauseCode.OVEREXPOSED_IMAGES, findings.clipped_bright, "blown out to white"),
        (CauseCode.BLURRED_IMAGES, findings.blurred, "blurred"),
        (None, findings.few_features, "nearly featureless"),
    )
    lost_set = set(lost)
    for cause, flagged, what in candidates:
        hit = [name for name in flagged if name in lost_set]
        if hit and len(hit) >= FLAGGED_SHARE_OF_LOST * len(lost):
            counts = [features[name] for name in hit if features.get(name) is not None]
            found = f" (SIFT found {min(counts)}-{max(counts)} features on them)" if counts else ""
            verb = agree(len(hit), "are")
            return Diagnosis(cause, f"; {len(hit)} of the {len(lost)} photos it could not use {verb} {what}: "
                                    f"{name_list(hit)}{found}")
    return None


def geometry_cause(n: int, groups: list[list[str]], photos: list[Photo] | None) -> Diagnosis | None:
    """The camera prior or geometry when verified pairs link most of the set (groups: image names)."""
    linked = max((len(group) for group in groups), default=0)
    if linked < max(3, LINKED_SHARE * n):
        return None
    return Diagnosis(
        CauseCode.CAMERA_GEOMETRY,
        f", linking {linked} of the {n} photos: they do overlap, so {describe_focal_prior(photos or [])}",
    )


def describe_focal_prior(photos: list[Photo]) -> str:
    """'the solve started from the EXIF 35 mm equivalent focal length (2664 px) on 16 photos: ...'."""
    if not photos:
        return "the focal length the solve started from may be wrong"
    sources = Counter(p.focal_source for p in photos)
    parts = []
    for source, count in sources.most_common():
        focals = sorted(round(p.focal_px) for p in photos if p.focal_source == source)
        shown = f"{focals[0]} px" if focals[0] == focals[-1] else f"{focals[0]}-{focals[-1]} px"
        parts.append(f"the {FOCAL_SOURCES.get(source, source)} ({shown}) on {plural(count, 'photo')}")
    ignored = sum(1 for p in photos if p.focal_tags_ignored)
    dropped = f"; implausible focal tags were ignored on {plural(ignored, 'photo')}" if ignored else ""
    return "the solve started from " + ", ".join(parts) + dropped + ": if that is wrong, no camera model fits"
