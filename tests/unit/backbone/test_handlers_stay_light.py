"""Lambda handlers never import torch, pycolmap, gsplat, PyAV (or numpy/PIL): a fresh interpreter
proves it."""

import subprocess
import sys

import pytest

HEAVY = {"torch", "pycolmap", "gsplat", "numpy", "PIL", "av"}


@pytest.mark.parametrize("service", ["ingest", "sfm", "train", "compress", "notify", "reconcile"])
def test_handler_import_pulls_in_no_heavy_module(service):
    probe = (
        f"import sys; import services.{service}.handler; "
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = set(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip().split(","))
    assert not loaded & HEAVY


@pytest.mark.parametrize("stage", ["sfm", "train", "compress"])
def test_stage_config_builds_from_options_without_heavy_modules(stage):
    probe = (
        "import sys; from shared.options import JobOptions; "
        f"from services.{stage} import logic; logic.build_config(JobOptions()); "
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = set(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip().split(","))
    assert not loaded & HEAVY
