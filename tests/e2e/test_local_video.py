"""`spaceport run clip.mp4`: one drone video (and its DJI subtitle) through ingest and the real SfM
stage on this machine, trimmed and capped from the command line; the files are never touched."""

from __future__ import annotations

import pytest

from spaceport import cli
from spaceport.synthetic.flythrough import FlightPlan, render_flythrough
from tests.e2e.test_local_photo_cases import spaceport_run

pytestmark = pytest.mark.slow


def test_spaceport_run_takes_one_video_file_with_its_subtitle(tmp_path, capsys):
    card = tmp_path / "card"
    render_flythrough(FlightPlan(8.0, 10.0, 320, 240, seed=6), card, "DJI_0007")
    (card / "truth.json").unlink()
    (card / "DJI_0008.MP4").write_bytes(b"another flight: not part of this job")
    before = {p: p.read_bytes() for p in card.iterdir()}
    code, output, metrics = spaceport_run(
        card / "DJI_0007.MP4",
        tmp_path / "data",
        capsys,
        "--stop-after",
        "sfm",
        "--trim-start",
        "1",
        "--max-frames",
        "10",
    )
    assert code == cli.EXIT_OK, output
    assert "copied 1 video" in output and "DJI_0008" not in output
    (video,) = metrics["videos"]
    assert (
        video["used_s"] == pytest.approx(7.0) and video["frames_kept"] == 10 == metrics["images_registered"]
    )
    assert video["frames_with_gps"] == 10 and metrics["georeferenced"]
    assert {p: p.read_bytes() for p in card.iterdir()} == before
