"""The sync job (raw → lake → warehouse over a range of days) and its morning schedule."""

from datetime import timedelta

import dagster as dg

from garmin_pipeline.raw.freshness import latest_begun_day

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
REFRESH_WINDOW_DAYS = 3

sync_job = dg.define_asset_job(
    "sync",
    selection=dg.AssetSelection.all(),
    description="Fetch a range of days from Garmin, rebuild their lake partitions, build dbt.",
)


def range_tags(first: str, last: str) -> dict[str, str]:
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


@dg.schedule(job=sync_job, cron_schedule="30 6 * * *", execution_timezone="UTC")
def morning_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Sync the last few days every morning; only days with new uploads cost requests."""
    today = latest_begun_day()  # the raw assets skip days not yet begun for the profile
    first = today - timedelta(days=REFRESH_WINDOW_DAYS)
    return dg.RunRequest(
        run_key=f"refresh-{today}", tags=range_tags(first.isoformat(), today.isoformat())
    )
