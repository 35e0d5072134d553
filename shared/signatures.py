"""File signatures: what the first bytes of a file say it is. Pure Python (the ingest Lambda
imports it); shared/photo_formats.py holds the one list of accepted formats built on them.

Photos: JPEG (ITU T.81), PNG (RFC 2083), TIFF 6.0 / BigTIFF, RIFF WebP, ISO-BMFF `ftyp` brands of
HEIF (ISO/IEC 23008-12) and AVIF, JPEG 2000 (ISO/IEC 15444-1 box and codestream), BMP,
GIF87a/89a. Videos: ISO-BMFF (ISO/IEC 14496-12: MP4, MOV, M4V, 3GP; an `ftyp` box whose brands
are not an image's or audio's, or a QuickTime file starting with a `moov`/`mdat`/`wide` atom),
Matroska/WebM (EBML magic), AVI (RIFF `AVI `), MPEG-TS (sync byte 0x47 every 188 bytes; M2TS:
192-byte packets).
"""

from __future__ import annotations


def is_jpeg(head: bytes) -> bool:
    return head[:3] == b"\xff\xd8\xff"


def is_png(head: bytes) -> bool:
    return head[:8] == b"\x89PNG\r\n\x1a\n"


def is_tiff(head: bytes) -> bool:
    return head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def is_webp(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)
AVIF_BRANDS = frozenset({b"avif", b"avis"})


def ftyp_brands(head: bytes) -> set[bytes]:
    """Major and compatible brands of an ISO-BMFF `ftyp` box at the start of the file."""
    if head[4:8] != b"ftyp" or len(head) < 12:
        return set()
    size = int.from_bytes(head[:4], "big")
    end = min(len(head), size if size >= 16 else len(head))
    brands = {head[8:12]}
    brands.update(head[i : i + 4] for i in range(16, end - 3, 4))
    return brands


def is_avif(head: bytes) -> bool:
    brands = ftyp_brands(head)
    return bool(brands & AVIF_BRANDS) and head[8:12] in AVIF_BRANDS | {b"mif1", b"msf1"}


def is_heif(head: bytes) -> bool:
    return bool(ftyp_brands(head) & HEIF_BRANDS) and not is_avif(head)


def is_jpeg2000(head: bytes) -> bool:
    return head[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n" or head[:4] == b"\xff\x4f\xff\x51"


BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})  # BITMAPCOREHEADER ... BITMAPV5HEADER


def is_bmp(head: bytes) -> bool:
    return head[:2] == b"BM" and len(head) >= 18 and int.from_bytes(head[14:18], "little") in BMP_HEADER_SIZES


def is_gif(head: bytes) -> bool:
    return head[:6] in (b"GIF87a", b"GIF89a")


AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"pnot"})  # old QuickTime files have no ftyp


def is_isobmff_video(head: bytes) -> bool:
    if head[4:8] == b"ftyp":
        return not (is_heif(head) or is_avif(head) or head[8:12] in AUDIO_BRANDS or head[8:12] == b"crx ")
    return head[4:8] in QUICKTIME_ATOMS


def is_matroska(head: bytes) -> bool:
    return head[:4] == b"\x1a\x45\xdf\xa3"


def is_avi(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"AVI "


def is_mpeg_ts(head: bytes) -> bool:
    return (
        head[:1] == b"\x47" and head[188:189] == b"\x47" or head[4:5] == b"\x47" and head[196:197] == b"\x47"
    )
