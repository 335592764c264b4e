# The MIMs stack. `make help` lists the targets; `make run` and `make test` do all the set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

install: $(STAMP) ## Create .venv and install the stack with its tools (pinned)

run: $(STAMP) ## Start PostgreSQL (embedded unless DATABASE_URL), migrate, start every service behind the gateway
	$(BIN)/mims-stack run

migrate: $(STAMP) ## Create and migrate each service's database only
	$(BIN)/mims-stack migrate

test: $(STAMP) ## Run the whole suite against real PostgreSQL (embedded unless DATABASE_URL)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

models: $(STAMP) ## Register the Smart Data Models starter set in the running catalogue (MIM2)
	$(BIN)/mims-stack load-models

bench: $(STAMP) ## Benchmarks: our services beside a bare FastAPI + asyncpg baseline, as ratios
	$(BIN)/python -m bench $(BENCH_ARGS)

conformance: $(STAMP) ## mims-check against a deployment: make conformance URL=https://gateway.example [CHECK_ARGS=...]
	$(BIN)/mims-check --url $(or $(URL),http://127.0.0.1:8080) $(CHECK_ARGS)

k8s-check: $(STAMP) ## Render deploy/k8s with kustomize and validate it offline against the Kubernetes schemas
	$(BIN)/python -m mims_stack.k8s_check deploy/k8s

db-stop: $(STAMP) ## Stop the embedded PostgreSQL
	$(BIN)/mims-stack db-stop

clean: ## Remove the venv and the embedded database's data
	-$(BIN)/mims-stack db-stop
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache

.PHONY: help install run migrate test lint format models bench conformance k8s-check db-stop clean
