# The two commands a new machine needs: `make run` and `make test`.
VENV    := .venv
PY      := $(VENV)/bin/python
BIN     := $(VENV)/bin
NODE    := node_modules/.bin
SPEC    := openapi/openapi.yaml
HOST    ?= 127.0.0.1
PORT    ?= 8000
WORKERS ?= 2
# What each command needs, installed once: serving only; + test tools; + bench baselines.
SERVE_STAMP := $(VENV)/.installed-serve
DEV_STAMP   := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
NODE_STAMP  := node_modules/.installed

.PHONY: install run serve test lint format migrate settings contract bench clean admin seed \
	spec-diff spec-lint sdk docs

$(PY):
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(SERVE_STAMP): pyproject.toml | $(PY)
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(SERVE_STAMP)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

$(BENCH_STAMP): $(SERVE_STAMP)
	$(BIN)/pip install --quiet -e ".[bench]"
	touch $@

# Node tools pinned by package-lock.json (Optic, Spectral, openapi-typescript, tsc, Redocly).
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "installing Debian's nodejs and npm with apt-get"; \
		apt-get install -y -qq nodejs npm >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq nodejs npm; }; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(DEV_STAMP) $(NODE_STAMP)  ## everything `make test` needs

settings: $(SERVE_STAMP)  ## check the environment's settings; one line and status 2 if one is bad
	@$(PY) -m service.settings

migrate: settings  ## create or upgrade the schema of DATABASE_URL (SQLite file by default)
	$(BIN)/alembic upgrade head

run: migrate  ## serve on $(HOST):$(PORT) for development
	$(BIN)/uvicorn --factory service.app:create_app --host $(HOST) --port $(PORT) --no-server-header \
		--loop asyncio --http httptools

serve: migrate  ## serve the production way: gunicorn with uvicorn workers
	APP_ENV=$${APP_ENV:-production} $(BIN)/gunicorn "service.app:create_app()" \
		--worker-class service.worker.Worker --workers $(WORKERS) --bind $(HOST):$(PORT)

admin: migrate  ## make admin EMAIL=you@example.com PASSWORD='at least 8 chars' [NAME=…]
	@test -n "$(EMAIL)" -a -n "$(PASSWORD)" || { echo "usage: make admin EMAIL=… PASSWORD=…"; exit 2; }
	$(PY) -m service.cli create-admin "$(EMAIL)" "$(PASSWORD)" $(if $(NAME),--name "$(NAME)")

seed: migrate  ## demo users of every role, with their password printed once
	$(PY) -m service.cli seed

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

spec-diff: $(DEV_STAMP) $(NODE_STAMP)  ## changes to the contract since BASE (a git ref); fails on an undeclared breaking one
	$(PY) -m tools.spec_diff $(if $(BASE),--base "$(BASE)")

spec-lint: $(NODE_STAMP)  ## Spectral: OpenAPI rules and this project's conventions (.spectral.yaml)
	$(NODE)/spectral lint $(SPEC) --fail-severity warn --display-only-failures

sdk: $(DEV_STAMP) $(NODE_STAMP)  ## Python client and TypeScript types from the contract, in build/sdk
	$(PY) -m tools.sdk build/sdk

docs: $(NODE_STAMP)  ## one static HTML reference of the contract (Redoc, scripts inlined): build/docs/index.html
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
		$(NODE)/redocly build-docs $(SPEC) --output build/docs/index.html --inlineBundle

test: lint spec-lint spec-diff  ## lint, contract checks, then every test (SQLite; PostgreSQL/Redis too when DATABASE_URL/REDIS_URL are set)
	$(BIN)/pytest

contract: $(DEV_STAMP)  ## Schemathesis CLI against a live server it starts and stops
	$(PY) -m tests.contract.live

bench: $(BENCH_STAMP)  ## throughput and latency against Flask and FastAPI baselines (needs wrk)
	@command -v wrk >/dev/null || { echo "bench: installing Debian's wrk with apt-get"; \
		apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }; }
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) data build node_modules .pytest_cache .ruff_cache .hypothesis .mypy_cache
