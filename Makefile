PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config.example.toml
SCOPE  ?= admin

# The walkthrough's settings, for config.example.toml only (which opens nothing itself and
# reads its sources' secrets from the environment): demo secrets, and loopback opened to
# deliveries because the walkthrough's subscriber runs on 127.0.0.1.
ifeq ($(CONFIG),config.example.toml)
DEMO_ENV := SHOP_SECRET=$${SHOP_SECRET:-demo-shop-secret-change-me} \
	ERP_EXPORT_SECRET=$${ERP_EXPORT_SECRET:-demo-hmac-secret-change-me} \
	GATEWAY_DELIVERY__ALLOWED_PRIVATE_CIDRS='["127.0.0.0/8"]'
endif

.PHONY: install serve token test lint fmt bench chaos clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

serve: install
	$(DEMO_ENV) $(BIN)/webhook-gateway serve --config $(CONFIG)

token: install  # prints a token for the admin API: TOKEN=$$(make -s token [SCOPE=read])
	@$(DEMO_ENV) $(BIN)/webhook-gateway token create --config $(CONFIG) --scope $(SCOPE)

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
