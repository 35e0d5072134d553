"""Photo-set validation in the ingest Lambda: from the inbox listing and each file's first bytes.

Which files are photos and videos is decided by shared/photo_formats.py, as in the CLI and the
SfM stage: every file under `inbox/<name>/` (recursively) whose first bytes carry the signature
of an accepted format, whatever its name; RAW files, video proxies, other files, hidden and output
folders are skipped and named. Byte-identical copies (same S3 ETag and size) are dropped with a
warning. A job needs MIN_PHOTOS photos or a video.

No image or video library here (the Lambda stays light): whether a photo or video decodes, its
pixel size, a video's duration and its usable frames are judged by the SfM stage with Pillow and
PyAV, which fails a set with the same causes and advice (`unreadable_images`,
`unreadable_video`, `video_too_short`, `image_too_small`, ...) and names the files.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from shared.causes import CauseCode
from shared.errors import UserInputError
from shared.photo_formats import (
    HEAD_BYTES,
    MAX_FILE_BYTES,
    MAX_PHOTOS,
    MIN_PHOTOS,
    PHOTO_SUFFIXES,
    VIDEO_SUFFIXES,
    Selection,
    Skip,
    describe_skipped,
    drop_duplicates,
    needs_head,
    select_photos,
    suffix_of,
)
from shared.ports import ObjectStore, StoredObject
from shared.wording import plural


@dataclass(frozen=True)
class PhotoLimits:
    min_photos: int = MIN_PHOTOS
    max_photos: int = MAX_PHOTOS
    max_bytes: int = MAX_FILE_BYTES  # per file; larger files are skipped and named


@dataclass
class InboxPhotos:
    """The photos of an inbox folder as ingest sees them."""

    photos: list[StoredObject]
    selection: Selection
    warnings: list[str] = field(default_factory=list)  # every file left out, named
    videos: list[StoredObject] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(p.size for p in [*self.photos, *self.videos])


def _heads(store: ObjectStore, objects: dict[str, StoredObject], names: list[str]) -> dict[str, bytes]:
    def head(name: str) -> tuple[str, bytes]:
        item = objects[name]
        return name, store.read_range(item.uri, 0, min(HEAD_BYTES, item.size)) if item.size else b""

    with ThreadPoolExecutor(max_workers=16) as pool:
        return dict(pool.map(head, names))


def read_inbox(store: ObjectStore, inbox_uri: str, folder: str, limits: PhotoLimits) -> InboxPhotos:
    """Select the photos under inbox_uri; raise UserInputError when too few or too many remain.

    folder: how messages name the inbox folder (its name, never an s3:// uri: the same messages
    reach local users).
    """
    objects = {o.uri.removeprefix(inbox_uri): o for o in store.list(inbox_uri)}
    sizes = {name: item.size for name, item in objects.items()}
    wanted = [n for n in objects if needs_head(n) and sizes[n] > 0]  # a video's head too, whatever its size
    selection = select_photos(objects, _heads(store, objects, wanted), sizes, limits.max_bytes)
    files = [*selection.photos, *selection.videos]
    fingerprints = {n: (objects[n].etag, objects[n].size) for n in files if objects[n].etag}
    selection = drop_duplicates(selection, fingerprints)
    count = len(selection.photos)
    if count > limits.max_photos:
        raise UserInputError(
            CauseCode.INVALID_REQUEST,
            f"found {count} photos in {folder}; at most {limits.max_photos} are accepted per job",
        )
    if not selection.enough(limits.min_photos):
        raise UserInputError(*_too_few(selection, folder, limits))
    return InboxPhotos(
        [objects[n] for n in selection.photos],
        selection,
        describe_skipped(selection.skipped),
        [objects[n] for n in selection.videos],
    )


def _too_few(selection: Selection, folder: str, limits: PhotoLimits) -> tuple[CauseCode, str]:
    """The cause and message for a folder with fewer than min_photos photos: the largest problem
    among the files left out when fixing it would have been enough, else "too few"."""
    count = len(selection.photos)
    unreadable = [
        s.name
        for s in selection.skipped
        if s.reason is Skip.RAW
        or s.reason in (Skip.NOT_PHOTO, Skip.EMPTY)
        and suffix_of(s.name) in PHOTO_SUFFIXES
    ]
    unreadable_videos = [
        s.name
        for s in selection.skipped
        if s.reason in (Skip.NOT_VIDEO, Skip.VIDEO_360)
        or s.reason is Skip.EMPTY and suffix_of(s.name) in VIDEO_SUFFIXES
    ]
    problems = [
        (CauseCode.UNREADABLE_IMAGES, unreadable),
        (CauseCode.UNREADABLE_VIDEO, unreadable_videos),
        (CauseCode.VIDEO_TOO_LARGE, [s.name for s in selection.skipped_for(Skip.VIDEO_TOO_LARGE)]),
        (CauseCode.IMAGE_TOO_LARGE, [s.name for s in selection.skipped_for(Skip.TOO_LARGE)]),
        (CauseCode.DUPLICATE_IMAGES, [s.name for s in selection.skipped_for(Skip.DUPLICATE)]),
    ]
    cause, names = max(problems, key=lambda p: len(p[1]))
    found = f"found {plural(count, 'photo')} in {folder}; at least {limits.min_photos} are needed, or a video"
    details = "; ".join(describe_skipped(selection.skipped))
    message = found + (f" ({details})" if details else "")
    a_video_would_do = cause in (CauseCode.UNREADABLE_VIDEO, CauseCode.VIDEO_TOO_LARGE)
    if names and (count == 0 or count + len(names) >= limits.min_photos or a_video_would_do):
        return cause, message
    return CauseCode.TOO_FEW_IMAGES, message
