#!/usr/bin/env bash
# On a lent CUDA device: install the carried wheels (.whl/, from bench/gpu_check_wheels.sh)
# offline into /tmp/site, then run bench/gpu_check.py under an 8-minute limit. Prints one
# PASS/FAIL line per check; figures go to $OUT/gpu_check.json. DRY_RUN=1 PY=.venv/bin/python
# runs the same on a CPU with the packages already there (no wheel install).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
if [ -z "${DRY_RUN:-}" ] && compgen -G ".whl/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "FAIL  install: offline wheel install failed"; exit 3; }
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1 OMP_WAIT_POLICY=PASSIVE
exec timeout -k 10 480 "$PY" bench/gpu_check.py "$@"
