"""Decoding videos with PyAV: metadata, display rotation, codecs, limits, trimming, the cap."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from services.sfm.container.video import VideoRefused, check_limits, extract_frames, probe, share_cap
from services.sfm.container.config import VideoConfig
from tests.support.videos import video_bytes


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_phone_video_gives_its_camera_focal_and_upright_size(tmp_path):
    metadata = {
        "com.apple.quicktime.make": "Apple",
        "com.apple.quicktime.model": "iPhone 15",
        "com.apple.quicktime.camera.focal_length.35mm_equivalent": "26",
    }
    path = write(tmp_path, "IMG_0001.MOV", video_bytes(".mov", metadata=metadata, rotation=-90))
    info = probe(path)
    assert (info.make, info.model, info.focal_35mm) == ("Apple", "iPhone 15", 26.0)
    assert (info.width, info.height, info.rotation) == (48, 64, 270)  # stored 64x48, shown portrait
    assert info.fps == 10.0 and info.duration_s == pytest.approx(1.0, abs=0.05)


def test_frames_of_a_rotated_video_are_written_upright(tmp_path):
    import av

    # stored frames: texture with a white band along the stored top; shown turned 90 deg clockwise
    path = tmp_path / "portrait.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.set_display_rotation(-90)
        for _ in range(30):
            pixels = (rng.random((64, 96, 3)) * 200).astype(np.uint8)
            pixels[:8] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    work = tmp_path / "work"
    work.mkdir()
    frames, _ = extract_frames(path, "portrait", probe(path), work, VideoConfig(), 3, 1600)
    with Image.open(work / frames[0].name) as first:
        upright = np.asarray(first.convert("L"), dtype=np.float32)
    assert upright.shape == (96, 64)  # portrait
    assert upright[:, -6:].mean() > 240 > upright[:, :-10].mean()  # the band is on the right


@pytest.mark.parametrize(
    ("suffix", "codec", "name"),
    [(".mp4", "libx265", "hevc"), (".mkv", None, "h264"), (".webm", None, "vp9"), (".ts", None, "h264")],
)
def test_h265_and_other_containers_decode(tmp_path, suffix, codec, name):
    info = probe(write(tmp_path, f"clip{suffix}", video_bytes(suffix, frames=25, codec=codec)))
    assert info.codec == name and (info.width, info.height) == (64, 48)
    assert info.duration_s == pytest.approx(2.5, abs=0.15)


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 500,  # a header, nothing else
        video_bytes(".mp4")[:900],  # an upload cut short: the index (moov) is at the end
    ],
)
def test_a_broken_video_is_refused_as_unreadable(tmp_path, data):
    with pytest.raises(VideoRefused) as refused:
        probe(write(tmp_path, "broken.mp4", data))
    assert refused.value.kind == "unreadable"


def test_limits_name_what_is_wrong(tmp_path):
    info = probe(write(tmp_path, "tiny.mp4", video_bytes(".mp4")))
    with pytest.raises(VideoRefused) as refused:
        check_limits(info, min_side=180)
    assert refused.value.kind == "too_small" and refused.value.detail == "64x48"


def test_trimming_keeps_frames_inside_the_range_and_too_much_trim_is_too_short(tmp_path):
    path = write(tmp_path, "walk.mp4", video_bytes(".mp4", frames=50, width=96, height=64))
    work = tmp_path / "work"
    work.mkdir()
    cfg = VideoConfig(trim_start_s=1.0, trim_end_s=1.5, min_motion=0.0)
    frames, report = extract_frames(path, "walk", probe(path), work, cfg, 100, 1600)
    assert all(1.0 <= f.time_s < 3.5 for f in frames) and len(frames) == 5  # 2.5 s, 0.5 s windows
    assert report.used_s == pytest.approx(2.5) and report.frames_decoded == 25
    assert sorted(p.name for p in work.iterdir()) == sorted(f.name for f in frames)
    with pytest.raises(VideoRefused) as refused:
        extract_frames(
            path, "walk", probe(path), work, VideoConfig(trim_start_s=2.0, trim_end_s=2.0), 100, 1600
        )
    assert refused.value.kind == "too_short" and "after trimming" in refused.value.detail


def test_the_cap_bounds_the_frames_kept(tmp_path):
    path = write(tmp_path, "walk.mp4", video_bytes(".mp4", frames=50, width=96, height=64))
    work = tmp_path / "work"
    work.mkdir()
    frames, report = extract_frames(path, "walk", probe(path), work, VideoConfig(min_motion=0.0), 3, 1600)
    assert len(frames) == 3 == report.frames_kept
    assert report.frames_scored == 40 and report.frames_decoded == 50  # 8 scored a second of 10


def test_the_cap_is_shared_by_duration():
    assert share_cap({"a.mp4": 30.0, "b.mp4": 90.0}, 300) == {"a.mp4": 75, "b.mp4": 225}
    assert share_cap({"a.mp4": 1.0, "b.mp4": 999.0}, 100)["a.mp4"] == 1


def test_cover_art_larger_than_the_video_is_not_read_as_the_video(tmp_path):
    import av

    path = tmp_path / "with_cover.mp4"
    with av.open(str(path), "w") as container:
        cover = container.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 128, 128, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        art = av.VideoFrame.from_ndarray(np.zeros((128, 128, 3), np.uint8), format="rgb24")
        for packet in [*cover.encode(art.reformat(format="yuvj420p")), *cover.encode()]:
            container.mux(packet)
        rng = np.random.default_rng(1)
        for _ in range(20):
            pixels = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    info = probe(path)
    assert (info.codec, info.width, info.height) == ("h264", 64, 48)
