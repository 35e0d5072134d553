"""EXIF for rendered photos (Pillow only): make, model, focal length, optional GPS."""

from __future__ import annotations

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

MAKE, MODEL, ORIENTATION = 0x010F, 0x0110, 0x0112
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
FOCAL_LENGTH, FOCAL_35MM = 0x920A, 0xA405


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return IFDRational(degrees), IFDRational(minutes), IFDRational(round(seconds * 10000), 10000)


def make_exif(make: str, model: str, focal_mm: float, focal_35mm: int,
              gps: tuple[float, float, float] | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = make
    exif[MODEL] = model
    exif[ORIENTATION] = 1
    exif[EXIF_IFD] = {FOCAL_LENGTH: IFDRational(round(focal_mm * 1000), 1000), FOCAL_35MM: focal_35mm}
    if gps is not None:
        lat, lon, alt = gps
        exif[GPS_IFD] = {
            1: "N" if lat >= 0 else "S",
            2: _dms(lat),
            3: "E" if lon >= 0 else "W",
            4: _dms(lon),
            5: b"\x00" if alt >= 0 else b"\x01",
            6: IFDRational(round(abs(alt) * 1000), 1000),
        }
    return exif
