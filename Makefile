# Fangyi developer commands. `make run` and `make test` are the two that matter;
# `make help` lists the rest.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# --frozen: install exactly what uv.lock says and never rewrite it as a side effect.
UV_RUN := uv run --frozen
FANGYI := $(UV_RUN) fangyi
VAR_DIR := $(or $(FANGYI_VAR),var)

# npm ci writes this file last; it is older than package-lock.json when the lock changed.
NODE_STAMP := node_modules/.package-lock.json
PO_FILES := $(shell find src/fangyi -path '*/LC_MESSAGES/*.po' 2>/dev/null)
MO_FILES := $(PO_FILES:.po=.mo)
# Whatever collectstatic gathers: our static files, node_modules, installed packages
# (Django admin, ninja), and the STATICFILES_DIRS in settings.
STATIC_SOURCES := $(shell find src/fangyi -path '*/static/*' -type f 2>/dev/null) \
	$(NODE_STAMP) uv.lock src/fangyi/settings.py
# Written by collectstatic with the manifest storage used when FANGYI_DEBUG is off.
STATIC_MANIFEST := $(VAR_DIR)/static/staticfiles.json

.PHONY: help setup venv node compilemessages collectstatic run test lint bench messages

help:
	@echo "make run       set up, migrate, load the demo county, start server + job worker"
	@echo "make test      set up, run the whole test suite (PYTEST_ARGS='-k ...' to narrow)"
	@echo "make lint      ruff check + ruff format --check"
	@echo "make bench     run bench/*.py (NAME=person_search for one) on PostgreSQL"
	@echo "make messages  extract translatable strings into src/fangyi/locale/en"
	@echo "make setup     .venv, node_modules, compiled translations, collected static files"

setup: venv node compilemessages collectstatic

venv:
	uv sync --frozen

node: $(NODE_STAMP)

package-lock.json: | package.json
	npm install --package-lock-only --no-audit --no-fund

$(NODE_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	touch $@

compilemessages: $(MO_FILES)

ifneq ($(strip $(PO_FILES)),)
$(MO_FILES) &: $(PO_FILES) | venv
	cd src/fangyi && $(FANGYI) compilemessages
	touch $(MO_FILES)
endif

collectstatic: $(STATIC_MANIFEST)

$(STATIC_MANIFEST): $(STATIC_SOURCES) | venv
	$(FANGYI) collectstatic --noinput
	if [ -f $@ ]; then touch $@; fi

run: setup
	bash scripts/run.sh

# Any non-zero pytest exit fails the target, including 5 (no tests collected).
test: setup
	$(UV_RUN) pytest $(PYTEST_ARGS)

lint: venv
	$(UV_RUN) ruff check .
	$(UV_RUN) ruff format --check .

bench: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/fangyi_bench
bench: setup
	$(UV_RUN) python -m bench.run $(NAME)

messages: venv
	cd src/fangyi && $(FANGYI) makemessages -l en --ignore=.venv --ignore=node_modules
