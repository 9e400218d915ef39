"""Build the report from a data directory: read the frames, draw the charts, write the page.

The CLI (`garmin-pipeline report`), the demo and the Dagster `report` asset all come through
here. The warehouse is read in one short read-only connection before anything is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from garmin_pipeline.catalog import FEEDS
from garmin_pipeline.files import write_atomically
from garmin_pipeline.layout import DataLayout
from garmin_pipeline.raw.store import RawStore
from garmin_pipeline.report import frames as q
from garmin_pipeline.report.charts import CHARTS, Figure, figures, javascript_bundle
from garmin_pipeline.report.coverage import coverage
from garmin_pipeline.report.page import render_page
from garmin_pipeline.warehouse.dictionary import Mart, load_marts


@dataclass(frozen=True)
class Report:
    figures: list[Figure]
    html: str
    accounts: tuple[str, ...]


def read_frames(
    layout: DataLayout, provisional_overrides: Mapping[str, int] | None = None
) -> dict[str, pl.DataFrame]:
    """Every frame the charts need; a missing or empty warehouse is a one-line error."""
    warehouse = layout.warehouse_path
    with q.connect(warehouse) as con:
        q.check_has_days(con, warehouse)
        found = {
            "training_load": q.training_load(con),
            "weekly_volume": q.weekly_volume(con),
            "heart": q.heart(con),
            "sleep": q.sleep(con),
            "latest_activities": q.latest_activities(con),
            "latest_records": q.latest_activity_records(con),
            "account_days": q.account_days(con),
        }
        zones = q.time_zones(con)
    found["coverage"] = coverage(
        found["account_days"], RawStore(layout.raw_dir), FEEDS, zones, provisional_overrides
    )
    return found


def charted_marts() -> list[Mart]:
    """The dictionary entries of the marts the charts read, in the dictionary's order."""
    wanted = {mart for chart in CHARTS for mart in chart.marts}
    return [mart for mart in load_marts() if mart.name in wanted]


def summary(days: pl.DataFrame) -> str:
    """One sentence on what the page covers, from the data alone (no clock time)."""
    span = days.group_by("account").agg(
        first=pl.col("calendar_date").min(), last=pl.col("calendar_date").max(), days=pl.len()
    )
    parts = [
        f"{account}: {first}..{last} ({n} days)"
        for account, first, last, n in span.sort("account").iter_rows()
    ]
    warehouse = DataLayout(Path()).warehouse_path.name
    return f"From the DuckDB warehouse ({warehouse}); " + "; ".join(parts) + "."


def build_report(
    layout: DataLayout, provisional_overrides: Mapping[str, int] | None = None
) -> Report:
    frames = read_frames(layout, provisional_overrides)
    drawn = figures(frames)
    accounts = tuple(frames["account_days"]["account"].unique().sort().to_list())
    html = render_page(
        drawn, charted_marts(), accounts, summary(frames["account_days"]), javascript_bundle()
    )
    return Report(drawn, html, accounts)


def write_report(
    layout: DataLayout,
    out: Path | None = None,
    provisional_overrides: Mapping[str, int] | None = None,
) -> tuple[Path, Report]:
    """Build the report and write it (atomically) to `out`, by default beside the warehouse."""
    report = build_report(layout, provisional_overrides)
    path = (out or layout.report_path).absolute()
    write_atomically(path, report.html.encode("utf-8"))
    return path, report
