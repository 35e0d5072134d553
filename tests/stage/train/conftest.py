"""A small synthetic SfM output shared by the training stage tests (tests/support/train.py: FAST)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from services.train.container.synthetic import write_scene


@pytest.fixture(scope="module")
def sfm_dir(tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("sfm")
    write_scene(folder, n_images=12, width=64, height=48, n_gaussians=3000, n_points=400, seed=3)
    return folder
