PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config.example.toml

.PHONY: install serve test lint fmt bench chaos clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

serve: install
	$(BIN)/webhook-gateway serve --config $(CONFIG)

test: install
	$(BIN)/pytest -q $(PYTEST_ARGS)

$(VENV)/.bench-installed: pyproject.toml | $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)

chaos: install  # the fault suite at full size (minutes); make test runs it small
	$(BIN)/python -m chaos $(CHAOS_ARGS)

lint: install
	$(BIN)/ruff check gateway tests bench chaos migrations
	$(BIN)/ruff format --check gateway tests bench chaos migrations
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff check --fix gateway tests bench chaos migrations
	$(BIN)/ruff format gateway tests bench chaos migrations

clean:
	rm -rf $(VENV) .gateway .pytest_cache .mypy_cache .ruff_cache
