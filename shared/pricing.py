"""Instance prices and typical stage durations, for cost figures and ETAs.

Prices: Amazon SageMaker on-demand, us-east-1, USD per hour (the public price list, 2026).
Managed spot training is billed at the spot price (typically 60-70 % less); we report the
on-demand figure as an upper bound and say so. Lambda, S3, SES and EventBridge costs for one job
are well under one cent and are left out.
"""

from __future__ import annotations

from shared.options import Preset

USD_PER_HOUR: dict[str, float] = {
    "ml.c6i.xlarge": 0.204,
    "ml.c6i.2xlarge": 0.408,
    "ml.c6i.4xlarge": 0.816,
    "ml.c6i.8xlarge": 1.632,
    "ml.m5.2xlarge": 0.461,
    "ml.g4dn.xlarge": 0.736,
    "ml.g4dn.2xlarge": 0.94,
    "ml.g5.xlarge": 1.408,
    "ml.g5.2xlarge": 1.515,
    "ml.g6.xlarge": 1.006,
    "ml.p3.2xlarge": 3.825,
    "local": 0.0,
}

# Typical wall seconds per stage on the default instances (for the ETA before a stage starts).
_SFM_BASE_S, _SFM_PER_PHOTO_S = 240.0, 12.0
_TRAIN_S = {Preset.PREVIEW: 600.0, Preset.STANDARD: 2400.0, Preset.QUALITY: 7200.0}
_COMPRESS_S = 300.0


# The template's default instance per stage (infra/template.yaml parameters).
DEFAULT_INSTANCES: dict[str, str] = {"sfm": "ml.c6i.2xlarge", "train": "ml.g4dn.xlarge", "compress": "ml.c6i.4xlarge"}


def estimated_cloud_cost_usd(preset: Preset, photo_count: int) -> float:
    """What the same job would cost on the default instances, from typical stage durations."""
    return round(
        sum(
            USD_PER_HOUR[instance] * typical_stage_seconds(stage, preset, photo_count) / 3600.0
            for stage, instance in DEFAULT_INSTANCES.items()
        ),
        2,
    )


def stage_cost_usd(instance_type: str, seconds: float) -> float | None:
    price = USD_PER_HOUR.get(instance_type)
    if price is None:
        return None
    return round(price * seconds / 3600.0, 4)


def typical_stage_seconds(stage: str, preset: Preset, photo_count: int) -> float:
    if stage == "sfm":
        return _SFM_BASE_S + _SFM_PER_PHOTO_S * photo_count
    if stage == "train":
        return _TRAIN_S[preset]
    if stage == "compress":
        return _COMPRESS_S
    raise ValueError(f"unknown stage {stage!r}")
