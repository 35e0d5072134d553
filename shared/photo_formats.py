"""What counts as a photo or a video: the one list of accepted formats, file-name rules and limits.

The CLI, the ingest service and the SfM stage all select inputs with `select_photos`, so a file
that one of them takes is taken by all three. Pure Python (the ingest Lambda imports it): it
decides from names and the first bytes of a file. Whether a photo or video is *readable* is
decided by decoding it (Pillow + pillow-heif, PyAV) in the SfM stage, never here.

Layout rules (local folders and `inbox/<name>/**` alike):
- photos are collected recursively, in a stable order (case-folded relative path);
- hidden files and folders (`.name`), `__MACOSX` zip residue, our own outputs (`sparse/`,
  `previews/`, `sog/`, a folder holding a stage's `metrics.json`) and nerfstudio's downscaled
  copies (`images_2/`, `images_4/`, `images_8/`) are skipped and named;
- a folder named `masks` holds masks, not photos (see `mask_candidates`);
- a video's DJI telemetry subtitle (`DJI_0001.SRT` beside `DJI_0001.MP4`) is its sidecar; its
  low-resolution copy (`.LRV`) and thumbnail (`.THM`) are skipped and named.

Signatures (what the first bytes say a file is) are in shared/signatures.py.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from shared.signatures import (
    is_avi,
    is_avif,
    is_bmp,
    is_gif,
    is_heif,
    is_isobmff_video,
    is_jpeg,
    is_jpeg2000,
    is_matroska,
    is_mpeg_ts,
    is_png,
    is_tiff,
    is_webp,
)
from shared.wording import plural


@dataclass(frozen=True)
class PhotoFormat:
    name: str  # what a user calls it
    pillow_formats: tuple[str, ...]  # Image.format values Pillow (+ pillow-heif) gives it
    suffixes: tuple[str, ...]  # lower-case file name endings
    matches: Callable[[bytes], bool]  # the file's first bytes carry this format's signature


FORMATS: tuple[PhotoFormat, ...] = (
    PhotoFormat("JPEG", ("JPEG", "MPO"), (".jpg", ".jpeg", ".jpe", ".jfif", ".jif"), is_jpeg),
    PhotoFormat("PNG", ("PNG",), (".png",), is_png),
    PhotoFormat("TIFF", ("TIFF",), (".tif", ".tiff"), is_tiff),
    PhotoFormat("WebP", ("WEBP",), (".webp",), is_webp),
    PhotoFormat("HEIC/HEIF", ("HEIF",), (".heic", ".heif", ".hif"), is_heif),
    PhotoFormat("AVIF", ("AVIF",), (".avif",), is_avif),
    PhotoFormat("JPEG 2000", ("JPEG2000",), (".jp2", ".j2k", ".jpf", ".jpx"), is_jpeg2000),
    PhotoFormat("BMP", ("BMP",), (".bmp",), is_bmp),
    PhotoFormat("GIF", ("GIF",), (".gif",), is_gif),
)
VIDEO_FORMATS: tuple[PhotoFormat, ...] = (  # pillow_formats: the PyAV (FFmpeg) demuxer names
    PhotoFormat("MP4/MOV", ("mov,mp4,m4a,3gp,3g2,mj2",), (".mp4", ".mov", ".m4v", ".3gp"), is_isobmff_video),
    PhotoFormat("MKV/WebM", ("matroska,webm",), (".mkv", ".webm"), is_matroska),
    PhotoFormat("AVI", ("avi",), (".avi",), is_avi),
    PhotoFormat("MPEG-TS", ("mpegts",), (".mts", ".m2ts", ".ts"), is_mpeg_ts),
)
PHOTO_SUFFIXES = frozenset(s for f in FORMATS for s in f.suffixes)
PILLOW_FORMATS = frozenset(p for f in FORMATS for p in f.pillow_formats)
FORMAT_NAMES = ", ".join(f.name for f in FORMATS)
VIDEO_FORMAT_NAMES = ", ".join(f.name for f in VIDEO_FORMATS)
# Camera RAW files: Pillow would open some (DNG, NEF...) as TIFF and give the small embedded
# preview, so they are skipped by name and the user is asked for JPEG or TIFF exports.
RAW_SUFFIXES = frozenset(
    ".dng .cr2 .cr3 .crw .nef .nrw .arw .srf .sr2 .raf .orf .rw2 .pef .srw .x3f .3fr .iiq .erf .kdc .mrw .raw".split()
)
VIDEO_SUFFIXES = frozenset(s for f in VIDEO_FORMATS for s in f.suffixes)
# A drone's or action camera's low-resolution copy and thumbnail of each video (DJI, GoPro).
VIDEO_PROXY_SUFFIXES = frozenset({".lrv", ".thm"})
# 360-degree videos (two fisheye images per frame: Insta360, GoPro MAX) need a reframing export.
VIDEO_360_SUFFIXES = frozenset({".insv", ".360"})
SIDECAR_SUFFIXES = (".srt",)  # DJI telemetry subtitles: per-frame GPS, altitude, focal length
MASK_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")  # in order of preference
HEAD_BYTES = 200  # enough for every signature above (MPEG-TS: a sync byte at 0 and 188, M2TS 4 and 196)

MANIFEST_NAME = "job.json"
MASKS_DIR = "masks"
OUTPUT_DIRS = frozenset({"sparse", "previews", "sog", "train-checkpoints", "stereo"})
OUTPUT_MARKER = "metrics.json"  # every Spaceport stage output folder has one
DOWNSCALED_DIR = re.compile(r"^images_\d+$")  # nerfstudio's images_2/, images_4/, images_8/

MIN_PHOTOS = 8
MAX_PHOTOS = 2_000
MAX_FILE_BYTES = 512 * 1024 * 1024  # per file: an uncompressed 16-bit 100 MP TIFF is ~600 MB
MAX_PIXELS = 120_000_000  # larger images are refused before anyone decodes them
# The shortest side a photo may have, measured with bench/sfm_min_size.py (docs/photos.md): the
# SfM stage places every photo of the synthetic orbit and drone sets at 320x240, 280x210 and
# 240x180 (3 seeds each), and fails the orbit set at 200x150 (too few 3D points) and below.
MIN_PHOTO_SIDE = 180
# Videos: a DJI card splits recordings at 4 GiB; 30 minutes of 4K decodes in minutes on one CPU.
MAX_VIDEO_BYTES = 8 * 1024**3
MAX_VIDEO_SECONDS = 30 * 60
MAX_VIDEO_PIXELS = 7680 * 4320  # 8K UHD


class Skip(StrEnum):
    """Why a file in a photo folder is not used as a photo or video."""

    HIDDEN = "hidden"
    OUTPUT = "an output of ours or a downscaled copy"
    DATA_DIR = "the local data dir (the copies and outputs of earlier jobs)"
    RAW = "camera RAW (export JPEG or TIFF)"
    VIDEO_PROXY = "a video's low-resolution copy or thumbnail (the video itself is used)"
    VIDEO_360 = "360-degree video (export a flat video first)"
    NOT_VIDEO = "named as a video, but not one"
    NOT_PHOTO = "not a photo"
    EMPTY = "empty (0 bytes)"
    TOO_LARGE = "larger than the file size limit"
    VIDEO_TOO_LARGE = f"a video larger than {MAX_VIDEO_BYTES // 1024**3} GiB"
    UNMATCHED_MASK = "a mask without a photo of the same name"
    UNMATCHED_SIDECAR = "a telemetry subtitle without a video of the same name"
    DUPLICATE = "an identical copy of another photo or video"


@dataclass(frozen=True)
class Skipped:
    name: str  # relative path in the folder
    reason: Skip
    same_as: str | None = None  # for duplicates: the photo or video kept


@dataclass
class Selection:
    """A folder's photos and videos (relative POSIX paths, in order), their masks and sidecars, and
    what was left out."""

    photos: list[str] = field(default_factory=list)
    masks: dict[str, str] = field(default_factory=dict)  # photo -> its mask file
    skipped: list[Skipped] = field(default_factory=list)
    videos: list[str] = field(default_factory=list)
    sidecars: dict[str, str] = field(default_factory=dict)  # video -> its DJI .SRT telemetry

    @property
    def inputs(self) -> list[str]:
        """Every file a job reads: photos, masks, videos and sidecars."""
        return [*self.photos, *self.masks.values(), *self.videos, *self.sidecars.values()]

    def enough(self, min_photos: int) -> bool:
        """At least min_photos photos, or a video (whose usable frames the SfM stage counts)."""
        return len(self.photos) >= min_photos or bool(self.videos)

    def skipped_for(self, *reasons: Skip) -> list[Skipped]:
        return [s for s in self.skipped if s.reason in reasons]


def order_key(name: str) -> tuple[str, str]:
    """Stable, human order: case-folded path first, exact path to break ties."""
    return (name.casefold(), name)


def suffix_of(name: str) -> str:
    return posixpath.splitext(name)[1].lower()


def photo_format(head: bytes) -> PhotoFormat | None:
    """The accepted photo format whose signature the file's first bytes carry, if any."""
    for fmt in FORMATS:
        if fmt.matches(head):
            return fmt
    return None


def video_format(head: bytes) -> PhotoFormat | None:
    """The accepted video container whose signature the file's first bytes carry (photos first:
    a HEIC or AVIF photo is an ISO-BMFF file too)."""
    if photo_format(head) is not None:
        return None
    return next((fmt for fmt in VIDEO_FORMATS if fmt.matches(head)), None)


def _folders(name: str) -> list[str]:
    return name.split("/")[:-1]


def _hidden_part(part: str) -> bool:
    return part.startswith(".") or part == "__MACOSX"


def _is_hidden(name: str) -> bool:
    return any(_hidden_part(part) for part in name.split("/"))


def _skipped_root(name: str, is_root: Callable[[str], bool]) -> str:
    """The outermost folder of `name` for which is_root(part) holds ("a/.cache/"), else the name."""
    parts = name.split("/")
    for i, part in enumerate(parts[:-1]):
        if is_root(part):
            return "/".join(parts[: i + 1]) + "/"
    return name


def _in_mask_folder(name: str) -> bool:
    return MASKS_DIR in _folders(name)


def _output_folders(names: list[str]) -> set[str]:
    """Folders that are an SfM output of ours (a stage's metrics.json beside sparse/): their
    images/ are undistorted working copies, not photos."""
    markers = {posixpath.dirname(n) for n in names if posixpath.basename(n) == OUTPUT_MARKER}
    with_sparse = set()
    for name in names:
        parts = name.split("/")
        with_sparse.update("/".join(parts[:i]) for i, part in enumerate(parts[:-1]) if part == "sparse")
    return markers & with_sparse


def _output_part(part: str) -> bool:
    return part in OUTPUT_DIRS or bool(DOWNSCALED_DIR.match(part))


def _output_root(name: str, output_roots: set[str]) -> str | None:
    """The folder that makes `name` an output of ours or a downscaled copy ("sparse/"), if any."""
    for root in sorted(output_roots, key=len):
        if root == "" or name.startswith(root + "/"):
            return root + "/" if root else name
    root = _skipped_root(name, _output_part)
    return root if root != name else None


def needs_head(name: str) -> bool:
    """Whether `select_photos` needs this file's first HEAD_BYTES to decide (read them, then call it)."""
    base = posixpath.basename(name)
    if not base or _is_hidden(name) or base == MANIFEST_NAME or _in_mask_folder(name):
        return False
    suffix = suffix_of(name)
    return suffix not in RAW_SUFFIXES | VIDEO_PROXY_SUFFIXES | VIDEO_360_SUFFIXES | set(SIDECAR_SUFFIXES)


def select_photos(
    names: Iterable[str],
    heads: Mapping[str, bytes],
    sizes: Mapping[str, int] | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    max_video_bytes: int = MAX_VIDEO_BYTES,
) -> Selection:
    """Pick the photos and videos among the files of a folder.

    names: every file's path relative to the folder (POSIX, no leading "/").
    heads: the first HEAD_BYTES of each file for which `needs_head` is true (a missing entry
        counts as empty). A file is a photo (or video) when its bytes carry an accepted signature,
        whatever its name ends in; a name ending in a photo (video) suffix with other content is
        "not a photo" ("not a video").
    sizes: file sizes in bytes, to skip photos over `max_bytes` and videos over
        `max_video_bytes` (optional).
    """
    all_names = sorted(set(names), key=order_key)
    outputs = _output_folders(all_names)
    selection = Selection()
    mask_files: list[str] = []
    sidecar_files: list[str] = []
    folded: set[str] = set()  # hidden and output folders are named once, not file by file

    def skip_once(root: str, reason: Skip) -> None:
        if root not in folded:
            folded.add(root)
            selection.skipped.append(Skipped(root, reason))

    def skip(reason: Skip) -> None:
        selection.skipped.append(Skipped(name, reason))

    for name in all_names:
        base = posixpath.basename(name)
        suffix = suffix_of(name)
        if base == MANIFEST_NAME and "/" not in name or base == OUTPUT_MARKER:
            continue  # ours: the job manifest, a stage's metrics
        output_root = _output_root(name, outputs)
        head = heads.get(name, b"")
        is_video = video_format(head) is not None if head else suffix in VIDEO_SUFFIXES
        if _is_hidden(name):
            skip_once(_skipped_root(name, _hidden_part), Skip.HIDDEN)
        elif output_root is not None:
            skip_once(output_root, Skip.OUTPUT)
        elif _in_mask_folder(name):
            mask_files.append(name)
        elif suffix in SIDECAR_SUFFIXES:
            sidecar_files.append(name)
        elif suffix in RAW_SUFFIXES:
            skip(Skip.RAW)
        elif suffix in VIDEO_PROXY_SUFFIXES:
            skip(Skip.VIDEO_PROXY)
        elif suffix in VIDEO_360_SUFFIXES:
            skip(Skip.VIDEO_360)
        elif sizes is not None and sizes.get(name, 1) > (max_video_bytes if is_video else max_bytes):
            skip(Skip.VIDEO_TOO_LARGE if is_video else Skip.TOO_LARGE)
        elif not head:
            skip(Skip.EMPTY if suffix in PHOTO_SUFFIXES | VIDEO_SUFFIXES else Skip.NOT_PHOTO)
        elif photo_format(head) is not None:
            selection.photos.append(name)
        elif is_video:
            selection.videos.append(name)
        else:
            skip(Skip.NOT_VIDEO if suffix in VIDEO_SUFFIXES else Skip.NOT_PHOTO)
    selection.masks, unmatched = match_masks(selection.photos, mask_files)
    selection.skipped.extend(Skipped(m, Skip.UNMATCHED_MASK) for m in unmatched)
    selection.sidecars, unmatched = match_sidecars(selection.videos, sidecar_files)
    selection.skipped.extend(Skipped(m, Skip.UNMATCHED_SIDECAR) for m in unmatched)
    selection.skipped.sort(key=lambda s: order_key(s.name))
    return selection


def match_sidecars(videos: list[str], sidecar_files: list[str]) -> tuple[dict[str, str], list[str]]:
    """(video -> its telemetry subtitle, subtitles without a video): same folder, same stem, any
    case (`DJI_0001.MP4` and `DJI_0001.SRT`)."""
    by_stem = {posixpath.splitext(v)[0].casefold(): v for v in videos}
    matched: dict[str, str] = {}
    unmatched: list[str] = []
    for sidecar in sidecar_files:
        video = by_stem.get(posixpath.splitext(sidecar)[0].casefold())
        if video is None or video in matched:
            unmatched.append(sidecar)
        else:
            matched[video] = sidecar
    return matched, unmatched


def mask_candidates(photo: str) -> list[str]:
    """Where a photo's mask may be, most specific first (COLMAP and nerfstudio conventions).

    A `masks/` folder beside the photos, or beside the `images/` folder that holds them, mirrors
    the photos' sub-folders; a mask is named like its photo plus ".png" (COLMAP's
    `ImageReaderOptions.mask_path`: `abc/012.jpg` -> `masks/abc/012.jpg.png`) or with the same
    stem (nerfstudio: `images/frame_00001.jpg` -> `masks/frame_00001.png`).
    """
    parts = photo.split("/")
    found = []
    for depth in range(len(parts) - 1, -1, -1):
        root, rel = parts[:depth], parts[depth:]
        roots = [root]
        if root and root[-1] == "images":
            roots.append(root[:-1])  # images/ and masks/ side by side
        for base in roots:
            stem = posixpath.splitext(rel[-1])[0]
            folder = "/".join([*base, MASKS_DIR, *rel[:-1]])
            found.append(f"{folder}/{rel[-1]}.png")
            found.extend(f"{folder}/{stem}{s}" for s in MASK_SUFFIXES)
    return list(dict.fromkeys(found))


def match_masks(photos: list[str], mask_files: list[str]) -> tuple[dict[str, str], list[str]]:
    """(photo -> mask, masks that belong to no photo); a file matches at most one photo."""
    available = {m.casefold(): m for m in mask_files if suffix_of(m) in MASK_SUFFIXES}
    matched: dict[str, str] = {}
    used: set[str] = set()
    for photo in photos:
        for candidate in mask_candidates(photo):
            mask = available.get(candidate.casefold())
            if mask is not None and mask not in used:
                matched[photo] = mask
                used.add(mask)
                break
    return matched, [m for m in mask_files if m not in used]


def drop_duplicates(selection: Selection, fingerprints: Mapping[str, object]) -> Selection:
    """Keep one photo (or video) of each set with equal fingerprints (content hash, or S3 ETag + size).

    The kept one is the shortest name (then the first in order): `IMG_1.JPG` rather than its
    sync copy `IMG_1 (1).JPG`. Files without a fingerprint are always kept.
    """
    groups: dict[object, list[str]] = {}
    for name in [*selection.photos, *selection.videos]:
        key = fingerprints.get(name)
        if key is not None:
            groups.setdefault(key, []).append(name)
    dropped: dict[str, str] = {}
    for members in groups.values():
        keep = min(members, key=lambda n: (len(n), order_key(n)))
        dropped.update({m: keep for m in members if m != keep})
    skipped = selection.skipped + [Skipped(n, Skip.DUPLICATE, same_as=k) for n, k in dropped.items()]
    return Selection(
        photos=[p for p in selection.photos if p not in dropped],
        masks={p: m for p, m in selection.masks.items() if p not in dropped},
        skipped=sorted(skipped, key=lambda s: order_key(s.name)),
        videos=[v for v in selection.videos if v not in dropped],
        sidecars={v: s for v, s in selection.sidecars.items() if v not in dropped},
    )


def name_list(names: list[str], shown: int = 8) -> str:
    """'a, b, c and 4 more'."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def describe_skipped(skipped: list[Skipped], shown: int = 8) -> list[str]:
    """One sentence per reason, naming the files: what a user reads in warnings."""
    lines = []
    duplicates = [s for s in skipped if s.reason is Skip.DUPLICATE]
    if duplicates:
        pairs = [f"{s.name} (= {s.same_as})" for s in duplicates]
        lines.append(f"{plural(len(duplicates), 'identical copy', 'identical copies')} dropped: "
                     f"{name_list(pairs, shown)}")
    for reason in Skip:
        if reason is Skip.DUPLICATE:
            continue
        names = [s.name for s in skipped if s.reason is reason]
        if names:
            lines.append(f"{len(names)} skipped, {reason.value}: {name_list(names, shown)}")
    return lines
