# crewtrack: `make run` (the whole stack + a simulated fleet) and `make test`.
# Both provision first: scripts/provision.sh is idempotent and takes seconds
# once the machine has everything.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY_PACKAGES := crewtrack jobs_domain core storage services ingest derive delivery api dashboard

.PHONY: run test lint typecheck pytest bench provision migrate clean

provision:
	@bash scripts/provision.sh

run: provision
	$(BIN)/crewtrack up

test: provision lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	npm run -s techapp:lint

typecheck:
	$(BIN)/mypy
	npm run -s techapp:typecheck

# the technician app's unit tests (vitest), then everything else (pytest) in
# two workers, one per core; a file's tests stay together (module fixtures)
PYTEST_WORKERS ?= 2
pytest:
	npm run -s techapp:test
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

bench: provision
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

migrate: provision
	$(BIN)/crewtrack migrate

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
