# Two commands on a fresh machine:
#   make demo   set everything up, then run the synthetic demo through the whole pipeline
#   make test   set everything up, then run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Pinned: an unpinned torch pulls a multi-GB CUDA build; 2.13.0 is the CPU wheel.
TORCH := torch==2.13.0
NODE_PACKAGES := @playcanvas/splat-transform@3.7.0 @playcanvas/supersplat-viewer@1.36.2
# torch on small shared machines: one intra-op thread, no OpenMP spin-waiting.
export OMP_NUM_THREADS ?= 1
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test setup setup-test bench clean

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

# Headless Chromium for the viewer screenshot test (skips when absent).
setup-test: setup
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium unavailable: the viewer screenshot test will skip"; }

clean:
	rm -rf $(VENV) .node .pytest_cache
