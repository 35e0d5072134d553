"""Capture checks on small rendered photos: exposure, sharpness, focal-tag plausibility, causes."""

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from services.sfm.container.capture import (
    BLUR_RATIO,
    DARK_MEAN_LUMA,
    PhotoFigures,
    add_feature_counts,
    assess,
    capture_warnings,
    feature_images,
    measure_set,
)
from services.sfm.container.diagnosis import capture_cause, geometry_cause
from services.sfm.container.focal_tags import focal_tag_warnings, vet_focal_tags
from services.sfm.container.frame_measures import laplacian_variance
from services.sfm.container.photo_measures import (
    directional_sharpness,
    exposure,
    luma,
    sharpness,
    stretch_contrast,
)
from services.sfm.container.photos import ExifInfo, prepare_photos
from shared.causes import CauseCode
from spaceport.synthetic.degrade import darken, motion_blur, with_focal_tags


def texture(seed: int = 0, size: tuple[int, int] = (240, 320)) -> np.ndarray:
    """Smooth random texture with detail at every scale: [H, W, 3] uint8 around mid-grey."""
    rng = np.random.default_rng(seed)
    height, width = size
    image = np.zeros(size, np.float64)
    for cells in (4, 8, 16, 32, 64, 128):
        coarse = rng.random((cells, cells))
        layer = np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize((width, height),
                                                                                    Image.Resampling.BICUBIC))
        image += layer / 255.0 / 6
    gray = np.clip(0.1 + 0.8 * (image - image.min()) / (np.ptp(image) + 1e-9), 0, 1)
    return np.repeat((gray * 255).astype(np.uint8)[..., None], 3, axis=2)


def figures(name: str, luma_mean=0.4, dark=0.0, bright=0.0, sharp=0.1, features=None) -> PhotoFigures:
    return PhotoFigures(name, name, luma_mean, dark, bright, sharp, features=features)


# --- measures -------------------------------------------------------------------------------


def test_exposure_reads_mean_level_and_clipped_shares():
    gray = np.concatenate([np.zeros(30), np.full(60, 0.5), np.ones(10)]).reshape(10, 10)
    shown = exposure(gray)
    assert shown.mean == pytest.approx(0.4)
    assert shown.dark_fraction == pytest.approx(0.3) and shown.bright_fraction == pytest.approx(0.1)
    keep = gray > 0.1
    assert exposure(gray, keep).dark_fraction == 0.0  # masked pixels do not count


def test_sharpness_ignores_exposure_but_not_blur():
    rgb = texture()
    sharp = sharpness(luma(rgb))
    assert sharpness(luma(darken(rgb, 0.5))) == pytest.approx(sharp, rel=0.1)
    assert sharpness(luma(motion_blur(rgb, 25))) < 0.1 * sharp


def test_horizontal_shake_shows_most_in_the_weakest_direction():
    rgb = texture()
    sharp, blurred = luma(rgb), luma(motion_blur(rgb, 25))
    directions = directional_sharpness(blurred)
    assert directions[0] < 0.1 * directions[1]  # horizontal detail gone, vertical kept
    laplacian_drop = laplacian_variance(blurred) / laplacian_variance(sharp)
    assert sharpness(blurred) / sharpness(sharp) < 0.5 * laplacian_drop


def test_flat_or_tiny_images_have_zero_sharpness():
    assert sharpness(np.full((20, 20), 0.5)) == 0.0
    assert sharpness(np.zeros((2, 2))) == 0.0


def test_stretch_lifts_a_dark_photo_linearly_and_leaves_a_bright_one():
    rgb = texture()
    dark = darken(rgb, 0.1)
    stretched, gain = stretch_contrast(dark)
    assert 5 < gain <= 32
    assert luma(stretched).mean() > 4 * luma(dark).mean()
    same, unit = stretch_contrast(np.full((8, 8, 3), 240, np.uint8))
    assert unit == 1.0 and same.max() == 240


# --- capture findings -----------------------------------------------------------------------


def test_a_clean_set_flags_nothing():
    photos = [figures(f"p{k}", luma_mean=0.3 + 0.01 * k, sharp=0.05 + 0.01 * k, features=2000 + k) for k in range(10)]
    findings = assess(photos)
    add_feature_counts(findings, {p.name: p.features for p in photos})
    assert not any(findings.flagged().values())
    assert capture_warnings(findings) == []


def test_dark_clipped_and_blurred_photos_are_named():
    photos = [figures(f"p{k}") for k in range(8)]
    photos[1].luma_mean = DARK_MEAN_LUMA / 2
    photos[2].dark_fraction = 0.6
    photos[3].bright_fraction = 0.5
    photos[4].sharpness = BLUR_RATIO / 3 * 0.1
    findings = assess(photos)
    assert findings.dark == ["p1"] and findings.clipped_dark == ["p2"] and findings.clipped_bright == ["p3"]
    assert findings.blurred == ["p4"]
    text = " | ".join(capture_warnings(findings))
    assert "dark (underexposed): p1" in text and "blown out" in text and "blurred" in text and "p4" in text


def test_half_the_set_blurred_is_still_found_against_the_sharp_quartile():
    photos = [figures(f"p{k}", sharp=0.2 if k % 2 == 0 else 0.004) for k in range(16)]
    assert assess(photos).blurred == [f"p{k}" for k in range(1, 16, 2)]


def test_sharpness_is_compared_within_one_camera():
    photos = [figures(f"photo{k}", sharp=0.2) for k in range(8)]
    photos += [figures(f"frame{k}", sharp=0.015 if k else 0.001) for k in range(6)]  # a softer video
    for p in photos[8:]:
        p.camera = "video"
    findings = assess(photos)
    assert findings.blurred == ["frame0"]  # not every frame against the photos
    lone = [figures(f"p{k}", sharp=0.2) for k in range(8)] + [figures("other", sharp=0.01)]
    lone[-1].camera = "a second camera with one photo"
    assert assess(lone).blurred == ["other"]  # too few to be its own reference: the set's


def test_few_features_are_relative_to_the_set_and_absolute_when_none_were_found():
    photos = [figures(f"p{k}") for k in range(6)]
    findings = assess(photos)
    add_feature_counts(findings, {"p0": 3000, "p1": 2800, "p2": 100, "p3": 3100, "p4": 2900, "p5": 3000})
    assert findings.few_features == ["p2"]
    none = assess([figures(f"q{k}") for k in range(4)])
    add_feature_counts(none, {})
    assert none.few_features == [f"q{k}" for k in range(4)]


def test_measured_working_copies_flag_the_dark_and_the_shaken(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    photos = []
    for k in range(6):
        rgb = texture(seed=k)
        if k == 1:
            rgb = darken(rgb, 0.25)
        if k == 4:
            rgb = motion_blur(rgb, 25)
        Image.fromarray(rgb).save(work / f"p{k}.jpg", quality=95)
        photos.append(SimpleNamespace(name=f"p{k}.jpg", original=f"day/p{k}.JPG", camera_key=("", "", 320, 240)))
    findings = measure_set(photos, work, tmp_path / "no-masks")
    assert findings.dark == ["day/p1.JPG"]
    assert findings.blurred == ["day/p4.JPG"]


def test_only_feature_detection_sees_the_stretched_dark_photos(tmp_path):
    work, sift = tmp_path / "work", tmp_path / "sift"
    work.mkdir()
    Image.fromarray(darken(texture(), 0.1)).save(work / "dark.jpg", quality=95)
    Image.fromarray(texture(1)).save(work / "fine.jpg", quality=95)
    photos = [SimpleNamespace(name=n, original=n, camera_key=()) for n in ("dark.jpg", "fine.jpg")]
    findings = measure_set(photos, work, None)
    before = (work / "dark.jpg").read_bytes()
    folder = feature_images(findings, work, sift)
    assert folder == sift and findings.normalised == ["dark.jpg"]
    assert luma(np.asarray(Image.open(sift / "dark.jpg"))).mean() > 3 * luma(np.asarray(Image.open(work / "dark.jpg"))).mean()
    assert (work / "dark.jpg").read_bytes() == before  # the working copy (training images) is as shot
    assert (sift / "fine.jpg").resolve() == (work / "fine.jpg").resolve()
    assert "contrast was stretched" in capture_warnings(findings)[0]


# --- focal tags -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f35", "focal", "make", "model", "kept35", "kept_focal", "reason"),
    [
        (60, 40.0, "NIKON CORPORATION", "NIKON D3200", 60, 40.0, None),  # banana as shot
        (1, 40.0, "NIKON CORPORATION", "NIKON D3200", None, 40.0, "FocalLengthIn35mmFilm 1 mm is outside"),
        (1000, 40.0, "NIKON CORPORATION", "NIKON D3200", None, None, "crop factor of 25"),
        (1000, None, "", "", 1000, None, None),  # a super-zoom alone is possible
        (0.5, None, "", "", None, None, "outside 8-2000 mm"),
        (None, 0.2, "", "", None, None, "FocalLength 0.2 mm is outside"),
        (26, 4.25, "Apple", "iPhone 13", 26, 4.25, None),  # phone: crop factor 6.1
        (24, 4.5, "Canon", "Canon PowerShot SX260 HS", 24, 4.5, None),  # 6.17 mm sensor: 25 mm equivalent
        (120, 4.5, "Canon", "Canon PowerShot SX260 HS", None, 4.5, "disagrees with FocalLength 4.5 mm"),
        (None, 400.0, "DJI", "FC330", None, None, "equivalent, outside"),  # 400 mm on a 6.17 mm sensor
    ],
)
def test_focal_tags_are_vetted(f35, focal, make, model, kept35, kept_focal, reason):
    exif = ExifInfo(make=make, model=model, focal_mm=focal, focal_35mm=f35)
    cleaned, reasons = vet_focal_tags(exif, 1600, 1200)
    assert (cleaned.focal_35mm, cleaned.focal_mm) == (kept35, kept_focal)
    if reason is None:
        assert reasons == [] and cleaned is exif
    else:
        assert any(reason in r for r in reasons), reasons


def test_bogus_35mm_tags_fall_back_and_are_named_once(tmp_path):
    """Issue 16, bogus 35 mm tag low: ignored with a warning; the prior falls back."""
    src = tmp_path / "in"
    src.mkdir()
    for k in range(3):
        Image.fromarray(texture(k)).save(src / f"a{k}.jpg", quality=95)
        (src / f"a{k}.jpg").write_bytes(with_focal_tags((src / f"a{k}.jpg").read_bytes(), 1, 40.0))
    photos = prepare_photos(src, tmp_path / "work", max_image_size=1000).photos
    assert {p.focal_source for p in photos} == {"prior"}
    assert all(p.focal_tags_ignored for p in photos)
    (warning,) = focal_tag_warnings(photos)
    assert "3 of 3 photos" in warning and "FocalLengthIn35mmFilm 1 mm" in warning and "a0.jpg" in warning


def test_rewritten_focal_tags_keep_the_pixels(tmp_path):
    path = tmp_path / "a.jpg"
    Image.fromarray(texture()).save(path, quality=90)
    rewritten = with_focal_tags(path.read_bytes(), 1000, 40.0)
    (tmp_path / "b.jpg").write_bytes(rewritten)
    with Image.open(tmp_path / "b.jpg") as image:
        sub = image.getexif().get_ifd(0x8769)
        assert sub[0xA405] == 1000 and float(sub[0x920A]) == 40.0
        assert np.array_equal(np.asarray(image), np.asarray(Image.open(path)))


# --- causes ---------------------------------------------------------------------------------


def test_lost_photos_that_are_dark_make_the_cause_dark_images():
    photos = [figures(f"p{k}", features=3000) for k in range(8)]
    for k in (5, 6, 7):
        photos[k].luma_mean, photos[k].features = 0.03, 12
    findings = assess(photos)
    found = capture_cause(["p5", "p6", "p7"], findings)
    assert found.cause is CauseCode.DARK_IMAGES
    assert "p5, p6, p7" in found.detail and "12-12 features" in found.detail


def test_blur_is_the_cause_only_when_it_explains_most_of_the_lost_photos():
    photos = [figures(f"p{k}", sharp=0.2) for k in range(10)]
    photos[9].sharpness = 0.001
    findings = assess(photos)
    assert capture_cause(["p9"], findings).cause is CauseCode.BLURRED_IMAGES
    assert capture_cause(["p1", "p2", "p9"], findings) is None
    assert capture_cause([], findings) is None and capture_cause(["p9"], None) is None


def test_featureless_lost_photos_are_named_but_leave_the_overlap_cause():
    photos = [figures(f"p{k}") for k in range(8)]
    findings = assess(photos)
    add_feature_counts(findings, {f"p{k}": 40 if k > 5 else 3000 for k in range(8)})
    found = capture_cause(["p6", "p7"], findings)
    assert found.cause is None and "nearly featureless: p6, p7" in found.detail


def test_pairs_that_link_the_set_without_a_model_point_at_the_camera_prior():
    photos = [SimpleNamespace(name=f"p{k}", original=f"p{k}", focal_source="exif_35mm", focal_px=44407.0,
                              focal_tags_ignored=[]) for k in range(16)]
    found = geometry_cause(16, [[f"p{k}" for k in range(16)]], photos)
    assert found.cause is CauseCode.CAMERA_GEOMETRY
    assert "linking 16 of the 16 photos: they do overlap" in found.detail
    assert "EXIF 35 mm equivalent focal length (44407 px) on 16 photos" in found.detail
    assert geometry_cause(16, [["p0", "p1"], ["p2", "p3"]], photos) is None  # no overlap: not this
