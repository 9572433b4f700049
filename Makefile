# The two commands a new machine needs: `make run` and `make test`.
VENV    := .venv
PY      := $(VENV)/bin/python
BIN     := $(VENV)/bin
HOST    ?= 127.0.0.1
PORT    ?= 8000
WORKERS ?= 2
# Installed from the hashed lock files in requirements/ (`make lock` rewrites them).
SERVING := $(VENV)/.serving-installed
ALL     := $(VENV)/.all-installed

.PHONY: run serve test lint format migrate contract bench clean admin seed install lock

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

install: $(ALL)

lock: | $(PY)  ## rewrite requirements/*.txt from pyproject.toml, with hashes
	$(BIN)/pip install --quiet uv==0.13.8
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
		-o requirements/serve.txt --quiet
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench --generate-hashes \
		--python-version 3.11 -o requirements/dev.txt --quiet

migrate: $(SERVING)  ## create or upgrade the schema of DATABASE_URL (SQLite file by default)
	$(BIN)/alembic upgrade head

run: migrate  ## serve on $(HOST):$(PORT) for development
	$(BIN)/uvicorn --factory service.app:create_app --host $(HOST) --port $(PORT) --no-server-header \
		--no-proxy-headers --loop asyncio --http httptools

serve: migrate  ## serve the production way: gunicorn with uvicorn workers
	APP_ENV=$${APP_ENV:-production} $(BIN)/gunicorn "service.app:create_app()" \
		--worker-class service.worker.Worker --workers $(WORKERS) --bind $(HOST):$(PORT)

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

# lint, then every test in random order on two processes (SQLite; PostgreSQL and Redis too
# when DATABASE_URL / REDIS_URL are set); the Schemathesis CLI run is `make contract`.
test: $(ALL)
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory lint && \
	$(BIN)/pytest -n 2 --dist worksteal -m "not cli_contract"; status=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s"; exit $$status

contract: $(ALL)  ## the Schemathesis CLI, every phase, against live servers it starts and stops
	$(BIN)/pytest -p no:randomly -m cli_contract tests/contract

bench: $(ALL)  ## throughput and latency against Flask and FastAPI baselines (needs wrk)
	@command -v wrk >/dev/null || { echo "bench: installing Debian's wrk with apt-get"; \
		apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }; }
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .mypy_cache .hypothesis
