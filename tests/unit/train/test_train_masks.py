"""Masked pixels (alpha or masks/ files, undistorted by the SfM stage) are outside the loss, the
scores and the previews: training never learns the black background of a cut-out photo."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from services.train.container.data import View, _load_mask
from services.train.container.evaluate import evaluate, write_previews
from services.train.container.losses import photometric

H, W = 32, 40


def keep_left() -> torch.Tensor:
    keep = torch.zeros(H, W, dtype=torch.bool)
    keep[:, : W // 2] = True
    return keep


def test_pixels_outside_the_mask_add_nothing_to_the_loss_and_get_no_gradient():
    g = torch.Generator().manual_seed(0)
    target = torch.rand(1, H, W, 3, generator=g)
    target[:, :, W // 2 :] = 0.0  # the cut-out's black background
    render = target.clone()
    render[:, :, W // 2 :] = torch.rand(1, H, W - W // 2, 3, generator=g)  # anything where it is masked
    render.requires_grad_(True)
    loss = photometric(render, target, 0.2, keep_left()[None])
    loss.backward()
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-6)
    assert render.grad[:, :, W // 2 :].abs().max() < 1e-8


def test_the_black_background_pulls_an_unmasked_loss_but_not_a_masked_one():
    target = torch.zeros(1, H, W, 3)
    target[:, :, : W // 2] = 0.5
    render = torch.full((1, H, W, 3), 0.5, requires_grad=True)  # grey everywhere, right on the object
    photometric(render, target, 0.2, keep_left()[None]).backward()
    assert render.grad[:, :, W // 2 :].abs().max() == 0.0
    render.grad = None
    photometric(render, target, 0.2).backward()
    assert render.grad[:, :, W // 2 :].sum() > 0  # without the mask, the background drags towards black


def test_an_all_true_mask_gives_the_unmasked_loss():
    g = torch.Generator().manual_seed(1)
    render, target = torch.rand(1, H, W, 3, generator=g), torch.rand(1, H, W, 3, generator=g)
    everything = torch.ones(1, H, W, dtype=torch.bool)
    assert float(photometric(render, target, 0.2, everything)) == pytest.approx(
        float(photometric(render, target, 0.2)), rel=1e-5
    )


def test_masks_load_at_the_training_resolution_with_nearest_sampling(tmp_path):
    mask = np.zeros((64, 80), np.uint8)
    mask[:, :40] = 255
    Image.fromarray(mask).save(tmp_path / "IMG_1.jpg.png")
    loaded = _load_mask(tmp_path / "IMG_1.jpg.png", (W, H))
    assert loaded.dtype == torch.bool and loaded.shape == (H, W)
    assert torch.equal(loaded, keep_left())
    assert _load_mask(tmp_path / "absent.png", (W, H)) is None


def fake_trainer(render: torch.Tensor) -> SimpleNamespace:
    """What evaluate() and write_previews() use of a Trainer: its device and render()."""
    return SimpleNamespace(device=torch.device("cpu"), render=lambda view: (render[None], None, None))


def photo_view(mask: torch.Tensor | None) -> tuple[View, torch.Tensor]:
    pixels = (torch.rand(H, W, 3, generator=torch.Generator().manual_seed(2)) * 255).to(torch.uint8)
    render = pixels.float() / 255.0
    render[:, W // 2 :] = 0.0  # wrong only where the photo is masked
    view = View(name="IMG_1.jpg", pixels=pixels, K=torch.eye(3), viewmat=torch.eye(4), mask=mask)
    return view, render


def test_psnr_and_ssim_count_only_unmasked_pixels():
    view, render = photo_view(keep_left())
    masked = evaluate(fake_trainer(render), [view])
    unmasked = evaluate(fake_trainer(render), [photo_view(None)[0]])
    assert masked.psnr > 60.0 and masked.ssim == pytest.approx(1.0, abs=1e-3)
    assert unmasked.psnr < 15.0


def test_previews_show_masked_pixels_as_a_checkerboard_on_both_sides(tmp_path):
    view, render = photo_view(keep_left())
    (name,) = write_previews(fake_trainer(render), [view], tmp_path)
    side = np.asarray(Image.open(tmp_path / name), dtype=np.int16)  # [H, 2W, 3]
    for half in (side[:, W // 2 : W], side[:, W + W // 2 :]):
        assert set(np.unique(half)) <= {153, 204}  # 0.6 and 0.8 grey: no black, no render
    assert np.abs(side[:, : W // 2] - side[:, W : W + W // 2]).max() <= 1  # kept pixels: render = photo
