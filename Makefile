# The two commands a new machine needs: `make run` and `make test`.
VENV    := .venv
PY      := $(VENV)/bin/python
BIN     := $(VENV)/bin
HOST    ?= 127.0.0.1
PORT    ?= 8000
STAMP   := $(VENV)/.installed
WORKERS ?= 2

.PHONY: run serve test lint format migrate contract bench clean admin seed

$(PY):
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)  ## create or upgrade the schema of DATABASE_URL (SQLite file by default)
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

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint  ## lint, then every test (SQLite; PostgreSQL/Redis too when DATABASE_URL/REDIS_URL are set)
	$(BIN)/pytest

contract: $(STAMP)  ## Schemathesis CLI against a live server it starts and stops
	$(PY) -m tests.contract.live

bench: $(STAMP)  ## throughput and latency against Flask and FastAPI baselines (needs wrk)
	@command -v wrk >/dev/null || { echo "bench: installing Debian's wrk with apt-get"; \
		apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }; }
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .hypothesis
