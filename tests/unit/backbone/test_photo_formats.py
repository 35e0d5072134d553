"""The one list of accepted photo types and the folder rules (shared/photo_formats.py)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from shared.photo_formats import (
    FORMATS,
    Skip,
    drop_duplicates,
    mask_candidates,
    order_key,
    photo_format,
    select_photos,
)

PILLOW_WRITER = {
    "JPEG": "JPEG",
    "PNG": "PNG",
    "TIFF": "TIFF",
    "WebP": "WEBP",
    "HEIC/HEIF": "HEIF",
    "AVIF": "AVIF",
    "JPEG 2000": "JPEG2000",
    "BMP": "BMP",
    "GIF": "GIF",
}


def head_of(fmt: str) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    try:
        Image.new("RGB", (16, 16), (90, 30, 200)).save(out, PILLOW_WRITER[fmt])
    except (KeyError, OSError, ValueError, RuntimeError) as exc:
        pytest.skip(f"this Pillow cannot write {fmt}: {exc}")
    return out.getvalue()[:64]


@pytest.mark.parametrize("fmt", [f.name for f in FORMATS])
def test_every_accepted_format_is_recognised_by_its_own_signature(fmt):
    found = photo_format(head_of(fmt))
    assert found is not None and found.name == fmt


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf", "HEIC/HEIF"),  # iPhone: major brand mif1
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "AVIF"),
        (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom", None),  # Canon CR3 RAW
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", None),  # a video
        (b"BM" + b"\x00" * 12 + b"\x28\x00\x00\x00", "BMP"),
        (b"BMW 320d service notes", None),
        (b"\xff\xd8\xff\xe1", "JPEG"),
        (b"\xff\xd8 text", None),
    ],
)
def test_signatures_tell_photos_from_lookalikes(head, expected):
    found = photo_format(head)
    assert (found.name if found else None) == expected


def test_a_photo_is_taken_by_content_whatever_its_name_and_other_files_are_named_with_a_reason():
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 60
    names = ["a.JPG", "b", "c.jpg", "d.CR2", "e.MOV", "f.txt", "job.json", "sub/job.json", "g.jpg"]
    heads = {"a.JPG": jpeg, "b": jpeg, "c.jpg": b"<html>", "e.MOV": b"not a movie", "f.txt": b"hello",
             "sub/job.json": b"{}"}
    selection = select_photos(names, heads)
    assert selection.photos == ["a.JPG", "b"]
    reasons = {s.name: s.reason for s in selection.skipped}
    assert reasons == {
        "c.jpg": Skip.NOT_PHOTO,
        "d.CR2": Skip.RAW,
        "e.MOV": Skip.NOT_VIDEO,
        "f.txt": Skip.NOT_PHOTO,
        "g.jpg": Skip.EMPTY,
        "sub/job.json": Skip.NOT_PHOTO,
    }  # the top-level job.json is the manifest: ours, not skipped


def test_files_over_the_size_limit_are_skipped_without_reading_them():
    selection = select_photos(["big.jpg"], {}, sizes={"big.jpg": 10}, max_bytes=9)
    assert [(s.name, s.reason) for s in selection.skipped] == [("big.jpg", Skip.TOO_LARGE)]


def test_order_is_stable_and_ignores_case():
    assert sorted(["b.jpg", "A.jpg", "a.jpg", "C/x.jpg"], key=order_key) == [
        "A.jpg",
        "a.jpg",
        "b.jpg",
        "C/x.jpg",
    ]


@pytest.mark.parametrize(
    ("photo", "mask"),
    [
        ("IMG_1.JPG", "masks/IMG_1.JPG.png"),  # COLMAP: name + .png
        ("IMG_1.JPG", "masks/IMG_1.png"),  # nerfstudio: same stem
        ("images/frame_00001.jpg", "masks/frame_00001.png"),  # images/ and masks/ side by side
        ("images/sub/a.jpg", "masks/sub/a.jpg.png"),  # COLMAP mirrors sub-folders
        ("day1/IMG_2.heic", "day1/masks/IMG_2.png"),  # a masks/ folder beside the photos
    ],
)
def test_masks_are_found_by_the_colmap_and_nerfstudio_conventions(photo, mask):
    assert mask in mask_candidates(photo)
    selection = select_photos([photo, mask], {photo: b"\xff\xd8\xff\xe0" + b"\x00" * 60})
    assert selection.masks == {photo: mask} and selection.skipped == []


def test_a_mask_without_its_photo_is_named():
    selection = select_photos(["a.jpg", "masks/zz.png"], {"a.jpg": b"\xff\xd8\xff\xe0"})
    assert [(s.name, s.reason) for s in selection.skipped] == [("masks/zz.png", Skip.UNMATCHED_MASK)]


def test_of_identical_copies_the_plain_name_is_kept():
    jpeg = b"\xff\xd8\xff\xe0"
    names = ["IMG_1 (1).JPG", "IMG_1.JPG", "copy of IMG_1.JPG", "IMG_2.JPG"]
    selection = select_photos(names, dict.fromkeys(names, jpeg))
    kept = drop_duplicates(
        selection, {"IMG_1 (1).JPG": "x", "IMG_1.JPG": "x", "copy of IMG_1.JPG": "x", "IMG_2.JPG": "y"}
    )
    assert kept.photos == ["IMG_1.JPG", "IMG_2.JPG"]
    assert {(s.name, s.same_as) for s in kept.skipped} == {
        ("IMG_1 (1).JPG", "IMG_1.JPG"),
        ("copy of IMG_1.JPG", "IMG_1.JPG"),
    }


def test_a_folder_scan_drops_identical_files_and_keeps_equal_sized_different_ones(tmp_path):
    from shared.photo_folder import scan_folder

    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 60
    (tmp_path / "a.jpg").write_bytes(jpeg + b"A")
    (tmp_path / "b.jpg").write_bytes(jpeg + b"B")  # same size, other bytes
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/a.jpg").write_bytes(jpeg + b"A")  # an identical copy in a sub-folder
    selection = scan_folder(tmp_path)
    assert selection.photos == ["a.jpg", "b.jpg"]
    assert [(s.name, s.reason, s.same_as) for s in selection.skipped] == [("sub/a.jpg", Skip.DUPLICATE, "a.jpg")]
