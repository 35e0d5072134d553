#!/usr/bin/env bash
# Downloads, here, the wheels bench/gpu_check.sh installs offline on a lent device (no network
# there): CPython 3.12, manylinux x86-64, the packages the device image lacks (see the device
# tool's KINDS.md: it has torch, numpy, scipy, pillow, torchmetrics, rich, jaxtyping, ninja,
# packaging). Run from anywhere in the checkout that the device tool sends:
#     bash bench/gpu_check_wheels.sh      # then: run(command="bash bench/gpu_check.sh", carry=[".whl"])
set -euo pipefail
cd "$(dirname "$0")/.."
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qxF '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >>"$exclude"
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
# One version of each (two of one name stop the whole offline install); pydantic-core must be the
# one this pydantic pins. typing-extensions: pydantic 2.14 needs >= 4.16, newer than some images.
PACKAGES=(
  gsplat==1.5.3
  pycolmap==4.2.1
  pydantic==2.14.4
  pydantic-core==2.50.5
  annotated-types==0.8.0
  typing-inspection==0.4.5
  typing-extensions==4.16.0
)
rm -rf .whl && mkdir .whl
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${PACKAGES[@]}"
ls .whl
du -sh .whl   # the working tree and .whl travel together: 64 MiB at most
