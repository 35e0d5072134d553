"""DJI telemetry subtitles (`DJI_0001.SRT` beside `DJI_0001.MP4`): per-frame GPS, altitude, focal.

DJI drones write one SubRip entry (index, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, text) per video frame
or per second. The text comes in several dialects (rebuilt from public samples of the
DJI_SRT_Parser project and bug reports):

- bracketed (Mavic 2/3, Air 2/2S, Mini 2/3/4, FPV, Avata): `[latitude: 41.424724]
  [longitude: 2.234156]` (older firmware spells `longtitude`), altitude as `[altitude: 117.0]`
  or `[rel_alt: 1.300 abs_alt: 423.5]`, `[focal_len: 24.00]` in mm or `[focal_len : 280]` in
  tenths of a mm (35 mm equivalent), `[iso : 100]`;
- inline (Phantom 4 Pro/RTK, Mavic Mini): `GPS (lon, lat, satellites)`, `H 45.60m` (height above
  take-off), `F/2.8, SS 160, ISO 100`;
- legacy (Mavic Pro, Phantom 3/4): `GPS(lon,lat,satellites) BAROMETER:1.9` or `Hb:1.9`;
- Matrice 300: `GPS(lat,lon,0.0M) BAROMETER:0.3M` (latitude first: the third value carries "M").

Some Mavic Air 2 firmware writes latitude and longitude in radians; a track that only makes sense
in radians (every value within ±pi/2, ±pi, and a spread below 0.001) is converted. A fix at
(0, 0) (no satellites yet) is no position. An altitude is absolute (metres above sea level:
`abs_alt`, `altitude`) or relative (above the take-off point: `rel_alt`, `H`, `BAROMETER`,
`Hb`). Only an absolute altitude is an altitude: a video with heights above take-off only (or
none) gets horizontal positions, its altitude unknown (never 0).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Literal

AltitudeKind = Literal["absolute", "relative"]

_TIMECODE = re.compile(r"(\d+):(\d\d):(\d\d)[,.](\d{1,3})\s*-->\s*(\d+):(\d\d):(\d\d)[,.](\d{1,3})")
_TAG = re.compile(r"<[^>]*>")
_PAIR = re.compile(r"([A-Za-z_]+)\s*:\s*([-+]?\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)?)")
_GPS_CALL = re.compile(
    r"\bGPS\s*\(\s*([-+]?[\d.]+)\s*,\s*([-+]?[\d.]+)\s*(?:,\s*([-+]?[\d.]+)\s*(M?))?", re.I
)
_HEIGHT = re.compile(r"(?:^|[\s,])H\s+([-+]?\d+(?:\.\d+)?)\s*m\b")
_BAROMETER = re.compile(r"\b(?:BAROMETER|Hb)\s*:\s*([-+]?\d+(?:\.\d+)?)", re.I)
_ISO = re.compile(r"\bISO\s*:?\s*(\d+)", re.I)


@dataclass(frozen=True)
class TelemetrySample:
    start_s: float  # when the entry starts, seconds from the start of the video
    end_s: float
    lat: float | None = None  # degrees (WGS84)
    lon: float | None = None
    abs_alt: float | None = None  # metres above sea level
    rel_alt: float | None = None  # metres above the take-off point
    focal_35mm: float | None = None  # 35 mm equivalent focal length, mm
    iso: float | None = None


@dataclass
class Telemetry:
    """A video's parsed telemetry, in time order."""

    samples: list[TelemetrySample] = field(default_factory=list)
    dialect: str = ""  # "bracketed", "inline", "legacy", "matrice" or "" (nothing usable)

    @property
    def altitude_kind(self) -> AltitudeKind | None:
        """Absolute when most positioned samples carry it, else relative when most do, else None."""
        located = [s for s in self.samples if s.lat is not None]
        if not located:
            return None
        if sum(s.abs_alt is not None for s in located) * 2 >= len(located):
            return "absolute"
        if sum(s.rel_alt is not None for s in located) * 2 >= len(located):
            return "relative"
        return None

    def position_at(self, time_s: float, max_gap_s: float = 1.5) -> tuple[float, float, float | None] | None:
        """(lat, lon, alt) at time_s, interpolated linearly between the entries' start times.

        alt is metres above sea level when the subtitle has absolute altitudes, else None (a
        height above the take-off point is no altitude; unknown is never 0). None when no
        positioned entry lies within max_gap_s of time_s (GPS lost, or a subtitle shorter than
        the video).
        """
        absolute = self.altitude_kind == "absolute"
        track = [
            (s.start_s, s.lat, s.lon, s.abs_alt if absolute else None)
            for s in self.samples
            if s.lat is not None and s.lon is not None and (s.abs_alt is not None or not absolute)
        ]
        if not track:
            return None
        times = [row[0] for row in track]
        i = bisect_right(times, time_s)
        if i == 0 or i == len(track):
            row = track[0] if i == 0 else track[-1]
            return (row[1], row[2], row[3]) if abs(row[0] - time_s) <= max_gap_s else None
        before, after = track[i - 1], track[i]
        if after[0] - before[0] > 2 * max_gap_s:
            nearest = before if time_s - before[0] <= after[0] - time_s else after
            if abs(nearest[0] - time_s) > max_gap_s:
                return None
            return nearest[1], nearest[2], nearest[3]
        w = (time_s - before[0]) / (after[0] - before[0]) if after[0] > before[0] else 0.0
        lat, lon = (b + w * (a - b) for b, a in zip(before[1:3], after[1:3], strict=True))
        alt = None if before[3] is None or after[3] is None else before[3] + w * (after[3] - before[3])
        return lat, lon, alt

    def focal_at(self, time_s: float) -> float | None:
        """The 35 mm equivalent focal length in effect at time_s (zoom may change it)."""
        with_focal = [s for s in self.samples if s.focal_35mm is not None]
        if not with_focal:
            return None
        i = bisect_right([s.start_s for s in with_focal], time_s)
        return with_focal[max(i - 1, 0)].focal_35mm


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000.0


def _focal_mm(text: str) -> float | None:
    """`24.00` is millimetres; an integer of 100 or more (`280`) is tenths of a millimetre."""
    value = float(text)
    if value <= 0:
        return None
    return value / 10.0 if "." not in text and value >= 100 else value


def _bracketed(text: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for group in re.findall(r"\[([^\]]*)\]", text):
        for key, value in _PAIR.findall(group):
            key = key.lower()
            if key == "focal_len":
                focal = _focal_mm(value)
                if focal is not None:
                    values["focal_35mm"] = focal
            elif "/" not in value:
                values[key] = float(value)
    return values


def _parse_entry(start: float, end: float, text: str) -> tuple[TelemetrySample, str]:
    text = _TAG.sub(" ", text).replace("\u00b0", "")
    found = _bracketed(text)
    lat, lon = found.get("latitude"), found.get("longitude", found.get("longtitude"))
    abs_alt = found.get("abs_alt", found.get("altitude"))
    rel_alt = found.get("rel_alt")
    dialect = "bracketed" if lat is not None else ""
    call = _GPS_CALL.search(text)
    if lat is None and call is not None:
        first, second, third, metres = call.groups()
        if metres:  # Matrice 300: GPS(lat, lon, altitude M)
            lat, lon, dialect = float(first), float(second), "matrice"
        else:  # GPS(lon, lat, satellites)
            lon, lat = float(first), float(second)
            dialect = "inline" if _HEIGHT.search(text) else "legacy"
    height = _HEIGHT.search(text)
    barometer = _BAROMETER.search(text)
    if rel_alt is None and (height or barometer):
        rel_alt = float((height or barometer).group(1))  # type: ignore[union-attr]
    iso = found.get("iso")
    if iso is None and (match := _ISO.search(text)):
        iso = float(match.group(1))
    if lat is not None and lon is not None and (lat == 0.0 and lon == 0.0 or abs(lat) > 90 or abs(lon) > 180):
        lat = lon = None
    return TelemetrySample(start, end, lat, lon, abs_alt, rel_alt, found.get("focal_35mm"), iso), dialect


def _looks_like_radians(samples: list[TelemetrySample]) -> bool:
    located = [s for s in samples if s.lat is not None and s.lon is not None]
    if not located:
        return False
    lats = [s.lat for s in located]
    lons = [s.lon for s in located]
    return (
        max(map(abs, lats)) <= math.pi / 2  # type: ignore[arg-type]
        and max(map(abs, lons)) <= math.pi  # type: ignore[arg-type]
        and max(lats) - min(lats) < 1e-3  # type: ignore[operator]
        and max(lons) - min(lons) < 1e-3  # type: ignore[operator]
    )


def parse_srt(text: str) -> Telemetry:
    """Parse a DJI telemetry subtitle (any dialect above); entries without a timecode are ignored.

    Never raises on odd input: what cannot be read is left out (an empty Telemetry at worst).
    """
    samples: list[TelemetrySample] = []
    dialects: list[str] = []
    for block in re.split(r"\n\s*\n", text.replace("\ufeff", "").replace("\r\n", "\n").replace("\r", "\n")):
        match = _TIMECODE.search(block)
        if match is None:
            continue
        start, end = _seconds(*match.groups()[:4]), _seconds(*match.groups()[4:])
        sample, dialect = _parse_entry(start, end, block[match.end() :])
        samples.append(sample)
        if dialect:
            dialects.append(dialect)
    samples.sort(key=lambda s: s.start_s)
    if _looks_like_radians(samples):
        samples = [
            TelemetrySample(
                s.start_s,
                s.end_s,
                math.degrees(s.lat),
                math.degrees(s.lon),
                s.abs_alt,
                s.rel_alt,
                s.focal_35mm,
                s.iso,
            )
            if s.lat is not None and s.lon is not None
            else s
            for s in samples
        ]
    dialect = max(set(dialects), key=dialects.count) if dialects else ""
    return Telemetry(samples, dialect)
