"""The figures the services read from each stage's metrics.json are fields the stage program writes.

A rename on either side breaks a real job (the completion event cannot be built); this catches it
without running the stages.
"""

import pytest

from tests.support.sagemaker import METRICS

READ_BY_SERVICES = {
    # services/<stage>/logic.py builds the completion event; services/notify/report.py the report.
    "sfm": {"images_in", "images_registered", "registration_ratio", "points3d", "mean_reprojection_error_px",
            "matcher", "georeferenced", "capture"},
    "train": {"n_gaussians", "psnr", "ssim", "lpips", "n_test_views"},
    "compress": {"sog_bytes", "ply_bytes", "ratio", "splats_out"},
}


def metrics_fields(stage: str) -> set[str]:
    if stage == "sfm":
        from services.sfm.container.metrics import Metrics
    elif stage == "train":
        from services.train.container.program import TrainMetrics as Metrics
    else:
        from services.compress.container.program import Metrics
    return set(Metrics.model_fields)


@pytest.mark.parametrize("stage", ["sfm", "train", "compress"])
def test_services_read_only_fields_the_stage_program_writes(stage):
    missing = READ_BY_SERVICES[stage] - metrics_fields(stage)
    assert not missing, f"{stage} metrics.json has no {sorted(missing)}"


@pytest.mark.parametrize("stage", ["sfm", "train", "compress"])
def test_the_tests_sagemaker_outputs_use_the_programs_names(stage):
    played = set(METRICS[stage]) - {"status"}
    assert played <= metrics_fields(stage)
