"""Lake assets: one per dataset, built together by one multi-asset that parses raw into them.

Each dataset carries three checks:
- `plausible_values` warns with the count per column of implausible measurements the build
  nulled (heart rate 0 from a device without a strap): the rows stayed, raw keeps the values.
- `valid_rows`: rows that fail identity and structure (the Pandera schema) are quarantined with
  their reason (the check then warns with the counts); a day whose frame failed the schema (a
  field renamed or dropped) is an error.
- `complete_days`: a payload quarantined whole (not JSON, too large, a corrupt FIT, hostile
  values) is an error; a gap before the newest day held warns.
Each names the dataset, the days and the reasons.
"""

import time
from datetime import date, timedelta

import dagster as dg
import polars as pl

from assets.account import per_account
from assets.partitions import run_days_by_account
from assets.resources import DataDir
from garmin_pipeline.catalog import FEEDS
from garmin_pipeline.feeds import Dataset, Feed
from garmin_pipeline.lake.build import BuildReport, DatasetReport, build_feeds

VALID_ROWS_CHECK = "valid_rows"
COMPLETE_DAYS_CHECK = "complete_days"
PLAUSIBLE_CHECK = "plausible_values"
# Per column, the days listed in the build's metadata (the check's table sums them all).
NULLED_DAYS_SHOWN = 31


def markdown_table(frame: pl.DataFrame) -> str:
    with pl.Config(
        tbl_formatting="MARKDOWN", tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True
    ):
        return str(frame)


def column_schema(dataset: Dataset) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(c.name, str(c.dtype), description=c.description) for c in dataset.columns
        ]
    )


def reasons_table(reasons: dict[str, str], limit: int = 20) -> dg.MetadataValue:
    """What was quarantined and why, one row each (the first `limit`)."""
    rows = sorted(reasons.items())
    frame = pl.DataFrame(
        {"item": [k for k, _ in rows[:limit]], "reason": [v for _, v in rows[:limit]]},
        schema={"item": pl.String, "reason": pl.String},
    )
    more = f"\n\n... and {len(rows) - limit} more" if len(rows) > limit else ""
    return dg.MetadataValue.md(markdown_table(frame) + more)


def summary(dataset: Dataset, what: str, days: list[date], reasons: dict[str, str]) -> str:
    """One line: the dataset, the days and the first reason."""
    first = next(iter(sorted(reasons.items())), None)
    example = f"; e.g. {first[0]}: {first[1]}" if first else ""
    return f"lake/{dataset.name}: {what} on {day_ranges(days)}{example}"[:1000]


def check_result(dataset: Dataset, report: DatasetReport) -> dg.AssetCheckResult:
    days = sorted(report.quarantined_days)
    reasons = {str(d): r for d, r in report.quarantined_days.items()}
    schema_failed = bool(report.schema_failed_days)
    return dg.AssetCheckResult(
        check_name=VALID_ROWS_CHECK,
        asset_key=["lake", dataset.name],
        passed=report.quarantined_rows == 0,
        # A few implausible rows warn; a day lost whole to schema drift is an error.
        severity=dg.AssetCheckSeverity.ERROR if schema_failed else dg.AssetCheckSeverity.WARN,
        description=(
            summary(dataset, f"{report.quarantined_rows} rows quarantined", days, reasons)
            if days
            else None
        ),
        metadata={
            "quarantined_rows": report.quarantined_rows,
            "quarantined_days": day_ranges(days),
            "schema_failed_days": day_ranges(report.schema_failed_days),
            "failures": dg.MetadataValue.md(markdown_table(report.failure_summary)),
            "reasons": reasons_table(reasons),
        },
    )


def plausible_result(dataset: Dataset, report: DatasetReport) -> dg.AssetCheckResult:
    """Warns naming each column whose implausible values were nulled, and how many."""
    by_column = report.nulled_summary.with_columns(
        pl.col("column")
        .replace_strict({n: str(r) for n, r in dataset.plausible.items()}, default=None)
        .alias("plausible"),
    )
    counts = ", ".join(
        f"{column} {values:,} on {days} day{'s' * (days > 1)}"
        for column, values, days in by_column.select("column", "values", "days").iter_rows()
    )
    return dg.AssetCheckResult(
        check_name=PLAUSIBLE_CHECK,
        asset_key=["lake", dataset.name],
        passed=report.nulled_values == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"lake/{dataset.name}: {report.nulled_values:,} implausible values nulled, rows "
            f"kept (raw keeps them): {counts}"[:1000]
            if report.nulled_values
            else None
        ),
        metadata={
            "nulled_values": report.nulled_values,
            "nulled_by_column": dg.MetadataValue.md(markdown_table(by_column)),
        },
    )


def nulled_by_column_and_day(report: DatasetReport) -> dict[str, dict[str, int]]:
    """column → day → implausible values nulled, the first days of each column."""
    found: dict[str, dict[str, int]] = {}
    for day in sorted(report.nulled):
        for column, count in report.nulled[day].items():
            days = found.setdefault(column, {})
            if len(days) < NULLED_DAYS_SHOWN:
                days[str(day)] = count
    return dict(sorted(found.items()))


def day_ranges(days: list[date]) -> str:
    """2024-01-01..2024-01-03, 2024-02-10: compact enough for metadata and logs."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and day == runs[-1][-1] + timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}..{r[-1]}" for r in runs) or "none"


def completeness_result(
    dataset: Dataset, report: BuildReport, days: list[date]
) -> dg.AssetCheckResult:
    """Missing: a gap before the newest day raw holds. Failed: a payload was quarantined.
    Days after the newest one are pending (the devices have not uploaded them yet)."""
    have = set(days) - set(report.days_without_raw)
    newest = max(have, default=None)
    missing = [d for d in report.days_without_raw if newest is not None and d < newest]
    pending = [d for d in report.days_without_raw if newest is None or d > newest]
    failed = sorted({date.fromisoformat(k.split("/", 1)[0]) for k in report.rejected_payloads})
    problems = []
    if failed:
        problems.append(
            summary(
                dataset,
                f"{len(report.rejected_payloads)} payloads quarantined",
                failed,
                report.rejected_payloads,
            )
        )
    if missing:
        problems.append(f"lake/{dataset.name}: no raw for {day_ranges(missing)}")
    return dg.AssetCheckResult(
        check_name=COMPLETE_DAYS_CHECK,
        asset_key=["lake", dataset.name],
        passed=not missing and not failed,
        # A gap may just be a sync not run yet; a quarantined payload is bad input to fix.
        severity=dg.AssetCheckSeverity.ERROR if failed else dg.AssetCheckSeverity.WARN,
        description=" | ".join(problems) or None,
        metadata={
            "missing_days": day_ranges(missing),
            "failed_days": day_ranges(failed),
            "pending_days": len(pending),
            "missing_count": len(missing),
            "failed_count": len(failed),
            "payloads_quarantined": len(report.rejected_payloads),
            "first_quarantined": next(
                (f"{k}: {v}" for k, v in sorted(report.rejected_payloads.items())), ""
            ),
            "quarantined_payloads": reasons_table(report.rejected_payloads),
        },
    )


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
            if dg.AssetCheckKey(key, VALID_ROWS_CHECK) in checks:
                yield per_account(
                    {a: check_result(ds, r.datasets[ds.name]) for a, r in reports.items()}
                )
            if dg.AssetCheckKey(key, PLAUSIBLE_CHECK) in checks:
                yield per_account(
                    {a: plausible_result(ds, r.datasets[ds.name]) for a, r in reports.items()}
                )
            if dg.AssetCheckKey(key, COMPLETE_DAYS_CHECK) in checks:
                yield per_account(
                    {a: completeness_result(ds, r, days[a]) for a, r in reports.items()}
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
