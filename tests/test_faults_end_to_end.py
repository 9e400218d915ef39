"""Faults through the whole pipeline: a 429 stops with one line, 5xx bursts are retried, and a
cut download is quarantined, kept in raw, and fetched again by the next sync."""

import re
from datetime import timedelta

import duckdb
import polars as pl
import pytest

from garmin_pipeline.sources.emulator import Emulator
from tests.conftest import fault_plan, pipeline_env, run_cli


@pytest.fixture
def env(emulator, tmp_path):
    return pipeline_env(emulator, tmp_path)


def sync(env, athlete, days: int = 3):
    first = athlete.first_day
    return run_cli(
        env, "sync", "--start", str(first), "--end", str(first.replace(day=first.day + days - 1))
    )


def test_a_429_stops_the_sync_with_one_line_and_no_retry(emulator, athlete, env):
    with fault_plan(emulator) as plan:
        plan.add("/usersummary-service/", status=429, retry_after=3600, times=None)
        emulator.clear_request_log()
        completed = sync(env, athlete)
    assert completed.returncode == 1
    last_line = completed.stderr.strip().splitlines()[-1]
    # Whichever usersummary feed runs first meets the 429; every later feed stops unsent.
    assert re.match(r"sync failed: raw/\w+: Garmin answered 429", last_line), last_line
    assert "nothing is sent until" in last_line and "do not log in again" in last_line
    hits = [r for r in emulator.request_log if r.path.startswith("/usersummary-service/")]
    assert [r.status for r in hits] == [429]


def test_a_burst_of_503s_is_retried_and_the_day_still_lands(emulator, athlete, env, tmp_path):
    with fault_plan(emulator) as plan:
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
    with fault_plan(emulator) as plan:
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


def test_a_corrupt_fit_is_quarantined_kept_and_not_downloaded_again(
    emulator, athlete, env, tmp_path
):
    """A zip that opens but whose FIT fails its CRC, served the same way twice, is Garmin's copy:
    kept, quarantined with the reason, and not downloaded again by later syncs."""
    activity = athlete.activities()[0]
    days = (activity.local_date - athlete.first_day).days + 1
    path = f"/download-service/files/activity/{activity.activity_id}"
    with fault_plan(emulator) as plan:
        plan.add(path, corrupt=True, times=None)
        emulator.clear_request_log()
        completed = sync(env, athlete, days)
        assert completed.returncode == 0, completed.stderr[-2000:]
        downloads = [r.path for r in emulator.request_log if r.path.startswith("/download-")]
        assert downloads.count(path) == 2  # the one retry, then it is taken as served
        data = tmp_path / "data"
        rejected = pl.read_parquet(
            str(data / "quarantine" / "activities_payloads" / "**" / "*.parquet")
        )
        assert rejected["payload"].to_list() == [f"activity-{activity.activity_id}.zip"]
        assert "corrupt FIT file: CRC mismatch" in rejected["reason"][0]
        raw_dir = data / "raw" / "activities" / "account=default" / f"date={activity.local_date}"
        assert (raw_dir / f"activity-{activity.activity_id}.zip").exists()
        with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
            ids = con.execute("select activity_id, fit_decoded from fct_activities").fetchall()
        expected = [a for a in athlete.activities() if a.local_date <= activity.local_date]
        assert sorted(ids) == sorted((a.activity_id, a is not activity) for a in expected)

        emulator.clear_request_log()
        again = sync(env, athlete, days)
        assert again.returncode == 0, again.stderr[-2000:]
        assert [r.path for r in emulator.request_log if r.path.startswith("/download-")] == []
        assert (
            pl.read_parquet(
                str(data / "quarantine" / "activities_payloads" / "**" / "*.parquet")
            ).height
            == 1
        )


def test_a_timeout_a_dropped_connection_and_expired_tokens_are_recovered_within_the_sync(
    athlete, tmp_path
):
    """A slow answer (past GARMIN_REQUEST_TIMEOUT_S), two resets and a revoked access token in
    one sync: each request is retried or refreshed, and every day lands. A private emulator:
    revoking tokens would also revoke other tests' sessions."""
    with Emulator(athlete, port=0) as emulator, fault_plan(emulator) as plan:
        env = {**pipeline_env(emulator, tmp_path), "GARMIN_REQUEST_TIMEOUT_S": "2"}
        slow = plan.add("/usersummary-service/v2/dailysummaries", delay_s=4)
        plan.add("/download-service/files/wellness/", reset=True, times=1)
        plan.add("/wellness-service/wellness/dailySleepData/", reset=True, times=1)
        plan.expire_tokens()
        emulator.clear_request_log()
        completed = sync(env, athlete, days=3)
        log = emulator.request_log
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert slow.hits == 1
    daily = [r for r in log if r.path == "/usersummary-service/v2/dailysummaries"]
    assert len(daily) == 2  # timed out, then sent again (one window for 3 days)
    assert [r.status for r in log if r.path.startswith("/download-service/files/wellness/")][
        :2
    ] == [0, 200]
    assert sum(r.status == 401 for r in log) == 1  # one refresh, then the sync went on
    assert sum(r.status == 0 for r in log) == 2
    assert len(log) < 200  # bounded: no retry storm
    data = tmp_path / "data"
    days = {str(athlete.first_day + timedelta(days=n)) for n in range(3)}
    for dataset in ("daily_summary", "sleep", "heart_rate"):
        lake = pl.read_parquet(
            str(data / "lake" / dataset / "**" / "*.parquet"), hive_partitioning=True
        )
        assert {str(d) for d in lake["date"].unique()} == days, dataset
    assert not (data / "quarantine").exists() or not list((data / "quarantine").rglob("*.parquet"))
