# The two commands of the README:
#   make demo   set everything up, run the demo on the embedded default store
#   make test   set everything up, run lint, type checks and the whole test suite
# Each creates the virtual environment .venv on first use (and again when pyproject.toml changes).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LINT_PATHS := $(wildcard jupyter_mltrack tests bench examples ui-tests)
STAMP := $(VENV)/.installed
# the lab extension is rebuilt whenever its sources change (pip only builds it on install)
EXT_SOURCES := $(shell find labextension/src labextension/style labextension/schema -type f -not -path "*/generated/*" 2>/dev/null) labextension/package.json jupyter_mltrack/server/openapi.yaml
EXT_STAMP := $(VENV)/.labextension-built
JLPM := cd labextension && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm
# Jupyter refuses to run as root unless told; these machines run everything as root
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: demo lab test lint ui-test browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $(STAMP) $(EXT_STAMP)

$(EXT_STAMP): $(STAMP) $(EXT_SOURCES)
	$(JLPM) install
	$(JLPM) build:prod
	@# serve the build in place (pip install copied it once; a rebuild would not reach that copy)
	rm -rf $(VENV)/share/jupyter/labextensions/jupyter-mltrack
	ln -s $(CURDIR)/jupyter_mltrack/labextension $(VENV)/share/jupyter/labextensions/jupyter-mltrack
	touch $(EXT_STAMP)

demo: $(EXT_STAMP)
	$(PY) examples/demo.py
	@echo "Opening JupyterLab with the demo notebook (NO_LAB=1 skips this)."
	@if [ -z "$(NO_LAB)" ]; then $(VENV)/bin/jupyter lab examples/demo.ipynb $(LAB_ARGS); fi

# JupyterLab with the sidebar and the demo notebook
lab: $(EXT_STAMP)
	$(VENV)/bin/jupyter lab examples/demo.ipynb $(LAB_ARGS)

# Debian's Chromium for the browser tests (tools that download their own browser fail here)
browser:
	@command -v chromium >/dev/null || { apt-get update && apt-get install -y chromium; }

lint: $(EXT_STAMP)
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m ruff format --check $(LINT_PATHS)
	$(PY) -m mypy
	$(JLPM) lint:check
	$(JLPM) test
	$(VENV)/bin/jupyter labextension list 2>&1 | grep -E "jupyter-mltrack .*enabled.*OK"
	$(VENV)/bin/jupyter server extension list 2>&1 | grep -E "jupyter_mltrack .*enabled"

# two sessions: each folder has a conftest of its own, and tests import from theirs by name
test: lint browser
	$(PY) -m pytest tests
	$(PY) -m pytest ui-tests

ui-test: $(EXT_STAMP) browser
	$(PY) -m pytest ui-tests

bench: $(STAMP)
	$(PY) bench/bench_tracking.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
