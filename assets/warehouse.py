"""The dbt project as assets: staging views and marts, built into warehouse.duckdb."""

from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from assets.partitions import RANGE_END_TAG, RANGE_START_TAG
from assets.resources import DataDir, location_settings
from garmin_pipeline.raw.freshness import latest_begun_day
from garmin_pipeline.warehouse.dbt_project import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    WarehouseBuildError,
    build_args,
    build_failure,
    dbt_target_dir,
    full_refresh_reason,
    manifest_is_stale,
    mark_build_ended,
    mark_build_started,
    parse_manifest,
    project_target_dir,
    seed_partial_parse,
)

dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target_path=project_target_dir(location_settings().layout),
)
dbt_project.prepare_if_dev()
if manifest_is_stale(dbt_project.manifest_path):
    # Outside `dagster dev` nothing else refreshes the manifest; parse rather than run stale.
    parse_manifest(dbt_project.manifest_path)


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=str(DBT_EXECUTABLE))


def synced_range(tags: Mapping[str, str]) -> tuple[date, date] | None:
    """The days the run synced, from the range tags a sync or the schedule sets (a day, or an
    `account|day` partition key); None when the run names none (then dbt rebuilds everything)."""
    first, last = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if not first or not last:
        return None
    try:
        return (
            date.fromisoformat(first.rsplit("|", 1)[-1]),
            date.fromisoformat(last.rsplit("|", 1)[-1]),
        )
    except ValueError:
        return None


# Not partitioned: every build reads the whole lake, and a partitioned dbt asset would log one
# materialization per model and day (tens of thousands of events for a year's backfill).
@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, pool="duckdb")
def warehouse(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, data_dir: DataDir
) -> Iterator[Any]:
    """One `dbt build` per run (DuckDB has a single writer, and the pool keeps it that way):
    incremental after a sync of recent days, a full refresh otherwise (see `build_args`)."""
    layout = data_dir.layout
    synced, today = synced_range(context.run.tags), latest_begun_day()
    reason = full_refresh_reason(layout, synced, today)
    context.log.info(
        f"dbt: full refresh, {reason}" if reason else "dbt: incremental build of the recent days"
    )
    mark_build_started(layout, context.run_id)  # `status` tells a build killed midway
    seed_partial_parse(layout)
    invocation = dbt.cli(
        build_args(layout, synced, today), context=context, target_path=dbt_target_dir(layout)
    )
    try:
        yield from invocation.stream()
    except DagsterDbtCliRuntimeError as error:
        # dbt's own message spans dozens of lines and ends on a `^` under some SQL.
        raise WarehouseBuildError(build_failure(layout)) from error
    finally:
        mark_build_ended(layout)
