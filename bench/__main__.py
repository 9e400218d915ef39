"""`make bench`: every benchmark in one run, written to bench/results/results.{md,json}.

Each figure stands beside its target and a baseline measured in the same run. Benchmarks are
not tests: nothing here runs in `make test`. `--only` runs some of them, to iterate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from bench import fit_throughput, rebuild, requests_per_day, synthetic, warehouse

RESULTS = Path(__file__).resolve().parent / "results"
HISTORY_DAYS = 5 * 365 + 1  # the longest history measured; the 1-year figures take its end
BENCHMARKS = ("fit", "requests", "rebuild")  # rebuild: then the warehouse on its lakes


def machine() -> dict[str, object]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.machine()}",
        "processor": platform.processor() or "unknown",
    }


MET = {True: "yes", False: "**no**", None: "n/a"}


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| figure | value | target | baseline | ratio to baseline | met |",
        "|---|---:|---|---|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['figure']} | {row['value']} | {row['target']} | {row['baseline']} | "
            f"{row['ratio_to_baseline']} | {MET[row['met']]} |"
        )
    return "\n".join(lines)


@dataclass
class Results:
    rows: list[dict[str, object]] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    details: dict[str, object] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, name: str, run: Callable[[], None]) -> None:
        print(f"bench: {name} ...", flush=True)
        started = time.perf_counter()
        run()
        self.seconds[name] = round(time.perf_counter() - started, 1)
        print(f"bench: {name} took {self.seconds[name]:.0f} s", flush=True)


def fit(results: Results) -> None:
    figures = fit_throughput.measure()
    results.rows += fit_throughput.rows(figures)
    results.sections.append(fit_throughput.breakdown(figures))


def requests(results: Results) -> None:
    # The modes share nothing (each its own emulator, data dir and Dagster home) and a sync is
    # mostly one busy process: run side by side, they count the same requests in less time.
    with ProcessPoolExecutor(len(requests_per_day.MODES), mp_context=get_context("spawn")) as pool:
        measured = list(pool.map(requests_per_day.measure_mode, requests_per_day.MODES))
    results.rows += [row for figures in measured for row in requests_per_day.rows(figures)]
    results.sections += ["## Requests by endpoint"] + [
        requests_per_day.breakdown(figures) for figures in measured
    ]
    results.details["requests_by_endpoint"] = {
        figures.mode: {
            "backfill": dict(figures.backfill_requests),
            "refresh": dict(figures.refresh_requests),
        }
        for figures in measured
    }


def history_builds(results: Results) -> None:
    """One synthetic history, rebuilt offline at 1 and 5 years; the warehouse bench then
    times dbt and the analyst queries on those lakes."""
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        print(f"bench: fetching {HISTORY_DAYS} synthetic days into raw ...", flush=True)
        history = synthetic.fetch_history(Path(tmp) / "history", HISTORY_DAYS)
        results.seconds["synthetic history (not a figure)"] = round(history.seconds, 1)
        figures = rebuild.measure(history, Path(tmp))
        results.rows += rebuild.rows(figures)
        results.sections.append(rebuild.breakdown(figures))
        print("bench: warehouse builds and analyst queries ...", flush=True)
        built = warehouse.measure(figures.of(1), figures.of(5))
        results.rows += warehouse.rows(built)
        results.sections.append(warehouse.breakdown(built))


RUNNERS: dict[str, Callable[[Results], None]] = {
    "fit": fit,
    "requests": requests,
    "rebuild": history_builds,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="repeatable")
    args = parser.parse_args(argv)
    results = Results()
    started = time.perf_counter()
    for name in args.only or BENCHMARKS:
        results.timed(name, lambda name=name: RUNNERS[name](results))
    total = time.perf_counter() - started
    about = machine()
    markdown = "\n\n".join(
        [
            "# Benchmark results",
            f"Machine: {about['cores']} cores, {about['system']}, Python {about['python']}. "
            f"The whole bench took {total / 60:.1f} min.",
            table(results.rows),
            *results.sections,
            "## Time per benchmark",
            "\n".join(f"- {name}: {seconds:.0f} s" for name, seconds in results.seconds.items()),
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.md").write_text(markdown + "\n", encoding="utf-8")
    body = {
        "machine": about,
        "total_seconds": round(total, 1),
        "seconds": results.seconds,
        "figures": results.rows,
        **results.details,
    }
    (RESULTS / "results.json").write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    print(markdown)
    return 0 if all(row["met"] is not False for row in results.rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
