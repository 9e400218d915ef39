"""The demo: a synthetic athlete served by the emulator, synced like a real account."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

from garmin_emulator import Emulator, SyntheticAthlete
from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.layout import DataLayout

# The accounts of a household demo, in order (one athlete: the default account).
HOUSEHOLD = ("alex", "sam", "kim", "noor")


@contextlib.contextmanager
def start_demo_emulator(
    seed: int, days: int, token_dir: Path, athletes: int = 1
) -> Iterator[tuple[SyntheticAthlete, Emulator, dict[str, str]]]:
    """Serve the athlete (the first, with several) on a free loopback port; yield the
    environment that points at it. One athlete syncs in hybrid mode (the recommended set-up:
    the Personal API for what it covers); a household syncs through Garmin Connect, each
    account with its own token store under GARMIN_TOKENS (GARMIN_ACCOUNTS)."""
    if not 1 <= athletes <= len(HOUSEHOLD):
        raise ValueError(f"the demo serves 1 to {len(HOUSEHOLD)} athletes, not {athletes}")
    end = date.today() - timedelta(days=1)
    athlete = SyntheticAthlete(seed=seed, end_date=end, days=days)
    if athletes == 1:
        with Emulator(athlete, port=0) as emu:
            tokens = emu.write_token_store(token_dir / "garmin_tokens.json")
            yield (
                athlete,
                emu,
                {
                    "GARMIN_API_URL": emu.base_url,
                    "GARMIN_TOKENS": str(tokens),
                    "GARMIN_HISTORY_START": athlete.first_day.isoformat(),
                    "GARMIN_SOURCE": "hybrid",
                    "GARMIN_PERSONAL_API_KEY": emu.personal_api_key,
                },
            )
        return
    names = HOUSEHOLD[:athletes]
    others = {
        name: SyntheticAthlete(seed=seed + n, end_date=end, days=days)
        for n, name in enumerate(names[1:], start=1)
    }
    with Emulator(athlete, port=0, account=names[0], others=others) as emu:
        for name in names:
            emu.write_token_store(token_dir / name / "garmin_tokens.json", account=name)
        yield (
            athlete,
            emu,
            {
                "GARMIN_API_URL": emu.base_url,
                "GARMIN_TOKENS": str(token_dir),
                "GARMIN_ACCOUNTS": ",".join(names),
                "GARMIN_HISTORY_START": athlete.first_day.isoformat(),
                "GARMIN_SOURCE": "connect",
            },
        )


def draw_report(data_dir: Path) -> str:
    """Write the report page beside the warehouse; the line that says where it is."""
    from garmin_pipeline.report.build import write_report

    path, _ = write_report(DataLayout(data_dir))
    return f"Report: {path}  (open it in a browser; `garmin-pipeline report` redraws it)"


def report(data_dir: Path, requests: int) -> str:
    """What the demo made, with real figures read back from the warehouse and the lake."""
    layout = DataLayout(data_dir)
    warehouse = layout.warehouse_path
    lake = PartitionStore(layout.lake_dir)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        accounts = con.sql(
            "select account, count(*) as days, sum(total_steps) as steps from fct_daily_health "
            "group by 1 order by 1"
        ).fetchall()
        ((days, steps, first, last),) = con.sql(
            "select count(distinct calendar_date), sum(total_steps), min(calendar_date), "
            "max(calendar_date) from fct_daily_health"
        ).fetchall()
        by_type = con.sql(
            "select activity_type, count(*) as activities, round(sum(distance_m) / 1000, 1) as km, "
            "sum(record_count) as samples from fct_activities group by 1 order by 1"
        ).pl()
    records = pl.scan_parquet(lake.dataset_glob("activity_records")).select(pl.len()).collect()
    lines = [
        "",
        f"Synced {days} days ({first}..{last}) with {requests} requests to the emulator.",
        f"  warehouse: {warehouse}",
        f"  lake:      {lake.root}  ({records.item()} activity samples)",
        f"  steps walked: {steps:,}",
        *(
            f"    {account}: {account_days} days, {account_steps:,} steps"
            for account, account_days, account_steps in accounts
            if len(accounts) > 1
        ),
        "  activities:",
        *(
            f"    {row['activity_type']:<14} {row['activities']:>3}  {row['km']:>7} km  "
            f"{row['samples']:>7} samples"
            for row in by_type.iter_rows(named=True)
        ),
        "",
        "Query it:",
        f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{warehouse}', "
        "read_only=True).sql('from fct_daily_health order by calendar_date'))\"",
        f'  .venv/bin/python -c "import polars as pl; print(pl.scan_parquet('
        f"'{lake.root}/activity_records/**/*.parquet', hive_partitioning=True).collect())\"",
        "  make dev   # the Dagster UI, with this run in it",
    ]
    return "\n".join(lines)
