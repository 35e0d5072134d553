"""Device choice (gsplat's CUDA backend checked once), image placement, the training frame, cleanup."""

from __future__ import annotations

import logging
import math
import sys
import types

import pytest
import torch

from services.train.container import device as device_module
from services.train.container.cleanup import remove_floaters, view_weights
from services.train.container.config import Config
from services.train.container.data import View
from services.train.container.device import DeviceViews, pick_device, training_memory_bytes
from services.train.container.losses import anisotropy
from services.train.container.normalize import Similarity, camera_centre
from services.train.container.raster import cpu
from shared.causes import CauseCode
from shared.stage import StageFailure

torch.set_num_threads(1)


def _look_at(centre, target=(0.0, 0.0, 0.0)) -> torch.Tensor:
    centre, target = torch.tensor(centre, dtype=torch.float64), torch.tensor(target, dtype=torch.float64)
    forward = (target - centre) / (target - centre).norm()
    right = torch.linalg.cross(forward, torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    right = right / right.norm()
    down = torch.linalg.cross(forward, right)
    R = torch.stack([right, down, forward])
    view = torch.eye(4, dtype=torch.float64)
    view[:3, :3], view[:3, 3] = R, -R @ centre
    return view.float()


def _view(name, centre, width=32, height=24, target=(0.0, 0.0, 0.0)) -> View:
    f = 0.6 * width
    K = torch.tensor([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1.0]])
    pixels = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    return View(name=name, pixels=pixels, K=K, viewmat=_look_at(centre, target))


@pytest.fixture
def fresh_backend(monkeypatch):
    monkeypatch.setattr(device_module, "_BACKEND", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    return monkeypatch


def test_a_visible_gpu_without_gsplat_kernels_is_a_clear_failure_not_an_attribute_error(fresh_backend, caplog):
    # gsplat 1.5.3 without a CUDA toolkit: its backend module imports fine and leaves _C = None.
    fresh_backend.setitem(sys.modules, "gsplat.cuda._backend", types.SimpleNamespace(_C=None))
    with caplog.at_level(logging.INFO), pytest.raises(StageFailure) as info:
        pick_device(Config(device="auto"))
    assert info.value.cause is CauseCode.INTERNAL_ERROR
    assert "gsplat's CUDA kernels are unavailable" in info.value.message and "nvcc" in info.value.message
    assert "CUDA_VISIBLE_DEVICES=" in info.value.advice
    assert any("gsplat cuda kernels" in r.message for r in caplog.records)
    # Checked once per process: a second call does not try again.
    fresh_backend.setitem(sys.modules, "gsplat.cuda._backend", types.SimpleNamespace(_C=object()))
    with pytest.raises(StageFailure):
        pick_device(Config(device="cuda"))


class _FailingBuild(types.ModuleType):
    def __getattr__(self, name):
        raise RuntimeError("Error building extension 'gsplat_cuda':\nninja: build stopped: subcommand failed.")


def test_a_failed_kernel_build_names_its_last_line(fresh_backend):
    fresh_backend.setitem(sys.modules, "gsplat.cuda._backend", _FailingBuild("gsplat.cuda._backend"))
    with pytest.raises(StageFailure) as info:
        pick_device(Config())
    assert "build stopped: subcommand failed" in info.value.message


def test_cuda_is_chosen_when_the_kernels_load_and_cpu_is_never_checked(fresh_backend):
    fresh_backend.setitem(sys.modules, "gsplat.cuda._backend", types.SimpleNamespace(_C=object()))
    assert pick_device(Config()).type == "cuda"
    assert device_module.gsplat_cuda_backend().ok
    assert pick_device(Config(device="cpu")).type == "cpu"


def test_training_memory_estimate_grows_with_gaussians_sh_and_pixels():
    base = training_memory_bytes(100_000, 3, 800, 600)
    assert training_memory_bytes(200_000, 3, 800, 600) > base > training_memory_bytes(100_000, 1, 800, 600)
    assert training_memory_bytes(100_000, 3, 1600, 1200) > base
    # 1M Gaussians at SH 3 and 1600 px must be planned for well under a 16 GB T4.
    assert training_memory_bytes(1_000_000, 3, 1600, 1067) < 12 * 2**30


def test_device_views_convert_uint8_to_float_and_keep_cameras_in_place():
    views = [_view("a", (3.0, 0.0, 1.0)), _view("b", (0.0, 3.0, 1.0))]
    placed = DeviceViews(views, torch.device("cpu"))
    assert placed.storage == "cpu" and len(placed) == 2
    target = placed.target(1)
    assert target.shape == (1, 24, 32, 3) and target.dtype == torch.float32
    assert torch.equal(target[0], views[1].pixels.float() / 255)
    viewmat, K = placed.camera(1)
    assert torch.equal(viewmat[0], views[1].viewmat) and torch.equal(K[0], views[1].K)
    assert viewmat.data_ptr() == placed.camera(1)[0].data_ptr()  # no copy per step


def _project(view_mat: torch.Tensor, K: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    cam = x @ view_mat[:3, :3].T + view_mat[:3, 3]
    uv = cam @ K.T
    return uv[:, :2] / uv[:, 2:]


def test_similarity_leaves_every_projection_unchanged_and_keeps_views_rigid():
    views = [_view(str(i), (40 * math.cos(i), 40 * math.sin(i), 12.0), target=(500.0, 300.0, 0.0))
             for i in range(5)]
    views = [View(v.name, v.pixels, v.K, _shift(v.viewmat, torch.tensor([500.0, 300.0, 0.0]))) for v in views]
    sim = Similarity.for_views(views)
    centres = torch.stack([camera_centre(sim.viewmat(v.viewmat)) for v in views])
    assert centres.mean(0).abs().max() < 1e-4  # cameras centred ...
    assert centres.norm(dim=-1).max() == pytest.approx(1.0, rel=1e-5)  # ... and spread to 1
    x = torch.tensor([[500.0, 300.0, 0.0], [505.0, 297.0, 2.0]])
    for v in views:
        moved = sim.viewmat(v.viewmat)
        R = moved[:3, :3].double()
        assert torch.allclose(R @ R.T, torch.eye(3, dtype=torch.float64), atol=1e-6)
        assert torch.allclose(_project(moved, v.K, sim.points(x)), _project(v.viewmat, v.K, x), atol=1e-3)


def _shift(viewmat: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """The same camera moved by `offset` in the world."""
    out = viewmat.clone()
    out[:3, 3] = viewmat[:3, 3] - viewmat[:3, :3] @ offset
    return out


def test_to_world_undoes_the_training_frame_for_means_and_scales():
    sim = Similarity(scale=0.02, centre=(100.0, -50.0, 3.0))
    world = torch.tensor([[101.0, -49.0, 3.5], [90.0, -60.0, 0.0]])
    params = {
        "means": sim.points(world), "scales": torch.log(torch.tensor([[0.02, 0.04, 0.002]] * 2)),
        "quats": torch.randn(2, 4), "opacities": torch.zeros(2), "sh0": torch.zeros(2, 1, 3), "shN": torch.zeros(2, 3, 3),
    }
    back = sim.to_world(params)
    assert torch.allclose(back["means"], world, atol=1e-4)
    assert torch.allclose(torch.exp(back["scales"]), torch.tensor([[1.0, 2.0, 0.1]] * 2), rtol=1e-5)
    assert back["quats"] is params["quats"] and back["shN"] is params["shN"]
    assert Similarity.from_dict(sim.as_dict()) == sim and Similarity.from_dict(None) == Similarity.identity()


def _params(means, scales, opacities):
    n = len(means)
    return torch.nn.ParameterDict({
        "means": torch.nn.Parameter(torch.tensor(means)),
        "scales": torch.nn.Parameter(torch.log(torch.tensor(scales))),
        "quats": torch.nn.Parameter(torch.tensor([[1.0, 0, 0, 0]] * n)),
        "opacities": torch.nn.Parameter(torch.logit(torch.tensor(opacities))),
        "sh0": torch.nn.Parameter(torch.zeros(n, 1, 3)),
        "shN": torch.nn.Parameter(torch.zeros(n, 3, 3)),
    })


def test_view_weight_of_a_lone_gaussian_is_its_rendered_alpha_sum():
    params = _params([[0.0, 0.0, 0.0]], [[0.2, 0.2, 0.2]], [0.7])
    view = _view("a", (3.0, 0.0, 0.0))
    placed = DeviceViews([view], torch.device("cpu"))
    weights = view_weights(dict(params.items()), placed)
    _, alphas, _ = cpu.rasterization(
        params["means"].detach(), params["quats"].detach(), torch.exp(params["scales"].detach()),
        torch.sigmoid(params["opacities"].detach()), torch.zeros(1, 3), view.viewmat[None], view.K[None], 32, 24,
    )
    assert float(weights[0]) == pytest.approx(float(alphas.sum()), rel=1e-5) and float(weights[0]) > 5


def test_cleanup_removes_haze_and_hidden_and_unseen_gaussians_keeps_giants_and_counts_each():
    params = _params(
        [
            [0.0, 0.0, 0.0],  # 0 kept: in view of both cameras
            [0.0, 0.3, 0.1],  # 1 kept
            [0.0, 0.0, 0.1],  # 2 low opacity
            [0.0, 0.0, -0.1],  # 3 kept: large (the sky, a wall) but seen
            [0.0, 0.0, 40.0],  # 4 unseen: above every camera's frustum
            [-0.6, 0.0, 0.0],  # 5 unseen: hidden behind the opaque wall 6 from camera a; behind camera b
            [2.0, 0.0, 0.0],  # 6 kept: an opaque wall in front of camera a
        ],
        [[0.1] * 3, [0.1] * 3, [0.1] * 3, [3.0] * 3, [0.1] * 3, [0.05] * 3, [0.001, 1.0, 1.0]],
        [0.9, 0.9, 0.003, 0.9, 0.9, 0.9, 0.999],
    )
    optimizers = {k: torch.optim.Adam([{"params": v, "lr": 1e-3, "name": k}]) for k, v in params.items()}
    views = [_view("a", (3.0, 0.0, 0.0)), _view("b", (-0.5, 0.0, 0.0), target=(3.0, 0.0, 0.0))]
    placed = DeviceViews(views, torch.device("cpu"))
    report = remove_floaters(params, optimizers, placed, Config(cleanup_min_opacity=0.005, cleanup_min_weight=0.5))
    assert (report.low_opacity, report.unseen, report.kept) == (1, 2, 4)
    assert torch.allclose(params["means"][:, 0], torch.tensor([0.0, 0.0, 0.0, 2.0]))
    assert params["means"] is optimizers["means"].param_groups[0]["params"][0]


def test_needle_penalty_spares_discs_and_pulls_needles_back():
    log_scales = torch.log(torch.tensor([
        [1.0, 1.0, 0.001],  # a flat disc: free
        [0.1, 0.1, 0.5],  # 5:1, under the limit
        [0.1, 0.1, 5.0],  # a 50:1 needle
    ])).requires_grad_(True)
    loss = anisotropy(log_scales, max_ratio=10.0)
    assert float(loss.detach()) == pytest.approx(math.log(5.0) / 3, rel=1e-5)
    loss.backward()
    assert torch.all(log_scales.grad[:2] == 0)
    assert log_scales.grad[2, 2] > 0 and log_scales.grad[2, :2].sum() < 0  # shrink the long axis, grow the middle


def test_a_gaussian_seen_only_under_a_mask_counts_as_unseen():
    params = _params([[0.0, 0.0, 0.0], [0.0, 0.9, 0.0]], [[0.05] * 3, [0.05] * 3], [0.9, 0.9])
    view = _view("a", (3.0, 0.0, 0.0))  # looks along -x: world +y is image right (column 22 here)
    keep = torch.ones(24, 32, dtype=torch.bool)
    keep[:, 20:] = False  # the right columns are ignored (a cut-out's background)
    open_weights = view_weights(dict(params.items()), DeviceViews([view], torch.device("cpu")))
    masked = View(view.name, view.pixels, view.K, view.viewmat, mask=keep)
    placed = DeviceViews([masked], torch.device("cpu"))
    assert placed.mask(0).shape == (1, 24, 32)
    weights = view_weights(dict(params.items()), placed)
    assert open_weights[1] > 1.0 and weights[1] < 0.1 * open_weights[1]
    assert weights[0] == pytest.approx(float(open_weights[0]), rel=1e-5)
