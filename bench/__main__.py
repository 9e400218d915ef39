"""`make bench`: run every benchmark and write bench/results/results.{md,json}."""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from bench import requests_per_day

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, object]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.machine()}",
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--days", type=int, default=365, help="synthetic history to backfill")
    args = parser.parse_args(argv)
    measured = []
    for mode in requests_per_day.MODES:
        print(f"requests per day, GARMIN_SOURCE={mode}: backfilling {args.days} days ...")
        measured.append(requests_per_day.measure(days=args.days, mode=mode))
    rows = [row for figures in measured for row in requests_per_day.rows(figures)]
    about = machine()
    markdown = "\n\n".join(
        [
            "# Benchmark results",
            f"Machine: {about['cores']} cores, {about['system']}, Python {about['python']}.",
            table(rows),
            "## Requests by endpoint",
            *(requests_per_day.breakdown(figures) for figures in measured),
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.md").write_text(markdown + "\n", encoding="utf-8")
    body = {
        "machine": about,
        "figures": rows,
        "requests_by_endpoint": {
            figures.mode: {
                "backfill": dict(figures.backfill_requests),
                "refresh": dict(figures.refresh_requests),
            }
            for figures in measured
        },
    }
    (RESULTS / "results.json").write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    print(markdown)
    return 0 if all(row["met"] is not False for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
