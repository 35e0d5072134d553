"""The photo corpus: every kind of file a camera, phone, drone card or editor really produces, each
with the outcome it must get through all three places that look at photos:

- the CLI (`spaceport run` / `submit`, before anything is copied): which files it takes;
- ingest (the cloud inbox; here an in-memory store holding the same bytes): which it accepts;
- the SfM stage's preparation (decoding, working copies, masks, checks): the final word.

Each case is accepted (with the right photos, warnings naming what was left out, and correct
working copies) or refused with the right cause, advice and named files; the originals are never
modified. Cases come from the issue (#10) and from public bug reports of photogrammetry tools
and image libraries (the `source` of each case).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, features

from services.ingest.logic import validate_photo_set
from services.ingest.photos import PhotoLimits
from services.sfm.container.config import Config
from services.sfm.container.photos import PhotoSet, prepare_photos
from services.sfm.container.program import check_inputs
from shared.causes import CauseCode, advice_for
from shared.errors import UserInputError
from shared.photo_formats import MIN_PHOTO_SIDE
from shared.stage import StageFailure
from spaceport.photos import read_photo_folder
from tests.support import photo_files as pf
from tests.support.fakes import BUCKET, MemoryStore
from tests.support.photos import bomb_png

INBOX = f"s3://{BUCKET}/inbox/corpus/"


@dataclass
class Prepared:
    photo_set: PhotoSet
    work: Path
    masks: Path

    def copy_of(self, original: str) -> np.ndarray:
        photo = next(p for p in self.photo_set.photos if p.original == original)
        return np.asarray(Image.open(self.work / photo.name).convert("RGB"), dtype=np.int16)

    def exact_mask(self, original: str) -> np.ndarray:
        photo = next(p for p in self.photo_set.photos if p.original == original)
        return np.asarray(Image.open(self.masks / "exact" / f"{photo.name}.png")) > 0


@dataclass
class Case:
    build: Callable[[Path], None]
    photos: int | None = None  # usable photos when accepted; None when the set is refused
    cause: CauseCode | None = None  # the refusal's cause
    mentions: tuple[str, ...] = ()  # named in the warnings (accepted) or the message (refused)
    masked: int = 0  # photos with masks
    check: Callable[[Prepared], None] | None = None  # the working copies are right
    source: str = ""  # where the kind comes from


def _base(folder: Path, count: int = 8) -> None:
    pf.write_set(folder, count)


def _each(count: int, name: str, data: Callable[[int], bytes]) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        for k in range(count):
            pf.write(folder / name.format(k), data(k))

    return build


def _plus(extra: Callable[[Path], None], count: int = 8) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        _base(folder, count)
        extra(folder)

    return build


def _same_as_plain_jpeg(prepared: Prepared) -> None:
    """The copy of IMG_0000.jpg is what the plain JPEG of the same seed gives (a q95 JPEG of its pixels)."""
    plain = Image.open(io.BytesIO(pf.jpeg(0))).convert("RGB")
    expected = np.asarray(Image.open(io.BytesIO(pf.encode(plain, "JPEG", quality=95))), dtype=np.int16)
    assert np.array_equal(prepared.copy_of("IMG_0000.jpg"), expected)


def _cmyk_red(prepared: Prepared) -> None:
    copy = prepared.copy_of("C_0.jpg")
    red = copy[-20:, -20:].reshape(-1, 3).mean(axis=0)  # the untextured CMYK (0, 255, 255, 0) corner
    assert red[0] > 220 and red[1] < 40 and red[2] < 40


def _sixteen_bit_scaled(name: str) -> Callable[[Prepared], None]:
    def check(prepared: Prepared) -> None:
        copy = prepared.copy_of(name)
        assert copy.max() >= 250 and copy.min() <= 5, "the full 16-bit range maps onto 0..255"
        assert 0.3 < (copy[..., 0] > 127).mean() < 0.7, "scaled, not clipped to white"

    return check


def _gradient16(k: int, channels: int) -> np.ndarray:
    ramp = np.linspace(0, 65535, pf.W, dtype=np.float64)[None, :].repeat(pf.H, axis=0)
    noise = np.random.default_rng(k).random((pf.H, pf.W)) * 2000
    values = np.clip(ramp + noise, 0, 65535).astype(np.uint16)
    return values if channels == 1 else np.stack([values, values[::-1], values[:, ::-1]], axis=2)


def _gray_expanded(prepared: Prepared) -> None:
    copy = prepared.copy_of("G_0.png")
    assert (copy[..., 0] == copy[..., 1]).all() and (copy[..., 1] == copy[..., 2]).all()


def _palette_resolved(prepared: Prepared) -> None:
    copy = prepared.copy_of("P_0.png")
    keep = prepared.exact_mask("P_0.png")
    assert copy[keep].std() > 10  # the palette colours, not indices or black
    assert not keep[0, 0] and keep[pf.H // 2, pf.W // 2]  # transparent index -> ignored


def _disc_masked(name: str) -> Callable[[Prepared], None]:
    def check(prepared: Prepared) -> None:
        keep = prepared.exact_mask(name)
        expected = pf.centre_disc()
        assert (keep == expected).mean() > 0.99

    return check


def _upright(prepared: Prepared) -> None:
    assert prepared.copy_of("IMG_R.jpg").shape[:2] == (pf.W, pf.H)  # portrait: width and height swapped


def _readable_names(prepared: Prepared) -> None:
    names = {p.name for p in prepared.photo_set.photos}
    assert {"Фото_001.jpg", "写真_002.jpg"} <= names
    assert any(name.startswith("cafe") and "\u0301" in name or name.startswith("café") for name in names)


def _unique_folder_names(prepared: Prepared) -> None:
    names = [p.name for p in prepared.photo_set.photos]
    assert len(set(names)) == 8
    assert "DCIM_100MEDIA_DJI_0001.JPG" in names and "DCIM_101MEDIA_DJI_0001.JPG" in names


def _mask_rotated_with_photo(prepared: Prepared) -> None:
    keep = prepared.exact_mask("IMG_R.jpg")  # stored left half black -> displayed top half
    assert keep.shape == (pf.W, pf.H)
    assert not keep[: pf.W // 2 - 2].any() and keep[pf.W // 2 + 2 :].all()


def _build_nested(folder: Path) -> None:
    pf.write_set(folder, 4)
    pf.write_set(folder / "second pass", 4, "P_{:04d}.jpg", first_seed=10)


def _build_dji(folder: Path) -> None:
    pf.write_set(folder / "DCIM/100MEDIA", 4, "DJI_{:04d}.JPG")
    pf.write_set(folder / "DCIM/101MEDIA", 4, "DJI_{:04d}.JPG", first_seed=20)


def _build_non_ascii(folder: Path) -> None:
    names = ["Фото 001.jpg", "写真_002.jpg", "cafe\u0301_003.jpg"] + [f"IMG_{k}.jpg" for k in range(5)]
    for k, name in enumerate(names):
        pf.write(folder / name, pf.jpeg(k))


def _build_sync_copies(folder: Path) -> None:
    _base(folder)
    for k in (1, 2, 3):
        (folder / f"IMG_{k:04d} (1).jpg").write_bytes((folder / f"IMG_{k:04d}.jpg").read_bytes())


def _build_near_duplicates(folder: Path) -> None:
    _base(folder)
    for k in (1, 2):
        image = Image.open(folder / f"IMG_{k:04d}.jpg")
        image.save(folder / f"IMG_{k:04d}_edit.jpg", quality=80)  # re-encoded: other bytes, same view


def _build_hidden(folder: Path) -> None:
    _base(folder)
    pf.write(folder / ".thumbnails/IMG_0001.jpg", pf.jpeg(1, 64, 48))
    pf.write(folder / ".DS_Store", b"\x00\x00\x00\x01Bud1")
    pf.write(folder / "__MACOSX/._IMG_0001.jpg", b"\x00\x05\x16\x07AppleDouble")


def _build_masks(layout: str) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        photos = folder / "images" if layout == "nerfstudio" else folder
        pf.write_set(photos, 8)
        masks = folder / "masks"
        for k in range(8):
            name = f"IMG_{k + 1:04d}.png" if layout == "nerfstudio" else f"IMG_{k + 1:04d}.jpg.png"
            pf.write(masks / name, pf.encode((pf.centre_disc() * 255).astype(np.uint8), "PNG"))

    return build


def _build_wrong_size_mask(folder: Path) -> None:
    _base(folder)
    pf.write(folder / "masks/IMG_0001.png", pf.encode(np.full((100, 100), 255, np.uint8), "PNG"))


def _build_rotated_mask(folder: Path) -> None:
    _base(folder)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait (90 deg clockwise)
    pf.write(folder / "IMG_R.jpg", pf.encode(pf.texture(50), "JPEG", quality=90, exif=exif))
    stored = np.full((pf.H, pf.W), 255, np.uint8)
    stored[:, : pf.W // 2] = 0  # drawn on the stored pixels, as a tool reading raw pixels would
    pf.write(folder / "masks/IMG_R.png", pf.encode(stored, "PNG"))


def _build_rotated(folder: Path) -> None:
    _base(folder)
    exif = Image.Exif()
    exif[0x0112] = 6
    pf.write(folder / "IMG_R.jpg", pf.encode(pf.texture(50), "JPEG", quality=90, exif=exif))


def _build_outputs(folder: Path) -> None:
    _base(folder)
    pf.write_set(folder / "images_2", 8)  # nerfstudio's downscaled copies
    out = folder / "run1"
    pf.write(out / "metrics.json", b"{}")
    pf.write(out / "sparse/0/cameras.bin", b"\x00" * 16)
    pf.write_set(out / "images", 8, first_seed=40)  # undistorted copies of an earlier SfM run


def _srgb_tagged(k: int) -> bytes:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return pf.encode(pf.texture(k), "JPEG", quality=90, icc_profile=profile)


def _colour_kept(prepared: Prepared) -> None:
    plain = np.asarray(Image.open(io.BytesIO(_srgb_tagged(0))).convert("RGB"), dtype=np.int16)
    assert np.abs(prepared.copy_of("ICC_0.jpg") - plain).mean() < 3  # through the profile: the same colours


def _heic(k: int) -> bytes:
    return pf.encode(pf.texture(k), "HEIF", quality=90)


def _mpo(k: int) -> bytes:
    first, second = Image.fromarray(pf.texture(k)), Image.fromarray(pf.texture(k + 100, 120, 90))
    return pf.encode(first, "MPO", save_all=True, append_images=[second], quality=90)


def _gif(k: int) -> bytes:
    return pf.encode(Image.fromarray(pf.texture(k)).convert("P", palette=Image.Palette.ADAPTIVE), "GIF")


def _palette_trns(k: int) -> bytes:
    image = Image.fromarray(pf.texture(k)).convert("P", palette=Image.Palette.ADAPTIVE, colors=255)
    indices = np.asarray(image).copy()
    indices[~pf.centre_disc()] = 255
    paletted = Image.fromarray(indices, "P")
    paletted.putpalette(image.getpalette()[: 255 * 3] + [0, 0, 0])
    return pf.encode(paletted, "PNG", transparency=255)


def _gray_alpha(k: int) -> bytes:
    gray = pf.texture(k)[..., 0]
    return pf.encode(
        Image.fromarray(np.stack([gray, pf.centre_disc().astype(np.uint8) * 255], 2), "LA"), "PNG"
    )


def _float_tiff(k: int) -> bytes:
    return pf.encode(Image.fromarray(pf.texture(k)[..., 1].astype(np.float32) / 255.0, "F"), "TIFF")


def _truncated(k: int) -> bytes:
    return pf.jpeg(k)[:1500]


CASES: dict[str, Case] = {
    "jpeg": Case(_base, photos=8, source="baseline"),
    "motion photo (MP4 + vendor trailer after EOI)": Case(
        _each(8, "IMG_{:04d}.jpg", pf.motion_photo),
        photos=8,
        check=_same_as_plain_jpeg,
        source="issue #10; immich#30654, sview#138",
    ),
    "megabytes of APP segments before the frame header": Case(
        _each(8, "IMG_{:04d}.jpg", pf.jpeg_with_metadata_before_frame),
        photos=8,
        check=_same_as_plain_jpeg,
        source="issue #10",
    ),
    "progressive JPEG": Case(_each(8, "IMG_{:04d}.jpg", lambda k: pf.jpeg(k, progressive=True)), photos=8),
    "CMYK JPEG (Adobe inverted)": Case(
        _each(8, "C_{}.jpg", lambda k: pf.cmyk_jpeg((0, 255, 255, 0), k)),
        photos=8,
        check=_cmyk_red,
        source="stb#128, imgflo#54",
    ),
    "YCCK JPEG": Case(
        _each(8, "Y_{}.jpg", lambda k: pf.cmyk_jpeg((20, 200, 30, 10), k, ycck=True)),
        photos=8,
        source="stb#424",
    ),
    "16-bit RGB PNG": Case(
        _each(8, "P16_{}.png", lambda k: pf.png16_rgb(_gradient16(k, 3))),
        photos=8,
        check=_sixteen_bit_scaled("P16_0.png"),
        source="colmap#2924, colmap#1780",
    ),
    "16-bit gray PNG": Case(
        _each(8, "G16_{}.png", lambda k: pf.encode(Image.fromarray(_gradient16(k, 1)), "PNG")),
        photos=8,
        check=_sixteen_bit_scaled("G16_0.png"),
        source="colmap#2924",
    ),
    "8-bit gray PNG": Case(
        _each(8, "G_{}.png", lambda k: pf.encode(pf.texture(k)[..., 0], "PNG")),
        photos=8,
        check=_gray_expanded,
    ),
    "gray + alpha PNG": Case(
        _each(8, "GA_{}.png", _gray_alpha), photos=8, masked=8, check=_disc_masked("GA_0.png")
    ),
    "palette PNG with a transparent index": Case(
        _each(8, "P_{}.png", _palette_trns), photos=8, masked=8, check=_palette_resolved
    ),
    "RGBA PNG cut-outs (alpha 0, RGB black outside)": Case(
        _each(8, "O_{}.png", lambda k: pf.rgba_png(k, pf.centre_disc())),
        photos=8,
        masked=8,
        check=_disc_masked("O_0.png"),
        source="issue #10; colmap#3806, gaussian-splatting#64, gsplat#372",
    ),
    "LZW TIFF": Case(
        _each(8, "T_{}.tif", lambda k: pf.encode(pf.texture(k), "TIFF", compression="tiff_lzw")),
        photos=8,
        source="issue #10",
    ),
    "16-bit RGB TIFF": Case(
        _each(8, "T16_{}.tiff", lambda k: pf.tiff16_rgb(_gradient16(k, 3))),
        photos=8,
        check=_sixteen_bit_scaled("T16_0.tiff"),
        source="colmap#90",
    ),
    "32-bit float TIFF": Case(_each(8, "F_{}.tif", _float_tiff), photos=8),
    "JPEG with an embedded ICC profile": Case(
        _each(8, "ICC_{}.jpg", _srgb_tagged), photos=8, check=_colour_kept
    ),
    "WebP": Case(_each(8, "W_{}.webp", lambda k: pf.encode(pf.texture(k), "WEBP", quality=90)), photos=8),
    "HEIC": Case(_each(8, "IMG_{}.HEIC", _heic), photos=8, source="Meshroom#1193, Meshroom#1654"),
    "AVIF": Case(
        _each(8, "A_{}.avif", lambda k: pf.encode(pf.texture(k), "AVIF", quality=90)),
        photos=8,
        source="Meshroom#1193",
    ),
    "JPEG 2000": Case(_each(8, "J_{}.jp2", lambda k: pf.encode(pf.texture(k), "JPEG2000")), photos=8),
    "BMP": Case(_each(8, "B_{}.bmp", lambda k: pf.encode(pf.texture(k), "BMP")), photos=8),
    "GIF (palette)": Case(_each(8, "G_{}.gif", _gif), photos=8),
    "MPO (JPEG with a second picture)": Case(
        _each(8, "M_{}.jpg", _mpo), photos=8, source="Pillow#1138, Pillow#4603"
    ),
    "EXIF orientation 6 (portrait)": Case(_build_rotated, photos=9, check=_upright, source="colmap#1456"),
    "PNG content named .jpg": Case(_each(8, "X_{}.jpg", lambda k: pf.encode(pf.texture(k), "PNG")), photos=8),
    "JPEG without a file extension": Case(_each(8, "IMG_{:04d}", pf.jpeg), photos=8),
    "one truncated JPEG among many": Case(
        _plus(lambda f: pf.write(f / "cut.jpg", _truncated(99))),
        photos=8,
        mentions=("cut.jpg", "could not be read"),
    ),
    "mostly truncated JPEGs": Case(
        _each(9, "cut_{}.jpg", _truncated), cause=CauseCode.UNREADABLE_IMAGES, mentions=("cut_0.jpg",)
    ),
    "text saved as .jpg": Case(
        _plus(lambda f: pf.write(f / "notes.jpg", b"meeting notes, not a photo\n" * 9)),
        photos=8,
        mentions=("notes.jpg",),
    ),
    "an empty file": Case(_plus(lambda f: pf.write(f / "zero.jpg", b"")), photos=8, mentions=("zero.jpg",)),
    "photos smaller than the SfM minimum": Case(
        _each(8, "S_{}.jpg", lambda k: pf.jpeg(k, 160, 120)),
        cause=CauseCode.IMAGE_TOO_SMALL,
        mentions=("S_0.jpg", f"{MIN_PHOTO_SIDE} pixels"),
    ),
    "a decompression bomb among many": Case(
        _plus(lambda f: pf.write(f / "bomb.png", bomb_png())), photos=8, mentions=("bomb.png", "megapixels")
    ),
    "blank frames (lens cap)": Case(
        _each(8, "K_{}.jpg", lambda k: pf.encode(np.full((pf.H, pf.W, 3), k, np.uint8), "JPEG")),
        cause=CauseCode.BLANK_IMAGES,
        mentions=("K_0.jpg",),
    ),
    "one blank frame among many": Case(
        _plus(lambda f: pf.write(f / "cap.jpg", pf.encode(np.full((pf.H, pf.W, 3), 7, np.uint8), "JPEG"))),
        photos=8,
        mentions=("cap.jpg", "flat colour"),
    ),
    "sync-client copies NAME (1).JPG": Case(
        _build_sync_copies, photos=8, mentions=("IMG_0001 (1).jpg (= IMG_0001.jpg)",), source="issue #10"
    ),
    "near-duplicates (re-encoded)": Case(_build_near_duplicates, photos=10),
    "DJI card layout DCIM/100MEDIA + 101MEDIA": Case(
        _build_dji, photos=8, check=_unique_folder_names, source="issue #10"
    ),
    "one pass per folder, sub-folder with a space": Case(_build_nested, photos=8, source="issue #10"),
    "hidden folders, .DS_Store, __MACOSX": Case(
        _build_hidden, photos=8, mentions=(".thumbnails/", "__MACOSX/")
    ),
    "non-ASCII and decomposed file names": Case(
        _build_non_ascii, photos=8, check=_readable_names, source="Meshroom#1988, colmap#3025"
    ),
    "camera RAW next to JPEGs": Case(
        _plus(lambda f: pf.write(f / "IMG_0001.DNG", pf.encode(pf.texture(1), "TIFF"))),
        photos=8,
        mentions=("IMG_0001.DNG", "RAW"),
        source="ODM#1831, Meshroom#586",
    ),
    "camera RAW only": Case(
        _each(8, "DJI_{}.DNG", lambda k: pf.encode(pf.texture(k), "TIFF")),
        cause=CauseCode.UNREADABLE_IMAGES,
        mentions=("DJI_0.DNG", "RAW"),
        source="ODM#1831",
    ),
    "a file named as a video that is not one, and sidecars (.MP4 .SRT .xmp .AAE)": Case(
        _plus(
            lambda f: [pf.write(f / n, b"x" * 64) for n in ("DJI_0001.MP4", "DJI_0001.SRT", "a.xmp", "b.AAE")]
        ),
        photos=8,
        mentions=("DJI_0001.MP4", "not one", "DJI_0001.SRT"),
    ),
    "masks/ folder, nerfstudio layout (images/ + masks/, same stem)": Case(
        _build_masks("nerfstudio"), photos=8, masked=8, check=_disc_masked("images/IMG_0001.jpg")
    ),
    "masks/ folder, COLMAP naming (NAME.jpg.png)": Case(
        _build_masks("colmap"), photos=8, masked=8, check=_disc_masked("IMG_0001.jpg")
    ),
    "a mask of the wrong size": Case(
        _build_wrong_size_mask, cause=CauseCode.INVALID_MASKS, mentions=("IMG_0001.jpg", "100x100")
    ),
    "a mask drawn on the stored pixels of a rotated photo": Case(
        _build_rotated_mask, photos=9, masked=1, check=_mask_rotated_with_photo
    ),
    "our outputs and nerfstudio downscales in the folder": Case(
        _build_outputs, photos=8, mentions=("images_2/", "run1/")
    ),
    "too few photos": Case(
        lambda f: pf.write_set(f, 3), cause=CauseCode.TOO_FEW_IMAGES, mentions=("3 usable",)
    ),
}

OPTIONAL = {"HEIC": lambda: _encodes("HEIF"), "AVIF": lambda: features.check("avif") and _encodes("AVIF")}


def _encodes(fmt: str) -> bool:
    try:
        pf.encode(pf.texture(0, 16, 16), fmt)
    except (KeyError, OSError, ValueError, RuntimeError):
        return False
    return True


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_the_corpus_covers_at_least_25_kinds():
    assert len(CASES) >= 25


@pytest.mark.parametrize("kind", list(CASES))
def test_every_kind_of_photo_file_gets_the_right_outcome_everywhere(kind, tmp_path):
    if kind in OPTIONAL and not OPTIONAL[kind]():
        pytest.skip(f"this Pillow cannot write {kind}")
    case = CASES[kind]
    folder = tmp_path / "photos"
    folder.mkdir()
    case.build(folder)
    before = _hashes(folder)

    # The CLI and ingest take the same files (one list of accepted types).
    cli_error = ingest_error = None
    try:
        cli_photos = read_photo_folder(folder).selection.photos
    except UserInputError as exc:
        cli_error, cli_photos = exc, None
    store = MemoryStore()
    for name, path in ((str(p.relative_to(folder)), p) for p in folder.rglob("*") if p.is_file()):
        store.put_bytes(INBOX + name, path.read_bytes())
    try:
        ingest = validate_photo_set(store, INBOX, PhotoLimits())
    except UserInputError as exc:
        ingest_error = exc
    assert (cli_error is None) == (ingest_error is None), (cli_error, ingest_error)
    if cli_error is None:
        assert ingest.count == len(cli_photos)

    # The SfM stage decodes and decides.
    work, masks = tmp_path / "work", tmp_path / "masks"
    prepared = Prepared(prepare_photos(folder, work, 1000, MIN_PHOTO_SIDE, masks), work, masks)
    try:
        warnings = check_inputs(prepared.photo_set, Config())
        outcome, text = None, " ".join(warnings)
    except StageFailure as failure:
        outcome, text = failure.cause, failure.message
        assert failure.advice == advice_for(failure.cause)

    assert outcome is case.cause, text
    if ingest_error is not None:  # what ingest can already see, it refuses with the same cause
        assert ingest_error.cause in (case.cause, CauseCode.TOO_FEW_IMAGES), ingest_error.message
        assert "s3://" not in ingest_error.message
    for mention in case.mentions:
        assert mention in text, text
    if case.cause is None:
        assert len(prepared.photo_set.photos) == case.photos
        assert sum(p.masked for p in prepared.photo_set.photos) == case.masked
        if case.check is not None:
            case.check(prepared)
    assert _hashes(folder) == before, "the originals are never modified"
