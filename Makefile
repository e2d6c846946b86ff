# The two commands of the README:
#   make demo   set everything up, run the demo on the embedded default store
#   make test   set everything up, run lint, type checks and the whole test suite
# Each creates the virtual environment .venv on first use (and again when pyproject.toml changes).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LINT_PATHS := $(wildcard jupyter_mltrack tests bench examples ui-tests)
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

lint: $(STAMP)
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m ruff format --check $(LINT_PATHS)
	$(PY) -m mypy

test: lint
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/bench_tracking.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
