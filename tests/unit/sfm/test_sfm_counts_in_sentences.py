"""The SfM stage's sentences count in the right number: '1 photo shares enough features with no
other photo', '1 photo could not be read and was skipped', never '1 photos share'."""

from types import SimpleNamespace

import pytest

from services.sfm.container.config import Config
from services.sfm.container.groups import placement
from services.sfm.container.photos import PhotoSet
from services.sfm.container.program import check_inputs, skipped_inputs
from shared.stage import StageFailure


def test_one_photo_left_out_of_the_model_or_linked_to_none_reads_in_the_singular():
    photos = [SimpleNamespace(name=f"{k}.jpg", original=None) for k in range(16)]
    model = SimpleNamespace(images={k: SimpleNamespace(name=f"{k}.jpg", has_pose=k != 12) for k in range(16)})
    groups = [[f"{k}.jpg" for k in range(16) if k != 12], ["12.jpg"]]
    assert placement(photos, model, groups).warnings == [
        "1 of 16 photos could not be placed in 3D and is not in the model: 12.jpg",
        "1 photo shares enough features with no other photo",
    ]


def photo_set(n, **problems):
    photo = SimpleNamespace(focal_source="exif_35mm", masked=False, focal_tags_ignored=[])
    lists = {"unreadable": [], "too_large": [], "duplicates": [], "ignored": [], **problems}
    return PhotoSet(photos=[photo] * n, **lists)


@pytest.mark.parametrize("problems, sentence", [
    ({"unreadable": ["cut.jpg"]}, "1 photo could not be read and was skipped: cut.jpg"),
    ({"blank": ["cap.jpg"]}, "1 photo shows one flat colour (or nothing unmasked) and was skipped: cap.jpg"),
    ({"too_small": ["t.jpg"]}, "1 photo is smaller than 180 pixels on the short side and was skipped: t.jpg"),
    ({"unreadable": ["a.jpg", "b.jpg"]}, "2 photos could not be read and were skipped: a.jpg, b.jpg"),
])
def test_photos_the_sfm_stage_skips_are_counted_in_the_right_number(problems, sentence):
    found = photo_set(16, **problems)
    assert skipped_inputs(found, Config()) == [sentence]
    assert sentence in check_inputs(found, Config())


def test_one_photo_more_is_counted_in_the_singular_when_the_set_is_refused():
    with pytest.raises(StageFailure) as refused:
        check_inputs(photo_set(1, too_large=["huge.png"]), Config(min_images=8))
    assert refused.value.message.startswith("1 usable photo found, at least 8 are needed")
    assert "1 photo is too large" in refused.value.message
