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

# Every dependency at an exact version, with the hashes of its files: what CI tests, the
# image ships and `make serve` runs. pyproject.toml keeps the ranges (for library users);
# `make lock` writes them down again after those change (LOCK_ARGS=--upgrade moves every
# pin to the newest the ranges admit; --upgrade-package NAME one of them). Pins are for
# Linux x86_64 and CPython 3.11, as CI and the image run; the hashes cover every platform's
# files of those versions.
UV_VERSION := 0.13.9
UV_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-unknown-linux-gnu --custom-compile-command 'make lock' $(LOCK_ARGS)

.PHONY: install serve token test lint fmt bench chaos clean lock

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml requirements/test.lock | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements/test.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

serve: install
	$(DEMO_ENV) $(BIN)/webhook-gateway serve --config $(CONFIG)

token: install  # prints a token for the admin API: TOKEN=$$(make -s token [SCOPE=read])
	@$(DEMO_ENV) $(BIN)/webhook-gateway token create --config $(CONFIG) --scope $(SCOPE)

test: install
	$(BIN)/pytest -q $(PYTEST_ARGS)

$(VENV)/.bench-installed: pyproject.toml requirements/bench.lock | $(VENV)/.installed
	$(BIN)/pip install --quiet --require-hashes -r requirements/bench.lock
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)

chaos: install  # the fault suite at full size (minutes); make test runs it small
	$(BIN)/python -m chaos $(CHAOS_ARGS)

lint: install
	$(BIN)/ruff check gateway testkit tests bench chaos migrations
	$(BIN)/ruff format --check gateway testkit tests bench chaos migrations
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff check --fix gateway testkit tests bench chaos migrations
	$(BIN)/ruff format gateway testkit tests bench chaos migrations

# The test and bench sets are locked within the runtime's pins (what CI tests is what the
# image runs), the build backend (the image's build stage) within the test set's.
lock: | $(BIN)/activate
	$(BIN)/pip install --quiet 'uv==$(UV_VERSION)'
	$(UV_COMPILE) pyproject.toml --extra rabbitmq --extra sqs --extra tracing \
		-o requirements/runtime.lock
	$(UV_COMPILE) pyproject.toml --extra test -c requirements/runtime.lock -o requirements/test.lock
	$(UV_COMPILE) pyproject.toml --extra test --extra bench -c requirements/test.lock \
		-o requirements/bench.lock
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
		| $(UV_COMPILE) - -c requirements/test.lock -o requirements/build.lock

clean:
	rm -rf $(VENV) .gateway .pytest_cache .mypy_cache .ruff_cache
