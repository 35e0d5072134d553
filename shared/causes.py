"""Machine-readable failure causes, each with the advice a user gets in the failure email.

A cause says *why* a job failed in words a script can branch on; the advice says what the person
who took the photos can do about it. Stage programs raise `StageFailure(cause, message)`; the
cloud and local launchers carry the cause code through to the `JobFailed` event unchanged.
"""

from __future__ import annotations

from enum import StrEnum

from shared.photo_formats import (
    FORMAT_NAMES,
    MAX_VIDEO_BYTES,
    MAX_VIDEO_SECONDS,
    MIN_PHOTO_SIDE,
    VIDEO_FORMAT_NAMES,
)


class CauseCode(StrEnum):
    # Input problems: retrying the same photos cannot help.
    TOO_FEW_IMAGES = "too_few_images"
    UNREADABLE_IMAGES = "unreadable_images"
    DUPLICATE_IMAGES = "duplicate_images"
    IMAGE_TOO_LARGE = "image_too_large"
    INVALID_REQUEST = "invalid_request"
    LOW_REGISTRATION = "low_registration"
    NO_OVERLAP = "no_overlap"
    DEGENERATE_MODEL = "degenerate_model"
    INVALID_MODEL_FILE = "invalid_model_file"
    INVALID_COLMAP_MODEL = "invalid_colmap_model"
    IMAGE_TOO_SMALL = "image_too_small"
    BLANK_IMAGES = "blank_images"
    INVALID_MASKS = "invalid_masks"
    DARK_IMAGES = "dark_images"
    OVEREXPOSED_IMAGES = "overexposed_images"
    BLURRED_IMAGES = "blurred_images"
    CAMERA_GEOMETRY = "camera_geometry"
    UNREADABLE_VIDEO = "unreadable_video"
    VIDEO_TOO_SHORT = "video_too_short"
    VIDEO_TOO_LARGE = "video_too_large"
    # Resource problems: a bigger instance or smaller input helps.
    OUT_OF_MEMORY = "out_of_memory"
    TIMEOUT = "timeout"
    # Platform problems: retrying later can help.
    CAPACITY = "capacity"
    THROTTLED = "throttled"
    SPOT_INTERRUPTED = "spot_interrupted"
    # Account problems: an administrator must change the deployment or the AWS account.
    SERVICE_QUOTA = "service_quota"
    # Everything else.
    CANCELLED = "cancelled"
    INTERNAL_ERROR = "internal_error"


TRANSIENT_CAUSES: frozenset[CauseCode] = frozenset(
    {CauseCode.CAPACITY, CauseCode.THROTTLED, CauseCode.SPOT_INTERRUPTED}
)

ADVICE: dict[CauseCode, str] = {
    CauseCode.TOO_FEW_IMAGES: (
        "Upload at least 8 photos of the subject; 30-200 photos taken from many positions "
        "give the best results."
    ),
    CauseCode.UNREADABLE_IMAGES: (
        "Re-export the named files as JPEG or PNG straight from the camera or phone and upload them again "
        f"(accepted: {FORMAT_NAMES}; camera RAW files must be exported first)."
    ),
    CauseCode.DUPLICATE_IMAGES: (
        "Remove the repeated photos; every photo should be taken from a new position."
    ),
    CauseCode.IMAGE_TOO_LARGE: (
        "Keep each photo under the size limit (resize to at most 8000 pixels on the long side)."
    ),
    CauseCode.INVALID_REQUEST: "Correct the request as the message says and submit it again.",
    CauseCode.LOW_REGISTRATION: (
        "Too few photos could be placed in 3D. Take photos with 60-80% overlap between "
        "neighbours, move slowly around the subject, avoid motion blur, and include textured "
        "surfaces (plain walls, sky and water cannot be matched)."
    ),
    CauseCode.NO_OVERLAP: (
        "The photos do not share enough common features. Walk around the subject in small "
        "steps so each photo overlaps its neighbours by 60-80%, keep lighting steady and "
        "avoid reflective or textureless subjects."
    ),
    CauseCode.DEGENERATE_MODEL: (
        "The camera solve has too few 3D points to train on. Add photos from more viewpoints "
        "with more texture in view."
    ),
    CauseCode.INVALID_MODEL_FILE: "The splat file is malformed or truncated; export it again.",
    CauseCode.INVALID_COLMAP_MODEL: (
        "Export the COLMAP model again (cameras, images and points3D in sparse/0/) together with the "
        "photos it was solved from, under the file names it uses and at their original size; or leave "
        "the model out and let Spaceport solve the cameras itself."
    ),
    CauseCode.IMAGE_TOO_SMALL: (
        f"Upload photos at least {MIN_PHOTO_SIDE} pixels on their short side; the camera's full "
        "resolution gives the best model."
    ),
    CauseCode.BLANK_IMAGES: (
        "The named photos show one flat colour (a lens cap, an empty frame, or an export that lost the "
        "picture). Remove them, or export them again as 8-bit JPEG or PNG."
    ),
    CauseCode.INVALID_MASKS: (
        "Give each mask the size of its photo, black (0) where pixels are to be ignored, and name it "
        "like the photo in a masks/ folder beside the photos (masks/IMG_1.png or masks/IMG_1.JPG.png)."
    ),
    CauseCode.DARK_IMAGES: (
        "The named photos are too dark to find enough detail in. Shoot in more light or with a longer "
        "exposure (keep the camera steady, or use a tripod), or brighten the photos before uploading; "
        "avoid strong backlight."
    ),
    CauseCode.OVEREXPOSED_IMAGES: (
        "The named photos are blown out to white. Lower the exposure (exposure compensation -1 or an "
        "exposure lock on the subject) and avoid pointing the camera at bright sky or lights."
    ),
    CauseCode.BLURRED_IMAGES: (
        "The named photos are blurred by camera shake or missed focus. Hold still while each photo is "
        "taken, use a faster shutter speed (1/250 s or shorter when moving) and let the camera focus; "
        "retake or remove the blurred photos."
    ),
    CauseCode.CAMERA_GEOMETRY: (
        "The photos overlap, but no consistent 3D camera model fits them. Most often the focal-length "
        "tags are wrong (some apps and action cameras write a bogus 35 mm focal length): upload the "
        "photos as the camera wrote them, or remove the focal-length tags. Otherwise move between "
        "shots (photos taken from one spot while turning hold no 3D) and keep a fixed zoom."
    ),
    CauseCode.UNREADABLE_VIDEO: (
        "Export the named videos again as MP4 (H.264 or H.265) straight from the camera, drone or phone "
        f"and upload them again (accepted: {VIDEO_FORMAT_NAMES}; 360-degree videos must be exported "
        "as a flat video first)."
    ),
    CauseCode.VIDEO_TOO_SHORT: (
        "The videos give too few sharp, distinct frames. Film at least 20 seconds while moving slowly "
        "and steadily around the subject (not turning on the spot), avoid fast pans that blur the "
        "picture, or add photos."
    ),
    CauseCode.VIDEO_TOO_LARGE: (
        f"Keep each video under {MAX_VIDEO_BYTES // 1024**3} GiB, {MAX_VIDEO_SECONDS // 60} minutes "
        "and 8K; split long recordings, or trim them with the trim options."
    ),
    CauseCode.OUT_OF_MEMORY: (
        "The job ran out of memory. Submit fewer photos, a lower preset or a smaller maximum "
        "image size, or raise the instance type."
    ),
    CauseCode.TIMEOUT: (
        "The job ran past its time limit. Use fewer photos, a smaller maximum image size or the "
        "'preview' preset; the operator can raise the stage's time limit (<Stage>MaxRuntimeSeconds)."
    ),
    CauseCode.CAPACITY: (
        "AWS had no capacity for the instance type (after one retry on demand). Submit the job "
        "again later, or ask the operator to choose another instance type."
    ),
    CauseCode.THROTTLED: "AWS throttled the request; the job will be retried.",
    CauseCode.SPOT_INTERRUPTED: "The spot instance was reclaimed; the job resumes from its checkpoint.",
    CauseCode.SERVICE_QUOTA: (
        "The AWS account's SageMaker service quota for this instance type is too low (new accounts "
        "often have 0). Request an increase in the Service Quotas console (Amazon SageMaker) or "
        "deploy with another instance type, then submit the job again."
    ),
    CauseCode.CANCELLED: "The job was cancelled on request. Submit it again to restart.",
    CauseCode.INTERNAL_ERROR: (
        "Something went wrong on our side. Submit the job again; if it fails twice, reply to "
        "this email with the job id."
    ),
}


def advice_for(cause: CauseCode) -> str:
    return ADVICE[cause]
