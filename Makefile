# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN := .run

.PHONY: install demo demo-redis test lint tiers tiers-sqlite tiers-postgres e2e wheel-check bench bench-quick bench-transports messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e . --group dev
	touch $@

install: $(STAMP)

DEMO_PORT ?= 8000

demo: install
	$(BIN)/python demo/manage.py migrate --noinput
	@echo "demo: http://127.0.0.1:$(DEMO_PORT)/ (embedded: SQLite, in-memory layer, thread runner)"
	$(BIN)/python -m uvicorn demo.asgi:application --host 127.0.0.1 --port $(DEMO_PORT) \
		--ws websockets-sansio --lifespan off

demo-redis: install
	$(BIN)/python demo/scaled.py --port $(DEMO_PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

tiers-sqlite: install
	$(BIN)/python -m pytest -q --cov --cov-report=term-missing:skip-covered

tiers-postgres: install
	$(BIN)/python -m tests.services with-postgres -- $(BIN)/python -m pytest -q

tiers: tiers-sqlite tiers-postgres

wheel-check: install
	rm -rf build/wheel build/wheel-venv build/wheel-app
	$(BIN)/python -m pip wheel -q --no-deps . -w build/wheel
	$(PYTHON) -m venv build/wheel-venv
	build/wheel-venv/bin/python -m pip install -q build/wheel/*.whl
	mkdir -p build/wheel-app && cp -r tests/testapp build/wheel-app/testapp
	cd build/wheel-app && PYTHONPATH=. ../wheel-venv/bin/python ../../tests/wheel_check.py

e2e: install
	$(BIN)/python -m pytest -q -p no:django e2e

test: lint tiers wheel-check e2e bench-quick

bench: install
	$(BIN)/python bench/run.py

bench-quick: install
	$(BIN)/python bench/run.py --quick

bench-transports: install
	$(BIN)/python bench/transports.py --poll 2,0.5

messages: install
	cd liveops_htmx && ../$(BIN)/django-admin makemessages -a --no-obsolete --symlinks --ignore "static/*" && ../$(BIN)/django-admin compilemessages

clean:
	rm -rf build dist tests/.run demo/.run e2e/.run .coverage
