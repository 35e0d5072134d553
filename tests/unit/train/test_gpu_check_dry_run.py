"""bench/gpu_check.sh with DRY_RUN=1: the device check's every step, CI-sized, on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CHECKS = ("build", "raster ", "mcmc ops", "strategy default", "strategy mcmc", "psnr default", "psnr mcmc",
          "resume after SIGKILL", "memory")


@pytest.mark.slow
def test_dry_run_prints_one_passing_line_per_check_and_writes_figures(tmp_path):
    env = {**os.environ, "DRY_RUN": "1", "PY": sys.executable, "OMP_NUM_THREADS": "1", "OUT": str(tmp_path / "out")}
    proc = subprocess.run(["bash", "bench/gpu_check.sh", "--work", str(tmp_path / "work")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    verdicts = [line for line in proc.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert all(line.startswith("PASS  ") for line in verdicts), "\n".join(verdicts)
    for name in CHECKS:
        assert any(line[6:].startswith(name) for line in verdicts), name
    assert sum(line[6:].startswith("raster ") for line in verdicts) == 3
    assert all("[tolerance: " in line for line in verdicts[:-1])
    assert verdicts[-1].startswith("PASS  all: 11/11 checks passed")
    figures = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert len(figures) == 11 and all(f["ok"] for f in figures)


def test_wheel_helper_pins_one_version_of_each_package_the_device_lacks():
    text = (REPO / "bench" / "gpu_check_wheels.sh").read_text()
    pins = [line.strip() for line in text.splitlines() if "==" in line and not line.lstrip().startswith("#")]
    names = [p.split("==")[0] for p in pins]
    assert len(names) == len(set(names))
    assert {"gsplat", "pycolmap", "pydantic", "pydantic-core"} <= set(names)
    assert "gsplat==1.5.3" in pins and "--python-version 3.12" in text and "info/exclude" in text
