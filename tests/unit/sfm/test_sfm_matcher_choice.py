"""The matcher is chosen from the data: small sets, GPS, numbered sequences."""

import pytest

from services.sfm.container.config import Config
from services.sfm.container.matching import choose_matcher, is_numbered_sequence

CFG = Config(exhaustive_max_images=30)


def names(n: int, fmt: str = "IMG_{:04d}.jpg", start: int = 1, step: int = 1) -> list[str]:
    return [fmt.format(start + k * step) for k in range(n)]


def test_small_set_matches_every_pair_even_with_gps():
    plan = choose_matcher("auto", names(20), n_gps=20, cfg=CFG)
    assert (plan.first, plan.fallback) == ("exhaustive", None)


def test_large_set_with_gps_uses_spatial_with_exhaustive_fallback():
    plan = choose_matcher("auto", names(40), n_gps=40, cfg=CFG)
    assert (plan.first, plan.fallback) == ("spatial", "exhaustive")


def test_large_set_with_gps_on_few_photos_is_not_spatial():
    plan = choose_matcher("auto", [f"p{k}_x.jpg" for k in range(40)][::-1] + ["a.jpg"], n_gps=5, cfg=CFG)
    assert plan.first == "exhaustive"


def test_large_numbered_sequence_without_gps_uses_sequential():
    plan = choose_matcher("auto", names(60), n_gps=0, cfg=CFG)
    assert (plan.first, plan.fallback) == ("sequential", "exhaustive")


def test_large_unordered_set_without_gps_uses_exhaustive():
    unordered = [f"photo_{k * 37 % 101}_{chr(97 + k % 26)}.jpg" for k in range(40)]
    plan = choose_matcher("auto", unordered, n_gps=0, cfg=CFG)
    assert plan.first == "exhaustive"


def test_requested_matcher_is_used_with_fallback():
    assert choose_matcher("sequential", names(5), 0, CFG).first == "sequential"
    assert choose_matcher("sequential", names(5), 0, CFG).fallback == "exhaustive"
    assert choose_matcher("exhaustive", names(100), 100, CFG).fallback is None


def test_spatial_request_without_gps_falls_back_to_exhaustive():
    assert choose_matcher("spatial", names(50), n_gps=1, cfg=CFG).first == "exhaustive"


def test_unknown_matcher_is_rejected():
    with pytest.raises(ValueError):
        choose_matcher("vocab_tree", names(50), 0, CFG)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (names(10), True),
        (names(10, step=2), True),  # every other frame
        (names(10, fmt="DJI_{:04d}.JPG", start=98), True),
        (names(10, step=7), False),
        (["a.jpg", "b.jpg", "c.jpg", "d.jpg"], False),
        ([*names(5), *names(5, fmt="DSC_{:04d}.jpg")], False),  # two cameras' numbering
        (names(2), False),
    ],
)
def test_numbered_sequence_detection(given, expected):
    assert is_numbered_sequence(given) is expected


def test_video_frames_are_matched_in_sequence_even_with_gps_from_their_subtitle():
    frames = [f"DJI_0001_{k * 15:06d}.jpg" for k in range(60)] + [f"IMG_{k}.jpg" for k in range(5)]
    plan = choose_matcher("auto", frames, n_gps=60, cfg=CFG, n_frames=60)
    assert (plan.first, plan.fallback) == ("sequential", "exhaustive") and "video frames" in plan.reason
