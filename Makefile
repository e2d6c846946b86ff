# The two commands of the README:
#   make demo   set up what the demo needs, run the demo on the embedded default store
#   make test   set everything up, run lint, type checks and the whole test suite
# `make test` creates the virtual environment .venv with everything (dev extras); `make demo` a
# lighter one of its own, .venv-demo: the package (editable), its demo extras and JupyterLab.
# Each is created on first use, and installed again when pyproject.toml changes.

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

.PHONY: demo demo-run demo-lab dist lab test lint ui-test browser bench clean

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

# The demo's own environment: no MLflow, PyTorch, linters or browser tooling. The script needs
# only Python, so the lab extension (Node.js) is built after it has printed its comparison, and
# only when JupyterLab is to open. --no-compile: bytecode only for what runs (about 200 MB less).
DEMO_VENV := .venv-demo
DEMO_PY := $(DEMO_VENV)/bin/python
DEMO_STAMP := $(DEMO_VENV)/.installed
DEMO_EXT_STAMP := $(DEMO_VENV)/.labextension-built
DEMO_EXT_LOG := $(CURDIR)/$(DEMO_VENV)/labextension-build.log

$(DEMO_STAMP): pyproject.toml
	@echo "Installing the package, its demo extras and JupyterLab into $(DEMO_VENV) (~40 s)."
	$(PYTHON) -m venv $(DEMO_VENV)
	SKIP_JUPYTER_BUILDER=1 $(DEMO_PY) -m pip install --quiet --no-compile \
		-e '.[demo]' 'jupyterlab>=4.6,<5'
	touch $(DEMO_STAMP)

$(DEMO_EXT_STAMP): $(DEMO_STAMP) $(EXT_SOURCES)
	@echo "Building the lab extension for JupyterLab (Node.js, ~40 s; log: $(DEMO_EXT_LOG))."
	@cd labextension && export PATH="$(CURDIR)/$(DEMO_VENV)/bin:$$PATH" \
		&& { jlpm install && jlpm build:prod; } >$(DEMO_EXT_LOG) 2>&1 \
		|| { tail -n 40 $(DEMO_EXT_LOG); exit 1; }
	@# a copy, not a link: the sdist's file walk would take the build through a link in here
	@# (not a folder it skips) and then skip the build itself as already seen
	rm -rf $(DEMO_VENV)/share/jupyter/labextensions/jupyter-mltrack
	mkdir -p $(DEMO_VENV)/share/jupyter/labextensions
	cp -R jupyter_mltrack/labextension $(DEMO_VENV)/share/jupyter/labextensions/jupyter-mltrack
	touch $(DEMO_EXT_STAMP)

demo: demo-run $(if $(NO_LAB),,demo-lab)

demo-run: $(DEMO_STAMP)
	$(DEMO_PY) examples/demo.py

demo-lab: demo-run $(DEMO_EXT_STAMP)
	@echo "Opening JupyterLab with the demo notebook (NO_LAB=1 skips this)."
	$(DEMO_VENV)/bin/jupyter lab examples/demo.ipynb $(LAB_ARGS)

# an sdist and a wheel in dist/, both carrying the built lab extension (installing either needs
# no Node.js); the extension is rebuilt first when its sources changed
dist: $(EXT_STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist

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
	rm -rf $(VENV) $(DEMO_VENV) .pytest_cache .mypy_cache .ruff_cache
