"""Lake assets: one per dataset, built together by one multi-asset that parses raw into them.

Each dataset carries three checks, `valid_rows`, `plausible_values` and `complete_days`; what
they say is decided in the library (`garmin_pipeline.lake.completeness`), and only turned into
Dagster's check results here.
"""

import time
from datetime import date

import dagster as dg

from assets.account import per_account
from assets.partitions import run_days_by_account
from assets.resources import DataDir
from garmin_pipeline import catalog
from garmin_pipeline.catalog import FEEDS
from garmin_pipeline.feeds import Dataset, Feed
from garmin_pipeline.lake.build import BuildReport, build_feeds
from garmin_pipeline.lake.completeness import (
    CheckVerdict,
    complete_days,
    day_ranges,
    nulled_by_column_and_day,
    plausible_values,
    valid_rows,
)

VALID_ROWS_CHECK = "valid_rows"
COMPLETE_DAYS_CHECK = "complete_days"
PLAUSIBLE_CHECK = "plausible_values"


def column_schema(dataset: Dataset) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(c.name, str(c.dtype), description=c.description) for c in dataset.columns
        ]
    )


def check_result(check: str, dataset: Dataset, verdict: CheckVerdict) -> dg.AssetCheckResult:
    """The library's verdict as Dagster's check result (its tables as Markdown metadata)."""
    return dg.AssetCheckResult(
        check_name=check,
        asset_key=["lake", dataset.name],
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.ERROR if verdict.error else dg.AssetCheckSeverity.WARN,
        description=verdict.description,
        metadata={
            **verdict.metadata,
            **{name: dg.MetadataValue.md(text) for name, text in verdict.markdown.items()},
        },
    )


def verdict(check: str, dataset: Dataset, report: BuildReport, days: list[date]) -> CheckVerdict:
    """What the library says of `check` for one account's build of `dataset`."""
    if check == VALID_ROWS_CHECK:
        return valid_rows(dataset.name, report.datasets[dataset.name])
    if check == PLAUSIBLE_CHECK:
        return plausible_values(dataset.name, dataset.plausible, report.datasets[dataset.name])
    return complete_days(dataset.name, report, days)


def _specs(feed: Feed) -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            key=["lake", ds.name],
            description=ds.description,
            deps=[["raw", feed.name]],
            group_name="lake",
            kinds={"polars", "parquet"},
            metadata={"dagster/column_schema": column_schema(ds)},
        )
        for ds in feed.datasets
    ]


def _check_specs(feed: Feed) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec(
            VALID_ROWS_CHECK,
            asset=["lake", ds.name],
            description=(
                "Every row passes identity and structure (the Pandera schema: columns, types, "
                "keys); failing rows are quarantined."
            ),
        )
        for ds in feed.datasets
    ]
    specs += [
        dg.AssetCheckSpec(
            PLAUSIBLE_CHECK,
            asset=["lake", ds.name],
            description=(
                "Every measurement is within its plausible range; values outside it are "
                "nulled and counted, the rows kept."
            ),
        )
        for ds in feed.datasets
        if ds.plausible
    ]
    if not feed.snapshot:
        specs += [
            dg.AssetCheckSpec(
                COMPLETE_DAYS_CHECK,
                asset=["lake", ds.name],
                description="Lists the days of the range that are missing or failed in raw.",
            )
            for ds in feed.datasets
        ]
    return specs


class ProgressLog:
    """Logs a long build's progress every tenth of the way, not once per batch."""

    def __init__(self, context: dg.AssetExecutionContext) -> None:
        self.context = context
        self.logged_tenths = 0
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        tenths = done * 10 // total
        if tenths > self.logged_tenths:
            self.logged_tenths = tenths
            elapsed = time.monotonic() - self.started
            self.context.log.info(
                f"lake: {done} of {total} feed-days built ({tenths * 10} %) in {elapsed:.0f} s"
            )


@dg.multi_asset(
    name="lake",
    specs=[spec for feed in FEEDS for spec in _specs(feed)],
    check_specs=[spec for feed in FEEDS for spec in _check_specs(feed)],
    can_subset=True,
)
def lake(context: dg.AssetExecutionContext, data_dir: DataDir):
    """Every lake dataset, built from raw for the days of the run.

    Not partitioned in Dagster: a range of years would cost an event per dataset and day
    (85,000 for five years, most of a rebuild's time and memory), while the days themselves
    are tracked by raw's partitions, the lake's build state and the `complete_days` check.
    The run's days are its partition range (a sync or a `rebuild`); without one (materialized
    alone from the UI) every day of the history, where days built before from the same raw
    cost only a look at their manifest. One step builds all feeds, so a long range keeps a
    single pool of worker processes busy across them."""
    selected = {key.path[-1] for key in context.selected_asset_keys}
    feeds = [feed for feed in FEEDS if any(ds.name in selected for ds in feed.datasets)]
    days = run_days_by_account(context, data_dir.layout.state_dir)
    built = build_feeds(
        feeds,
        data_dir.raw,
        data_dir.lake,
        data_dir.quarantine,
        days,
        state_dir=data_dir.layout.build_state_dir,
        workers=data_dir.workers,
        progress=ProgressLog(context),
        find_feed=catalog.feed,
    )
    checks = context.selected_asset_check_keys
    for feed in feeds:
        if feed.name in built.failed:
            continue
        reports = built.reports[feed.name]
        rejected = sorted(
            f"{account}/{key}: {reason}"
            for account, report in reports.items()
            for key, reason in report.rejected_payloads.items()
        )
        if rejected:
            context.log.warning(
                "%s: %d payloads quarantined: %s", feed.name, len(rejected), "; ".join(rejected[:5])
            )
        for ds in feed.datasets:
            if ds.name not in selected:
                continue
            yield _materialization(ds, reports, data_dir, len(rejected))
            key = dg.AssetKey(["lake", ds.name])
            for check in (VALID_ROWS_CHECK, PLAUSIBLE_CHECK, COMPLETE_DAYS_CHECK):
                if dg.AssetCheckKey(key, check) in checks:
                    yield per_account(
                        {
                            a: check_result(check, ds, verdict(check, ds, r, days[a]))
                            for a, r in reports.items()
                        }
                    )
    built.raise_first_failure()


def _materialization(
    ds: Dataset, reports: dict[str, BuildReport], data_dir: DataDir, rejected: int
) -> dg.MaterializeResult:
    built = [report.datasets[ds.name] for report in reports.values()]
    return dg.MaterializeResult(
        asset_key=["lake", ds.name],
        metadata={
            "dagster/row_count": sum(r.rows for r in built),
            "accounts": ", ".join(reports),
            "days": "; ".join(
                f"{account}: {day_ranges(r.days_built + r.days_unchanged)}"
                for account, r in reports.items()
            ),
            "quarantined_rows": sum(r.quarantined_rows for r in built),
            "nulled_values": sum(r.nulled_values for r in built),
            "nulled_by_column_and_day": dg.MetadataValue.json(
                {a: nulled_by_column_and_day(r.datasets[ds.name]) for a, r in reports.items()}
            ),
            "partitions_written": sum(r.partitions_written for r in built),
            "partitions_unchanged": sum(r.partitions_unchanged for r in built),
            "days_built": sum(len(r.days_built) for r in reports.values()),
            "days_unchanged": sum(len(r.days_unchanged) for r in reports.values()),
            "days_without_raw": sum(len(r.days_without_raw) for r in reports.values()),
            "rejected_payloads": rejected,
            "path": dg.MetadataValue.path(str(data_dir.lake.root / ds.name)),
        },
    )


LAKE_ASSETS = [lake]
