"""The catalog is the single source of truth, and the library stays free of Dagster."""

import subprocess
import sys

import pytest

from garmin_pipeline.catalog import DATASETS, FEEDS
from garmin_pipeline.warehouse.sources import SOURCES_FILE, render_sources

pytestmark = pytest.mark.fast


def test_committed_dbt_sources_match_the_catalog():
    assert SOURCES_FILE.read_text(encoding="utf-8") == render_sources(), (
        "dbt sources are stale: run `make dbt-sources`"
    )


def test_dataset_names_are_unique_and_keys_are_declared_columns():
    names = [d.name for d in DATASETS]
    assert len(names) == len(set(names))
    assert len({f.name for f in FEEDS}) == len(FEEDS)
    for ds in DATASETS:
        columns = [c.name for c in ds.columns]
        assert set(ds.key) <= set(columns), ds.name
        assert list(ds.polars_schema) == columns


def test_the_library_never_imports_dagster():
    code = (
        "import importlib, pkgutil, sys, garmin_pipeline\n"
        "for m in pkgutil.walk_packages(garmin_pipeline.__path__, 'garmin_pipeline.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('dagster', 'dagster_dbt')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
