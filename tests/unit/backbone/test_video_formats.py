"""Videos in the one list of accepted types (shared/photo_formats.py): signatures, sidecars, proxies."""

from __future__ import annotations

import pytest

from shared.photo_formats import (
    MAX_VIDEO_BYTES,
    VIDEO_FORMATS,
    Skip,
    photo_format,
    select_photos,
    video_format,
)
from tests.support.videos import video_bytes

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [
        (".mp4", "MP4/MOV"),
        (".mov", "MP4/MOV"),
        (".mkv", "MKV/WebM"),
        (".webm", "MKV/WebM"),
        (".avi", "AVI"),
        (".ts", "MPEG-TS"),
    ],
)
def test_every_container_the_encoder_writes_is_recognised_by_its_first_bytes(suffix, expected):
    head = video_bytes(suffix)[:200]
    assert photo_format(head) is None
    assert video_format(head).name == expected


@pytest.mark.parametrize(
    ("head", "is_video"),
    [
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", True),  # a camera's MP4
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", True),  # an iPhone MOV
        (b"\x00\x00\x00\x08wide\x00\x00\x10\x00mdat", True),  # an old QuickTime file without ftyp
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf", False),  # an iPhone HEIC photo
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", False),  # an AVIF photo
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A isom", False),  # audio (a voice memo)
        (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom", False),  # Canon CR3 RAW
        (b"G" + b"\x00" * 199, False),  # one sync byte is not a transport stream
    ],
)
def test_video_signatures_tell_videos_from_lookalikes(head, is_video):
    assert (video_format(head) is not None) == is_video


def test_every_video_format_lists_its_suffixes_in_lower_case():
    assert all(s == s.lower() and s.startswith(".") for f in VIDEO_FORMATS for s in f.suffixes)


def test_a_drone_card_gives_its_videos_their_telemetry_and_skips_proxies_and_thumbnails():
    mp4 = video_bytes(".mp4")[:200]
    names = [
        "DCIM/100MEDIA/DJI_0001.MP4",
        "DCIM/100MEDIA/DJI_0001.SRT",
        "DCIM/100MEDIA/DJI_0001.LRV",
        "DCIM/100MEDIA/DJI_0001.THM",
        "DCIM/100MEDIA/DJI_0002.SRT",
        "pano.insv",
        "DJI_0003.JPG",
    ]
    heads = {"DCIM/100MEDIA/DJI_0001.MP4": mp4, "DJI_0003.JPG": JPEG}
    selection = select_photos(names, heads)
    assert selection.videos == ["DCIM/100MEDIA/DJI_0001.MP4"]
    assert selection.sidecars == {"DCIM/100MEDIA/DJI_0001.MP4": "DCIM/100MEDIA/DJI_0001.SRT"}
    assert selection.photos == ["DJI_0003.JPG"]
    assert {s.name: s.reason for s in selection.skipped} == {
        "DCIM/100MEDIA/DJI_0001.LRV": Skip.VIDEO_PROXY,
        "DCIM/100MEDIA/DJI_0001.THM": Skip.VIDEO_PROXY,
        "DCIM/100MEDIA/DJI_0002.SRT": Skip.UNMATCHED_SIDECAR,
        "pano.insv": Skip.VIDEO_360,
    }
    assert selection.inputs == ["DJI_0003.JPG", "DCIM/100MEDIA/DJI_0001.MP4", "DCIM/100MEDIA/DJI_0001.SRT"]


def test_a_video_is_taken_by_content_and_a_fake_one_is_named():
    mp4 = video_bytes(".mp4")[:200]
    selection = select_photos(
        ["clip.dat", "fake.MP4", "empty.mov"],
        {"clip.dat": mp4, "fake.MP4": b"<html>"},
        sizes={"clip.dat": 4000, "fake.MP4": 6, "empty.mov": 0},
    )
    assert selection.videos == ["clip.dat"]
    assert {s.name: s.reason for s in selection.skipped} == {
        "fake.MP4": Skip.NOT_VIDEO,
        "empty.mov": Skip.EMPTY,
    }


def test_videos_have_their_own_size_limit():
    mp4 = video_bytes(".mp4")[:200]
    sizes = {
        "small.mp4": 600 * 2**20,
        "huge.mp4": MAX_VIDEO_BYTES + 1,
    }  # over the photo limit, under the video one
    selection = select_photos(sizes, dict.fromkeys(sizes, mp4), sizes=sizes)
    assert selection.videos == ["small.mp4"]
    assert [(s.name, s.reason) for s in selection.skipped] == [("huge.mp4", Skip.VIDEO_TOO_LARGE)]


def test_one_video_is_enough_for_a_job_and_seven_photos_are_not():
    mp4 = video_bytes(".mp4")[:200]
    assert select_photos(["a.mp4"], {"a.mp4": mp4}).enough(8)
    photos = [f"{k}.jpg" for k in range(7)]
    assert not select_photos(photos, dict.fromkeys(photos, JPEG)).enough(8)


def test_a_single_file_is_scanned_with_its_sidecar_and_nothing_else(tmp_path):
    from shared.photo_folder import scan_file

    (tmp_path / "clip.mp4").write_bytes(video_bytes(".mp4"))
    (tmp_path / "CLIP.srt").write_text("1\n00:00:00,000 --> 00:00:00,100\n[latitude: 1] [longitude: 2]\n")
    (tmp_path / "other.mp4").write_bytes(video_bytes(".mp4", frames=4))
    (tmp_path / "IMG_1.jpg").write_bytes(JPEG)
    selection = scan_file(tmp_path / "clip.mp4")
    assert selection.videos == ["clip.mp4"] and selection.sidecars == {"clip.mp4": "CLIP.srt"}
    assert selection.photos == [] and selection.skipped == []


def test_identical_videos_are_dropped_with_their_copy_named(tmp_path):
    from shared.photo_folder import scan_folder

    clip = video_bytes(".mp4")
    (tmp_path / "DJI_0001.MP4").write_bytes(clip)
    (tmp_path / "DJI_0001 (1).MP4").write_bytes(clip)
    selection = scan_folder(tmp_path)
    assert selection.videos == ["DJI_0001.MP4"]
    assert [(s.name, s.reason, s.same_as) for s in selection.skipped] == [
        ("DJI_0001 (1).MP4", Skip.DUPLICATE, "DJI_0001.MP4")
    ]
