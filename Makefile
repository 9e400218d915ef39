# garmin-pipeline: `make demo` and `make test` are all a newcomer needs.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# One "planned" event per asset for a single-run backfill, not one per asset and day.
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= true

.PHONY: install lock demo test test-fast lint format dev dbt-sources dictionary docs bench clean

install: $(VENV)/.installed

# A fresh venv from the hash-locked requirements.lock (every package, pip and setuptools
# included, pinned with its PyPI hashes; scripts/lock re-resolves it), then the project itself
# without dependencies or build isolation (so its build uses the locked setuptools), then a
# parsed dbt manifest. The interpreter: the newest safe 3.12/3.13 (scripts/find-python).
$(VENV)/.installed: pyproject.toml requirements.lock
	@python=$$(scripts/find-python) && echo "using $$python" && \
	  "$$python" -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	cd dbt && ../$(BIN)/dbt parse --quiet --profiles-dir .
	@touch $@

# After changing a pin in pyproject.toml (needs PyPI; never touches the project's venv).
lock:
	scripts/lock

$(DAGSTER_HOME)/dagster.yaml: assets/dagster.yaml
	@umask 077 && mkdir -p $(DAGSTER_HOME) && cp $< $@

demo: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/garmin-pipeline demo

# One worker per core, a test file per worker (module fixtures such as the year backfill run once).
# Under eatmydata when it is installed (scripts/install-test-tools): no fsyncs in a test run.
EATMYDATA := $(shell command -v eatmydata)
test: install lint
	$(EATMYDATA) $(BIN)/python -m pytest -n auto --dist loadfile

# The minute-long loop for a change to pure code: only the tests marked `fast` (functions,
# parsers, the catalog; tests/conftest.py fails one that starts a server, a child or Dagster).
# No lint, no emulator, no sync: `make test` stays the whole suite, and what CI runs.
test-fast: install
	$(EATMYDATA) $(BIN)/python -m pytest -m fast -n auto --dist loadfile

# ruff, mypy on the library, and the import-layer rule (an ast scan: well under a second).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest --noconftest -q -p no:cacheprovider tests/test_import_layers.py

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

dev: install $(DAGSTER_HOME)/dagster.yaml
	umask 077 && $(BIN)/dagster dev -w workspace.yaml

# dbt/models/staging/ from the catalog: the lake sources, a view per dataset and their tests.
.PHONY: dbt-staging
dbt-staging: install
	$(BIN)/python -m garmin_pipeline.warehouse.staging

dbt-sources: dbt-staging

# docs/data-dictionary.md: every lake column (from the catalog) and mart column (from the dbt YAML).
dictionary: install
	$(BIN)/python -m garmin_pipeline.warehouse.dictionary

# The lake and warehouse of GARMIN_DATA_DIR (default ./data), as the pipeline tells dbt.
docs: install dictionary
	vars=$$($(BIN)/python -m garmin_pipeline.warehouse.dbt_project) && \
	  cd dbt && ../$(BIN)/dbt docs generate --profiles-dir . --vars "$$vars"

# Measured figures beside their targets (bench/results/results.md); not part of `make test`.
bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) dbt/target dbt/logs .pytest_cache .ruff_cache
