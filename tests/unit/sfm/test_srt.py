# ruff: noqa: E501 - subtitle lines are as long as DJI writes them
"""DJI telemetry subtitles: every dialect gives the same positions, altitudes and focal lengths.

Samples are hand-written in the layouts of public samples (DJI_SRT_Parser's collection and bug
reports): values are ours.
"""

from __future__ import annotations

import math

import pytest

from services.sfm.container.srt import parse_srt

MAVIC_3 = """1
00:00:00,000 --> 00:00:00,033
<font size="28">FrameCnt: 1, DiffTime: 33ms
2026-05-02 10:00:00.120
[iso: 110] [shutter: 1/1000.0] [fnum: 2.8] [ev: 0] [ct: 5300] [color_md : default] [focal_len: 24.00] [latitude: 46.948100] [longitude: 7.447400] [rel_alt: 30.100 abs_alt: 571.300] </font>

2
00:00:00,033 --> 00:00:00,066
<font size="28">FrameCnt: 2, DiffTime: 33ms
2026-05-02 10:00:00.153
[iso: 110] [shutter: 1/1000.0] [fnum: 2.8] [ev: 0] [ct: 5300] [color_md : default] [focal_len: 24.00] [latitude: 46.948200] [longitude: 7.447600] [rel_alt: 30.300 abs_alt: 571.500] </font>
"""

MAVIC_2_PRO = """\ufeff1
00:00:00,000 --> 00:00:00,040
<font size="36">FrameCnt : 1, DiffTime : 40ms
2025-09-27 10:28:08,438,904
[iso : 100] [shutter : 1/640.0] [fnum : 280] [ev : 0] [ct : 5100] [color_md : default] [focal_len : 280] [latitude : -33.865100] [longtitude : 151.209300] [altitude: 52.400002] </font>

2
00:00:00,040 --> 00:00:00,080
<font size="36">FrameCnt : 2, DiffTime : 40ms
2025-09-27 10:28:08,478,931
[iso : 100] [shutter : 1/640.0] [fnum : 280] [ev : 0] [ct : 5100] [color_md : default] [focal_len : 280] [latitude : -33.865110] [longtitude : 151.209320] [altitude: 52.500000] </font>
"""

PHANTOM_4 = """1
00:00:00,000 --> 00:00:01,000
F/5.6, SS 320, ISO 100, EV 0, GPS (-70.648300, -33.456900, 17), D 12.30m, H 45.60m, H.S 0.00m/s, V.S 0.00m/s, F.PRY (0.1\u00b0, -2.0\u00b0, 91.0\u00b0), G.PRY (-30.0\u00b0, 0.0\u00b0, 91.2\u00b0)

2
00:00:01,000 --> 00:00:02,000
F/5.6, SS 320, ISO 100, EV 0, GPS (-70.648200, -33.456800, 17), D 24.10m, H 47.60m, H.S 3.10m/s, V.S 0.50m/s, F.PRY (0.2\u00b0, -2.1\u00b0, 91.0\u00b0), G.PRY (-30.0\u00b0, 0.0\u00b0, 91.2\u00b0)
"""

MAVIC_PRO = """1
00:00:01,000 --> 00:00:02,000
HOME(18.423900,-33.918600) 2017.03.11 09:15:03
GPS(18.424000,-33.918700,15) BAROMETER:12.5
ISO:100 Shutter:120 EV:0 Fnum:2.2

2
00:00:02,000 --> 00:00:03,000
HOME(18.423900,-33.918600) 2017.03.11 09:15:04
GPS(18.424200,-33.918900,15) BAROMETER:13.5
ISO:100 Shutter:120 EV:0 Fnum:2.2
"""

MATRICE_300 = """1
00:00:00,000 --> 00:00:01,000
2023.04.10 11:20:17
GPS(52.520000,13.405000,0.0M) BAROMETER:80.5M

2
00:00:01,000 --> 00:00:02,000
2023.04.10 11:20:18
GPS(52.520100,13.405100,0.0M) BAROMETER:81.0M
"""

RADIANS = """1
00:00:00,000 --> 00:00:00,033
<font size="36">SrtCnt : 1, DiffTime : 33ms
2024-05-01 15:01:58,531,716
[iso : 100] [shutter : 1/500.0] [fnum : 280] [ev : 0] [focal_len : 240] [latitude: 0.722931] [longitude: 0.037736] [altitude: 27.300000] </font>
"""


@pytest.mark.parametrize(
    ("text", "dialect", "first", "altitude", "focal"),
    [
        (MAVIC_3, "bracketed", (46.9481, 7.4474, 571.3), "absolute", 24.0),
        (MAVIC_2_PRO, "bracketed", (-33.8651, 151.2093, 52.4), "absolute", 28.0),
        (PHANTOM_4, "inline", (-33.4569, -70.6483, None), "relative", None),
        (MAVIC_PRO, "legacy", (-33.9187, 18.4240, None), "relative", None),
        (MATRICE_300, "matrice", (52.52, 13.405, None), "relative", None),
    ],
)
def test_each_dialect_gives_latitude_longitude_altitude_and_focal(text, dialect, first, altitude, focal):
    telemetry = parse_srt(text)
    assert telemetry.dialect == dialect
    assert telemetry.altitude_kind == altitude
    start = telemetry.samples[0].start_s
    lat, lon, alt = telemetry.position_at(start)
    assert (lat, lon) == pytest.approx(first[:2], abs=1e-9)
    # a height above take-off is no altitude
    assert alt == (None if first[2] is None else pytest.approx(first[2], abs=1e-5))
    assert telemetry.samples[0].rel_alt is not None or altitude == "absolute"
    assert telemetry.focal_at(start) == focal


def test_positions_between_entries_are_interpolated_in_time():
    telemetry = parse_srt(PHANTOM_4)  # one entry a second
    lat, lon, _ = telemetry.position_at(0.25)
    assert lat == pytest.approx(-33.456900 + 0.25 * 0.0001)
    assert lon == pytest.approx(-70.648300 + 0.25 * 0.0001)
    assert telemetry.samples[1].rel_alt == pytest.approx(47.6)
    lat, lon, alt = parse_srt(MAVIC_3).position_at(0.0165)  # halfway between two frames
    assert (lat, lon, alt) == pytest.approx((46.94815, 7.4475, 571.4))


def test_a_time_far_from_every_entry_has_no_position():
    telemetry = parse_srt(MAVIC_3)  # 0.066 s of telemetry
    assert telemetry.position_at(0.05) is not None
    assert telemetry.position_at(10.0) is None


def test_coordinates_written_in_radians_are_converted():
    lat, lon, _ = parse_srt(RADIANS).position_at(0.0)
    assert lat == pytest.approx(math.degrees(0.722931)) and lon == pytest.approx(math.degrees(0.037736))


def test_without_an_altitude_the_position_is_horizontal_never_altitude_zero():
    text = MAVIC_2_PRO.replace("[altitude: 52.400002] ", "").replace("[altitude: 52.500000] ", "")
    telemetry = parse_srt(text)
    assert telemetry.altitude_kind is None
    assert telemetry.position_at(0.0) == (pytest.approx(-33.8651), pytest.approx(151.2093), None)


def test_a_fix_at_zero_zero_is_no_position():
    text = MAVIC_3.replace(
        "[latitude: 46.948100] [longitude: 7.447400]", "[latitude: 0.000000] [longitude: 0.000000]"
    )
    telemetry = parse_srt(text)
    assert telemetry.samples[0].lat is None
    assert telemetry.position_at(0.0) == pytest.approx((46.9482, 7.4476, 571.5))  # the next entry, 33 ms away


def test_a_zoom_changes_the_focal_length_from_its_entry_on():
    text = MAVIC_3.replace(
        "[focal_len: 24.00] [latitude: 46.948200]", "[focal_len: 70.00] [latitude: 46.948200]"
    )
    telemetry = parse_srt(text)
    assert telemetry.focal_at(0.0) == 24.0 and telemetry.focal_at(0.05) == 70.0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n",
        "not a subtitle at all",
        "1\n2017.08.05 14:11:51\n[latitude : 1.5]\n",
        "1\n00:00:00,000 --> 00:00:01,000\n<font>nothing here</font>\n",
    ],
)
def test_odd_files_give_no_telemetry_and_raise_nothing(text):
    telemetry = parse_srt(text)
    assert telemetry.position_at(0.0) is None and telemetry.altitude_kind is None


def test_windows_line_endings_and_a_byte_order_mark_are_read():
    telemetry = parse_srt("\ufeff" + MAVIC_3.replace("\n", "\r\n"))
    assert len(telemetry.samples) == 2 and telemetry.samples[1].start_s == pytest.approx(0.033)
