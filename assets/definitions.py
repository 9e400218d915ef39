"""The code location's entry point (workspace.yaml loads `assets.definitions`)."""

import os

import dagster as dg

from assets.account import ACCOUNT_CHECKS, GARMIN_ACCOUNT
from assets.executor import data_dir_locked_executor
from assets.jobs import fetch_job, morning_refresh, rebuild_job, sync_job
from assets.lake import LAKE_ASSETS
from assets.raw import RAW_ASSETS
from assets.report import report
from assets.resources import location_settings, resources_from_settings
from assets.warehouse import dbt_resource, warehouse

# A backfill is one run over a range (BackfillPolicy.single_run): log one "planned" event per
# asset for the range, not one per asset and day (Dagster's default for SQLite storage).
os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")

defs = dg.Definitions(
    assets=[GARMIN_ACCOUNT, *RAW_ASSETS, *LAKE_ASSETS, warehouse, report],
    asset_checks=ACCOUNT_CHECKS,
    jobs=[sync_job, fetch_job, rebuild_job],
    schedules=[morning_refresh],
    resources={**resources_from_settings(location_settings()), "dbt": dbt_resource()},
    # Every run holds the data directory's lock from its start to its end: one run at a time.
    executor=data_dir_locked_executor,
)
