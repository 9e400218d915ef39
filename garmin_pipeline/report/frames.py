"""The report's data: one polars frame per chart, queried from the warehouse's marts.

Every query sorts its rows, so the same warehouse gives the same frames (and the same page).
Connections are read-only and short: DuckDB allows one writer (dbt), and even a reader blocks
it, so everything is read up front and the connection is closed before any chart is drawn.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from garmin_pipeline.errors import PipelineError

SYNC_FIRST = "run `garmin-pipeline sync` (or `make demo`) first"


# The marts each frame reads, for the page's links to the dictionary and the asset's deps.
FRAME_MARTS: dict[str, tuple[str, ...]] = {
    "training_load": ("fct_training_load",),
    "weekly_volume": ("agg_weekly_training",),
    "heart": ("fct_daily_health", "fct_hrv"),
    "sleep": ("fct_sleep",),
    "latest_activities": ("fct_activities",),
    "latest_records": ("fct_activities", "fct_activity_records"),
    "account_days": ("fct_daily_health",),
    "coverage": ("fct_daily_health",),  # and raw's manifests (see coverage.py)
}


class WarehouseNotReadyError(PipelineError):
    """No warehouse to report on yet (or one dbt is writing right now)."""


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection, or a one-line error saying what to do."""
    if not warehouse.is_file():
        raise WarehouseNotReadyError(f"no warehouse at {warehouse}; {SYNC_FIRST}")
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as error:
        reason = str(error).splitlines()[0]
        what_to_do = (
            "a sync is writing it: try again when it has finished"
            if "lock" in reason.lower()
            else f"delete it and {SYNC_FIRST}"
        )
        raise WarehouseNotReadyError(f"cannot open {warehouse} ({reason}); {what_to_do}") from None


def check_has_days(con: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    """The marts exist and hold at least one day; else the warehouse was never built."""
    try:
        (days,) = con.sql("select count(*) from fct_daily_health").fetchall()[0]
    except duckdb.CatalogException:
        raise WarehouseNotReadyError(f"{warehouse} has no marts yet; {SYNC_FIRST}") from None
    if not days:
        raise WarehouseNotReadyError(f"{warehouse} holds no days yet; {SYNC_FIRST}")


def training_load(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per account and day (fct_training_load's grain): acute, chronic, their ratio."""
    return con.sql(
        """
        select account, calendar_date,
               round(acute_load, 2) as acute_load,
               round(chronic_load, 2) as chronic_load,
               round(acute_chronic_ratio, 3) as acute_chronic_ratio
        from fct_training_load
        order by account, calendar_date
        """
    ).pl()


def weekly_volume(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per account, week and sport: hours and kilometres."""
    return con.sql(
        """
        select account, week_start, week_start + 7 as week_end, sport, sessions,
               round(duration_s / 3600, 2) as duration_h,
               round(distance_m / 1000, 2) as distance_km
        from agg_weekly_training
        order by account, week_start, sport
        """
    ).pl()


def heart(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per account and day: resting heart rate and the night's HRV (last night's
    average and the 7-day average), over fct_daily_health's days."""
    return con.sql(
        """
        select h.account, h.calendar_date, h.resting_heart_rate_bpm,
               v.last_night_avg_ms as hrv_last_night_ms,
               v.weekly_avg_ms as hrv_weekly_avg_ms
        from fct_daily_health as h
        left join fct_hrv as v using (account, calendar_date)
        order by h.account, h.calendar_date
        """
    ).pl()


def sleep(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per account and night (the wake-up day): hours in each sleep stage."""
    return con.sql(
        """
        select account, calendar_date,
               round(deep_sleep_s / 3600, 2) as deep,
               round(light_sleep_s / 3600, 2) as light,
               round(rem_sleep_s / 3600, 2) as rem,
               round(awake_s / 3600, 2) as awake
        from fct_sleep
        order by account, calendar_date
        """
    ).pl()


LATEST_ACTIVITIES = """
    select account, activity_id, activity_name, activity_type, activity_date
    from fct_activities
    where record_count > 0
    qualify row_number() over (
        partition by account order by start_time desc, activity_id desc
    ) = 1
"""


def latest_activities(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Each account's latest activity that has FIT records (a manual entry has none)."""
    return con.sql(f"{LATEST_ACTIVITIES} order by account").pl()


def latest_activity_records(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every record of each account's latest activity: its track and elevation profile."""
    return con.sql(
        f"""
        select r.account, r.activity_id, r.record_index,
               r.latitude_deg, r.longitude_deg,
               round(r.distance_m / 1000, 4) as distance_km,
               r.altitude_m, r.heart_rate_bpm
        from fct_activity_records as r
        join ({LATEST_ACTIVITIES}) as latest using (account, activity_id)
        order by r.account, r.record_index
        """
    ).pl()


def account_days(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every day of every account's span (fct_daily_health's date spine), and whether Garmin's
    daily summary exists for it."""
    return con.sql(
        """
        select account, calendar_date, has_daily_summary
        from fct_daily_health
        order by account, calendar_date
        """
    ).pl()


def time_zones(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each account's IANA time zone from its latest profile snapshot. Empty when the lake the
    staging view reads has moved since dbt built it (callers fall back to UTC)."""
    try:
        rows = con.sql(
            "select account, arg_max(time_zone, snapshot_date) from stg_profile "
            "where time_zone is not null group by account order by account"
        ).fetchall()
    except duckdb.Error:
        return {}
    return {account: zone for account, zone in rows}
