"""Offline rebuild from raw: `garmin-pipeline rebuild` of 1 and 5 synthetic years.

Lake and warehouse are rebuilt from the same raw history (the 1-year run takes its last
year), each into a fresh data directory, through the CLI and Dagster as a user runs it. Peak
memory is sampled over the whole process tree (the CLI, the Dagster run, the lake's worker
processes and dbt) as the sum of proportional set sizes, so shared libraries count once. The
lake is built a batch of days at a time, so the peak must not grow with the history.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psutil

from bench.synthetic import ACCOUNT, SyntheticHistory
from garmin_pipeline.layout import DataLayout

REPO_ROOT = Path(__file__).resolve().parents[1]
PEAK_MEMORY_TARGET_MB = 1024
SAMPLE_INTERVAL_S = 0.25


@dataclass(frozen=True)
class Rebuild:
    years: int
    days: int
    seconds: float
    peak_tree_mb: float  # the whole process tree, proportional set size
    peak_process_mb: float  # the largest single process, resident set size
    lake_files: int
    dbt_seconds: float  # the warehouse's `dbt build` process, from start to exit
    data_dir: Path


@dataclass(frozen=True)
class RebuildFigures:
    runs: list[Rebuild]

    def of(self, years: int) -> Rebuild:
        return next(run for run in self.runs if run.years == years)


class TreeMemory:
    """Samples a process and its descendants until stopped; keeps the peaks, and when a
    `dbt` process was first and last seen among them."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak_tree = 0
        self.peak_process = 0
        self.dbt_seen: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def dbt_seconds(self) -> float:
        """How long the `dbt build` process ran (sampled: to within an interval either way)."""
        if not self.dbt_seen:
            raise RuntimeError("no dbt build process was seen")
        return self.dbt_seen[-1] - self.dbt_seen[0] + SAMPLE_INTERVAL_S

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            tree = 0
            for process in processes:
                try:
                    info = process.memory_full_info()
                    if _is_dbt_build(process.cmdline()):
                        self.dbt_seen.append(time.perf_counter())
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                tree += getattr(info, "pss", info.rss)
                self.peak_process = max(self.peak_process, info.rss)
            self.peak_tree = max(self.peak_tree, tree)


def _is_dbt_build(command: list[str]) -> bool:
    """`dbt build ...`, run as the script itself or through its interpreter."""
    return any(Path(part).name == "dbt" for part in command[:2]) and "build" in command


def rebuild(history: SyntheticHistory, years: int, root: Path) -> Rebuild:
    """`garmin-pipeline rebuild` of the history's last `years` years into a fresh data dir."""
    days = min(len(history.days), years * 365 + years // 4)
    first = history.last_day - timedelta(days=days - 1)
    target = data_dir(root, years)
    target.mkdir(parents=True)
    (target / "raw").symlink_to(DataLayout(history.data_dir).raw_dir)
    env = {
        **os.environ,
        "GARMIN_DATA_DIR": str(target),
        "GARMIN_ACCOUNT": ACCOUNT,
        "GARMIN_HISTORY_START": str(history.first_day),
        "DAGSTER_HOME": str(root / f"dagster-{years}y"),
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "garmin_pipeline",
            "rebuild",
            "--start",
            str(first),
            "--end",
            str(history.last_day),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with TreeMemory(process.pid) as memory:
        out, err = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"rebuild of {years} years failed:\n{out[-2000:]}\n{err[-3000:]}")
    lake_files = sum(1 for _ in DataLayout(target).lake_dir.rglob("part-0.parquet"))
    return Rebuild(
        years,
        days,
        seconds,
        memory.peak_tree / 2**20,
        memory.peak_process / 2**20,
        lake_files,
        memory.dbt_seconds,
        target,
    )


def measure(
    history: SyntheticHistory, root: Path, years: tuple[int, ...] = (1, 5)
) -> RebuildFigures:
    """Rebuild into `root`/rebuild-<n>y (left there: the warehouse bench reads their lakes)."""
    return RebuildFigures([rebuild(history, n, root) for n in years])


def data_dir(root: Path, years: int) -> Path:
    return root / f"rebuild-{years}y"


def rows(figures: RebuildFigures) -> list[dict[str, object]]:
    one, five = figures.of(1), figures.of(5)
    return [
        {
            "figure": f"offline rebuild, {run.years} year{'s' * (run.years > 1)}: wall time",
            "value": f"{run.seconds:.0f} s",
            "target": "none (reported)",
            "baseline": "1 year" if run.years > 1 else "",
            "ratio_to_baseline": round(run.seconds / one.seconds, 2) if run.years > 1 else "",
            "met": None,
        }
        for run in (one, five)
    ] + [
        {
            "figure": "offline rebuild, 5 years: peak memory (process tree)",
            "value": f"{five.peak_tree_mb:.0f} MB",
            "target": f"< {PEAK_MEMORY_TARGET_MB} MB, flat in history length",
            "baseline": f"{one.peak_tree_mb:.0f} MB (1 year)",
            "ratio_to_baseline": round(five.peak_tree_mb / one.peak_tree_mb, 2),
            "met": five.peak_tree_mb < PEAK_MEMORY_TARGET_MB,
        }
    ]


def breakdown(figures: RebuildFigures) -> str:
    lines = [
        "### Offline rebuild (`garmin-pipeline rebuild`)",
        "",
        "| history | days | lake files | wall | peak, process tree | peak, largest process |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run in figures.runs:
        lines.append(
            f"| {run.years} y | {run.days} | {run.lake_files} | {run.seconds:.0f} s | "
            f"{run.peak_tree_mb:.0f} MB | {run.peak_process_mb:.0f} MB |"
        )
    return "\n".join(lines)
