"""Scene normalisation for training: the cameras centred on the origin, their spread scaled to 1.

SfM models come in arbitrary COLMAP units or ENU metres; gsplat's recipe (simple_trainer's
`normalize_world_space`) trains at about unit size, which MCMC's position noise (scaled by the
means learning rate and the Gaussians' covariances) and fixed thresholds such as the near plane
assume. The transform is a similarity without rotation,

    x_train = scale * (x_world - centre),

so view directions, and with them the spherical-harmonic coefficients, are the same in both
frames; `to_world` undoes it on the exported parameters so the PLY stays in the SfM/ENU frame.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from services.train.container.data import Scene, View


@dataclass(frozen=True)
class Similarity:
    scale: float  # training units per world unit
    centre: tuple[float, float, float]  # world point mapped to the origin

    @classmethod
    def identity(cls) -> Similarity:
        return cls(scale=1.0, centre=(0.0, 0.0, 0.0))

    @classmethod
    def for_views(cls, views: list[View]) -> Similarity:
        """Centre = mean camera centre; scale = 1 / the largest camera distance from it."""
        centres = torch.stack([camera_centre(v.viewmat) for v in views]).double()  # [V, 3]
        mean = centres.mean(0)
        radius = float((centres - mean).norm(dim=-1).max())
        if not math.isfinite(radius) or radius <= 0:
            return cls.identity()
        return cls(scale=1.0 / radius, centre=tuple(float(x) for x in mean))  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, body: dict[str, Any] | None) -> Similarity:
        """From `as_dict` output; None (a checkpoint written before normalisation) is the identity."""
        if body is None:
            return cls.identity()
        return cls(scale=float(body["scale"]), centre=tuple(float(x) for x in body["centre"]))  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "centre": list(self.centre)}

    def close_to(self, other: Similarity, rel: float = 1e-6) -> bool:
        size = max(1.0, *(abs(c) for c in self.centre))
        return math.isclose(self.scale, other.scale, rel_tol=rel) and all(
            abs(a - b) <= rel * size for a, b in zip(self.centre, other.centre, strict=True)
        )

    def points(self, xyz: Tensor) -> Tensor:
        """World points [P, 3] -> training frame."""
        centre = torch.tensor(self.centre, dtype=torch.float64)
        return ((xyz.double() - centre) * self.scale).to(xyz.dtype)

    def viewmat(self, viewmat: Tensor) -> Tensor:
        """World-to-camera [4, 4] -> training frame, still rigid.

        Camera coordinates are scaled by `scale` too, which leaves every projection unchanged:
        x_cam' = R x' + scale (R centre + t).
        """
        out = viewmat.double().clone()
        R, t = out[:3, :3], out[:3, 3]
        out[:3, 3] = self.scale * (R @ torch.tensor(self.centre, dtype=torch.float64) + t)
        return out.to(viewmat.dtype)

    def to_world(self, params: dict[str, Tensor]) -> dict[str, Tensor]:
        """Trained parameters (training frame) -> world frame: means and log scales change."""
        out = dict(params)
        centre = torch.tensor(self.centre, dtype=torch.float64, device=params["means"].device)
        out["means"] = (params["means"].detach().double() / self.scale + centre).float()
        out["scales"] = params["scales"].detach() - math.log(self.scale)
        return out


def camera_centre(viewmat: Tensor) -> Tensor:
    """World position [3] of a world-to-camera [4, 4]: -R^T t."""
    R, t = viewmat[:3, :3].double(), viewmat[:3, 3].double()
    return (-R.T @ t).to(viewmat.dtype)


def normalize_scene(scene: Scene, similarity: Similarity) -> Scene:
    """The scene in the training frame: cameras, SfM points and the scene scale transformed."""

    def move(view: View) -> View:
        return dataclasses.replace(view, viewmat=similarity.viewmat(view.viewmat))

    return dataclasses.replace(
        scene,
        train=[move(v) for v in scene.train],
        test=[move(v) for v in scene.test],
        points=similarity.points(scene.points),
        scene_scale=scene.scene_scale * similarity.scale,
    )
