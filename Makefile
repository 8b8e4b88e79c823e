# `make test` is what CI runs: it builds .venv when missing, installs the project with its
# dev dependency group, then runs ruff, mypy --strict and pytest.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck pytest install bench clean test-pythons test-floors test-latest mutation demo conformance

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e . --group dev
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite on PYTEST_WORKERS processes (pytest-xdist; each test isolated: its own server,
# ports and tmp_path), in a random order each run (pytest-randomly prints the seed; replay an
# order with PYTEST_ARGS="--randomly-seed=SEED", keep the files' order with "-p no:randomly").
# Its tests mostly wait on sockets, subprocesses and the package index, so more workers than
# cores pays. PYTEST_ARGS="-m 'not venv'" leaves out the test that installs from the index.
PYTEST_WORKERS ?= 4
PYTEST_ARGS ?=
pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

test: lint typecheck pytest

# The whole job against a local server that the demo starts and stops itself, in a venv of its
# own with only what the demo needs: the package's dependencies and its `cli` extra (rich), not
# the development tools of `make test` (under 30 s from a fresh clone).
# NOTE: speed where it costs nothing: the venv gets no pip of its own (ensurepip alone takes
# seconds), the pip of $(PYTHON) installs into it (--python, pip 22.3 or later) without
# byte-compiling ahead; and the package itself is this source tree, put on the venv's path by a
# .pth file, as an editable install does, without building a wheel in an isolated environment
# (the slowest step of all).
DEMO_VENV := .venv-demo
$(DEMO_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv --without-pip $(DEMO_VENV)
	$(PYTHON) -m pip --python $(DEMO_VENV)/bin/python install --quiet --no-compile \
	  --disable-pip-version-check $$($(PYTHON) -c 'import tomllib; \
	  project = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
	  print(" ".join(project["dependencies"] + project["optional-dependencies"]["cli"]))')
	echo "$(CURDIR)" > "$$($(DEMO_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/aikit_files_source.pth"
	touch $@

demo: $(DEMO_VENV)/.installed
	$(DEMO_VENV)/bin/python -m aikit_files demo

# The suite on every other Python we support that this machine has (found on PATH or through
# pyenv), each in a venv of its own; a Python the machine lacks is named and skipped.
OTHER_PYTHONS ?= 3.12 3.13
test-pythons:
	@for version in $(OTHER_PYTHONS); do \
	  python=$$(ls -d $$(pyenv root 2>/dev/null)/versions/$$version.*/bin/python 2>/dev/null | tail -n 1); \
	  [ -n "$$python" ] || python=$$(command -v python$$version); \
	  if [ -z "$$python" ] || ! $$python -c '' 2>/dev/null; then \
	    echo "Python $$version: not on this machine, skipped"; continue; fi; \
	  echo "Python $$version: $$python"; \
	  [ -x .venv-$$version/bin/python ] || $$python -m venv .venv-$$version || exit 1; \
	  .venv-$$version/bin/python -m pip install --quiet --upgrade pip && \
	  .venv-$$version/bin/python -m pip install --quiet -e . --group dev && \
	  .venv-$$version/bin/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist worksteal || exit 1; \
	done

# The suite against the floors of the runtime dependencies, installed exactly (each ">=" in
# pyproject.toml read as "=="): proof that the floors we declare are ones we work with.
FLOORS_VENV := .venv-floors
test-floors:
	[ -x $(FLOORS_VENV)/bin/python ] || $(PYTHON) -m venv $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FLOORS_VENV)/bin/python -m pip install --quiet -e . --group dev
	$(FLOORS_VENV)/bin/python -m pip install --quiet $$($(FLOORS_VENV)/bin/python -c \
	  'import re, tomllib; print(" ".join(re.sub(">=", "==", d) for d in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))')
	$(FLOORS_VENV)/bin/python -m pip list | grep -iE '^(aiohttp|anyio|attrs|cattrs|multidict|yarl) '
	$(FLOORS_VENV)/bin/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist worksteal

# The suite against the newest aiohttp the package index serves, whatever pyproject.toml's floor:
# we declare no upper cap (it would hurt everyone who installs us next to other packages), so a
# change in aiohttp (a private attribute _compat.py relies on, above all) shows up here as a red
# run rather than as a broken upload for a user.
LATEST_VENV := .venv-latest
test-latest:
	[ -x $(LATEST_VENV)/bin/python ] || $(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST_VENV)/bin/python -m pip install --quiet -e . --group dev
	$(LATEST_VENV)/bin/python -m pip install --quiet --upgrade aiohttp
	@$(LATEST_VENV)/bin/python -c 'import aiohttp; print("aiohttp", aiohttp.__version__, "(the newest the index serves)")'
	$(LATEST_VENV)/bin/python -m pytest -q -p no:cacheprovider

# Mutation testing of the modules [tool.mutmut] names in pyproject.toml; not part of `make test`.
# `$(BIN)/mutmut show NAME` prints a survivor's diff.
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet mutmut
	$(BIN)/mutmut run
	$(BIN)/mutmut results

# The local server as independent tools see it, against the official specs (not part of `make
# test`; needs npm): schemathesis on both flavours, and our client through Stoplight Prism's
# validating proxy. The specs' quirks it corrects are listed and explained in
# tests/conformance/quirks.py. Tools and patched specs go to .conformance/; a few minutes.
SPECS ?= ../shared/specs
CONFORMANCE_EXAMPLES ?= 100
conformance: $(STAMP)
	$(BIN)/python -m pip install --quiet --group conformance
	[ -x .conformance/node_modules/.bin/prism ] || \
	  (mkdir -p .conformance && cd .conformance && npm install --no-audit --no-fund --silent @stoplight/prism-cli@5)
	$(BIN)/python tests/conformance/run.py $(SPECS) --max-examples $(CONFORMANCE_EXAMPLES)

clean:
	rm -rf $(VENV) .venv-* .mypy_cache .pytest_cache .ruff_cache mutants .conformance
