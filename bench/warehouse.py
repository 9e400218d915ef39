"""Warehouse build and query times on years of synthetic lake, with the pipeline's own dbt
command lines (`build_args`, as the warehouse asset runs them).

- The full build over 1 year and over 5 years of lake.
- The daily build at 5 years: the 5-year lake without its last day is built in full (that
  build is the 5-year figure, and the baseline), then the day's partitions are added and
  the incremental build the pipeline runs after a sync of that day is timed. Target: at
  most 10 % of the full build. Snapshot feeds (one partition per sync, so the synthetic
  history has theirs on its last day only) keep their partition: a real history has one
  from every earlier sync.
- The five canonical analyst queries (dbt/analyses) on the resulting 5-year warehouse: the
  median of 5 runs after a warm-up, each under 200 ms; the cold first run (a fresh
  read-only connection) is in the breakdown.

The caller's data dirs are only read: every build runs in a scratch dir whose lake is made
of symlinks to the caller's partitions. Each timed build starts with dbt's partial-parse
state in place, as every build after a data dir's first one does.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from garmin_pipeline.catalog import FEEDS
from garmin_pipeline.warehouse.dbt_project import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    MANIFEST,
    build_args,
    dbt_target_dir,
    dbt_vars,
    full_refresh_reason,
    manifest_is_stale,
    parse_manifest,
)
from garmin_pipeline.warehouse.queries import analyses, connect

INCREMENTAL_TARGET = 0.10  # of the full build at 5 years
QUERY_TARGET_MS = 200.0
QUERY_RUNS = 5
HOT_SPOTS = 8  # slowest dbt nodes listed per build
SNAPSHOTS = {dataset.name for feed in FEEDS if feed.snapshot for dataset in feed.datasets}


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


def _partitions(lake: Path) -> list[Path]:
    """Every `<dataset>/account=<a>/date=<d>` directory of a lake (not `_built` and the like)."""
    return [
        partition
        for dataset in sorted(lake.iterdir())
        if dataset.is_dir() and dataset.name[0] not in "_."
        for account in sorted(dataset.glob("account=*"))
        for partition in sorted(account.glob("date=*"))
    ]


def _day(partition: Path) -> date:
    return date.fromisoformat(partition.name.removeprefix("date="))


def _link(partitions: list[Path], source: Path, data_dir: Path) -> None:
    """Make the partitions appear in `data_dir`'s lake (symlinks: nothing is copied)."""
    for partition in partitions:
        link = data_dir / "lake" / partition.relative_to(source)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(partition.absolute(), target_is_directory=True)


def _dbt(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DBT_EXECUTABLE), *args], cwd=DBT_PROJECT_DIR, capture_output=True, text=True
    )


def _parse(data_dir: Path) -> None:
    """Leave dbt's partial-parse state in the data dir's target, untimed."""
    target = ["--target-path", str(dbt_target_dir(data_dir))]
    completed = _dbt(["parse", "--vars", dbt_vars(data_dir), *target])
    if completed.returncode:
        raise SystemExit(f"dbt parse failed:\n{completed.stdout[-3000:]}")


def _run_dbt(label: str, data_dir: Path, synced: tuple[date, date] | None, today: date) -> Build:
    args = build_args(data_dir, synced, today)
    started = time.perf_counter()
    completed = _dbt(args)
    seconds = time.perf_counter() - started
    if completed.returncode:
        raise SystemExit(f"dbt {label} failed:\n{completed.stdout[-3000:]}")
    run = json.loads((dbt_target_dir(data_dir) / "run_results.json").read_text())
    results = run["results"]
    slowest = sorted(results, key=lambda r: -r["execution_time"])[:HOT_SPOTS]
    days = {_day(p) for p in _partitions(data_dir / "lake")}
    return Build(
        label=label,
        days=len(days),
        seconds=seconds,
        nodes_seconds=run["elapsed_time"],
        args=tuple(args),
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


def measure(one_year: Path, five_years: Path, scratch: Path | None = None) -> WarehouseFigures:
    """Time the builds and queries over the lakes of two data dirs (their `lake/` built, e.g.
    from `bench.synthetic` history); the 5-year lake's last day is the one held back. The
    builds run under `scratch` (a temporary dir by default)."""
    if manifest_is_stale(MANIFEST):
        parse_manifest()  # build_args compares the project with the last build's
    with tempfile.TemporaryDirectory(prefix="bench-warehouse-", dir=scratch) as tmp:
        root = Path(tmp)
        year = root / "one_year"
        _link(_partitions(one_year / "lake"), one_year / "lake", year)
        _parse(year)
        full_1y = _run_dbt("full build, 1 year", year, None, date.today())

        lake = five_years / "lake"
        partitions = _partitions(lake)
        last = max(_day(p) for p in partitions)
        held_back = [p for p in partitions if _day(p) == last and p.parts[-3] not in SNAPSHOTS]
        history = root / "five_years"
        _link([p for p in partitions if p not in held_back], lake, history)
        _parse(history)
        full_5y = _run_dbt("full build, 5 years", history, None, last)
        _link(held_back, lake, history)
        reason = full_refresh_reason(history, (last, last), last)
        if reason is not None:
            raise SystemExit(f"the daily build would be a full refresh: {reason}")
        daily = _run_dbt(f"daily build of {last}, 5 years", history, (last, last), last)
        queries = _time_queries(history / "warehouse.duckdb")
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
