"""Warehouse build and query times on years of synthetic lake, with the pipeline's own dbt
command lines (`build_args`, as the warehouse asset runs them).

- The full build over 1 year and over 5 years of lake.
- The daily build at 5 years: right after the full build, the incremental build the pipeline
  runs after a sync of the last day. It rebuilds each account's last `lookback_days` days
  whether or not they changed, so it costs the same as on the morning that day arrived.
  Target: at most 10 % of the full build.
- The five canonical analyst queries (dbt/analyses) on the resulting 5-year warehouse: the
  median of 5 runs after a warm-up, each under 200 ms; the cold first run (a fresh
  read-only connection) is in the breakdown.

Every build is timed the same way, from its dbt process's start to its exit, and runs as the
pipeline runs it: the warehouse asset (Dagster, dagster-dbt, `build_args`). The full builds
are those the rebuild benchmark's `garmin-pipeline rebuild` ran; the daily build runs in the
5-year data dir they left (its lake, warehouse and dbt state, partial-parse state included,
as in every build after a data dir's first).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

from bench.rebuild import Rebuild, TreeMemory
from bench.synthetic import ACCOUNT
from garmin_pipeline.layout import DataLayout, datasets_in, partition_dirs
from garmin_pipeline.warehouse.dbt_project import (
    MANIFEST,
    dbt_target_dir,
    full_refresh_reason,
    manifest_is_stale,
    parse_manifest,
)
from garmin_pipeline.warehouse.queries import analyses, connect

INCREMENTAL_TARGET = 0.10  # of the full build at 5 years
QUERY_TARGET_MS = 200.0
QUERY_RUNS = 5
HOT_SPOTS = 8  # slowest dbt nodes listed per build


@dataclass(frozen=True)
class Build:
    label: str
    days: int
    seconds: float  # wall time of the dbt process
    nodes_seconds: float  # of which running the nodes (run_results.json), the rest is start-up
    args: tuple[str, ...]
    nodes: int
    slowest: tuple[tuple[str, float], ...]  # (node, seconds), from run_results.json


@dataclass(frozen=True)
class QueryTiming:
    name: str
    question: str
    rows: int
    cold_ms: float  # first run on a fresh connection, the connection included
    median_ms: float  # of QUERY_RUNS after one warm-up


@dataclass(frozen=True)
class WarehouseFigures:
    full_1y: Build
    full_5y: Build
    incremental_5y: Build
    queries: tuple[QueryTiming, ...] = field(default=())

    @property
    def incremental_ratio(self) -> float:
        return self.incremental_5y.seconds / self.full_5y.seconds


def _last_day(lake: Path) -> date:
    """The newest day partition of any dataset (the snapshot feeds' are the sync's day)."""
    return max(day for d in datasets_in(lake) for day, _ in partition_dirs(lake, d.name))


def _daily_build(data_dir: Path, day: date) -> float:
    """The warehouse asset's build after a sync of `day`, run as the pipeline runs it (Dagster,
    dagster-dbt and `build_args`) on the morning after `day`; the seconds its dbt process ran,
    timed as the rebuild's."""
    import dagster as dg

    from assets import warehouse as asset
    from assets.jobs import range_tags
    from assets.resources import DataDir

    with (
        # The synthetic history ends on a fixed day; the asset counts the window from "today".
        mock.patch.object(asset, "latest_begun_day", lambda: day + timedelta(days=1)),
        TreeMemory(os.getpid()) as watch,
    ):
        result = dg.materialize(
            [asset.warehouse],
            resources={"dbt": asset.dbt_resource(), "data_dir": DataDir(path=str(data_dir))},
            tags=range_tags(str(day), str(day), [ACCOUNT]),
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
    if not result.success:
        raise SystemExit(
            f"the daily build of {day} failed; see {dbt_target_dir(DataLayout(data_dir))}"
        )
    return watch.dbt_seconds


def _build(label: str, data_dir: Path, seconds: float) -> Build:
    """The last build of `data_dir`, which took `seconds`, as dbt's run results tell it."""
    layout = DataLayout(data_dir)
    run = json.loads((dbt_target_dir(layout) / "run_results.json").read_text())
    results = run["results"]
    slowest = sorted(results, key=lambda r: -r["execution_time"])[:HOT_SPOTS]
    days = {
        day
        for d in datasets_in(layout.lake_dir)
        for day, _ in partition_dirs(layout.lake_dir, d.name)
    }
    return Build(
        label=label,
        days=len(days),
        seconds=seconds,
        nodes_seconds=run["elapsed_time"],
        args=tuple(run["args"]["invocation_command"].split()[1:]),
        nodes=len(results),
        slowest=tuple((r["unique_id"].split(".", 2)[-1], r["execution_time"]) for r in slowest),
    )


def _time_queries(warehouse: Path) -> list[QueryTiming]:
    timings = []
    for analysis in analyses():
        started = time.perf_counter()
        with connect(warehouse) as con:
            rows = analysis.run(con).height
            cold_ms = (time.perf_counter() - started) * 1000
            runs = []
            for _ in range(QUERY_RUNS + 1):  # the first one warms up
                started = time.perf_counter()
                analysis.run(con)
                runs.append((time.perf_counter() - started) * 1000)
        timings.append(
            QueryTiming(
                analysis.name, analysis.question, rows, cold_ms, statistics.median(runs[1:])
            )
        )
    return timings


def measure(one_year: Rebuild, five_years: Rebuild) -> WarehouseFigures:
    """The full builds are the rebuilds' own (`garmin-pipeline rebuild` ends with one); then,
    in the 5-year data dir, the daily build of its last day and the queries."""
    if manifest_is_stale(MANIFEST):
        parse_manifest()  # build_args compares the project with the last build's
    full_1y = _build("full build, 1 year", one_year.data_dir, one_year.dbt_seconds)
    full_5y = _build("full build, 5 years", five_years.data_dir, five_years.dbt_seconds)
    history = five_years.data_dir
    layout = DataLayout(history)
    last = _last_day(layout.lake_dir)
    reason = full_refresh_reason(layout, (last, last), last + timedelta(days=1))
    if reason is not None:
        raise SystemExit(f"the daily build would be a full refresh: {reason}")
    seconds = _daily_build(history, last)
    daily = _build(f"daily build of {last}, 5 years", history, seconds)
    queries = _time_queries(layout.warehouse_path)
    return WarehouseFigures(full_1y, full_5y, daily, tuple(queries))


def rows(figures: WarehouseFigures) -> list[dict[str, object]]:
    """Result rows for the bench table: figure, value, target, baseline."""
    full, daily = figures.full_5y.seconds, figures.incremental_5y
    table: list[dict[str, object]] = [
        {
            "figure": f"warehouse: full dbt build, {build.days} days",
            "value": f"{build.seconds:.1f} s",
            "target": "none (recorded)",
            "baseline": "n/a",
            "ratio_to_baseline": "n/a",
            "met": None,
        }
        for build in (figures.full_1y, figures.full_5y)
    ]
    table.append(
        {
            "figure": f"warehouse: daily incremental dbt build at {daily.days} days",
            "value": f"{daily.seconds:.1f} s",
            "target": f"≤ {INCREMENTAL_TARGET:.0%} of the full build",
            "baseline": f"{full:.1f} s (full build)",
            "ratio_to_baseline": round(figures.incremental_ratio, 3),
            "met": figures.incremental_ratio <= INCREMENTAL_TARGET,
        }
    )
    table += [
        {
            "figure": f"warehouse query `{query.name}` ({daily.days} days)",
            "value": f"{query.median_ms:.1f} ms",
            "target": f"< {QUERY_TARGET_MS:g} ms",
            "baseline": "n/a",
            "ratio_to_baseline": "n/a",
            "met": query.median_ms < QUERY_TARGET_MS,
        }
        for query in figures.queries
    ]
    return table


def breakdown(figures: WarehouseFigures) -> str:
    lines = ["### Warehouse builds", ""]
    for build in (figures.full_1y, figures.full_5y, figures.incremental_5y):
        lines += [
            f"**{build.label}**: {build.seconds:.1f} s wall, of which {build.nodes_seconds:.1f} s "
            f"running {build.nodes} dbt nodes and the rest dbt's start-up (imports, project, "
            f"artifacts); `dbt {' '.join(build.args)[:300]}`",
            "",
            "| slowest nodes | s |",
            "|---|---:|",
            *(f"| `{node}` | {seconds:.2f} |" for node, seconds in build.slowest),
            "",
        ]
    lines += [
        "### Analyst queries (dbt/analyses)",
        "",
        "| query | question | rows | cold (ms) | median of 5 (ms) |",
        "|---|---|---:|---:|---:|",
        *(
            f"| `{q.name}` | {q.question} | {q.rows} | {q.cold_ms:.1f} | {q.median_ms:.1f} |"
            for q in figures.queries
        ),
    ]
    return "\n".join(lines)
