"""Raw assets: one per feed, fetching a run of days from Garmin into the raw zone."""

from datetime import date

import dagster as dg

from assets.partitions import daily_partitions, one_run_per_backfill
from assets.resources import DataDir, GarminConnect
from garmin_pipeline.catalog import FEEDS
from garmin_pipeline.feeds import Feed
from garmin_pipeline.raw.extract import extract


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    return [date.fromisoformat(key) for key in context.partition_keys]


def raw_asset(feed: Feed) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", feed.name],
        description=f"Payloads as received from Garmin. {feed.description}",
        group_name="raw",
        kinds={"python", "json"},
        partitions_def=daily_partitions,
        backfill_policy=one_run_per_backfill,
        pool="garmin_api",
    )
    def _raw(
        context: dg.AssetExecutionContext, garmin: GarminConnect, data_dir: DataDir
    ) -> dg.MaterializeResult:
        days = partition_days(context)
        governor = garmin.source.governor
        before = governor.requests_by_endpoint.copy()
        report = extract(feed, garmin.source, data_dir.raw, data_dir.account, days)
        requests = governor.requests_by_endpoint - before
        return dg.MaterializeResult(
            metadata={
                "first_day": str(days[0]),
                "last_day": str(days[-1]),
                "payloads_changed": report.changed,
                "payloads_unchanged": report.unchanged,
                "requests": requests.total(),
                "requests_by_endpoint": dg.MetadataValue.json(dict(sorted(requests.items()))),
            },
        )

    return _raw


RAW_ASSETS = [raw_asset(feed) for feed in FEEDS]
