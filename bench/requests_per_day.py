"""HTTP requests per synced day, read from the emulator's request log, for each source mode.

For `GARMIN_SOURCE` connect, personal_api and hybrid, each broken down by endpoint:
- a backfill of a synthetic quarter (91 days: three of the 28-35-day range windows, so the
  per-day figure is the year's) through `garmin-pipeline sync --fetch-only` (target ≤ 5 per
  day); the lake and the warehouse send no request, so building them is left out,
- a refresh of the last 3 days when nothing new was uploaded (target ≤ 10 in all).
The most complete peer tool spends about 15 requests per backfilled day. The personal_api
mode fetches fewer feeds (those the Personal API covers), so its figure is not a like-for-like
comparison; hybrid fetches everything connect does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from garmin_emulator.demo import start_demo_emulator
from garmin_pipeline.sources.governor import endpoint_of

REPO_ROOT = Path(__file__).resolve().parents[1]
BACKFILL_TARGET_PER_DAY = 5.0
REFRESH_TARGET_TOTAL = 10
PEER_PER_DAY = 15.0  # garmin-health-data's per-day calls (notes/peers.md)


MODES = ("connect", "personal_api", "hybrid")


@dataclass
class RequestFigures:
    mode: str
    days: int
    backfill_requests: Counter[str]
    refresh_requests: Counter[str]
    backfill_seconds: float

    @property
    def per_backfilled_day(self) -> float:
        return self.backfill_requests.total() / self.days


def _sync(env: dict[str, str], first: str, last: str) -> float:
    started = time.perf_counter()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "garmin_pipeline",
            "sync",
            "--fetch-only",
            "--start",
            first,
            "--end",
            last,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode:
        raise SystemExit(f"sync {first}..{last} failed:\n{completed.stderr[-3000:]}")
    return time.perf_counter() - started


def measure(days: int = 91, seed: int = 42, mode: str = "hybrid") -> RequestFigures:
    with tempfile.TemporaryDirectory(prefix="bench-requests-") as tmp:
        root = Path(tmp)
        with start_demo_emulator(seed, days, root / "tokens") as (athlete, emu, emu_env):
            env = {
                **os.environ,
                **emu_env,
                "GARMIN_DATA_DIR": str(root / "data"),
                "DAGSTER_HOME": str(root / "dagster_home"),
                "GARMIN_SOURCE": mode,
            }
            name = athlete.display_name
            emu.clear_request_log()
            seconds = _sync(env, str(athlete.first_day), str(athlete.last_day))
            backfill = Counter(endpoint_of(r.path, name) for r in emu.request_log)
            emu.clear_request_log()
            today = athlete.last_day + timedelta(days=1)
            _sync(env, str(today - timedelta(days=2)), str(today))
            refresh = Counter(endpoint_of(r.path, name) for r in emu.request_log)
    return RequestFigures(mode, days, backfill, refresh, seconds)


def measure_mode(mode: str) -> RequestFigures:
    return measure(mode=mode)


def rows(figures: RequestFigures) -> list[dict[str, object]]:
    """Result rows for the bench table: figure, value, target, baseline."""
    return [
        {
            "figure": f"{figures.mode}: requests per backfilled day ({figures.days} days)",
            "value": round(figures.per_backfilled_day, 2),
            "target": f"≤ {BACKFILL_TARGET_PER_DAY:g}",
            "baseline": f"{PEER_PER_DAY:g} (most complete peer)",
            "ratio_to_baseline": round(figures.per_backfilled_day / PEER_PER_DAY, 2),
            "met": figures.per_backfilled_day <= BACKFILL_TARGET_PER_DAY,
        },
        {
            "figure": f"{figures.mode}: requests for a no-new-data refresh of the last 3 days",
            "value": figures.refresh_requests.total(),
            # The Personal API has no last-upload probe: alone, it fetches provisional days again.
            "target": "none (no upload probe)"
            if figures.mode == "personal_api"
            else f"≤ {REFRESH_TARGET_TOTAL}",
            "baseline": f"{3 * PEER_PER_DAY:g} (peer refetching 3 days)",
            "ratio_to_baseline": round(figures.refresh_requests.total() / (3 * PEER_PER_DAY), 2),
            "met": None
            if figures.mode == "personal_api"
            else figures.refresh_requests.total() <= REFRESH_TARGET_TOTAL,
        },
    ]


def breakdown(figures: RequestFigures) -> str:
    lines = [
        f"### GARMIN_SOURCE={figures.mode}",
        "",
        "| endpoint | backfill | per day | refresh |",
        "|---|---:|---:|---:|",
    ]
    endpoints = sorted(set(figures.backfill_requests) | set(figures.refresh_requests))
    for endpoint in sorted(endpoints, key=lambda e: -figures.backfill_requests[e]):
        count = figures.backfill_requests[endpoint]
        lines.append(
            f"| `{endpoint}` | {count} | {count / figures.days:.2f} | "
            f"{figures.refresh_requests[endpoint]} |"
        )
    total = figures.backfill_requests.total()
    lines.append(
        f"| **all** | **{total}** | **{total / figures.days:.2f}** | "
        f"**{figures.refresh_requests.total()}** |"
    )
    lines.append(
        f"\nBackfill wall time (fetch only; not a figure: the three modes ran side by side, "
        f"alongside the synthetic history's fetch): {figures.backfill_seconds:.0f} s."
    )
    return "\n".join(lines)
