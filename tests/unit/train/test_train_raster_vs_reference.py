"""The CPU rasterizer (compiled kernel and torch fallback) against the brute-force reference."""

from __future__ import annotations

import math

import pytest
import torch
from gsplat.strategy import DefaultStrategy

from services.train.container.raster import cpu, kernel, reference

torch.set_num_threads(1)


def make_scene(n, width, height, sh_degree=3, seed=0, dtype=torch.float64, scale=1.0, min_opacity=0.0):
    g = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=g, dtype=dtype) - 0.5) * torch.tensor([2.0, 2.0, 1.0], dtype=dtype)
    quats = torch.randn(n, 4, generator=g, dtype=dtype)
    scales = torch.exp(torch.rand(n, 3, generator=g, dtype=dtype) * 1.5 - 4.0) * scale
    opacities = torch.sigmoid(torch.randn(n, generator=g, dtype=dtype) * 2).clamp_min(min_opacity)
    sh = torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g, dtype=dtype) * 0.3
    viewmat = torch.eye(4, dtype=dtype)
    viewmat[:3, :3] = torch.linalg.matrix_exp(
        torch.tensor([[0, -0.1, 0.2], [0.1, 0, -0.05], [-0.2, 0.05, 0]], dtype=dtype)
    )
    viewmat[2, 3] = 3.0
    f = 0.5 * width / math.tan(math.radians(30))
    K = torch.tensor([[f, 0, width / 2 + 1.5], [0, f * 1.05, height / 2 - 2.0], [0, 0, 1]], dtype=dtype)
    return means, quats, scales, opacities, sh, viewmat, K


def run_both(scene, width, height, sh_degree, dtype, use_kernel=True):
    """Render with ours (in `dtype`) and the float64 reference; return outputs and gradients."""
    means, quats, scales, opacities, sh, viewmat, K = scene
    ours = [t.clone().to(dtype).requires_grad_(True) for t in (means, quats, scales, opacities, sh)]
    colors, alphas, _ = cpu.rasterization(
        *ours, viewmat[None].to(dtype), K[None].to(dtype), width, height, sh_degree=sh_degree,
        use_kernel=use_kernel,
    )
    ref = [t.clone().requires_grad_(True) for t in (means, quats, scales, opacities, sh)]
    ref_colors, ref_alphas = reference.render(*ref, viewmat, K, width, height, sh_degree)
    g = torch.Generator().manual_seed(7)
    w_c = torch.randn(ref_colors.shape, generator=g, dtype=torch.float64)
    w_a = torch.randn(ref_alphas.shape, generator=g, dtype=torch.float64)
    ((colors[0] * w_c.to(dtype)).sum() + (alphas[0] * w_a.to(dtype)).sum()).backward()
    ((ref_colors * w_c).sum() + (ref_alphas * w_a).sum()).backward()
    return colors[0], alphas[0], ref_colors, ref_alphas, ours, ref


CASES = [
    # (n, width, height, sh_degree, seed, scale, min_opacity): sparse, dense (early stop), SH degrees
    (40, 37, 29, 0, 0, 1.0, 0.0),
    (80, 40, 32, 1, 1, 2.0, 0.0),
    (200, 48, 40, 3, 2, 3.0, 0.6),
    (150, 33, 47, 2, 3, 4.0, 0.9),
]


@pytest.mark.parametrize("case", CASES)
def test_kernel_float64_matches_reference_values_and_gradients(case):
    n, w, h, deg, seed, scale, min_opa = case
    scene = make_scene(n, w, h, deg, seed, scale=scale, min_opacity=min_opa)
    colors, alphas, ref_colors, ref_alphas, ours, ref = run_both(scene, w, h, deg, torch.float64)
    assert ref_alphas.max() > 0.3  # the scene is visible
    assert torch.allclose(colors, ref_colors, atol=1e-10)
    assert torch.allclose(alphas, ref_alphas, atol=1e-10)
    for name, a, b in zip(("means", "quats", "scales", "opacities", "sh"), ours, ref, strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-9, rtol=1e-7), name


@pytest.mark.parametrize("case", CASES[1:3])
def test_kernel_float32_matches_reference_within_1e4(case):
    n, w, h, deg, seed, scale, min_opa = case
    scene = make_scene(n, w, h, deg, seed, scale=scale, min_opacity=min_opa)
    colors, alphas, ref_colors, ref_alphas, ours, ref = run_both(scene, w, h, deg, torch.float32)
    assert (colors.double() - ref_colors).abs().max() < 1e-4
    assert (alphas.double() - ref_alphas).abs().max() < 1e-4
    for name, a, b in zip(("means", "quats", "scales", "opacities", "sh"), ours, ref, strict=True):
        err = (a.grad.double() - b.grad).abs().max() / b.grad.abs().max()
        assert err < 1e-3, (name, float(err))


def test_dense_scene_stops_pixels_early_like_reference():
    # Opaque, large Gaussians: most pixels saturate, so the 1e-4 transmittance stop matters.
    scene = make_scene(400, 32, 24, 0, 5, scale=12.0, min_opacity=0.99)
    colors, alphas, ref_colors, ref_alphas, _, _ = run_both(scene, 32, 24, 0, torch.float64)
    assert (ref_alphas > 0.999).float().mean() > 0.5
    assert torch.allclose(colors, ref_colors, atol=1e-10)


def test_torch_fallback_matches_reference():
    scene = make_scene(80, 40, 32, 1, 1, scale=2.0)
    colors, alphas, ref_colors, ref_alphas, ours, ref = run_both(scene, 40, 32, 1, torch.float64, use_kernel=False)
    assert torch.allclose(colors, ref_colors, atol=1e-10)
    assert torch.allclose(alphas, ref_alphas, atol=1e-10)
    for a, b in zip(ours, ref, strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-9, rtol=1e-7)


def test_kernel_passes_float64_gradcheck_on_a_tiny_case():
    means, quats, scales, opacities, sh, viewmat, K = make_scene(6, 12, 10, 1, 11, scale=6.0, min_opacity=0.3)

    def f(m, q, s, o, c):
        colors, alphas, _ = cpu.rasterization(m, q, s, o, c, viewmat[None], K[None], 12, 10, sh_degree=1)
        return colors, alphas

    inputs = tuple(t.clone().requires_grad_(True) for t in (means, quats, scales, opacities, sh))
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


def test_compiled_binning_equals_torch_binning():
    lib = kernel.load()
    if lib is None:
        pytest.skip("no C++ compiler")
    means, quats, scales, opacities, sh, viewmat, K = make_scene(300, 70, 50, 0, 4, dtype=torch.float32, scale=3.0)
    radii, means2d, depths, _ = cpu.project(means, quats, scales, opacities, viewmat[None], K[None], 70, 50)
    rect = cpu.tile_rects(means2d[0], radii[0], 16, 5, 4)
    visible = torch.nonzero((radii[0] > 0).any(-1)).squeeze(1)
    order = visible[torch.argsort(depths[0, visible], stable=True)].to(torch.int32)
    n = int(((rect[:, 2] - rect[:, 0]) * (rect[:, 3] - rect[:, 1])).sum())
    off_c, ids_c = kernel.bin_tiles(lib, order.contiguous(), rect, n, 5, 4)
    off_t, ids_t = cpu.bin_tiles_torch(order, rect, 5, 4)
    assert n > 300
    assert torch.equal(off_c, off_t) and torch.equal(ids_c, ids_t)


def test_several_cameras_render_like_one_at_a_time():
    means, quats, scales, opacities, sh, viewmat, K = make_scene(100, 30, 20, 2, 6, dtype=torch.float32, scale=2.0)
    view2 = viewmat.clone()
    view2[0, 3] = 0.3
    both, alphas, meta = cpu.rasterization(
        means, quats, scales, opacities, sh, torch.stack([viewmat, view2]), torch.stack([K, K]), 30, 20, sh_degree=2
    )
    for i, v in enumerate((viewmat, view2)):
        one, _, _ = cpu.rasterization(means, quats, scales, opacities, sh, v[None], K[None], 30, 20, sh_degree=2)
        assert torch.allclose(both[i], one[0])
    assert both.shape == (2, 20, 30, 3) and alphas.shape == (2, 20, 30, 1)
    assert meta["radii"].shape == (2, 100, 2) and meta["n_cameras"] == 2


def test_meta_feeds_gsplat_default_strategy():
    means, quats, scales, opacities, sh, viewmat, K = make_scene(100, 40, 30, 0, 8, dtype=torch.float32, scale=2.0)
    params = {
        "means": torch.nn.Parameter(means), "scales": torch.nn.Parameter(torch.log(scales)),
        "quats": torch.nn.Parameter(quats), "opacities": torch.nn.Parameter(torch.logit(opacities)),
    }
    strategy = DefaultStrategy()
    state = strategy.initialize_state()
    colors, _, info = cpu.rasterization(
        params["means"], params["quats"], torch.exp(params["scales"]), torch.sigmoid(params["opacities"]),
        sh, viewmat[None], K[None], 40, 30, sh_degree=0,
    )
    strategy.step_pre_backward(params, {}, state, 0, info)
    colors.sum().backward()
    assert info["means2d"].grad is not None and info["means2d"].grad.shape == (1, 100, 2)
    strategy._update_state(params, state, info, packed=False)
    visible = (info["radii"][0] > 0).all(-1)
    assert torch.equal(state["count"] > 0, visible)
    assert (state["grad2d"][visible] > 0).any()


def test_background_fills_uncovered_pixels():
    scene = make_scene(20, 24, 16, 0, 9, dtype=torch.float32)
    means, quats, scales, opacities, sh, viewmat, K = scene
    colors, alphas, _ = cpu.rasterization(
        means, quats, scales, opacities, sh, viewmat[None], K[None], 24, 16, sh_degree=0,
        backgrounds=torch.tensor([[0.2, 0.4, 0.6]]),
    )
    plain, _, _ = cpu.rasterization(means, quats, scales, opacities, sh, viewmat[None], K[None], 24, 16, sh_degree=0)
    assert torch.allclose(colors, plain + torch.tensor([0.2, 0.4, 0.6]) * (1 - alphas), atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU and gsplat's kernels")
def test_cpu_rasterizer_matches_gsplat_cuda():
    from gsplat import rasterization as gsplat_rasterization

    scene = make_scene(500, 64, 48, 3, 12, dtype=torch.float32, scale=2.0)
    means, quats, scales, opacities, sh, viewmat, K = scene
    cpu_in = [t.clone().requires_grad_(True) for t in (means, quats, scales, opacities, sh)]
    gpu_in = [t.clone().cuda().requires_grad_(True) for t in (means, quats, scales, opacities, sh)]
    c_cpu, a_cpu, _ = cpu.rasterization(*cpu_in, viewmat[None], K[None], 64, 48, sh_degree=3)
    c_gpu, a_gpu, _ = gsplat_rasterization(
        *gpu_in, viewmat[None].cuda(), K[None].cuda(), 64, 48, sh_degree=3, packed=False
    )
    assert (c_cpu - c_gpu.cpu()).abs().max() < 1e-4
    assert (a_cpu - a_gpu.cpu()).abs().max() < 1e-4
    (c_cpu.sum() + a_cpu.sum()).backward()
    (c_gpu.sum() + a_gpu.sum()).backward()
    for a, b in zip(cpu_in, gpu_in, strict=True):
        assert (a.grad - b.grad.cpu()).abs().max() / b.grad.abs().max() < 1e-3


@pytest.mark.parametrize("channels", [1, 4])
def test_plain_feature_channels_match_the_torch_path(channels):
    # The kernel has a 3-channel fast path and a generic one; the generic one is checked here.
    means, quats, scales, opacities, _, viewmat, K = make_scene(60, 30, 22, 0, 13, scale=3.0)
    feats = torch.rand(60, channels, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    outs = []
    for use_kernel in (True, False):
        inputs = [t.clone().requires_grad_(True) for t in (means, feats)]
        colors, alphas, _ = cpu.rasterization(
            inputs[0], quats, scales, opacities, inputs[1], viewmat[None], K[None], 30, 22, use_kernel=use_kernel
        )
        (colors.square().sum() + alphas.sum()).backward()
        outs.append((colors, inputs[0].grad, inputs[1].grad))
    assert outs[0][0].shape == (1, 22, 30, channels)
    for a, b in zip(outs[0], outs[1], strict=True):
        assert torch.allclose(a, b, atol=1e-10)


def _in_subprocess(code: str, **env: str) -> str:
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1", **env},
    )
    return out.stdout.strip()


def test_kernel_builds_into_the_cache_dir_and_can_be_disabled(tmp_path):
    import shutil

    if shutil.which("g++") is None and shutil.which("c++") is None:
        pytest.skip("no C++ compiler")
    code = (
        "from services.train.container.raster import kernel; print(kernel.load() is not None)"
    )
    assert _in_subprocess(code, SPACEPORT_CACHE_DIR=str(tmp_path)) == "True"
    assert len(list((tmp_path / "raster").glob("libspraster-*.so"))) == 1
    assert _in_subprocess(code, SPACEPORT_CACHE_DIR=str(tmp_path), SPACEPORT_NO_CPU_KERNEL="1") == "False"
