# The two commands a new machine needs: `make run` and `make test`.
VENV    := .venv
PY      := $(VENV)/bin/python
BIN     := $(VENV)/bin
HOST    ?= 127.0.0.1
PORT    ?= 8000
WORKERS ?= 2
NODE    := node_modules/.bin
SPEC    := openapi/openapi.yaml
# Installed from the hashed lock files in requirements/ (`make lock` rewrites them).
SERVING := $(VENV)/.serving-installed
ALL     := $(VENV)/.all-installed
NODE_STAMP := node_modules/.installed

.PHONY: run serve test lint format migrate settings contract bench clean admin seed install \
	lock spec-diff spec-lint sdk docs perf-doc mock

$(PY):
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(SERVING): requirements/serve.txt pyproject.toml | $(PY)
	$(BIN)/pip install --quiet --require-hashes -r requirements/serve.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(SERVING)

$(ALL): requirements/dev.txt pyproject.toml | $(PY)
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(ALL) $(SERVING)

# Node tools pinned by package-lock.json (Optic, Spectral, openapi-typescript, tsc, Redocly).
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "installing Debian's nodejs and npm with apt-get"; \
		apt-get install -y -qq nodejs npm >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq nodejs npm; }; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(ALL) $(NODE_STAMP)  ## everything `make test` needs

lock: | $(PY)  ## rewrite requirements/*.txt from pyproject.toml, with hashes
	$(BIN)/pip install --quiet uv==0.13.8
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
		-o requirements/serve.txt --quiet
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench --generate-hashes \
		--python-version 3.11 -o requirements/dev.txt --quiet

settings: $(SERVING)  ## check the environment's settings; one line and status 2 if one is bad
	@$(PY) -m service.settings

migrate: settings  ## create or upgrade the schema of DATABASE_URL (SQLite file by default)
	$(BIN)/alembic upgrade head

run: migrate  ## serve on $(HOST):$(PORT) for development
	$(BIN)/uvicorn --factory service.app:create_app --host $(HOST) --port $(PORT) --no-server-header \
		--no-proxy-headers --no-access-log --loop asyncio --http httptools

serve: migrate  ## serve the production way: gunicorn with uvicorn workers; metrics on METRICS_PORT
	APP_ENV=$${APP_ENV:-production} $(BIN)/gunicorn "service.app:create_app()" \
		-c python:service.gunicorn_conf --worker-class service.worker.Worker \
		--workers $(WORKERS) --bind $(HOST):$(PORT)

admin: migrate  ## make admin EMAIL=you@example.com PASSWORD='at least 8 chars' [NAME=…]
	@test -n "$(EMAIL)" -a -n "$(PASSWORD)" || { echo "usage: make admin EMAIL=… PASSWORD=…"; exit 2; }
	$(PY) -m service.cli create-admin "$(EMAIL)" "$(PASSWORD)" $(if $(NAME),--name "$(NAME)")

seed: migrate  ## demo users of every role, with their password printed once
	$(PY) -m service.cli seed

lint: $(ALL)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(ALL)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

spec-diff: $(ALL) $(NODE_STAMP)  ## changes to the contract since BASE (a git ref); fails on an undeclared breaking one
	$(PY) -m tools.spec_diff $(if $(BASE),--base "$(BASE)")

spec-lint: $(NODE_STAMP)  ## Spectral: OpenAPI rules and this project's conventions (.spectral.yaml), on the contract and openapi/upstreams/
	$(NODE)/spectral lint $(SPEC) openapi/upstreams/*.yaml --fail-severity warn --display-only-failures

MOCK_PORT ?= 4010
mock: $(NODE_STAMP)  ## Prism serving the contract's examples on 127.0.0.1:MOCK_PORT (4010): base URL http://127.0.0.1:4010, no /api
	$(NODE)/prism mock $(SPEC) --host 127.0.0.1 --port $(MOCK_PORT)

sdk: $(ALL) $(NODE_STAMP)  ## Python client and TypeScript types from the contract, in build/sdk
	$(PY) -m tools.sdk build/sdk

docs: $(NODE_STAMP)  ## one static HTML reference of the contract (Redoc, scripts inlined): build/docs/index.html
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
		$(NODE)/redocly build-docs $(SPEC) --output build/docs/index.html --inlineBundle

# lint, the contract's checks, then every test in random order on two processes (SQLite;
# PostgreSQL and Redis too when DATABASE_URL / REDIS_URL are set); timed. The Schemathesis
# CLI run is `make contract`.
test: $(ALL) $(NODE_STAMP)
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory lint spec-lint spec-diff && \
	$(BIN)/pytest -n 2 --dist worksteal -m "not cli_contract"; status=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s"; exit $$status

contract: $(ALL)  ## the Schemathesis CLI, every phase, against live servers it starts and stops
	$(BIN)/pytest -p no:randomly -m cli_contract tests/contract

# SCALE=1: the list series at 1k, 100k and 1M posts instead (bench/scale.py), never by default.
bench: $(ALL)  ## throughput and latency against Flask and FastAPI baselines (needs wrk); SCALE=1: lists at scale
ifneq ($(SCALE),)
	$(PY) -m bench.scale
else
	@command -v wrk >/dev/null || { echo "bench: installing Debian's wrk with apt-get"; \
		apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }; }
	$(PY) -m bench.run
endif

perf-doc: $(ALL)  ## docs/performance.md from the results files in bench/results/ (publish a run: copy latest.json there under a dated name)
	$(PY) -m tools.perf_doc

clean:
	rm -rf $(VENV) data build node_modules .pytest_cache .ruff_cache .mypy_cache .hypothesis
