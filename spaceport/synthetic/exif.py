"""EXIF for rendered photos (Pillow only): make, model, focal length, optional GPS.

`replace_exif` swaps the EXIF block of a JPEG without re-encoding its pixels, so tests can turn
one rendered set into many GPS cases (altitude removed, a fix moved away, zero coordinates...).
"""

from __future__ import annotations

import struct
from pathlib import Path

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

MAKE, MODEL, ORIENTATION = 0x010F, 0x0110, 0x0112
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
FOCAL_LENGTH, FOCAL_35MM = 0x920A, 0xA405
# GPS IFD tags (EXIF 2.32): refs, values, altitude ref (0 above / 1 below sea level), horizontal error.
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_ALT_REF, GPS_ALT, GPS_H_ERROR = 1, 2, 3, 4, 5, 6, 31


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return IFDRational(degrees), IFDRational(minutes), IFDRational(round(seconds * 10000), 10000)


def gps_ifd(lat: float, lon: float, alt: float | None, accuracy_m: float | None = None) -> dict:
    """A GPS IFD (tag -> value) for a fix; alt None writes a 2D fix (no altitude tags)."""
    ifd = {GPS_LAT_REF: "N" if lat >= 0 else "S", GPS_LAT: _dms(lat),
           GPS_LON_REF: "E" if lon >= 0 else "W", GPS_LON: _dms(lon)}
    if alt is not None:
        ifd[GPS_ALT_REF] = b"\x00" if alt >= 0 else b"\x01"
        ifd[GPS_ALT] = IFDRational(round(abs(alt) * 1000), 1000)
    if accuracy_m is not None:
        ifd[GPS_H_ERROR] = IFDRational(round(accuracy_m * 1000), 1000)
    return ifd


def make_exif(make: str, model: str, focal_mm: float, focal_35mm: int,
              gps: tuple[float, float, float | None] | None = None,
              gps_accuracy_m: float | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = make
    exif[MODEL] = model
    exif[ORIENTATION] = 1
    exif[EXIF_IFD] = {FOCAL_LENGTH: IFDRational(round(focal_mm * 1000), 1000), FOCAL_35MM: focal_35mm}
    if gps is not None:
        exif[GPS_IFD] = gps_ifd(*gps, accuracy_m=gps_accuracy_m)
    return exif


def replace_exif(path: Path, exif: Image.Exif) -> None:
    """Rewrite the JPEG at `path` with `exif` as its only EXIF (APP1) segment; pixels untouched.

    JPEG layout (ITU T.81 B.1): SOI, then marker segments (0xFF, id, 2-byte big-endian length
    including itself) up to SOS, after which the entropy-coded data runs to the end.
    """
    data = Path(path).read_bytes()
    if data[:2] != b"\xff\xd8":
        raise ValueError(f"{path} is not a JPEG")
    payload = b"Exif\x00\x00" + exif.tobytes()
    out = [data[:2], b"\xff\xe1", struct.pack(">H", len(payload) + 2), payload]
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker == 0xDA:  # SOS: the rest is image data
            break
        if not (marker == 0xE1 and data[pos + 4:pos + 10] == b"Exif\x00\x00"):
            out.append(data[pos:pos + 2 + length])
        pos += 2 + length
    out.append(data[pos:])
    Path(path).write_bytes(b"".join(out))
