"""Small real video files for tests, encoded with PyAV (no data from outside)."""

from __future__ import annotations

import io
from fractions import Fraction

import numpy as np

# FFmpeg muxer per file suffix.
MUXERS = {
    ".mp4": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".avi": "avi",
    ".ts": "mpegts",
    ".mts": "mpegts",
}


def moving_texture(k: int, width: int, height: int, step: int = 3) -> np.ndarray:
    """Frame k of a textured picture sliding left by `step` pixels a frame: uint8 [H, W, 3]."""
    rng = np.random.default_rng(7)
    wide = (rng.random((height // 4 + 1, (width + step * 200) // 4 + 1, 3)) * 255).astype(np.uint8)
    big = np.repeat(np.repeat(wide, 4, axis=0), 4, axis=1)
    return np.ascontiguousarray(big[:height, k * step : k * step + width])


def video_bytes(
    suffix: str = ".mp4",
    frames: int = 10,
    width: int = 64,
    height: int = 48,
    fps: int = 10,
    codec: str | None = None,
    metadata: dict[str, str] | None = None,
    rotation: int = 0,
) -> bytes:
    """A short video of a sliding texture in the container the suffix names.

    codec: default H.264 (VP9 for WebM); metadata: container tags (a MOV writes any key, as an
    iPhone's QuickTime keys); rotation: display matrix, degrees counter-clockwise.
    """
    import av

    out = io.BytesIO()
    options = {"movflags": "use_metadata_tags"} if suffix == ".mov" else {}
    with av.open(out, "w", format=MUXERS[suffix], options=options) as container:
        stream = container.add_stream(
            codec or ("libvpx-vp9" if suffix == ".webm" else "libx264"), rate=Fraction(fps)
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for key, value in (metadata or {}).items():
            container.metadata[key] = value
        for k in range(frames):
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(moving_texture(k, width, height), format="rgb24")
            ):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()
