# soraweb: `make run` starts everything on embedded defaults; `make test` runs the full suite.
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

.PHONY: help venv chromium run seed test lint fmt bench screenshots migrate clean

help:
	@echo "make run          start web, worker, beat and sorasim on http://127.0.0.1:8000"
	@echo "make test         run the full test suite (PostgreSQL; DATABASE_URL, REDIS_URL to override)"
	@echo "make lint         ruff and makemigrations --check"
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

test: venv chromium
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} SORAWEB_TESTING=1 \
		$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	SORAWEB_TESTING=1 $(MANAGE) makemigrations --check --dry-run

fmt: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv
	@for b in bench/bench_*.py; do echo "== $$b"; SORAWEB_TESTING=1 $(PY) $$b || exit 1; done

screenshots: venv
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} SORAWEB_TESTING=1 SORAWEB_SCREENSHOTS=docs $(PY) -m pytest -m browser -k screenshot $(PYTEST_ARGS)

clean:
	rm -rf var .pytest_cache .ruff_cache
