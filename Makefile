# The two commands of the README: `make run` and `make test`. `make bench` prints the benchmark figures.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
PORT ?= 8000
# Bytecode, and pytest's rewritten test modules, go under .venv instead of __pycache__ in the tree: the suite starts
# a few hundred Python processes (xdist workers, each `yiwang` command a test runs, servers), and without a cache
# every one compiled src/ and tests/ again (docs/adr/0033-test-suite-time.md).
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX := $(CURDIR)/$(VENV)/pycache

# Locked dependencies with their hashes (docs/dependencies.md); `make lock` refreshes them from pyproject.toml.
LOCK_RUN := requirements/run.txt
LOCK_TEST := requirements/test.txt
PIP_INSTALL = $(BIN)/pip install --quiet --disable-pip-version-check
# pip-tools, pinned, in a virtualenv of its own so that it is in neither lock.
PIP_TOOLS_VERSION := 7.6.2
LOCK_VENV := .venv-lock
PIP_COMPILE = $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links

.PHONY: help run test lint types test-sqlite test-postgresql test-e2e bench install install-test browser clean lock

help:
	@echo "make run    install, migrate, seed the demo data and serve on http://127.0.0.1:$(PORT)"
	@echo "make test   install what tests need and run lint, types, unit, API and browser tests"
	@echo "make bench  run the benchmarks in bench/ and print their BENCH lines"
	@echo "make lock   refresh requirements/*.txt (pinned, hashed) from pyproject.toml"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==25.3

# Everything from the lock, every file checked against its hash; then the project itself, adding nothing.
$(VENV)/.installed: $(LOCK_RUN) pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) --require-hashes -r $(LOCK_RUN)
	$(PIP_INSTALL) --no-deps -e .
	touch $@

# The test lock holds the runtime lock's pins (compiled under it), so it serves `make run` too.
$(VENV)/.installed-test: $(LOCK_TEST) pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) --require-hashes -r $(LOCK_TEST)
	$(PIP_INSTALL) --no-deps -e .
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test browser

# Resolve pyproject.toml's dependencies again, with hashes of every file: existing pins are kept unless
# pyproject.toml asks otherwise; `make lock UPGRADE=1` moves every transitive one to its newest version.
# The test lock is constrained by the runtime lock so the two never disagree. The s3 extra stays out of
# both (optional; see docs/dependencies.md).
lock: $(LOCK_VENV)/.pip-tools-$(PIP_TOOLS_VERSION)
	$(PIP_COMPILE) $(if $(UPGRADE),--upgrade) --output-file $(LOCK_RUN) pyproject.toml
	$(PIP_COMPILE) $(if $(UPGRADE),--upgrade) --extra test --constraint $(LOCK_RUN) --output-file $(LOCK_TEST) pyproject.toml

$(LOCK_VENV)/.pip-tools-$(PIP_TOOLS_VERSION):
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check pip==25.3 pip-tools==$(PIP_TOOLS_VERSION)
	touch $@

# Debian's Chromium for the browser tests: no browser is ever downloaded by the tests.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

run: install
	$(BIN)/yiwang migrate --no-input
	$(BIN)/yiwang seed
	$(BIN)/yiwang serve --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	PYTHONPATH=tools/lint $(BIN)/lint-imports --no-cache

types: $(VENV)/.installed-test
	$(BIN)/mypy

test: install-test lint types
	YIWANG_VAR_DIR=$$(mktemp -d) $(BIN)/yiwang makemigrations --check --dry-run
	$(MAKE) --no-print-directory test-sqlite test-postgresql

# Each database's browser tests run beside its unit tests (docs/adr/0033-test-suite-time.md): they mostly wait
# on a server and Chromium, one step at a time, while the unit tests keep both cores busy. Their report is
# printed when both are done; either failing fails the target. They are collected from tests/e2e alone (every
# e2e test is there), not from the whole suite only to deselect the rest.
BESIDE = log=$$(mktemp); ( $(2) ) >$$log 2>&1 & beside=$$!; \
	( $(1) ); first=$$?; wait $$beside; second=$$?; \
	echo "== Browser tests =="; cat $$log; rm -f $$log; [ $$first = 0 ] && [ $$second = 0 ]

test-sqlite:
	@echo "== Tests on SQLite =="
	@$(call BESIDE,$(BIN)/pytest -n 2 -m "not e2e" -q --cov --cov-report=term,$(BIN)/pytest -m e2e -q tests/e2e)

# On PostgreSQL: required in CI; elsewhere run when a server answers, skipped with a message when not.
test-postgresql:
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== Tests on PostgreSQL ($(PG_URL)) =="; \
		export DATABASE_URL=$(PG_URL); \
		$(call BESIDE,$(BIN)/pytest -n 2 -m "not e2e" -q,$(BIN)/pytest -m e2e -q tests/e2e); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is not reachable at $(PG_URL); CI must run the suite on PostgreSQL." >&2; exit 1; \
	else \
		echo "SKIPPED: PostgreSQL tests: no server answers at $(PG_URL) (set PG_URL, or run in CI where it is required)."; \
	fi

bench: install-test
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(LOCK_VENV) var .pytest_cache .mypy_cache .ruff_cache
