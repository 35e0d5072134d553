"""The CLI's side of a photo folder (or one video file): find the photos and videos (the rules of
shared/photo_formats.py, as ingest and SfM apply them), refuse a folder before anything is copied
or uploaded, copy it into the local inbox (and take the copy back when the job is refused), and
say what happened to the photos afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.causes import CauseCode
from shared.errors import UserInputError
from shared.events import check_email
from shared.photo_folder import scan_file, scan_folder
from shared.wording import counted, plural
from shared.photo_formats import (
    FORMAT_NAMES,
    MIN_PHOTOS,
    VIDEO_FORMAT_NAMES,
    Selection,
    Skip,
    describe_skipped,
    name_list,
)


@dataclass
class PhotoFolder:
    folder: Path
    selection: Selection

    @property
    def files(self) -> dict[str, Path]:
        """What a job needs from the folder (relative path -> file): the photos, their masks, the
        videos and their subtitles, and the identical copies (ingest and SfM name them in their
        warnings)."""
        names = [*self.selection.inputs, *(s.name for s in self.selection.skipped_for(Skip.DUPLICATE))]
        return {name: self.folder / name for name in names}

    @property
    def counted(self) -> str:
        """'12 photos', '1 video', '3 photos and 2 videos'."""
        return counted(len(self.selection.photos), len(self.selection.videos))

    @property
    def warnings(self) -> list[str]:
        return describe_skipped(self.selection.skipped)

    @property
    def uncopied_warnings(self) -> list[str]:
        """The files left out that are not copied with the job (all but identical copies, which
        go with it so that ingest and SfM name them): only this scan can name them."""
        return describe_skipped([s for s in self.selection.skipped if s.reason is not Skip.DUPLICATE])


def read_photo_folder(
    folder: Path, email: str | None = None, min_photos: int = MIN_PHOTOS, exclude: Sequence[Path] = ()
) -> PhotoFolder:
    """Check the address, the folder (or single video file) and the photo count before anything is copied.
    `exclude`: paths of ours that the scan never reads (the data dir, when it lies in the folder).

    Raises UserInputError (INVALID_REQUEST for the address or folder, TOO_FEW_IMAGES,
    UNREADABLE_IMAGES or UNREADABLE_VIDEO for the photos; a single file that is not a video:
    `read_single_file`) with local paths in the message.
    """
    if email is not None:
        try:
            check_email(email)
        except ValueError as exc:
            raise UserInputError(CauseCode.INVALID_REQUEST, str(exc)) from exc
    if folder.is_file():
        return read_single_file(folder, min_photos)
    if not folder.is_dir():
        raise UserInputError(CauseCode.INVALID_REQUEST, f"{folder} is not a folder of photos or a video")
    found = PhotoFolder(folder, scan_folder(folder, exclude))
    count = len(found.selection.photos)
    if not found.selection.enough(min_photos):
        left_out = "; ".join(found.warnings)
        raw = found.selection.skipped_for(Skip.RAW)
        raw_would_do = raw and count + len(raw) >= min_photos
        cause = CauseCode.UNREADABLE_IMAGES if raw_would_do else CauseCode.TOO_FEW_IMAGES
        if found.selection.skipped_for(Skip.NOT_VIDEO, Skip.VIDEO_360) and not raw_would_do:
            cause = CauseCode.UNREADABLE_VIDEO  # a readable video would have been enough
        found_text = f"found {plural(count, 'photo')}" if count else "no photos"
        raise UserInputError(
            cause,
            f"{found_text} in {folder} or its sub-folders; at least {min_photos} are needed, or a video "
            f"(accepted: {FORMAT_NAMES}; videos: {VIDEO_FORMAT_NAMES})"
            + (f"; {left_out}" if left_out else ""),
        )
    return found


# A file given on its own that is named as a video (or is one) but cannot be used as one.
VIDEO_SKIPS = {Skip.NOT_VIDEO: CauseCode.UNREADABLE_VIDEO, Skip.VIDEO_360: CauseCode.UNREADABLE_VIDEO,
               Skip.VIDEO_TOO_LARGE: CauseCode.VIDEO_TOO_LARGE}


def read_single_file(path: Path, min_photos: int = MIN_PHOTOS) -> PhotoFolder:
    """One file given instead of a folder: a video is a job; anything else is refused with what
    it is and the folder to give instead (one photo is never enough: TOO_FEW_IMAGES; a file named
    as a video that is not a usable one: UNREADABLE_VIDEO or VIDEO_TOO_LARGE)."""
    found = PhotoFolder(path.parent, scan_file(path))
    selection = found.selection
    if selection.videos:
        return found
    instead = f"give the folder of photos instead ({path.parent}), or one video ({VIDEO_FORMAT_NAMES})"
    for skipped in selection.skipped_for(*VIDEO_SKIPS):
        raise UserInputError(VIDEO_SKIPS[skipped.reason], f"{path} is {skipped.reason.value}; {instead}")
    reasons = [s.reason.value for s in selection.skipped if s.name == path.name]
    what = "a single photo" if selection.photos else ", ".join(["a single file", *reasons[:1]])
    raise UserInputError(
        CauseCode.TOO_FEW_IMAGES, f"{path} is {what}: at least {min_photos} photos are needed; {instead}"
    )


def copy_into_inbox(photos: PhotoFolder, target: Path) -> int:
    """Copy (never move or modify) the job's files, keeping their sub-folders; returns the bytes copied."""
    target.mkdir(parents=True, exist_ok=False)
    total = 0
    for name, source in photos.files.items():
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
        total += source.stat().st_size
    return total


def remove_inbox_copy(target: Path) -> None:
    """Take back a copy made for a job that was refused: nothing of it is left behind."""
    shutil.rmtree(target, ignore_errors=True)


def photo_notes(view: dict[str, Any], left_out: bool = True) -> list[str]:
    """Lines for the terminal from a job view's `photos` (services/ingest/logic.photo_summary);
    left_out=False omits the files ingest left out (printed when the job was submitted)."""
    photos = view.get("photos") or {}
    notes = [f"left out: {line}" for line in photos.get("left_out", [])] if left_out else []
    notes += photos.get("skipped") or []  # "1 photo could not be read and was skipped: ..."
    unplaced = photos.get("unplaced") or []
    if unplaced:
        solved = photos.get("solved") or photos.get("count")  # the photos (and frames) the solve had
        notes.append(f"not placed in 3D ({len(unplaced)} of {solved}): {name_list(unplaced)}")
    groups = photos.get("groups") or []
    if len(groups) > 1:
        notes.append(
            f"the photos form {len(groups)} separate groups ({', '.join(map(str, groups))} photos); "
            "the model holds one: submit each capture as its own job"
        )
    for video in photos.get("videos") or []:
        blurry, redundant = video.get("rejected_blurry", 0), video.get("rejected_redundant", 0)
        skipped = f" (skipped: {blurry} blurry, {redundant} where the camera barely moved)"
        counts = f"{video['name']}: {plural(video['frames_kept'], 'frame')} from {video['used_s']:.1f} s"
        notes.append(counts + (skipped if blurry + redundant else ""))
    if photos.get("with_masks"):
        notes.append(f"{plural(photos['with_masks'], 'photo')} with masks (masked pixels ignored)")
    notes += [f"capture check: {finding}" for finding in photos.get("capture") or []]
    return notes


def quality_notes(view: dict[str, Any]) -> list[str]:
    """Lines for the terminal when the delivered model's quality is poor (view: a job view)."""
    quality = view.get("quality") or {}
    if not quality.get("poor"):
        return []
    return ["the model's quality is poor:", *(f"  {reason}" for reason in quality["reasons"]),
            *(f"  what to do: {advice}" for advice in quality["advice"])]
