"""End to end: the real garminconnect client over HTTP to the emulator, a real Dagster run,
real Parquet and a real dbt build into DuckDB, checked against the athlete's known values."""

import json
import shutil
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
import requests

from garmin_emulator.auth import unverified_claims
from garmin_pipeline.raw.store import RawStore
from tests.conftest import TOKEN_PATH, pipeline_env, run_cli


def warehouse(synced) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(synced.data_dir / "warehouse.duckdb"), read_only=True)


def lake_files(synced) -> dict[str, tuple[bytes, int]]:
    root = synced.data_dir / "lake"
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*.parquet"))
    }


def test_steps_walked_arrive_in_fct_daily_health(synced, athlete):
    with warehouse(synced) as con:
        rows = dict(con.sql("select calendar_date, total_steps from fct_daily_health").fetchall())
    assert len(rows) == (athlete.last_day - athlete.first_day).days + 1
    for day in (athlete.first_day, athlete.first_day + timedelta(days=9), athlete.last_day):
        assert rows[day] == athlete.daily_summary(day)["totalSteps"]


def test_each_activitys_record_count_in_the_lake_equals_what_was_encoded(synced, athlete):
    records = pl.scan_parquet(
        str(synced.data_dir / "lake" / "activity_records" / "**" / "*.parquet"),
        hive_partitioning=True,
    )
    counts = dict(records.group_by("activity_id").len().collect().iter_rows())
    expected = {a.activity_id: a.record_count for a in athlete.activities()}
    assert expected and counts == expected


def test_activities_mart_matches_the_athlete(synced, athlete):
    with warehouse(synced) as con:
        mart = con.sql(
            "select activity_id, activity_date, lap_count, record_count, fit_decoded, has_gps, "
            "distance_m from fct_activities order by activity_id"
        ).pl()
    expected = sorted(athlete.activities(), key=lambda a: a.activity_id)
    assert mart["activity_id"].to_list() == [a.activity_id for a in expected]
    assert mart["activity_date"].to_list() == [a.local_date for a in expected]
    assert mart["lap_count"].to_list() == [a.lap_count for a in expected]
    assert mart["record_count"].to_list() == [a.record_count for a in expected]
    assert mart["fit_decoded"].all()
    assert mart["has_gps"].to_list() == [a.sport != "lap_swimming" for a in expected]
    assert mart["distance_m"].to_list() == pytest.approx([a.distance_m for a in expected], abs=0.01)


def test_sleep_and_heart_rate_reach_the_warehouse(synced, athlete):
    day = athlete.first_day + timedelta(days=5)
    sleep = athlete.sleep(day)["dailySleepDTO"]
    heart_rate = [v for v in athlete.heart_rate(day)["heartRateValues"] if v[1] is not None]
    with warehouse(synced) as con:
        row = con.execute(
            "select sleep_s, deep_sleep_s, heart_rate_samples from fct_daily_health "
            "where calendar_date = ?",
            [day],
        ).fetchone()
    assert row == (sleep["sleepTimeSeconds"], sleep["deepSleepSeconds"], len(heart_rate))


def test_the_sync_is_a_dagster_run_recorded_in_dagster_home(synced):
    # The runs as the sync left them (read by the fixture): other tests sync again into the
    # same DAGSTER_HOME, in whatever order they run.
    assert len(synced.run_ids) == 1
    with dg.DagsterInstance.from_config(str(synced.dagster_home)) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(run_ids=list(synced.run_ids)))
        assert [r.job_name for r in runs] == ["sync"]
        assert runs[0].status == dg.DagsterRunStatus.SUCCESS
        key = dg.AssetKey(["lake", "daily_summary"])
        materialization = instance.get_latest_materialization_event(key)
        assert materialization is not None
        checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(key, "valid_rows")]
        )
        assert checks[dg.AssetCheckKey(key, "valid_rows")].status.value == "SUCCEEDED"


def test_the_token_refresh_goes_to_the_emulator_and_rotates_the_store(synced, emulator):
    paths = [r.path for r in synced.requests]
    assert paths.count(TOKEN_PATH) == 1
    assert paths.index(TOKEN_PATH) == 0
    # The store holds the refreshed pair: a new refresh token, and an access token issued by
    # the refresh for the emulator's full hour, not the 60 s one the sync started with.
    before, after = synced.tokens_before, json.loads(Path(synced.env["GARMIN_TOKENS"]).read_text())
    assert before is not None
    assert after["di_refresh_token"] != before["di_refresh_token"]
    assert after["di_token"] != before["di_token"]
    old, new = unverified_claims(before["di_token"]), unverified_claims(after["di_token"])
    assert old is not None and old["exp"] - old["iat"] == 60
    assert new is not None and new["exp"] - new["iat"] == 3600 and new["iat"] >= old["iat"]
    # ...and the refresh token it replaced is spent: Garmin rotates them, a replay is refused.
    replay = requests.post(
        emulator.base_url + TOKEN_PATH,
        data={"grant_type": "refresh_token", "refresh_token": before["di_refresh_token"]},
        timeout=10,
    )
    assert replay.status_code == 400


def test_downloads_are_made_once_per_activity(synced, athlete):
    activity = "/download-service/files/activity/"
    downloads = [r.path for r in synced.requests if r.path.startswith(activity)]
    assert sorted(downloads) == sorted(
        f"/download-service/files/activity/{a.activity_id}" for a in athlete.activities()
    )


def test_rerunning_a_sync_rewrites_nothing_and_downloads_nothing(synced, emulator, athlete):
    before = lake_files(synced)
    emulator.clear_request_log()
    again = run_cli(
        synced.env, "sync", "--start", str(athlete.first_day), "--end", str(athlete.last_day)
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert lake_files(synced) == before
    assert not [r for r in emulator.request_log if r.path.startswith("/download-service/")]


def test_rebuild_remakes_lake_and_warehouse_from_raw_offline(synced, emulator, athlete, tmp_path):
    """`garmin-pipeline rebuild` on a copy of raw alone: every lake file byte for byte and
    every mart row as the sync made them, and not one request to Garmin."""
    shutil.copytree(synced.data_dir / "raw", tmp_path / "data" / "raw")
    env = {
        **synced.env,
        "GARMIN_DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    emulator.clear_request_log()
    first, last = str(athlete.first_day), str(athlete.last_day)
    rebuilt = run_cli(env, "rebuild", "--start", first, "--end", last)
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert emulator.request_log == []
    original = synced.data_dir / "lake"
    parquet = sorted(original.rglob("*.parquet"))
    assert len(parquet) > 500
    assert [p.relative_to(original) for p in parquet] == [
        p.relative_to(tmp_path / "data" / "lake")
        for p in sorted((tmp_path / "data" / "lake").rglob("*.parquet"))
    ]
    for path in parquet:
        assert (tmp_path / "data" / "lake" / path.relative_to(original)).read_bytes() == (
            path.read_bytes()
        )
    marts = ("fct_daily_health", "fct_activities", "fct_sleep", "agg_weekly_training")
    with (
        warehouse(synced) as synced_db,
        duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as rebuilt_db,
    ):
        for mart in marts:
            expected = synced_db.sql(f"from {mart} order by all").pl()
            assert expected.height > 0, mart
            assert rebuilt_db.sql(f"from {mart} order by all").pl().equals(expected), mart


def test_fetch_only_keeps_raw_and_builds_nothing(emulator, athlete, tmp_path):
    env = pipeline_env(emulator, tmp_path)
    day = str(athlete.last_day)
    fetched = run_cli(env, "sync", "--fetch-only", "--start", day, "--end", day)
    assert fetched.returncode == 0, fetched.stderr[-3000:]
    raw = RawStore(tmp_path / "data" / "raw")
    summary = raw.get("daily_summary", "default", athlete.last_day, "daily_summary.json")
    assert (
        json.loads(summary)["totalSteps"] == athlete.daily_summary(athlete.last_day)["totalSteps"]
    )
    assert not (tmp_path / "data" / "lake").exists()
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()
