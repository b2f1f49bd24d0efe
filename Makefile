# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN := .run

.PHONY: install demo demo-redis test lint coverage tiers tiers-sqlite tiers-postgres tiers-django6 \
	django6-suite e2e htmx-release wheel-check bench bench-quick bench-transports messages clean

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
	@echo "demo: each visitor is a guest of their own; DEMO_DEBUG=1 for DEBUG and the shared superuser 'demo'"
	$(BIN)/python -m uvicorn demo.asgi:application --host 127.0.0.1 --port $(DEMO_PORT) \
		--ws websockets-sansio --lifespan off

demo-redis: install
	$(BIN)/python demo/scaled.py --port $(DEMO_PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

tiers-sqlite: install
	$(BIN)/python -m pytest -q

# The SQLite tier with branch coverage of the package (not in `make test`: it adds a
# quarter to the tier's time, and no threshold depends on it).
coverage: install
	$(BIN)/python -m pytest -q --cov --cov-report=term-missing:skip-covered

tiers-postgres: install
	$(BIN)/python -m tests.services with-postgres -- $(BIN)/python -m pytest -q

tiers: tiers-sqlite tiers-postgres

# Tiers 1-2 (no Redis, no worker processes) on SQLite, on Django 6.x and the newest of
# these Pythons (Django 6 needs 3.12+), in a venv of its own. Without any of them: one
# line, and nothing else is skipped. The venv is rebuilt when pyproject.toml changes.
DJANGO6_PYTHONS := python3.13 python3.12
DJANGO6_VENV := .venv-django6

tiers-django6:
	@python=$$(.ci/newest-python $(DJANGO6_PYTHONS)); \
	if [ -z "$$python" ]; then \
		echo "tiers-django6: skipped, this machine has none of $(DJANGO6_PYTHONS)"; \
		exit 0; \
	fi; \
	$(MAKE) --no-print-directory django6-suite DJANGO6_PYTHON="$$python"

$(DJANGO6_VENV)/.installed: pyproject.toml
	$(DJANGO6_PYTHON) -m venv --clear $(DJANGO6_VENV)
	$(DJANGO6_VENV)/bin/python -m pip install -q --upgrade pip
	$(DJANGO6_VENV)/bin/python -m pip install -q -e . --group test
	$(DJANGO6_VENV)/bin/python -m pip install -q -U "Django>=6,<7"
	touch $@

django6-suite: $(DJANGO6_VENV)/.installed
	@$(DJANGO6_VENV)/bin/python -c 'import django, platform as p; \
	print("tiers-django6: Python", p.python_version(), "Django", django.get_version())'
	$(DJANGO6_VENV)/bin/python -m pytest -q -m "not redis" \
		--ignore=tests/test_stateful.py --ignore=tests/test_fuzz_consumer.py

wheel-check: install
	rm -rf build/wheel build/wheel-venv build/wheel-app
	$(BIN)/python -m pip wheel -q --no-deps . -w build/wheel
	$(PYTHON) -m venv build/wheel-venv
	build/wheel-venv/bin/python -m pip install -q build/wheel/*.whl
	mkdir -p build/wheel-app && cp -r tests/testapp build/wheel-app/testapp
	cd build/wheel-app && PYTHONPATH=. ../wheel-venv/bin/python ../../tests/wheel_check.py

# htmx 4 as released on npm (htmx.org@HTMX_RELEASE, default in demo/htmx_release.py) into
# build/htmx-release, for DEMO_HTMX=4-release and the e2e variant htmx4r. Without npm or
# the registry it only warns (htmx4r skips), except with CI=true.
htmx-release: install
	$(BIN)/python -m demo.htmx_release

e2e: install htmx-release
	$(BIN)/python -m pytest -q -p no:django e2e

test: lint tiers tiers-django6 wheel-check e2e bench-quick

bench: install
	$(BIN)/python bench/run.py

bench-quick: install
	$(BIN)/python bench/run.py --quick

bench-transports: install
	$(BIN)/python bench/transports.py --poll 2,0.5

# Translations: `make messages` regenerates the catalogs of every language in LOCALES from
# the sources, drops the strings the sources no longer have (--no-obsolete), and compiles
# them. Two sets, made the same way: the kit's, liveops_htmx/locale (its Python files, and
# its templates through the liveops_htmx/templates symlink, hence --symlinks), and the
# demo's own, demo/locale (demo/ops, demo/settings.py, demo/templates). The .po and the
# .mo files are both committed: the wheel, the demo and the tests use the .mo as they are.
# Adding a string, end to end: mark it (gettext, ngettext, gettext_lazy as _, or
# {% translate %} in a template); `make messages`; in each catalog it lands in, fill its
# empty msgstr (every plural form) and check any entry msgmerge marked "#, fuzzy" (a
# guess from a similar string), then delete that flag; `make messages` again to compile;
# commit the .po and .mo files. tests/test_translations.py fails until every catalog is
# complete, has no fuzzy entry, keeps the placeholders, matches the sources and is
# compiled. A new language: add it here, to LANGUAGES in demo/settings.py and to
# PLURAL_RULES in that test; `make messages` starts its catalogs with a fuzzy header:
# check their Plural-Forms and Language lines, delete that flag, translate.
LOCALES := de es fr it ja nl pl pt_BR
# Without DJANGO_SETTINGS_MODULE, so that a settings module in the environment cannot
# send the strings to its LOCALE_PATHS.
DJANGO_ADMIN := env -u DJANGO_SETTINGS_MODULE ../$(BIN)/django-admin
MAKEMESSAGES := $(DJANGO_ADMIN) makemessages $(addprefix -l ,$(LOCALES)) --no-obsolete

messages: install
	cd liveops_htmx && $(MAKEMESSAGES) --symlinks --ignore "static/*" \
		&& $(DJANGO_ADMIN) compilemessages
	cd demo && $(MAKEMESSAGES) --ignore "static/*" --ignore ".run/*" \
		&& $(DJANGO_ADMIN) compilemessages

clean:
	rm -rf build dist tests/.run demo/.run e2e/.run .coverage
