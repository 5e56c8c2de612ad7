# Two entry points that work on a fresh machine: `make demo` and `make test`.
# Both create .venv when absent and install what is missing (idempotent: a stamp file tracks pyproject.toml).
# `make test` runs the ruff gate (pyflakes, import order, line length 119; [tool.ruff] in pyproject.toml) first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.crosstask-installed
TORCH_VERSION ?= 2.13.0

.PHONY: setup demo test clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned to the local CPU wheel, so no dependency can pull a multi-GB CUDA build
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install -q -e ".[dev,hf,track]"
	touch $(STAMP)

demo: setup
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m crosstask demo

test: setup
	$(BIN)/python -m ruff check crosstask tests benchmarks
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q

clean-venv:
	rm -rf $(VENV)
