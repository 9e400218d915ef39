"""The same synthetic athlete synced three ways: Garmin Connect only, the Personal API only, and
hybrid (the Personal API for what it covers, Connect for the rest), each a real CLI sync against
the emulator. The warehouse marts are compared day by day with the Connect-only sync: hybrid
fills every mart identically; the Personal API alone fills every column of the domains it
covers, and only the columns listed in `NOT_COVERED` (with the reason) stay empty.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from garmin_pipeline.catalog import FEEDS
from garmin_pipeline.domains.fetching import PERSONAL_API_RANGE_DAYS
from garmin_pipeline.feeds import CONNECT, PERSONAL_API
from garmin_pipeline.settings import Settings
from garmin_pipeline.sources.selection import source_for
from tests.conftest import SyncRun, pipeline_env, run_cli

MODES = ("connect", "personal_api", "hybrid")
PERSONAL_PREFIX = "/personal-api/"
# Mart columns the Personal API cannot fill, and why: what it does not serve at all (training
# readiness and status, VO2max, floors, intensity minutes, respiration) and the daily wellness
# FIT behind intraday readings (heart rate, SpO2, respiration and HRV readings).
NOT_COVERED = {
    "fct_daily_health": {
        "heart_rate_samples": "wellness FIT",
        "mean_heart_rate_bpm": "wellness FIT",
        "weekly_intensity_goal_minutes": "intensity-minutes stats",
        "floors_descended": "floors stats",
        "avg_sleep_respiration_brpm": "respiration stats",
        "training_readiness_score": "training readiness",
        "training_readiness_level": "training readiness",
        "training_status_phrase": "training status",
        "garmin_acute_load": "training status",
        "garmin_chronic_load": "training status",
        "garmin_acute_chronic_ratio": "training status",
        "garmin_acute_chronic_status": "training status",
        "vo2max_running_ml_kg_min": "max metrics",
        "vo2max_cycling_ml_kg_min": "max metrics",
    },
    "fct_sleep": {
        "spo2_readings": "wellness FIT",
        "mean_spo2_reading_pct": "wellness FIT",
        "min_spo2_reading_pct": "wellness FIT",
        "respiration_readings": "wellness FIT",
        "mean_respiration_reading_brpm": "wellness FIT",
        "hrv_readings": "wellness FIT",
        "mean_hrv_reading_ms": "wellness FIT",
    },
    "fct_hrv": {
        "readings_count": "wellness FIT",
        "readings_mean_ms": "wellness FIT",
        "readings_min_ms": "wellness FIT",
        "readings_max_ms": "wellness FIT",
        "first_reading_at": "wellness FIT",
        "last_reading_at": "wellness FIT",
    },
}


@pytest.fixture(scope="module")
def runs(emulator, athlete, synced, tmp_path_factory) -> dict[str, SyncRun]:
    """The session's end-to-end sync is the connect-only one (no key: the default mode)."""
    assert "GARMIN_SOURCE" not in synced.env and Settings.from_env(synced.env).source_mode == (
        "connect"
    )
    done = {"connect": synced}
    for mode in ("personal_api", "hybrid"):
        root = tmp_path_factory.mktemp(mode)
        env = pipeline_env(emulator, root, source=mode)
        emulator.clear_request_log()
        verbose = ("-v",) if mode == "hybrid" else ()  # logs everything: the secrets test reads it
        completed = run_cli(
            env, *verbose, "sync", "--start", str(athlete.first_day), "--end", str(athlete.last_day)
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        done[mode] = SyncRun(
            env, root / "data", root / "dagster_home", completed, emulator.request_log
        )
    return done


def marts(data_dir: Path) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        names = [
            row[0]
            for row in con.sql(
                "select table_name from information_schema.tables where table_schema = 'main' "
                "and regexp_matches(table_name, '^(fct|dim|agg)_') order by 1"
            ).fetchall()
        ]
        return {name: con.sql(f"select * from {name}").pl() for name in names}


def by_day(frame: pl.DataFrame) -> dict[object, pl.DataFrame]:
    """The mart's rows per calendar day (or as one group when it has no day), sorted."""
    day = next((c for c in ("calendar_date", "week_start", "date_day") if c in frame.columns), None)
    ordered = frame.sort(frame.columns, nulls_last=True)
    if day is None:
        return {None: ordered}
    return {key[0]: group for key, group in ordered.group_by(day, maintain_order=True)}


def assert_same_days(name: str, expected: pl.DataFrame, actual: pl.DataFrame) -> None:
    want, got = by_day(expected), by_day(actual)
    assert sorted(got, key=str) == sorted(want, key=str), f"{name}: different days"
    for day, rows in want.items():
        try:
            assert_frame_equal(got[day], rows)
        except AssertionError as error:
            raise AssertionError(f"{name} differs on {day}: {error}") from None


def test_every_mode_fills_the_same_days(runs, athlete):
    built = {mode: marts(run.data_dir) for mode, run in runs.items()}
    assert set(built["hybrid"]) == set(built["connect"]) == set(built["personal_api"])
    assert built["connect"]["fct_daily_health"].height == len(athlete.history())


def test_hybrid_fills_every_mart_as_connect_alone_does(runs):
    connect, hybrid = marts(runs["connect"].data_dir), marts(runs["hybrid"].data_dir)
    for name, frame in connect.items():
        assert frame.height, f"{name} is empty: the comparison would prove nothing"
        assert_same_days(name, frame, hybrid[name])


def test_the_personal_api_alone_fills_what_it_covers_day_by_day(runs):
    connect = marts(runs["connect"].data_dir)
    personal = marts(runs["personal_api"].data_dir)
    for name, frame in connect.items():
        missing = NOT_COVERED.get(name, {})
        covered = [c for c in frame.columns if c not in missing]
        assert_same_days(name, frame.select(covered), personal[name].select(covered))
        for column in missing:  # empty, not wrong: nothing else fills them
            values = personal[name][column]
            assert values.is_null().all() or (values == 0).all(), f"{name}.{column}"
            assert not frame[column].is_null().all(), f"{name}.{column} is never filled"


def lake_files(data_dir: Path, dataset: str) -> dict[Path, bytes]:
    files = sorted((data_dir / "lake" / dataset).rglob("*.parquet"))
    return {path.relative_to(data_dir): path.read_bytes() for path in files}


def test_covered_feeds_land_byte_identical_lake_files(runs):
    for feed in FEEDS:
        if PERSONAL_API not in feed.fetchers:
            continue
        for dataset in feed.datasets:
            files = {
                mode: {
                    path.relative_to(runs[mode].data_dir): path.read_bytes()
                    for path in sorted(
                        (runs[mode].data_dir / "lake" / dataset.name).rglob("*.parquet")
                    )
                }
                for mode in MODES
            }
            assert files["connect"], dataset.name
            assert files["personal_api"] == files["connect"], dataset.name
            assert files["hybrid"] == files["connect"], dataset.name


def test_raw_records_which_source_sent_each_payload(runs):
    settings = Settings.from_env(runs["hybrid"].env)
    seen: dict[str, Counter[str]] = {}
    for mode, run in runs.items():
        for manifest in (run.data_dir / "raw").rglob("_manifest.json"):
            feed = manifest.relative_to(run.data_dir / "raw").parts[0]
            for entry in json.loads(manifest.read_text())["payloads"].values():
                seen.setdefault(f"{mode}/{feed}", Counter())[entry["source"]] += 1
    for feed in FEEDS:
        assert set(seen[f"connect/{feed.name}"]) == {CONNECT}, feed.name
        assert set(seen[f"hybrid/{feed.name}"]) == {source_for(feed, settings)}, feed.name
        personal = seen.get(f"personal_api/{feed.name}")
        assert (set(personal) if personal else None) == (
            {PERSONAL_API} if PERSONAL_API in feed.fetchers else None
        ), feed.name


def test_the_personal_api_is_asked_for_windows_up_to_its_caps(runs, athlete):
    requests = runs["personal_api"].requests
    assert requests and all(r.path.startswith(PERSONAL_PREFIX) for r in requests)
    assert all(r.status == 200 for r in requests)
    by_path = Counter(r.path for r in requests)
    # 21 days fit one window of every range endpoint (caps 28, 31 and 35): one request each.
    window = f"{athlete.first_day}/{athlete.last_day}"
    assert athlete.days <= PERSONAL_API_RANGE_DAYS
    for endpoint in ("steps", "stress", "hydration"):
        assert by_path[f"/personal-api/usersummary-service/stats/{endpoint}/daily/{window}"] == 1
    assert by_path["/personal-api/hrv-service/hrv/daily/" + window] == 1
    assert by_path["/personal-api/weight-service/weight/range/" + window] == 1
    for path in (
        "/personal-api/usersummary-service/v2/dailysummaries",
        "/personal-api/sleep-service/sleep/dailySleepSummariesByDate",
        "/personal-api/wellness-service/wellness/bodyBattery/reports/daily",
    ):
        assert by_path[path] == 1
    downloads = [
        p for p in by_path if p.startswith("/personal-api/download-service/files/activity/")
    ]
    assert len(downloads) == len(athlete.all_plans())


def test_hybrid_asks_connect_only_for_what_the_personal_api_lacks(runs):
    hybrid = runs["hybrid"].requests
    connect_paths = {r.path for r in hybrid if not r.path.startswith(PERSONAL_PREFIX)}
    for covered in (
        "/wellness-service/wellness/dailySleepData/",
        "/usersummary-service/v2/dailysummaries",
        "/download-service/files/activity/",
        "/weight-service/weight/dateRange",
    ):
        assert not any(p.startswith(covered) for p in connect_paths), covered
    assert any(p.startswith("/metrics-service/metrics/trainingreadiness/") for p in connect_paths)
    assert any(p.startswith("/download-service/files/wellness/") for p in connect_paths)
    counts = {mode: len(run.requests) for mode, run in runs.items()}
    # Sleep alone costs Connect a request per night; the Personal API one per 31 nights.
    assert counts["hybrid"] < counts["connect"] - 15


def test_neither_the_key_nor_a_bearer_token_reaches_logs_data_or_dagster(runs, emulator):
    run = runs["hybrid"]
    secrets = [emulator.personal_api_key, *emulator.personal_api.issued_tokens]
    # Each JWT's signature alone too: a log line could cut a token anywhere but there.
    secrets += [token.rsplit(".", 1)[-1] for token in emulator.personal_api.issued_tokens]
    assert len(secrets) >= 3
    output = run.completed.stdout + run.completed.stderr
    assert "INFO" in output  # the verbose log was captured
    files = [p for root in (run.data_dir, run.dagster_home) for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in files)  # Dagster's event log is among them
    for secret in secrets:
        assert secret not in output
        for path in files:
            assert secret.encode() not in path.read_bytes(), path
