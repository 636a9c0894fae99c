# Quick start: `make run` serves counsel on http://127.0.0.1:$(PORT); `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
STAMP := $(VENV)/.installed-stamp
CATALOGUES := $(wildcard counsel/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)

.PHONY: run test install translations messages lint check-browser bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

translations: $(COMPILED)

counsel/translations/%/LC_MESSAGES/messages.mo: counsel/translations/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --statistics --use-fuzzy -i $< -o $@ 2>&1 | grep -v '^compiling' || true
	test -s $@

# Extract every user-facing string and merge it into the catalogues (then translate, then `make`).
messages: $(STAMP)
	$(BIN)/pybabel extract -w 100 --no-location --sort-by-file -F babel.cfg -k _l -o counsel/translations/messages.pot .
	$(BIN)/pybabel update -w 100 --no-fuzzy-matching -i counsel/translations/messages.pot -d counsel/translations

run: install translations
	COUNSEL_ENV=development $(BIN)/counsel keys init --if-missing
	COUNSEL_ENV=development $(BIN)/counsel setup
	COUNSEL_ENV=development $(BIN)/counsel run --host 127.0.0.1 --port $(PORT)

lint: install
	$(BIN)/ruff check counsel tests benchmarks migrations/env.py
	$(BIN)/mypy

test: install translations lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/crypto_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(COMPILED)
