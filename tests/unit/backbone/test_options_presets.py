"""Presets: one table (shared/options.py) that every stage config and the CLI read; settings the
user gives win over it, and a larger image size raises the Gaussian cap with a note."""

from __future__ import annotations

import pytest

from services.compress.container.config import Config as CompressConfig
from services.sfm.container.config import Config as SfmConfig
from services.train.container.config import Config as TrainConfig
from shared.options import PRESETS, JobOptions, Preset, resolve


@pytest.mark.parametrize("preset", list(Preset))
def test_the_training_config_of_a_preset_is_the_table_row(preset):
    spec = PRESETS[preset]
    cfg = TrainConfig.from_options(JobOptions(preset=preset))
    assert (cfg.steps, cfg.max_image_size, cfg.max_gaussians, cfg.sh_degree) == (
        spec.steps, spec.max_image_size, spec.max_gaussians, spec.sh_degree,
    )  # fmt: skip


def test_a_larger_image_size_than_the_preset_is_kept_and_raises_the_gaussian_cap_with_a_note():
    settings = resolve(JobOptions(preset=Preset.PREVIEW, max_image_size=640))
    assert settings.max_image_size == 640
    assert settings.max_gaussians == 4 * PRESETS[Preset.PREVIEW].max_gaussians  # twice the side
    assert len(settings.notes) == 1 and "640 px" in settings.notes[0] and "80,000" in settings.notes[0]
    cfg = TrainConfig.from_options(JobOptions(preset=Preset.PREVIEW, max_image_size=640))
    assert (cfg.max_image_size, cfg.max_gaussians) == (640, 80_000)


def test_a_given_gaussian_cap_is_not_raised_and_a_smaller_size_is_not_a_note():
    settings = resolve(JobOptions(preset=Preset.PREVIEW, max_image_size=640, max_gaussians=5_000))
    assert (settings.max_gaussians, settings.notes) == (5_000, ())
    assert resolve(JobOptions(preset=Preset.STANDARD, max_image_size=800)).notes == ()


def test_steps_stretch_the_schedule_and_sh_degree_is_taken_as_given():
    base = TrainConfig.from_options(JobOptions(preset=Preset.PREVIEW))
    cfg = TrainConfig.from_options(JobOptions(preset=Preset.PREVIEW, steps=3000, sh_degree=3))
    assert cfg.steps == 3000 and cfg.sh_degree == 3
    assert (cfg.refine_start, cfg.refine_stop) == (2 * base.refine_start, 2 * base.refine_stop)
    assert cfg.sh_degree_interval == 2 * base.sh_degree_interval


def test_sfm_works_at_least_at_the_training_size_and_compress_follows_the_sh_degree():
    assert SfmConfig.from_options(JobOptions(preset=Preset.QUALITY)).max_image_size == 3200
    assert SfmConfig.from_options(JobOptions(preset=Preset.PREVIEW)).max_image_size == 1000
    assert SfmConfig.from_options(JobOptions(preset=Preset.PREVIEW, max_image_size=2000)).max_image_size == 2000
    assert CompressConfig.from_options(JobOptions(preset=Preset.PREVIEW, sh_degree=0)).keep_sh is False
    assert CompressConfig.from_options(JobOptions(preset=Preset.PREVIEW)).keep_sh is True


def test_options_left_out_stay_out_of_the_record():
    """A job records what the user asked; the preset fills the rest (report.json shows both)."""
    dumped = JobOptions(preset=Preset.PREVIEW).model_dump(mode="json")
    assert dumped["max_image_size"] is None and dumped["sh_degree"] is None and dumped["steps"] is None


def test_a_raised_cap_is_a_whole_number():
    cap = resolve(JobOptions(preset=Preset.PREVIEW, max_image_size=480)).max_gaussians
    assert cap == 45_000 and isinstance(cap, int)
