# Two commands on a fresh machine:
#   make demo   set everything up, then run the synthetic demo through the whole pipeline
#   make test   set everything up, then run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Pinned: an unpinned torch pulls a multi-GB CUDA build; 2.13.0 is the CPU wheel.
TORCH := torch==2.13.0
NODE_PACKAGES := @playcanvas/splat-transform@3.7.0 @playcanvas/supersplat-viewer@1.36.2
# torch in the test processes on small shared machines: one intra-op thread, no OpenMP
# spin-waiting. (`spaceport` and the training program set the same defaults themselves:
# shared/threads.py.)
export OMP_NUM_THREADS ?= 1
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test setup setup-test chromium bench clean

demo: setup
	$(BIN)/spaceport demo

test: setup-test
	$(BIN)/pytest

setup: $(VENV)/.installed .node/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The web viewer (served by `spaceport view`) and the SOG reference encoder (conformance tests).
.node/.installed:
	mkdir -p .node
	npm install --silent --no-audit --no-fund --prefix .node $(NODE_PACKAGES) \
	  || echo "npm packages unavailable: the viewer and SOG conformance tests will skip"
	touch $@

# Headless Chromium runs the viewer and report screenshot tests; without it they skip, and say so.
# Nothing is installed into the system here: `make chromium` does that, on request.
setup-test: setup
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  echo "note: chromium is not installed, so the browser tests will skip (install it: make chromium)"

# Debian/Ubuntu: install headless Chromium with apt (needs root or sudo).
chromium:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  echo "installing chromium with apt-get"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium

clean:
	rm -rf $(VENV) .node .pytest_cache
