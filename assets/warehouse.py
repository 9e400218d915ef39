"""The dbt project as assets: staging views and marts, built into warehouse.duckdb."""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from assets.resources import DataDir
from garmin_pipeline.warehouse.dbt_project import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    dbt_vars,
    manifest_is_stale,
    parse_manifest,
)

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()
if manifest_is_stale(dbt_project.manifest_path):
    # Outside `dagster dev` nothing else refreshes the manifest; parse rather than run stale.
    parse_manifest()


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=str(DBT_EXECUTABLE))


# Not partitioned: every build reads the whole lake, and a partitioned dbt asset would log one
# materialization per model and day (tens of thousands of events for a year's backfill).
@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, pool="duckdb")
def warehouse(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, data_dir: DataDir
) -> Iterator[Any]:
    """One `dbt build` per run: DuckDB has a single writer, and the pool keeps it that way."""
    invocation = dbt.cli(["build", "--vars", dbt_vars(data_dir.path)], context=context)
    yield from invocation.stream()
