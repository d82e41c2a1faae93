# The two set-up commands of the README: `make serve` and `make test`. Neither needs a system
# PostgreSQL or Redis: without CITU_DATABASE_URL / CITU_REDIS_URL (CITU_TEST_* for the tests)
# citu starts the embedded servers from its Python dependencies.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: serve stop test lint fresh-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/citu serve

stop: $(STAMP)
	$(VENV)/bin/citu stop

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

# make serve and make test with no system PostgreSQL or Redis, no network (needs root: unshare)
fresh-check: $(STAMP)
	bash scripts/fresh-machine-check.sh
