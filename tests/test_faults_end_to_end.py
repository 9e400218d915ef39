"""Faults through the whole pipeline: a 429 stops with one line, 5xx bursts are retried, and a
cut download is quarantined, kept in raw, and fetched again by the next sync."""

import contextlib
import re

import duckdb
import polars as pl
import pytest

from tests.conftest import pipeline_env, run_cli


@contextlib.contextmanager
def faults(emulator):
    emulator.faults.clear()
    try:
        yield emulator.faults
    finally:
        emulator.faults.clear()


@pytest.fixture
def env(emulator, tmp_path):
    return pipeline_env(emulator, tmp_path)


def sync(env, athlete, days: int = 3):
    first = athlete.first_day
    return run_cli(
        env, "sync", "--start", str(first), "--end", str(first.replace(day=first.day + days - 1))
    )


def test_a_429_stops_the_sync_with_one_line_and_no_retry(emulator, athlete, env):
    with faults(emulator) as plan:
        plan.add("/usersummary-service/", status=429, retry_after=3600, times=None)
        emulator.clear_request_log()
        completed = sync(env, athlete)
    assert completed.returncode == 1
    last_line = completed.stderr.strip().splitlines()[-1]
    # Whichever usersummary feed runs first meets the 429; every later feed stops unsent.
    assert re.match(r"sync failed: raw/\w+: Garmin answered 429", last_line), last_line
    assert "Wait a few hours" in last_line
    hits = [r for r in emulator.request_log if r.path.startswith("/usersummary-service/")]
    assert [r.status for r in hits] == [429]


def test_a_burst_of_503s_is_retried_and_the_day_still_lands(emulator, athlete, env, tmp_path):
    with faults(emulator) as plan:
        plan.add("/download-service/files/wellness/", status=503, times=2)
        emulator.clear_request_log()
        completed = sync(env, athlete, days=1)
    assert completed.returncode == 0, completed.stderr[-2000:]
    statuses = [r.status for r in emulator.request_log if "/files/wellness/" in r.path]
    assert statuses == [503, 503, 200]
    day = athlete.first_day
    expected = sum(v[1] is not None for v in athlete.heart_rate(day)["heartRateValues"])
    lake = pl.read_parquet(str(tmp_path / "data" / "lake" / "heart_rate" / "**" / "*.parquet"))
    assert lake.height == expected


def test_a_cut_download_is_quarantined_kept_and_fetched_again(emulator, athlete, env, tmp_path):
    activity = athlete.activities()[0]
    days = (activity.local_date - athlete.first_day).days + 1
    with faults(emulator) as plan:
        # Both the download and its one retry arrive cut.
        plan.add(f"/download-service/files/activity/{activity.activity_id}", truncate=True, times=2)
        completed = sync(env, athlete, days)
    assert completed.returncode == 0, completed.stderr[-2000:]
    data = tmp_path / "data"
    rejected = pl.read_parquet(
        str(data / "quarantine" / "activities_payloads" / "**" / "*.parquet")
    )
    assert rejected["payload"].to_list() == [f"activity-{activity.activity_id}.zip"]
    assert "not a readable zip" in rejected["reason"][0]
    raw_dir = data / "raw" / "activities" / "account=default" / f"date={activity.local_date}"
    assert (raw_dir / f"activity-{activity.activity_id}.zip").exists()
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        decoded = con.execute(
            "select fit_decoded from fct_activities where activity_id = ?", [activity.activity_id]
        ).fetchone()
    assert decoded == (False,)

    emulator.clear_request_log()
    again = sync(env, athlete, days)
    assert again.returncode == 0, again.stderr[-2000:]
    downloads = [r.path for r in emulator.request_log if r.path.startswith("/download-service/")]
    assert downloads == [f"/download-service/files/activity/{activity.activity_id}"]
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        row = con.execute(
            "select fit_decoded, record_count from fct_activities where activity_id = ?",
            [activity.activity_id],
        ).fetchone()
    assert row == (True, activity.record_count)
    assert not (data / "quarantine" / "activities_payloads").exists() or not list(
        (data / "quarantine" / "activities_payloads").rglob("*.parquet")
    )
