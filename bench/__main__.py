"""`make bench`: every benchmark in one run, written to bench/results/results.{md,json}.

Each figure stands beside its target and a baseline measured in the same run. Benchmarks are
not tests: nothing here runs in `make test`. `--only` runs some of them, to iterate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TypeVar

from bench import fit_throughput, import_export, rebuild, requests_per_day, synthetic, warehouse

RESULTS = Path(__file__).resolve().parent / "results"
HISTORY_DAYS = 5 * 365 + 1  # the longest history measured; the 1-year figures take its end
BENCHMARKS = ("fit", "requests", "rebuild", "import")  # rebuild: then the warehouse on its lakes
T = TypeVar("T")


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
class Part:
    """One benchmark's share of the results."""

    rows: list[dict[str, object]] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    details: dict[str, object] = field(default_factory=dict)


@dataclass
class Results:
    parts: dict[str, Part] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, name: str, run: Callable[[], T]) -> T:
        print(f"bench: {name} ...", flush=True)
        started = time.perf_counter()
        value = run()
        self.seconds[name] = round(time.perf_counter() - started, 1)
        print(f"bench: {name} took {self.seconds[name]:.0f} s", flush=True)
        return value

    def ordered(self) -> list[Part]:
        return [self.parts[name] for name in BENCHMARKS if name in self.parts]


def fit() -> Part:
    figures = fit_throughput.measure()
    return Part(fit_throughput.rows(figures), [fit_throughput.breakdown(figures)])


def requests() -> Part:
    # The modes share nothing (each its own emulator, data dir and Dagster home) and a sync is
    # mostly one busy process: run side by side, they count the same requests in less time.
    with ProcessPoolExecutor(len(requests_per_day.MODES), mp_context=get_context("spawn")) as pool:
        measured = list(pool.map(requests_per_day.measure_mode, requests_per_day.MODES))
    return Part(
        [row for figures in measured for row in requests_per_day.rows(figures)],
        ["## Requests by endpoint"] + [requests_per_day.breakdown(f) for f in measured],
        {
            "requests_by_endpoint": {
                figures.mode: {
                    "backfill": dict(figures.backfill_requests),
                    "refresh": dict(figures.refresh_requests),
                }
                for figures in measured
            }
        },
    )


def rebuilds(history: synthetic.SyntheticHistory, root: Path) -> Part:
    """The history rebuilt offline at 1 and 5 years; the warehouse bench then times the daily
    dbt build and the analyst queries where the rebuilds left them."""
    figures = rebuild.measure(history, root)
    print("bench: warehouse builds and analyst queries ...", flush=True)
    built = warehouse.measure(figures.of(1), figures.of(5))
    return Part(
        rebuild.rows(figures) + warehouse.rows(built),
        [rebuild.breakdown(figures), warehouse.breakdown(built)],
    )


def imports(root: Path) -> Part:
    figures = import_export.measure(root)
    return Part(import_export.rows(figures), [import_export.breakdown(figures)])


def delete_in_background(scratch: str) -> None:
    """Remove the scratch tree (some 250,000 files) without waiting: on a slow disk that takes
    a minute or more of nothing but I/O, and no figure depends on it."""
    print(f"bench: deleting the scratch directory {scratch} in the background", flush=True)
    subprocess.Popen(
        ["rm", "-rf", "--", scratch],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives `make bench`, and Ctrl-C in its terminal
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="repeatable")
    args = parser.parse_args(argv)
    selected = args.only or BENCHMARKS
    results = Results()
    started = time.perf_counter()
    if "fit" in selected:  # alone: its one-core timings need the other core idle
        results.parts["fit"] = results.timed("fit", fit)
    tmp = tempfile.mkdtemp(prefix="bench-history-")
    try:
        with ThreadPoolExecutor(1) as alongside:
            # Neither times anything that other work could disturb (the requests figures are
            # counts), so the request counts run while the synthetic history is fetched.
            counting = (
                alongside.submit(results.timed, "requests", requests)
                if "requests" in selected
                else None
            )
            if "rebuild" in selected:
                history = results.timed(
                    f"synthetic history of {HISTORY_DAYS} days (not a figure)",
                    lambda: synthetic.fetch_history(Path(tmp) / "history", HISTORY_DAYS),
                )
            if counting is not None:
                results.parts["requests"] = counting.result()
            if "rebuild" in selected:
                results.parts["rebuild"] = results.timed(
                    "rebuild", lambda: rebuilds(history, Path(tmp))
                )
        if "import" in selected:  # after the rest: it writes 4 GB, which would slow them
            results.parts["import"] = results.timed("import", lambda: imports(Path(tmp)))
        total = time.perf_counter() - started
    finally:
        delete_in_background(tmp)
    about = machine()
    rows = [row for part in results.ordered() for row in part.rows]
    markdown = "\n\n".join(
        [
            "# Benchmark results",
            f"Machine: {about['cores']} cores, {about['system']}, Python {about['python']}. "
            f"The whole bench took {total / 60:.1f} min.",
            table(rows),
            *(section for part in results.ordered() for section in part.sections),
            "## Time per benchmark",
            "The request counts ran alongside the synthetic history's fetch.",
            "\n".join(f"- {name}: {seconds:.0f} s" for name, seconds in results.seconds.items()),
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.md").write_text(markdown + "\n", encoding="utf-8")
    body = {
        "machine": about,
        "total_seconds": round(total, 1),
        "seconds": results.seconds,
        "figures": rows,
        **{key: value for part in results.ordered() for key, value in part.details.items()},
    }
    (RESULTS / "results.json").write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    print(markdown)
    return 0 if all(row["met"] is not False for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
