# The two commands of the README: `make run` and `make test`. `make bench` prints the benchmark figures.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
PORT ?= 8000
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help run test lint types test-sqlite test-postgresql test-e2e bench install install-test browser clean

help:
	@echo "make run    install, migrate, seed the demo data and serve on http://127.0.0.1:$(PORT)"
	@echo "make test   install what tests need and run lint, types, unit, API and browser tests"
	@echo "make bench  run the benchmarks in bench/ and print their BENCH lines"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==25.3

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test browser

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

types: $(VENV)/.installed-test
	$(BIN)/mypy

test: install-test lint types
	YIWANG_VAR_DIR=$$(mktemp -d) $(BIN)/yiwang makemigrations --check --dry-run
	$(MAKE) --no-print-directory test-sqlite test-postgresql

test-sqlite:
	@echo "== Tests on SQLite =="
	$(BIN)/pytest -n 2 -m "not e2e" -q --cov --cov-report=term
	$(BIN)/pytest -m e2e -q

# On PostgreSQL: required in CI; elsewhere run when a server answers, skipped with a message when not.
test-postgresql:
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== Tests on PostgreSQL ($(PG_URL)) =="; \
		DATABASE_URL=$(PG_URL) $(BIN)/pytest -n 2 -m "not e2e" -q && \
		DATABASE_URL=$(PG_URL) $(BIN)/pytest -m e2e -q; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is not reachable at $(PG_URL); CI must run the suite on PostgreSQL." >&2; exit 1; \
	else \
		echo "SKIPPED: PostgreSQL tests: no server answers at $(PG_URL) (set PG_URL, or run in CI where it is required)."; \
	fi

bench: install-test
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
