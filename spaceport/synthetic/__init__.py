"""Synthetic photo sets with known cameras, for SfM tests, training tests and `spaceport demo`."""

from spaceport.synthetic.render import DRONE_ORIGIN, SceneKind, render_scene
from spaceport.synthetic.truth import TRUTH_FILE, ImageTruth, SceneTruth, load_truth, write_truth

__all__ = [
    "DRONE_ORIGIN",
    "TRUTH_FILE",
    "ImageTruth",
    "SceneKind",
    "SceneTruth",
    "load_truth",
    "render_scene",
    "write_truth",
]
