"""Scene geometry and a vectorised numpy ray caster: a textured height field, boxes and a sphere.

Shading is Lambertian with a fixed sun and ambient term, so a surface point has the same colour
from every view (no view-dependent effects): what SfM matching and 3DGS training expect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spaceport.synthetic.texture import albedo_texture, sample_bilinear, value_noise

SKY = np.array([0.62, 0.74, 0.88])
SUN = np.array([0.35, -0.45, 0.82]) / np.linalg.norm([0.35, -0.45, 0.82])
AMBIENT = 0.45
PALETTE = np.array(
    [[0.55, 0.45, 0.30], [0.35, 0.50, 0.25], [0.70, 0.65, 0.55], [0.45, 0.35, 0.40], [0.30, 0.40, 0.55]]
)


@dataclass
class Box:
    lo: np.ndarray  # [3] min corner
    hi: np.ndarray  # [3] max corner


@dataclass
class Scene:
    extent: float  # the ground covers [-extent, extent]^2 (metres)
    heights: np.ndarray  # [G, G] height field over the ground square
    amplitude: float  # |height| bound
    ground_texture: np.ndarray  # [T, T, 3] albedo over the ground square
    object_texture: np.ndarray  # [T2, T2, 3] albedo for boxes and the sphere (tri-planar)
    texel_size: float  # metres per object texel
    boxes: list[Box] = field(default_factory=list)
    sphere: tuple[np.ndarray, float] | None = None  # centre [3], radius

    def height_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bilinear height at ground positions x, y [N] (clamped to the square): [N]."""
        g = self.heights.shape[0]
        scale = (g - 1) / (2 * self.extent)
        u = np.clip((x + self.extent) * scale, 0.0, g - 1.000001)
        v = np.clip((y + self.extent) * scale, 0.0, g - 1.000001)
        u0, v0 = u.astype(np.int64), v.astype(np.int64)
        fu, fv = u - u0, v - v0
        flat = self.heights.ravel()
        i = v0 * g + u0
        top = flat[i] + (flat[i + 1] - flat[i]) * fu
        bottom = flat[i + g] + (flat[i + g + 1] - flat[i + g]) * fu
        return top + (bottom - top) * fv


def make_scene(kind: str, rng: np.random.Generator, flat: bool = False) -> Scene:
    """Build the drone (terrain + buildings) or orbit (object on flat textured ground) scene.

    flat (drone only): a textured plane at height 0, no hills and no buildings (the case where
    focal length and flying height cannot be told apart from the photos alone).
    """
    if kind == "drone" and flat:
        extent, amplitude, tex = 60.0, 0.0, 1536
        heights, boxes, sphere, texel = np.zeros((9, 9)), [], None, 0.06
    elif kind == "drone":
        extent, amplitude, tex = 60.0, 2.5, 1536
        heights = amplitude * value_noise(rng, 257, 1, octaves=4, base=3, persistence=0.5)[..., 0]
        boxes = []
        for _ in range(9):
            cx, cy = rng.uniform(-25, 25, size=2)
            sx, sy = rng.uniform(3, 8, size=2)
            h = rng.uniform(3, 10)
            boxes.append(Box(np.array([cx - sx / 2, cy - sy / 2, -amplitude]), np.array([cx + sx / 2, cy + sy / 2, h])))
        sphere = None
        texel = 0.06
    else:
        extent, amplitude, tex = 30.0, 0.0, 1536
        heights = np.zeros((9, 9))
        boxes = [
            Box(np.array([-0.9, -0.7, 0.0]), np.array([0.5, 0.6, 0.9])),
            Box(np.array([0.7, -1.2, 0.0]), np.array([1.3, -0.4, 1.6])),
            Box(np.array([-1.4, 0.8, 0.0]), np.array([-0.6, 1.5, 0.5])),
        ]
        sphere = (np.array([0.2, 0.1, 1.45]), 0.55)
        texel = 0.004
    ground = albedo_texture(rng, tex, PALETTE)
    objects = albedo_texture(rng, 1024, PALETTE[::-1] * 1.1)
    return Scene(extent, heights, amplitude, ground, objects, texel, boxes, sphere)


def _intersect_terrain(scene: Scene, o: np.ndarray, d: np.ndarray, steps: int = 16) -> np.ndarray:
    """First hit distance of rays (o [3], d [N, 3]) with the height field; inf where none."""
    t_hit = np.full(len(d), np.inf)
    down = d[:, 2] < -1e-9
    if scene.amplitude == 0.0:
        t_hit[down] = -o[2] / d[down, 2]
        return t_hit
    dz = d[down, 2]
    t0 = np.maximum((scene.amplitude - o[2]) / dz, 0.0)  # [M]
    t1 = (-scene.amplitude - o[2]) / dz  # [M]
    dd = d[down]
    ts = t0[:, None] + (t1 - t0)[:, None] * np.linspace(0.0, 1.0, steps)[None, :]  # [M, S]
    lo, hi = np.full(len(dd), np.nan), np.full(len(dd), np.nan)
    prev = t0.copy()
    found = np.zeros(len(dd), bool)
    for k in range(steps):
        t = ts[:, k]
        p = o + t[:, None] * dd
        below = (p[:, 2] - scene.height_at(p[:, 0], p[:, 1]) <= 0) & ~found
        lo[below], hi[below] = prev[below], t[below]
        found |= below
        prev = t
    idx = np.flatnonzero(found)
    a, b, dsub = lo[idx], hi[idx], dd[idx]
    for _ in range(8):
        m = 0.5 * (a + b)
        p = o + m[:, None] * dsub
        below = p[:, 2] - scene.height_at(p[:, 0], p[:, 1]) <= 0
        b = np.where(below, m, b)
        a = np.where(below, a, m)
    sub = np.full(len(dd), np.inf)
    sub[idx] = 0.5 * (a + b)
    t_hit[down] = sub
    return t_hit


def _intersect_box(box: Box, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slab test: (t [N], normal [N, 3]); t = inf where missed."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        ta = (box.lo - o) * inv  # [N, 3]
        tb = (box.hi - o) * inv
    tmin, tmax = np.minimum(ta, tb), np.maximum(ta, tb)
    tmin = np.nan_to_num(tmin, nan=-np.inf)
    tmax = np.nan_to_num(tmax, nan=np.inf)
    t_near, axis = tmin.max(axis=1), tmin.argmax(axis=1)
    t_far = tmax.min(axis=1)
    hit = (t_near <= t_far) & (t_near > 1e-6)
    normal = np.zeros_like(d)
    normal[np.arange(len(d)), axis] = -np.sign(d[np.arange(len(d)), axis])
    return np.where(hit, t_near, np.inf), normal


def _may_hit(box: Box, o: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Rays (o [3], unit d [N, 3]) that pass within the box's bounding sphere: [N] bool."""
    centre, radius = (box.lo + box.hi) / 2.0, float(np.linalg.norm(box.hi - box.lo)) / 2.0
    v = centre - o
    along = d @ v  # [N]
    return (float(v @ v) - along**2 <= radius**2) & (along >= -radius)


def _intersect_sphere(centre: np.ndarray, radius: float, o: np.ndarray, d: np.ndarray) -> np.ndarray:
    oc = o - centre
    b = d @ oc  # [N]
    c = oc @ oc - radius**2
    disc = b**2 - c
    t = -b - np.sqrt(np.maximum(disc, 0.0))
    return np.where((disc > 0) & (t > 1e-6), t, np.inf)


def _triplanar(scene: Scene, p: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Object albedo at points p [N, 3] with normals n [N, 3], projected along the dominant axis."""
    size = scene.object_texture.shape[0]
    axis = np.abs(n).argmax(axis=1)
    uv_pairs = {0: (1, 2), 1: (0, 2), 2: (0, 1)}
    out = np.zeros((len(p), 3))
    for a, (i, j) in uv_pairs.items():
        m = axis == a
        if m.any():
            u = np.mod(p[m, i] / scene.texel_size + 97.0 * a, size - 1)
            v = np.mod(p[m, j] / scene.texel_size + 53.0 * a, size - 1)
            out[m] = sample_bilinear(scene.object_texture, u, v)
    return out


def trace(scene: Scene, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shade rays from `origin` [3] along unit `dirs` [N, 3]: (rgb [N, 3] in [0, 1], depth t [N])."""
    t_best = _intersect_terrain(scene, origin, dirs)
    kind = np.zeros(len(dirs), np.int8)  # 0 terrain, 1 box, 2 sphere
    normal = np.zeros_like(dirs)
    for box in scene.boxes:
        near = np.flatnonzero(_may_hit(box, origin, dirs))  # the slab test only where it can hit
        t, nb = _intersect_box(box, origin, dirs[near])
        closer = t < t_best[near]
        hit = near[closer]
        t_best[hit] = t[closer]
        kind[hit] = 1
        normal[hit] = nb[closer]
    if scene.sphere is not None:
        centre, radius = scene.sphere
        t = _intersect_sphere(centre, radius, origin, dirs)
        closer = t < t_best
        t_best = np.where(closer, t, t_best)
        kind[closer] = 2
        p = origin + t[closer, None] * dirs[closer]
        normal[closer] = (p - centre) / radius
    hit = np.isfinite(t_best)
    rgb = np.tile(SKY, (len(dirs), 1))
    p = origin + np.where(hit, t_best, 0.0)[:, None] * dirs  # [N, 3]
    albedo = np.zeros_like(dirs)
    ground = hit & (kind == 0)
    if ground.any():
        g = p[ground]
        size = scene.ground_texture.shape[0]
        scale = (size - 1) / (2 * scene.extent)
        albedo[ground] = sample_bilinear(scene.ground_texture, (g[:, 0] + scene.extent) * scale,
                                         (g[:, 1] + scene.extent) * scale)
        eps = 0.05
        hx = scene.height_at(g[:, 0] + eps, g[:, 1]) - scene.height_at(g[:, 0] - eps, g[:, 1])
        hy = scene.height_at(g[:, 0], g[:, 1] + eps) - scene.height_at(g[:, 0], g[:, 1] - eps)
        ng = np.stack([-hx / (2 * eps), -hy / (2 * eps), np.ones(len(g))], axis=1)
        normal[ground] = ng / np.linalg.norm(ng, axis=1, keepdims=True)
    solid = hit & (kind > 0)
    if solid.any():
        albedo[solid] = _triplanar(scene, p[solid], normal[solid])
    shade = AMBIENT + (1.0 - AMBIENT) * np.clip(normal @ SUN, 0.0, 1.0)
    rgb[hit] = albedo[hit] * shade[hit, None]
    return np.clip(rgb, 0.0, 1.0), t_best
