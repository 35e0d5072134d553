"""Photos: EXIF orientation, focal length (35 mm, sensor table, prior), GPS, DJI XMP, copies."""

import math

import numpy as np
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from services.sfm.container.photos import (
    DEFAULT_FOCAL_FACTOR,
    ExifInfo,
    focal_prior_px,
    group_cameras,
    parse_dji_xmp,
    parse_gps,
    prepare_photos,
)


def save_jpeg(path, pixels, make="", model="", focal=None, focal35=None, orientation=None, gps=None):
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if orientation:
        exif[0x0112] = orientation
    sub = {}
    if focal is not None:
        sub[0x920A] = IFDRational(round(focal * 100), 100)
    if focal35 is not None:
        sub[0xA405] = focal35
    if sub:
        exif[0x8769] = sub
    if gps:
        exif[0x8825] = gps
    Image.fromarray(pixels).save(path, "JPEG", quality=95, exif=exif)


def marked_pixels(h=60, w=80):
    """Grey image with a red block in the top-left corner: [h, w, 3]."""
    px = np.full((h, w, 3), 128, np.uint8)
    px[:10, :10] = (255, 0, 0)
    return px


def test_copies_are_upright_and_originals_untouched(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    # Orientation 6: the stored image must be turned 90 deg clockwise to display upright.
    save_jpeg(src / "rot.jpg", marked_pixels(), orientation=6)
    before = (src / "rot.jpg").read_bytes()
    photos = prepare_photos(src, tmp_path / "work", max_image_size=1000).photos
    copy = np.asarray(Image.open(tmp_path / "work" / photos[0].name))
    assert copy.shape[:2] == (80, 60)  # width and height swapped
    assert copy[:8, -8:, 0].mean() > 200 and copy[:8, -8:, 1].mean() < 60  # red now top-right
    assert (src / "rot.jpg").read_bytes() == before


def test_copies_are_downscaled_to_the_maximum_size(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    save_jpeg(src / "big.jpg", marked_pixels(300, 400), focal35=36)
    photo = prepare_photos(src, tmp_path / "work", max_image_size=200).photos[0]
    assert (photo.width, photo.height) == (200, 150)
    assert Image.open(tmp_path / "work" / photo.name).size == (200, 150)
    # the 35 mm focal converts against the full-frame diagonal at the working size
    assert photo.focal_px == pytest.approx(36 / 43.27 * math.hypot(200, 150))
    assert photo.focal_source == "exif_35mm"


def test_focal_from_sensor_table_when_no_35mm_equivalent():
    exif = ExifInfo(make="Canon", model="Canon PowerShot SX260 HS", focal_mm=4.5)
    focal, source = focal_prior_px(exif, 1600, 1200)
    assert source == "exif_sensor"
    assert focal == pytest.approx(4.5 / 6.17 * 1600)


def test_sensor_width_beats_the_rounded_35mm_equivalent():
    """A 16:9 frame from a DJI 4:3 sensor: the 35 mm tag (20, for the full 4:3 diagonal) gives 9 % too short."""
    exif = ExifInfo(make="DJI", model="FC330", focal_mm=3.61, focal_35mm=20)
    focal, source = focal_prior_px(exif, 1600, 900)
    assert source == "exif_sensor"
    assert focal == pytest.approx(3.61 / 6.17 * 1600)


def test_missing_focal_uses_the_default_prior():
    focal, source = focal_prior_px(ExifInfo(make="Unknown", model="Cam", focal_mm=5.0), 640, 480)
    assert source == "prior"
    assert focal == pytest.approx(DEFAULT_FOCAL_FACTOR * 640)


def test_gps_parsing_handles_hemispheres_and_altitude_below_sea_level():
    gps = {1: "S", 2: (33.0, 52.0, 4.2), 3: "W", 4: (151.0, 12.0, 36.0), 5: b"\x01", 6: 12.5}
    fix = parse_gps(gps)
    assert fix.lat == pytest.approx(-(33 + 52 / 60 + 4.2 / 3600))
    assert fix.lon == pytest.approx(-(151 + 12 / 60 + 36 / 3600))
    assert fix.alt == pytest.approx(-12.5)


def test_gps_absent_is_none_and_zero_is_unusable():
    assert parse_gps({}) is None
    assert not parse_gps({1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0)}).usable


def test_gps_and_focal_are_read_from_a_written_jpeg(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    gps = {1: "N", 2: (IFDRational(30), IFDRational(10), IFDRational(1525, 100)), 3: "W",
           4: (IFDRational(98), IFDRational(5), IFDRational(21096, 1000)), 5: b"\x00", 6: IFDRational(3394, 10)}
    save_jpeg(src / "a.jpg", marked_pixels(), make="DJI", model="FC6310", focal=8.8, gps=gps)
    photo = prepare_photos(src, tmp_path / "work", 1000).photos[0]
    fix = photo.exif.gps
    assert (fix.lat, fix.lon, fix.alt) == pytest.approx((30 + 10 / 60 + 15.25 / 3600, -(98 + 5 / 60 + 21.096 / 3600), 339.4))
    assert photo.focal_source == "exif_sensor"
    assert photo.focal_px == pytest.approx(8.8 / 13.2 * 80)


def test_dji_xmp_attitude_in_attribute_and_element_form():
    attributes = b'<rdf:Description drone-dji:GimbalPitchDegree="-90.00" drone-dji:FlightYawDegree="+12.5" ' \
                 b'drone-dji:RelativeAltitude="+60.10"/>'
    assert parse_dji_xmp(attributes) == {"GimbalPitchDegree": -90.0, "FlightYawDegree": 12.5,
                                         "RelativeAltitude": 60.1}
    elements = "<drone-dji:GimbalYawDegree>-45.3</drone-dji:GimbalYawDegree>"
    assert parse_dji_xmp(elements) == {"GimbalYawDegree": -45.3}
    assert parse_dji_xmp(None) == {}


def test_non_images_unreadable_and_duplicate_files_are_sorted_out(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    save_jpeg(src / "a.jpg", marked_pixels())
    (src / "b.jpg").write_bytes((src / "a.jpg").read_bytes())
    Image.fromarray(marked_pixels()[::-1].copy()).save(src / "c.png")
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (src / "job.json").write_text("{}")  # the manifest is ours, neither a photo nor skipped
    (src / "notes.txt").write_text("shot on a cloudy day")
    result = prepare_photos(src, tmp_path / "work", 1000)
    assert [p.name for p in result.photos] == ["a.jpg", "c.png"]
    assert result.duplicates == ["b.jpg"]
    assert result.unreadable == ["broken.jpg"]
    assert result.ignored == ["notes.txt"]


def test_heic_photos_are_read(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    src = tmp_path / "in"
    src.mkdir()
    try:
        pillow_heif.from_pillow(Image.fromarray(marked_pixels(64, 96))).save(src / "phone.heic", quality=90)
    except (ValueError, RuntimeError, OSError) as exc:  # libheif built without an encoder
        pytest.skip(f"cannot write HEIC here: {exc}")
    photo = prepare_photos(src, tmp_path / "work", 1000).photos[0]
    assert photo.name == "phone.jpg"
    assert (photo.width, photo.height) == (96, 64)


def test_one_camera_per_make_model_focal_and_size(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for k in range(3):
        save_jpeg(src / f"a{k}.jpg", marked_pixels() + k, make="DJI", model="FC330", focal=3.61)
    save_jpeg(src / "z0.jpg", marked_pixels() + 5, make="DJI", model="FC330", focal=7.0)  # zoomed
    save_jpeg(src / "z1.jpg", marked_pixels(90, 120), make="DJI", model="FC330", focal=3.61)  # other size
    groups = group_cameras(prepare_photos(src, tmp_path / "work", 1000).photos)
    assert sorted(len(g) for g in groups.values()) == [1, 1, 3]
