"""Lake assets: per feed, one multi-asset that parses raw into its validated lake datasets.

Each dataset carries a Pandera check: failing rows are quarantined with their reason (the check
then warns with the counts), and the rest of the data still lands.
"""

import dagster as dg
import polars as pl

from assets.partitions import daily_partitions, one_run_per_backfill
from assets.raw import partition_days
from assets.resources import DataDir
from garmin_pipeline.catalog import FEEDS
from garmin_pipeline.feeds import Dataset, Feed
from garmin_pipeline.lake.build import DatasetReport, build_lake

VALID_ROWS_CHECK = "valid_rows"


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


def check_result(dataset: Dataset, report: DatasetReport) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=VALID_ROWS_CHECK,
        asset_key=["lake", dataset.name],
        passed=report.quarantined_rows == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "quarantined_rows": report.quarantined_rows,
            "failures": dg.MetadataValue.md(markdown_table(report.failure_summary)),
        },
    )


def lake_asset(feed: Feed) -> dg.AssetsDefinition:
    specs = [
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
    check_specs = [
        dg.AssetCheckSpec(
            VALID_ROWS_CHECK,
            asset=["lake", ds.name],
            description="Every row passes the Pandera schema; failing rows are quarantined.",
        )
        for ds in feed.datasets
    ]

    @dg.multi_asset(
        name=f"lake_{feed.name}",
        specs=specs,
        check_specs=check_specs,
        partitions_def=daily_partitions,
        backfill_policy=one_run_per_backfill,
    )
    def _lake(context: dg.AssetExecutionContext, data_dir: DataDir):
        days = partition_days(context)
        report = build_lake(
            feed, data_dir.raw, data_dir.lake, data_dir.quarantine, data_dir.account, days
        )
        if report.rejected_payloads:
            context.log.warning(
                "%d payloads quarantined: %s",
                len(report.rejected_payloads),
                "; ".join(f"{k}: {v}" for k, v in sorted(report.rejected_payloads.items())[:5]),
            )
        for ds in feed.datasets:
            dataset_report = report.datasets[ds.name]
            yield dg.MaterializeResult(
                asset_key=["lake", ds.name],
                metadata={
                    "dagster/row_count": dataset_report.rows,
                    "quarantined_rows": dataset_report.quarantined_rows,
                    "partitions_written": dataset_report.partitions_written,
                    "partitions_unchanged": dataset_report.partitions_unchanged,
                    "days_without_raw": len(report.days_without_raw),
                    "rejected_payloads": len(report.rejected_payloads),
                    "path": dg.MetadataValue.path(str(data_dir.lake.root / ds.name)),
                },
            )
            yield check_result(ds, dataset_report)

    return _lake


LAKE_ASSETS = [lake_asset(feed) for feed in FEEDS]
