"""Ground truth of a rendered scene: intrinsics and world-to-camera poses, as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

TRUTH_FILE = "truth.json"


@dataclass(frozen=True)
class ImageTruth:
    name: str
    rotation: list[list[float]]  # [3, 3] world-to-camera R (OpenCV axes: x right, y down, z forward)
    translation: list[float]  # [3] world-to-camera t: x_cam = R @ x_world + t
    gps: list[float] | None = None  # (lat deg, lon deg, alt m) written to the EXIF, if any

    @property
    def R(self) -> np.ndarray:  # noqa: N802 - the usual name
        return np.asarray(self.rotation)

    @property
    def t(self) -> np.ndarray:
        return np.asarray(self.translation)

    @property
    def centre(self) -> np.ndarray:
        """Camera centre in world coordinates: [3]."""
        return -self.R.T @ self.t


@dataclass(frozen=True)
class SceneTruth:
    kind: str  # "drone" or "orbit"
    seed: int
    width: int
    height: int
    fx: float
    fy: float
    cx: float  # principal point, pixels (COLMAP convention: pixel centres at +0.5)
    cy: float
    images: list[ImageTruth] = field(default_factory=list)
    origin: list[float] | None = None  # (lat, lon, alt) of the world origin; the world frame is ENU

    def K(self) -> np.ndarray:  # noqa: N802
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def poses(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """name -> (R [3, 3], t [3]) world-to-camera."""
        return {im.name: (im.R, im.t) for im in self.images}


def write_truth(truth: SceneTruth, path: Path) -> None:
    path.write_text(json.dumps(asdict(truth), indent=1))


def load_truth(path: Path) -> SceneTruth:
    body = json.loads(Path(path).read_text())
    images = [ImageTruth(**im) for im in body.pop("images")]
    return SceneTruth(images=images, **body)
