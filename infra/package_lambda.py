"""Stage the Lambda source for `sam build`: shared/ + services/ + requirements.txt in infra/.lambda-src/.

The template's Globals CodeUri points at that folder, so `sam build` packages only what the
functions import (not .venv, tests or data) and installs the project's runtime dependencies
(pyproject [project].dependencies) for arm64.

    python infra/package_lambda.py && sam build -t infra/template.yaml
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "infra" / ".lambda-src"
PACKAGES = ("shared", "services")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "Dockerfile", "tests", "*.egg-info")
# Of a stage's container program the Lambdas import only its config (to build the job config).
_CONTAINER_KEEP = {"__init__.py", "config.py"}


def _skip(folder: str, names: list[str]) -> set[str]:
    skipped = set(_SKIP(folder, names))
    path = Path(folder)
    if path.name == "container":
        skipped |= {name for name in names if name not in _CONTAINER_KEEP}
    if path.name == "adapters" and path.parent.name == "shared":
        skipped.add("local")  # the local runtime's adapters: never used in AWS
    return skipped


def runtime_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The dependencies the Lambda functions get (no extras: no torch, no pycolmap)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return list(project["dependencies"])


def stage(out_dir: Path = DEFAULT_OUT, root: Path = REPO_ROOT) -> Path:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    for package in PACKAGES:
        shutil.copytree(root / package, out_dir / package, ignore=_skip)
    requirements = runtime_requirements(root / "pyproject.toml")
    (out_dir / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to (re)create")
    args = parser.parse_args(argv)
    out = stage(args.out)
    print(f"staged lambda source in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
