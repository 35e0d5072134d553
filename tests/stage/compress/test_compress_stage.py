"""The compress stage program end to end: model.ply in, model.sog + sog/ + metrics.json out."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from services.compress.container.config import PRESETS, Config
from services.compress.container.entrypoint import main
from services.compress.container.ply import write_ply
from services.compress.container.sog_io import read_sog
from services.compress.container.synthetic import synthetic_splats
from shared.options import JobOptions, Preset

REPO = Path(__file__).resolve().parents[3]
BANANA = REPO.parent / "shared" / "data" / "splats" / "banana_opensplat_2000.ply"
FAST = {"sh_iterations": 2, "palette_size": 256}


def _run(in_dir: Path, out_dir: Path, config: dict) -> int:
    (in_dir / "cfg.json").write_text(json.dumps(config))
    return main(["--input", str(in_dir), "--output", str(out_dir), "--config", str(in_dir / "cfg.json")])


@pytest.mark.slow
def test_stage_writes_bundle_unbundled_and_metrics(tmp_path: Path) -> None:
    # GIVEN a 3,000-splat SH-degree-3 model with 40 near-transparent splats
    splats = synthetic_splats(3000, sh_degree=3)
    splats.opacities[:40] = -9.0  # sigmoid < 0.004
    write_ply(tmp_path / "model.ply", splats)
    # WHEN the stage runs
    assert _run(tmp_path, tmp_path / "out", FAST) == 0
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    # THEN the splats are pruned, counted, and both containers decode to the same model
    assert metrics["status"] == "succeeded" and metrics["stage"] == "compress"
    assert metrics["splats_in"] == 3000 and metrics["splats_out"] == 3000 - metrics["pruned_transparent"]
    assert metrics["pruned_transparent"] >= 40
    assert metrics["sog_bytes"] == (out / "model.sog").stat().st_size
    assert metrics["ratio"] > 5 and metrics["sh_degree_out"] == 3 and metrics["palette_size"] == 256
    assert metrics["codec_error"]["rotation_max_deg"] < 1.0
    assert metrics["peak_memory_mb"] > 0
    bundled, unbundled = read_sog(out / "model.sog"), read_sog(out / "sog" / "meta.json")
    assert len(bundled) == metrics["splats_out"]
    np.testing.assert_array_equal(bundled.means, unbundled.means)
    assert sorted(p.name for p in (out / "sog").iterdir()) == sorted(
        ["meta.json", "means_l.webp", "means_u.webp", "quats.webp", "scales.webp", "sh0.webp",
         "shN_centroids.webp", "shN_labels.webp"]
    )  # fmt: skip


@pytest.mark.slow
def test_dropping_sh_writes_degree_zero(tmp_path: Path) -> None:
    write_ply(tmp_path / "model.ply", synthetic_splats(1000, sh_degree=2))
    assert _run(tmp_path, tmp_path / "out", FAST | {"keep_sh": False, "order": "plas"}) == 0
    meta = json.loads((tmp_path / "out" / "sog" / "meta.json").read_text())
    assert "shN" not in meta
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["sh_degree_out"] == 0 and metrics["palette_size"] == 0 and metrics["order"] == "plas"


def test_truncated_ply_fails_as_invalid_model_file(tmp_path: Path) -> None:
    write_ply(tmp_path / "model.ply", synthetic_splats(100, sh_degree=1))
    data = (tmp_path / "model.ply").read_bytes()
    (tmp_path / "model.ply").write_bytes(data[: len(data) // 2])
    assert _run(tmp_path, tmp_path / "out", {}) == 2
    failure = json.loads((tmp_path / "out" / "failure.json").read_text())
    assert failure["cause"] == "invalid_model_file"
    assert "truncated" in failure["message"]


def test_missing_model_fails_as_invalid_model_file(tmp_path: Path) -> None:
    assert _run(tmp_path, tmp_path / "out", {}) == 2
    assert json.loads((tmp_path / "out" / "failure.json").read_text())["cause"] == "invalid_model_file"


def test_non_finite_splats_are_dropped_and_counted(tmp_path: Path) -> None:
    splats = synthetic_splats(400, sh_degree=0)
    splats.means[:3, 0] = np.nan
    splats.log_scales[5, 1] = -np.inf  # flat splat: kept, clamped
    write_ply(tmp_path / "model.ply", splats)
    assert _run(tmp_path, tmp_path / "out", FAST | {"prune_opacity": 0.0}) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["dropped_non_finite"] == 3 and metrics["splats_out"] == 397


def test_tiny_splats_are_pruned_when_asked(tmp_path: Path) -> None:
    splats = synthetic_splats(400, sh_degree=0)
    splats.log_scales[:25] = -20.0
    write_ply(tmp_path / "model.ply", splats)
    assert _run(tmp_path, tmp_path / "out", FAST | {"prune_min_size": 1e-5}) == 0
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["pruned_tiny"] >= 25


def test_config_from_options_and_presets() -> None:
    cfg = Config.from_options(JobOptions(keep_sh=False, prune_opacity=0.01, preset=Preset.PREVIEW))
    assert cfg.keep_sh is False and cfg.prune_opacity == 0.01
    assert cfg.sh_iterations == PRESETS[Preset.PREVIEW].sh_iterations
    assert Config.from_options(JobOptions(sh_degree=0)).keep_sh is False
    assert set(PRESETS) == set(Preset)


def test_config_module_imports_only_pydantic_and_shared() -> None:
    tree = ast.parse((REPO / "services/compress/container/config.py").read_text())
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {m.split(".")[0] for m in modules} <= {"__future__", "typing", "pydantic", "shared"}


def test_cli_help_and_dockerfile_entrypoint() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.compress.container.entrypoint", "--help"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and "--input" in result.stdout
    dockerfile = (REPO / "services/compress/container/Dockerfile").read_text()
    assert '"-m", "services.compress.container.entrypoint"' in dockerfile
    assert ".[compress]" in dockerfile
    assert (REPO / "services/compress/container/entrypoint.py").is_file()


@pytest.mark.slow
@pytest.mark.realdata
def test_opensplat_model_compresses_about_20x(tmp_path: Path) -> None:
    if not BANANA.is_file():
        pytest.skip("shared data absent")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "model.ply").symlink_to(BANANA)
    assert _run(tmp_path / "in", tmp_path / "out", {"sh_iterations": 3, "write_unbundled": False}) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["splats_in"] == 28_838 and metrics["ratio"] > 18
    assert metrics["codec_error"]["positions_mean_abs"] < 1e-4
    assert metrics["codec_error"]["rotation_max_deg"] < 1.0


@pytest.mark.slow
def test_stage_lists_every_output_and_writes_spz_and_lod_above_the_threshold(tmp_path: Path) -> None:
    from services.compress.container.lod import read_lod
    from services.compress.container.spz import read_spz

    # GIVEN a model above a (small) streamed-LOD threshold
    write_ply(tmp_path / "model.ply", synthetic_splats(6000, sh_degree=1))
    lod = {"lod_min_splats": 5000, "lod_levels": 3, "lod_leaf_splats": 2048, "lod_file_splats": 4096}
    # WHEN the stage runs
    assert _run(tmp_path, tmp_path / "out", FAST | lod) == 0
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    # THEN model.sog, sog/, model.spz and lod/ are listed with the sizes they have on disk
    listed = {o["path"]: o for o in metrics["outputs"]}
    assert sorted(listed) == ["lod/", "model.sog", "model.spz", "sog/"]
    for path, entry in listed.items():
        files = [out / path] if not path.endswith("/") else [p for p in (out / path).rglob("*") if p.is_file()]
        assert entry["bytes"] == sum(f.stat().st_size for f in files) and entry["files"] == len(files)
    assert listed["model.spz"]["format"] == "spz" and listed["lod/"]["format"] == "streamed-sog"
    # the SPZ and every level decode; the finest level is the whole model
    spz = read_spz(out / "model.spz")
    assert len(spz) == metrics["splats_out"] and metrics["spz"]["codec_error"]["rotation_max_deg"] < 0.3
    assert metrics["spz"]["bytes"] < metrics["ply_bytes"] / 3
    levels = read_lod(out / "lod" / "lod-meta.json")
    assert [len(level) for level in levels] == metrics["lod"]["levels"]
    assert metrics["lod"]["levels"][0] == metrics["splats_out"] and len(levels) == 3
    assert metrics["lod"]["first_render_bytes"] < metrics["lod"]["bytes"] / 3


def test_small_models_get_no_streamed_lod(tmp_path: Path) -> None:
    write_ply(tmp_path / "model.ply", synthetic_splats(500, sh_degree=0))
    assert _run(tmp_path, tmp_path / "out", FAST | {"write_spz": False}) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["lod"] is None and metrics["spz"] is None and not (tmp_path / "out" / "lod").exists()
    assert [o["path"] for o in metrics["outputs"]] == ["model.sog", "sog/"]
