"""Training config presets, PLY layout, the capped strategy, losses, checkpoints."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torchmetrics.functional.image import structural_similarity_index_measure

from services.train.container import checkpoint, mcmc_cpu
from services.train.container.config import PRESETS, Config
from services.train.container.export import property_names, read_ply, write_ply
from services.train.container.losses import ssim
from services.train.container.strategy import CappedDefaultStrategy, resolve_strategy
from shared.options import JobOptions, Preset

REPO = Path(__file__).resolve().parents[3]


def test_config_module_imports_only_pydantic_and_shared():
    code = (
        "import sys; import services.train.container.config; "
        "bad = [m for m in ('torch', 'numpy', 'pycolmap', 'gsplat') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_presets_order_steps_resolution_and_caps():
    p, s, q = PRESETS[Preset.PREVIEW], PRESETS[Preset.STANDARD], PRESETS[Preset.QUALITY]
    assert p.steps < s.steps < q.steps
    assert p.max_image_size < s.max_image_size <= q.max_image_size
    assert p.max_gaussians < s.max_gaussians < q.max_gaussians


def test_from_options_applies_user_limits():
    cfg = Config.from_options(JobOptions(preset=Preset.STANDARD, max_image_size=800, max_gaussians=200_000, sh_degree=2))
    assert cfg.max_image_size == 800 and cfg.max_gaussians == 200_000 and cfg.sh_degree == 2
    preview = Config.from_options(JobOptions(preset=Preset.PREVIEW))
    assert preview.steps == PRESETS[Preset.PREVIEW].steps
    assert preview.max_image_size == PRESETS[Preset.PREVIEW].max_image_size  # user's 1600 cannot raise it
    assert preview.checkpoint_dir is None


def test_config_rejects_unknown_fields_and_bad_refine_window():
    with pytest.raises(ValueError):
        Config(stepz=3)
    with pytest.raises(ValueError):
        Config(refine_start=500, refine_stop=100)


def test_auto_strategy_is_mcmc_on_cuda_and_default_on_cpu():
    assert resolve_strategy(Config(strategy="auto"), torch.device("cpu")) == "default"
    assert resolve_strategy(Config(strategy="auto"), torch.device("cuda")) == "mcmc"
    assert resolve_strategy(Config(strategy="mcmc"), torch.device("cpu")) == "mcmc"


def _relocation_loops(opacity: float, scale: float, n: int, binoms) -> tuple[float, float]:
    """gsplat's relocation CUDA kernel, transcribed loop for loop (float64)."""
    new_o = 1.0 - (1.0 - opacity) ** (1.0 / n)
    denom = 0.0
    for i in range(1, n + 1):
        for k in range(i):
            denom += float(binoms[i - 1, k]) * ((-1.0) ** k / math.sqrt(k + 1)) * new_o ** (k + 1)
    return new_o, opacity / denom * scale


def test_cpu_relocation_matches_the_kernel_formula():
    from gsplat.strategy import MCMCStrategy

    binoms = MCMCStrategy().initialize_state()["binoms"]
    opacities = torch.tensor([0.9, 0.5, 0.05, 0.99, 0.3])
    scales = torch.rand(5, 3) + 0.1
    ratios = torch.tensor([1, 2, 3, 7, 12])
    new_o, new_s = mcmc_cpu.compute_relocation(opacities, scales, ratios, binoms)
    for j in range(5):
        o, s = _relocation_loops(float(opacities[j]), float(scales[j, 0]), int(ratios[j]), binoms)
        assert float(new_o[j]) == pytest.approx(o, rel=1e-5)
        assert float(new_s[j, 0]) == pytest.approx(s, rel=1e-4)
    # One Gaussian sharing with nobody keeps its opacity and scale.
    assert float(new_o[0]) == pytest.approx(0.9) and torch.allclose(new_s[0], scales[0])


def test_install_routes_cpu_tensors_to_torch_and_is_idempotent():
    from gsplat.strategy import ops

    mcmc_cpu.install()
    first = ops.compute_relocation
    mcmc_cpu.install()
    assert ops.compute_relocation is first and first.spaceport_dispatch
    covar, _ = ops.quat_scale_to_covar_preci(torch.tensor([[1.0, 0, 0, 0]]), torch.tensor([[1.0, 2.0, 3.0]]),
                                             compute_preci=False)
    assert torch.allclose(covar[0], torch.diag(torch.tensor([1.0, 4.0, 9.0])))


def test_ply_has_inria_layout_with_channel_major_sh(tmp_path):
    n, k = 5, 16
    sh = torch.arange(n * k * 3, dtype=torch.float32).reshape(n, k, 3)
    params = {
        "means": torch.randn(n, 3), "scales": torch.randn(n, 3), "quats": torch.randn(n, 4),
        "opacities": torch.randn(n), "sh0": sh[:, :1], "shN": sh[:, 1:],
    }
    assert write_ply(tmp_path / "m.ply", params) == n
    header = (tmp_path / "m.ply").read_bytes().split(b"end_header\n")[0].decode()
    assert "format binary_little_endian 1.0" in header and "element vertex 5" in header
    data = read_ply(tmp_path / "m.ply")
    assert list(data) == property_names(45)
    # f_rest_0..14 are red coefficients 1..15, then green, then blue.
    assert np.allclose(data["f_rest_0"], sh[:, 1, 0].numpy())
    assert np.allclose(data["f_rest_14"], sh[:, 15, 0].numpy())
    assert np.allclose(data["f_rest_15"], sh[:, 1, 1].numpy())
    assert np.allclose(data["f_rest_44"], sh[:, 15, 2].numpy())
    assert np.allclose(data["f_dc_1"], sh[:, 0, 1].numpy())
    assert np.allclose(data["opacity"], params["opacities"].numpy())
    assert np.allclose(data["scale_2"], params["scales"][:, 2].numpy())
    q = torch.nn.functional.normalize(params["quats"], dim=-1)
    assert np.allclose(data["rot_0"], q[:, 0].numpy(), atol=1e-6)
    assert np.all(data["nx"] == 0)


def test_ply_drops_non_finite_gaussians(tmp_path):
    params = {
        "means": torch.tensor([[0.0, 0, 0], [float("nan"), 0, 0]]), "scales": torch.zeros(2, 3),
        "quats": torch.tensor([[1.0, 0, 0, 0]] * 2), "opacities": torch.zeros(2),
        "sh0": torch.zeros(2, 1, 3), "shN": torch.zeros(2, 0, 3),
    }
    assert write_ply(tmp_path / "m.ply", params) == 1
    assert list(read_ply(tmp_path / "m.ply")) == property_names(0)


def _params(n):
    g = torch.Generator().manual_seed(0)
    return {
        "means": torch.nn.Parameter(torch.randn(n, 3, generator=g)),
        "scales": torch.nn.Parameter(torch.full((n, 3), -6.0)),  # small: grown by duplication
        "quats": torch.nn.Parameter(torch.randn(n, 4, generator=g)),
        "opacities": torch.nn.Parameter(torch.zeros(n)),
    }


def test_capped_strategy_grows_the_highest_gradients_up_to_the_cap():
    params = _params(100)
    optimizers = {k: torch.optim.Adam([{"params": v, "lr": 1e-3, "name": k}]) for k, v in params.items()}
    strategy = CappedDefaultStrategy(cap_max=130, grow_grad2d=0.1)
    grads = torch.linspace(0, 1, 100)
    state = {"grad2d": grads.clone(), "count": torch.ones(100), "scene_scale": 1.0}
    n_dupli, n_split = strategy._grow_gs(params, optimizers, state, step=600)
    assert len(params["means"]) == 130
    assert n_dupli + n_split == 30
    # The duplicated ones are the last 30 (largest gradients).
    assert torch.equal(params["means"][100:], params["means"][70:100])


def test_ssim_loss_agrees_with_torchmetrics():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(1, 40, 50, 3, generator=g)
    b = (a + 0.1 * torch.randn(1, 40, 50, 3, generator=g)).clamp(0, 1)
    ours = ssim(a, b)
    theirs = structural_similarity_index_measure(a.permute(0, 3, 1, 2), b.permute(0, 3, 1, 2), data_range=1.0)
    assert abs(float(ours) - float(theirs)) < 0.02
    assert float(ssim(a, a)) == pytest.approx(1.0, abs=1e-5)


def test_checkpoints_are_atomic_and_newest_wins(tmp_path):
    checkpoint.save(tmp_path, 100, {"step": 100, "x": 1})
    checkpoint.save(tmp_path, 200, {"step": 200, "x": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt_00000200.pt"]
    (tmp_path / "ckpt_00000300.pt").write_bytes(b"torn write")  # a half-written foreign file
    body = checkpoint.load_latest(tmp_path)
    assert body is not None and body["step"] == 200
    assert checkpoint.load_latest(tmp_path / "missing") is None


def test_model_ply_reads_back_in_the_compress_stage(tmp_path):
    from services.compress.container.ply import read_ply as compress_read_ply

    n = 7
    sh = torch.randn(n, 16, 3)
    params = {
        "means": torch.randn(n, 3), "scales": torch.randn(n, 3), "quats": torch.randn(n, 4),
        "opacities": torch.randn(n), "sh0": sh[:, :1], "shN": sh[:, 1:],
    }
    write_ply(tmp_path / "model.ply", params)
    splats = compress_read_ply(tmp_path / "model.ply")
    assert len(splats) == n and splats.sh_degree == 3
    assert np.allclose(splats.means, params["means"].numpy())
    assert np.allclose(splats.sh_rest, sh[:, 1:].transpose(1, 2).reshape(n, -1).numpy())
    assert np.allclose(splats.log_scales, params["scales"].numpy())


def _post_backward(strategy, params, optimizers, state, step):
    n = len(params["means"])
    means2d = torch.zeros(1, n, 2, requires_grad=True)
    means2d.grad = torch.zeros(1, n, 2)
    info = {"width": 64, "height": 48, "n_cameras": 1, "radii": torch.ones(1, n, 2, dtype=torch.int32),
            "gaussian_ids": None, "means2d": means2d}
    strategy.step_post_backward(params, optimizers, state, step, info, packed=False)


def test_default_strategy_resets_opacities_every_reset_every_steps():
    # gsplat 1.5.3 parses `step % reset_every == 0 & step > 0` as a chained comparison: never true.
    params = _params(50)
    with torch.no_grad():
        params["opacities"].fill_(torch.logit(torch.tensor(0.95)))
    optimizers = {k: torch.optim.Adam([{"params": v, "lr": 1e-3, "name": k}]) for k, v in params.items()}
    strategy = CappedDefaultStrategy(reset_every=30, refine_start_iter=1000, refine_stop_iter=2000, prune_opa=0.005)
    state = strategy.initialize_state(scene_scale=1.0)
    for step in (0, 29):
        _post_backward(strategy, params, optimizers, state, step)
    assert float(torch.sigmoid(params["opacities"].detach()).min()) == pytest.approx(0.95)
    _post_backward(strategy, params, optimizers, state, 30)
    assert float(torch.sigmoid(params["opacities"].detach()).max()) == pytest.approx(0.01, rel=1e-4)
    assert params["opacities"] is optimizers["opacities"].param_groups[0]["params"][0]
    # No reset once refinement has stopped (gsplat's rule: resets belong to the refine window).
    with torch.no_grad():
        params["opacities"].fill_(2.0)
    _post_backward(strategy, params, optimizers, state, 2010)
    assert float(torch.sigmoid(params["opacities"].detach()).min()) == pytest.approx(float(torch.sigmoid(torch.tensor(2.0))))
