# Cloudburst — one command each: `make up` starts a local cluster, `make test` runs everything.
SHELL := /bin/bash
PYTHON ?= python3
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

CODE := libs/lattices/src libs/protocol/src libs/protocol/scripts services/*/src sdk/src cli/src
include mk/images.mk
include mk/bench.mk
include mk/redis.mk
include mk/compose.mk

.PHONY: help install up down status test lint typecheck protos protos-check settings-doc settings-check unit e2e clean

help:  ## Show the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

install: $(UV)  ## Create .venv with every package of the monorepo (editable) and the dev tools
	$(UV) sync --all-packages --locked --python $(PYTHON)

up: install  ## Start a local cluster and return once it is ready (same as .venv/bin/cbctl up)
	$(VENV)/bin/cbctl up
	@echo "cbctl and the SDK live in $(VENV): run 'source $(VENV)/bin/activate' to put cbctl on PATH (or call $(VENV)/bin/cbctl)"

down:  ## Stop the local cluster
	$(VENV)/bin/cbctl down

status:  ## Show the local cluster's services
	$(VENV)/bin/cbctl status

lint: install  ## ruff over our code
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install  ## mypy (strict) over our code, not generated stubs
	$(VENV)/bin/mypy

protos: install  ## Regenerate the protobuf/gRPC modules from libs/protocol/proto
	$(VENV)/bin/python libs/protocol/scripts/gen_protos.py

protos-check: install  ## Fail if the generated modules are stale
	$(VENV)/bin/python libs/protocol/scripts/gen_protos.py --check

settings-doc: install  ## Regenerate docs/settings.md from the settings catalogue
	$(VENV)/bin/python libs/protocol/scripts/gen_settings_doc.py

settings-check: install  ## Fail if docs/settings.md is stale
	$(VENV)/bin/python libs/protocol/scripts/gen_settings_doc.py --check

unit: install redis  ## Fast tests: no cluster
	$(VENV)/bin/pytest -m "not e2e and not docker"

e2e: install redis  ## Tests against real local clusters
	$(VENV)/bin/pytest -m e2e

test: install redis lint typecheck protos-check settings-check  ## Lint, types, and the whole test suite
	$(VENV)/bin/pytest

clean:  ## Remove the environment and caches
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache .hypothesis
