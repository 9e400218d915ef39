"""Raw assets: one per feed, fetching the due days of a run's range into the raw zone."""

import hashlib
from datetime import date

import dagster as dg

from assets.account import GARMIN_ACCOUNT
from assets.partitions import daily_partitions, one_run_per_backfill
from assets.resources import DataDir, GarminConnect
from garmin_pipeline.catalog import FEEDS
from garmin_pipeline.feeds import Feed
from garmin_pipeline.raw.extract import extract
from garmin_pipeline.raw.store import RawStore

REFETCH_TAG = "garmin/refetch"  # "true": fetch final days again too (old edits, deletions)


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    return [date.fromisoformat(key) for key in context.partition_keys]


def raw_version(raw: RawStore, feed: str, account: str, days: list[date]) -> dg.DataVersion:
    """Equal raw content over the range, equal version: Dagster then sees nothing new."""
    digests = "".join(raw.day_manifest(feed, account, day).digest for day in days)
    return dg.DataVersion(hashlib.sha256(digests.encode("ascii")).hexdigest()[:20])


def raw_asset(feed: Feed) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", feed.name],
        description=f"Payloads as received from Garmin. {feed.description}",
        group_name="raw",
        kinds={"python", "json"},
        partitions_def=daily_partitions,
        backfill_policy=one_run_per_backfill,
        pool="garmin_api",
        deps=[GARMIN_ACCOUNT.key],
    )
    def _raw(
        context: dg.AssetExecutionContext, garmin: GarminConnect, data_dir: DataDir
    ) -> dg.MaterializeResult:
        days = partition_days(context)
        via = garmin.source_name(feed)
        if via is None:
            mode = garmin.settings.source_mode
            context.log.info(f"{feed.name}: not fetched, GARMIN_SOURCE={mode} does not cover it")
            return dg.MaterializeResult(
                data_version=raw_version(data_dir.raw, feed.name, data_dir.account, days),
                metadata={"source": f"none (GARMIN_SOURCE={mode} does not cover this feed)"},
            )
        source = garmin.source(via)
        before = source.governor.requests_by_endpoint.copy()
        freshness = garmin.freshness(refetch=context.run.tags.get(REFETCH_TAG) == "true")
        report = extract(feed, source, data_dir.raw, data_dir.account, days, freshness, via=via)
        requests = source.governor.requests_by_endpoint - before
        return dg.MaterializeResult(
            data_version=raw_version(data_dir.raw, feed.name, data_dir.account, days),
            metadata={
                "source": via,
                "first_day": str(days[0]),
                "last_day": str(days[-1]),
                "days_fetched": len(report.days_due),
                "days_skipped_final_or_unchanged": report.days_skipped,
                "payloads_changed": report.changed,
                "payloads_unchanged": report.unchanged,
                # Kept aside in raw (malformed, oversized) and quarantined: "day/name" → why.
                "payloads_refused": dg.MetadataValue.json(report.refused),
                "requests": requests.total(),
                "requests_by_endpoint": dg.MetadataValue.json(dict(sorted(requests.items()))),
                "profile_timezone": str(freshness.timezone),
            },
        )

    return _raw


RAW_ASSETS = [raw_asset(feed) for feed in FEEDS]
