# Two commands for a fresh machine:
#   make serve   install into .venv, migrate both databases, serve http://127.0.0.1:8000
#   make test    install into .venv (and Chromium + ffmpeg when missing), check the import
#                contracts (lint-imports) and the types (mypy), run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test typecheck install migrate bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --database cache --noinput

serve: migrate
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py runserver 127.0.0.1:8000

# django-stubs' plugin imports the settings: as in development (DEBUG, so no SECRET_KEY is
# needed, and the devcluster app installed, whose code is checked too), whatever the shell says.
typecheck: $(STAMP)
	DEBUG=true DEVCLUSTER=true $(BIN)/mypy

test:
	scripts/system-deps
	$(MAKE) $(STAMP)
	$(BIN)/lint-imports --no-cache --no-logo
	$(MAKE) typecheck
	$(BIN)/pytest -n auto --dist loadscope
