"""The stage images (Dockerfiles, pyproject extras) match how SageMaker runs them and the
instances the template allows. No Docker engine here: the files are read, the way a build would."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from shared.adapters.local.container import dockerfile_entrypoint
from tests.support.template import load

REPO = Path(__file__).resolve().parents[2]
# GPU architecture (compute capability) of each single-GPU training family the template allows.
GPU_ARCH = {"g4dn": "7.5", "g5": "8.6", "g6": "8.9", "g6e": "8.9"}


def dockerfile(stage: str) -> str:
    return (REPO / "services" / stage / "container" / "Dockerfile").read_text()


def run_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("RUN ")]


@pytest.mark.parametrize("stage", ["sfm", "train", "compress"])
def test_each_image_entrypoint_is_exec_form_and_runs_the_stage_program(stage: str) -> None:
    argv = dockerfile_entrypoint(stage)
    assert argv[1:] == ["-m", f"services.{stage}.container.entrypoint"]
    assert (REPO / "services" / stage / "container" / "entrypoint.py").exists()
    assert "CMD " not in dockerfile(stage)  # SageMaker's arguments (train / none) are the command


def test_train_image_compiles_gsplat_for_every_allowed_gpu_with_ptx_for_newer_ones() -> None:
    archs = re.search(r'TORCH_CUDA_ARCH_LIST="([^"]+)"', dockerfile("train")).group(1).split(";")
    assert archs[-1].endswith("+PTX")
    compiled = {arch.removesuffix("+PTX") for arch in archs}
    families = {value.split(".")[1] for value in load()["Parameters"]["TrainInstanceType"]["AllowedValues"]}
    assert families <= set(GPU_ARCH), f"unknown GPU families {families - set(GPU_ARCH)}"
    for family in families:
        assert GPU_ARCH[family] in compiled, f"ml.{family}.* ({GPU_ARCH[family]}) is not compiled for"


def test_train_image_installs_ninja_before_gsplat_and_proves_its_module_loads() -> None:
    runs = run_lines(dockerfile("train"))
    gsplat = next(i for i, line in enumerate(runs) if "gsplat.git" in line)
    assert any(re.search(r"pip install .*\bninja\b", line) for line in runs[:gsplat])
    assert any("from gsplat import csrc" in line for line in runs[gsplat + 1 :])


def test_train_image_installs_torchvision_for_lpips_without_putting_it_in_the_train_extra() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    install = next(line for line in run_lines(dockerfile("train")) if 'pip install ".[' in line)
    installed = re.search(r'"\.\[([^\]]+)\]"', install).group(1).split(",")
    assert "train" in installed
    assert any(dep.startswith("torchvision") for extra in installed for dep in extras[extra])
    # [dev] -> [local] -> [train]: a local CPU install must not pull torchvision (it would replace torch).
    assert not any(dep.startswith("torchvision") for dep in extras["train"])


def test_deploy_guide_says_which_service_quotas_each_instance_type_needs() -> None:
    guide = (REPO / "docs" / "deploy.md").read_text()
    parameters = load()["Parameters"]
    assert "Service Quotas" in guide and "ResourceLimitExceeded" in guide
    assert f"{parameters['TrainInstanceType']['Default']} for training job usage" in guide
    assert f"{parameters['TrainInstanceType']['Default']} for spot training job usage" in guide
    for name in ("SfmInstanceType", "CompressInstanceType"):
        assert f"{parameters[name]['Default']} for processing job usage" in guide
