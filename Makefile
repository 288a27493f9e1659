# One set of scripts for people and CI. `make demo` and `make test` are all a newcomer needs.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench tools clean

$(STAMP): pyproject.toml requirements-dev.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[all]' -r requirements-dev.txt
	touch $(STAMP)

## demo: set everything up, start a real Prefect server, run flows, show their values
demo: $(STAMP)
	$(BIN)/python demo/run.py

## tools: the non-Python parts the tests use (Azurite from npm, Chromium from Debian)
tools:
	@bash scripts/install-tools.sh

## test: lint, type-check, then every test against the real parts
test: $(STAMP) tools lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench demo
	$(BIN)/ruff format --check src tests bench demo

typecheck: $(STAMP)
	$(BIN)/mypy

## bench: the benchmarks, each printing a table of figures and ratios
bench: $(STAMP)
	$(BIN)/python bench/decode.py
	$(BIN)/python bench/get.py
	$(BIN)/python bench/serve.py

clean:
	rm -rf $(VENV) .tools test-artifacts .pytest_cache .mypy_cache .ruff_cache
