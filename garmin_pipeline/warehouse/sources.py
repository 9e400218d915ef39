"""Render dbt's lake sources from the catalog, so the dataset list is never written twice.

`make dbt-sources` writes `dbt/models/staging/_lake__sources.yml`; a test fails if the committed
file differs from what the catalog renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import yaml

from garmin_pipeline.catalog import DATASETS
from garmin_pipeline.warehouse.dbt_project import DBT_PROJECT_DIR

if TYPE_CHECKING:
    from polars._typing import PolarsDataType  # a dtype class (pl.Int32) or instance

SOURCES_FILE = DBT_PROJECT_DIR / "models" / "staging" / "_lake__sources.yml"
HEADER = "# Generated from garmin_pipeline/catalog.py by `make dbt-sources`; do not edit.\n"
# The lake's location lands in a SQL string literal: its quotes are doubled (a path like
# "it's data" must not end the literal), and so are its braces (dbt-duckdb fills in `{name}`
# with str.format_map, which would read them as placeholders). Both vars come from the
# pipeline (`dbt_project.dbt_vars`); empty while parsing without them, and then the
# `lake_source` macro stops any build.
SQL_STRING_LAKE_DIR = (
    '{{ var("lake_dir", "") | replace("\'", "\'\'") | replace("{", "{{") | replace("}", "}}") }}'
)
LAKE_LOCATION = (
    f'read_parquet(\'{SQL_STRING_LAKE_DIR}/{{name}}/{{{{ var("lake_files", "") }}}}\', '
    "hive_partitioning = true)"
)


# The DuckDB type each lake dtype reads as; the `lake_source` macro uses it to stand in an
# empty, typed relation for a dataset that has no partition yet (e.g. no pool swim ever).
DUCKDB_TYPES: dict[PolarsDataType, str] = {
    pl.Boolean: "boolean",
    pl.Date: "date",
    pl.Float64: "double",
    pl.Int32: "integer",
    pl.Int64: "bigint",
    pl.String: "varchar",
    pl.UInt32: "uinteger",
}


def duckdb_type(dtype: PolarsDataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamptz" if dtype.time_zone else "timestamp"
    if isinstance(dtype, pl.List):
        return duckdb_type(dtype.inner) + "[]"
    return DUCKDB_TYPES[dtype.base_type()]


def _describe(description: str, unit: str | None) -> str:
    return f"{description} ({unit})" if unit else description


def render_sources() -> str:
    tables = [
        {
            "name": ds.name,
            "description": ds.description,
            "config": {"meta": {"dagster": {"asset_key": ["lake", ds.name]}}},
            "columns": [
                {
                    "name": c.name,
                    "description": _describe(c.description, c.unit),
                    "data_type": duckdb_type(c.dtype),
                }
                for c in ds.columns
            ],
        }
        for ds in DATASETS
    ]
    document = {
        "version": 2,
        "sources": [
            {
                "name": "lake",
                "description": "The Parquet lake, hive-partitioned by account and date.",
                "config": {"external_location": LAKE_LOCATION},
                "tables": tables,
            }
        ],
    }
    return HEADER + yaml.safe_dump(document, sort_keys=False, width=100)


def write_sources(path: Path = SOURCES_FILE) -> Path:
    path.write_text(render_sources(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_sources())
