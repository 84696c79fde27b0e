# soraweb: `make run` starts everything on embedded defaults; `make test` runs the suite on PostgreSQL + Redis
# and on those defaults.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The newest Python >= 3.12 on this machine: PATH first, then pyenv's versions.
PYTHON ?= $(shell { for p in python3.14 python3.13 python3.12 python3 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.*/bin/python 2>/dev/null); do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && \
	$$p -c 'import sys; print("%d.%03d.%03d" % sys.version_info[:3], sys.executable)'; done; } | sort -r | head -n 1 | cut -d' ' -f2)
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/soraweb
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: help venv chromium run seed test test-postgres test-sqlite test-fast test-stress test-flaky lint fmt bench screenshots migrate clean

help:
	@echo "make run          start web, worker, beat and sorasim on http://127.0.0.1:8000"
	@echo "make test         the suite twice: make test-postgres (all of it on PostgreSQL + Redis; DATABASE_URL,"
	@echo "                  REDIS_URL to override), then make test-sqlite (test-fast and the browser tests"
	@echo "                  on SQLite + the embedded broker, the make run defaults)"
	@echo "make test-fast    the suite without browser, worker and fault-matrix tests (SQLite unless DATABASE_URL)"
	@echo "make test-stress  the whole suite on PostgreSQL + Redis while two CPU hogs keep the cores busy; lists failures"
	@echo "make test-flaky   the suite with failed tests run again: lists every test whose outcome changed (RERUN)"
	@echo "make lint         ruff, makemigrations --check and the import contracts (lint-imports)"
	@echo "make bench        run the benchmarks under bench/"
	@echo "make screenshots  refresh the screenshots under docs/ (headless Chromium)"

$(PY):
	@if [ -z "$(PYTHON)" ]; then echo "soraweb needs Python 3.12 or newer; none was found on PATH or under pyenv." >&2; exit 1; fi
	@echo "Creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed

.env:
	$(PY) -m soraweb.envfile

migrate: venv .env
	$(MANAGE) migrate --noinput

seed: migrate
	$(MANAGE) seed_demo

run: venv .env
	@$(PY) -m soraweb.envfile >/dev/null
	$(MANAGE) migrate --noinput
	$(MANAGE) collectstatic --noinput -v 0
	$(MANAGE) seed_demo
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/honcho start -f Procfile

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "The browser tests need Debian's chromium (/usr/bin/chromium): sudo apt-get install chromium" >&2; exit 1; fi; }

# make test-fast: no browser, no real worker (integration), so no fault matrix either (it is integration).
FAST_TESTS := not browser and not integration
# Every test run gets a scratch SORAWEB_VAR_DIR (embedded broker, file cache, downloads), removed afterwards:
# the var/ of `make run` is never touched.
TEST_VAR = var=$$(mktemp -d -t soraweb-test-XXXXXX); trap 'rm -rf "$$var"' EXIT; SORAWEB_VAR_DIR=$$var SORAWEB_TESTING=1

test: test-postgres test-sqlite

test-postgres: venv chromium
	@echo "== the whole suite on PostgreSQL + Redis"
	$(TEST_VAR) DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(PY) -m pytest $(PYTEST_ARGS)

# What a newcomer's `make run` uses: whatever the environment says, DATABASE_URL and REDIS_URL are unset here.
test-sqlite: venv chromium
	@echo "== make test-fast and the browser tests on SQLite + the embedded broker (the make run defaults)"
	$(TEST_VAR) env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest -m "browser or ($(FAST_TESTS))" $(PYTEST_ARGS)

test-fast: venv
	$(TEST_VAR) $(PY) -m pytest -m "$(FAST_TESTS)" $(PYTEST_ARGS)

# Load must never fail a test: the whole PostgreSQL pass with two busy loops (one per core of CI's 2) beside it.
test-stress: venv chromium
	@echo "== the whole suite on PostgreSQL + Redis under two CPU hogs"
	@yes >/dev/null & hog1=$$!; yes >/dev/null & hog2=$$!; \
	var=$$(mktemp -d -t soraweb-test-XXXXXX); trap 'kill $$hog1 $$hog2; rm -rf "$$var"' EXIT; \
	SORAWEB_VAR_DIR=$$var SORAWEB_TESTING=1 DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} $(PY) -m pytest -rfE $(PYTEST_ARGS)

# A detector, never part of `make test`: a failed test runs again (pytest-rerunfailures); one that then passes is
# flaky and is listed as RERUN in the summary, and the run fails so that it is seen.
test-flaky: venv chromium
	@echo "== the suite with reruns: every RERUN below is a test whose outcome changed between two runs"
	@var=$$(mktemp -d -t soraweb-test-XXXXXX); trap 'rm -rf "$$var"; rm -f "$$log"' EXIT; log=$$(mktemp); \
	SORAWEB_VAR_DIR=$$var SORAWEB_TESTING=1 DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} $(PY) -m pytest --reruns 2 -rfER $(PYTEST_ARGS) | tee "$$log"; \
	status=$${PIPESTATUS[0]}; if grep -q "^RERUN" "$$log"; then echo "flaky: the tests marked RERUN above"; exit 1; fi; \
	exit $$status

lint: venv
	$(VENV)/bin/ruff check .
	SORAWEB_TESTING=1 $(MANAGE) makemigrations --check --dry-run
	$(VENV)/bin/lint-imports --no-cache --no-logo

fmt: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv
	@for b in bench/bench_*.py; do echo "== $$b"; SORAWEB_TESTING=1 $(PY) $$b || exit 1; done

screenshots: venv
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} SORAWEB_TESTING=1 SORAWEB_SCREENSHOTS=docs $(PY) -m pytest -m browser -k "screenshot or variations" $(PYTEST_ARGS)

clean:
	rm -rf var .pytest_cache .ruff_cache
