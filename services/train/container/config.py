"""Training stage configuration. Imports only pydantic and shared.* (Lambdas build it from JobOptions).

Learning rates and densification defaults follow gsplat's `examples/simple_trainer.py`; the
presets fix steps, resolution and the Gaussian cap.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.options import PRESETS as PRESET_TABLE
from shared.options import JobOptions, Preset, resolve

Strategy = Literal["auto", "default", "mcmc"]
Device = Literal["auto", "cuda", "cpu"]


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Optimisation steps (one training image per step).
    steps: int = Field(default=30_000, ge=1)
    # Longest side (pixels) of the training images; larger inputs are downscaled.
    max_image_size: int = Field(default=1600, ge=16, le=8000)
    # Highest spherical-harmonics degree trained (0: view-independent colour).
    sh_degree: int = Field(default=3, ge=0, le=3)
    # Steps between SH degree increases (0 -> 1 -> ... -> sh_degree).
    sh_degree_interval: int = Field(default=1000, ge=1)
    # Densification: "default" = 3DGS clone/split/prune (capped), "mcmc" = 3DGS-MCMC (a fixed cap),
    # "auto" = mcmc on CUDA, default on CPU.
    strategy: Strategy = "auto"
    # Most Gaussians the model may hold (the MCMC cap; the default strategy stops growing there).
    max_gaussians: int = Field(default=1_000_000, ge=100)
    # Densification starts after this many steps.
    refine_start: int = Field(default=500, ge=0)
    # Densification stops after this many steps.
    refine_stop: int = Field(default=15_000, ge=0)
    # Steps between densification rounds.
    refine_every: int = Field(default=100, ge=1)
    # Default strategy: steps between opacity resets.
    reset_every: int = Field(default=3000, ge=1)
    # Default strategy: mean screen-space gradient above which a Gaussian is cloned or split.
    grow_grad2d: float = Field(default=0.0002, gt=0)
    # Default strategy: opacity below which a Gaussian is pruned.
    prune_opacity: float = Field(default=0.005, ge=0, le=1)
    # Initial opacity of the Gaussians made from SfM points (None: 0.1, or 0.5 with mcmc, as gsplat).
    init_opacity: float | None = Field(default=None, gt=0, lt=1)
    # Initial scale, times the mean distance to the 3 nearest SfM points (None: 1.0, or 0.1 with mcmc).
    init_scale: float | None = Field(default=None, gt=0)
    # Weight of (1 - SSIM) in the loss; the rest is L1.
    ssim_lambda: float = Field(default=0.2, ge=0, le=1)
    # Learning rate of the means, times the scene scale; decays 100x over the run.
    lr_means: float = Field(default=1.6e-4, gt=0)
    # Learning rate of the log scales.
    lr_scales: float = Field(default=5e-3, gt=0)
    # Learning rate of the quaternions.
    lr_quats: float = Field(default=1e-3, gt=0)
    # Learning rate of the opacity logits.
    lr_opacities: float = Field(default=5e-2, gt=0)
    # Learning rate of the DC colour coefficients.
    lr_sh0: float = Field(default=2.5e-3, gt=0)
    # Learning rate of the higher SH coefficients.
    lr_shN: float = Field(default=2.5e-3 / 20, gt=0)
    # MCMC: weight of the opacity regulariser.
    opacity_reg: float = Field(default=0.01, ge=0)
    # MCMC: weight of the scale regulariser.
    scale_reg: float = Field(default=0.01, ge=0)
    # Train in a normalised frame (cameras centred, their spread scaled to 1; undone on export).
    normalize_scene: bool = True
    # Weight of the needle penalty (longest over middle axis beyond max_anisotropy); 0: off.
    anisotropy_reg: float = Field(default=0.1, ge=0)
    # Largest longest-to-middle axis ratio a Gaussian may have before the needle penalty applies.
    max_anisotropy: float = Field(default=10.0, gt=1)
    # Before export, remove Gaussians that no training view shows or that are mostly haze:
    cleanup: bool = True
    # ... opacity below this;
    cleanup_min_opacity: float = Field(default=0.005, ge=0, lt=1)
    # ... largest blending weight in any training view below this many pixels (sum of alpha * T).
    cleanup_min_weight: float = Field(default=0.5, ge=0)
    # Every n-th image (sorted by name) is held out for evaluation, never trained on.
    test_every: int = Field(default=8, ge=2)
    # Held-out views rendered side by side with their photos into previews/.
    preview_count: int = Field(default=3, ge=0)
    # Fewest SfM points / registered images a model needs (else DEGENERATE_MODEL).
    min_points3d: int = Field(default=100, ge=1)
    min_images: int = Field(default=3, ge=2)
    # Folder for resumable checkpoints (None: no checkpoints).
    checkpoint_dir: str | None = None
    # Steps between checkpoints (a killed run loses at most this many).
    checkpoint_every: int = Field(default=1000, ge=1)
    # Where to train: "auto" = CUDA when available.
    device: Device = "auto"
    # CPU threads for torch and the CPU rasterizer (None: leave torch's default).
    num_threads: int | None = Field(default=None, ge=1)
    # Seed for initialisation, image order and densification.
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> Config:
        if self.refine_stop < self.refine_start:
            raise ValueError("refine_stop must be >= refine_start")
        return self

    @classmethod
    def from_options(cls, options: JobOptions) -> Config:
        """The preset's config with the job's settings (shared.options.resolve); a different step
        count stretches the schedule (densification window, SH growth, opacity resets) with it."""
        base = PRESETS[options.preset]
        settings = resolve(options)
        update: dict[str, object] = {
            "steps": settings.steps,
            "max_image_size": settings.max_image_size,
            "sh_degree": settings.sh_degree,
            "max_gaussians": settings.max_gaussians,
        }
        if settings.steps != base.steps:
            stretch = settings.steps / base.steps
            for name in ("refine_start", "refine_stop", "reset_every", "sh_degree_interval"):
                update[name] = max(1, round(getattr(base, name) * stretch))
        return base.model_copy(update=update)


def _preset(preset: Preset, **tuning: object) -> Config:
    """A preset's training config: steps, image size, Gaussian cap and SH degree from the shared
    table (shared/options.py), plus the schedule that suits them."""
    spec = PRESET_TABLE[preset]
    return Config(
        steps=spec.steps,
        max_image_size=spec.max_image_size,
        max_gaussians=spec.max_gaussians,
        sh_degree=spec.sh_degree,
        **tuning,  # type: ignore[arg-type]
    )


PRESETS: dict[Preset, Config] = {
    # Minutes on a 2-core CPU.
    Preset.PREVIEW: _preset(
        Preset.PREVIEW,
        sh_degree_interval=500,
        refine_start=200,
        refine_stop=1200,
        refine_every=100,
        reset_every=3000,
        checkpoint_every=500,
    ),
    # One GPU (gsplat's simple_trainer schedule).
    Preset.STANDARD: _preset(Preset.STANDARD),
    # One GPU, more steps and Gaussians; densify for half the run.
    Preset.QUALITY: _preset(Preset.QUALITY, refine_stop=25_000),
}
