"""Config presets and options, the entrypoint's --help and the Dockerfile."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.sfm.container.config import PRESETS, Config
from shared.options import JobOptions, Preset

CONTAINER = Path(__file__).resolve().parents[3] / "services" / "sfm" / "container"


def test_options_set_size_and_matcher_over_the_preset():
    cfg = Config.from_options(JobOptions(preset=Preset.PREVIEW, max_image_size=900, matcher="sequential"))
    assert (cfg.max_image_size, cfg.matcher) == (900, "sequential")
    assert cfg.max_num_features == PRESETS[Preset.PREVIEW].max_num_features


def test_vocab_tree_matching_is_not_offered():
    with pytest.raises(ValidationError):
        JobOptions(matcher="vocab_tree")


def test_every_preset_is_a_valid_config():
    for preset in Preset:
        assert isinstance(Config.from_options(JobOptions(preset=preset)), Config)


def test_config_rejects_unknown_fields():
    with pytest.raises(ValueError):
        Config(max_images_size=3)


def test_config_module_imports_only_pydantic_and_shared():
    tree = ast.parse((CONTAINER / "config.py").read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    assert roots <= {"__future__", "typing", "pydantic", "shared"}


def test_entrypoint_help_runs():
    done = subprocess.run([sys.executable, "-m", "services.sfm.container.entrypoint", "--help"],
                          capture_output=True, text=True, cwd=CONTAINER.parents[2], timeout=60)
    assert done.returncode == 0 and "--input" in done.stdout


def test_dockerfile_entrypoint_module_exists():
    text = (CONTAINER / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["python", "-m", "services.sfm.container.entrypoint"]' in text
    assert (CONTAINER / "entrypoint.py").exists()
    assert ".[sfm]" in text
