"""A year of the synthetic athlete through `garmin-pipeline sync`: every dataset, every day.

One backfill run over 2024 (366 days), then values on sampled days checked per dataset against
the athlete itself (or, for what only the emulator's bodies describe, against those bodies) and
the request budget. Reruns that change nothing are the 21-day end-to-end tests' job.
"""

from collections import Counter
from datetime import date

import polars as pl
import pytest

from garmin_emulator import (
    Emulator,
    SyntheticAthlete,
    metrics_shapes,
    shapes,
    stats_shapes,
    wellness_fit,
)
from garmin_pipeline.catalog import DATASETS, FEEDS
from garmin_pipeline.raw.store import RawStore
from garmin_pipeline.sources.governor import endpoint_of
from tests.conftest import pipeline_env, run_cli

pytestmark = pytest.mark.long_running

YEAR_END = date(2024, 12, 31)
DAYS = 366
SAMPLED = [date(2024, 1, 1), date(2024, 3, 31), date(2024, 7, 14), date(2024, 12, 31)]
ACCOUNT = "default"
# Datasets with rows only on some days; the rest must have a partition for every day.
SPARSE = {
    "weigh_ins",
    "naps",
    "hrv",  # a night without enough quiet sleep has no HRV
    "hrv_readings",
    "hrv_status_device",
    "max_metrics",  # VO2max is estimated on run and ride days only
    "hill_score",  # from the first run on
    "activities",
    *(d.name for d in DATASETS if d.name.startswith("activity_")),
}
SNAPSHOTS = {d.name for f in FEEDS if f.snapshot for d in f.datasets}


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    athlete = SyntheticAthlete(seed=11, end_date=YEAR_END, days=DAYS)
    with Emulator(athlete, port=0) as emu:
        root = tmp_path_factory.mktemp("year")
        env = pipeline_env(emu, root)
        first, last = str(athlete.first_day), str(athlete.last_day)
        # ~7 min alone on 2 cores; longer while `make test`'s other worker shares them.
        completed = run_cli(env, "sync", "--start", first, "--end", last, timeout_s=2400)
        assert completed.returncode == 0, completed.stderr[-3000:]
        yield {"athlete": athlete, "data": root / "data", "requests": emu.request_log}


def lake(year, dataset: str) -> pl.DataFrame:
    pattern = year["data"] / "lake" / dataset / "*" / "*" / "part-0.parquet"
    return pl.read_parquet(str(pattern), hive_partitioning=True)


def row_days(year, dataset: str) -> set[date]:
    """The days with at least one row (a day without data is an empty partition file)."""
    return set(lake(year, dataset)["date"].unique().to_list())


def test_every_feed_was_fetched_for_every_day(year):
    raw = RawStore(year["data"] / "raw")
    history = set(year["athlete"].history())
    for feed in FEEDS:
        checked = {
            d
            for d in raw.days(feed.name, ACCOUNT)
            if raw.day_manifest(feed.name, ACCOUNT, d).checked_at
        }
        expected = {YEAR_END} if feed.snapshot else history
        assert checked == expected, feed.name


@pytest.mark.parametrize(
    "dataset", sorted(d.name for d in DATASETS if d.name not in SPARSE | SNAPSHOTS)
)
def test_daily_datasets_have_every_day(year, dataset):
    assert row_days(year, dataset) == set(year["athlete"].history())


def test_sparse_datasets_have_exactly_their_days(year):
    athlete = year["athlete"]
    history = athlete.history()
    assert row_days(year, "weigh_ins") == {d for d in history if stats_shapes.weigh_ins(athlete, d)}
    assert row_days(year, "naps") == {d for d in history if wellness_fit.nap(athlete, d)}
    hrv_nights = {d for d in history if shapes.hrv(athlete, d) is not None}
    for dataset in ("hrv", "hrv_readings", "hrv_status_device"):
        assert row_days(year, dataset) == hrv_nights, dataset
    activity_days = {a.local_date for a in athlete.activities()}
    assert row_days(year, "activities") == activity_days
    assert row_days(year, "activity_records") == activity_days


def test_nothing_was_quarantined(year):
    assert not list((year["data"] / "quarantine").rglob("*.parquet"))


def test_sampled_days_hold_the_athletes_values(year):
    athlete = year["athlete"]
    summary = lake(year, "daily_summary")
    sleep = lake(year, "sleep")
    heart_rate = lake(year, "heart_rate")
    rest = lake(year, "resting_heart_rate")
    hrv = lake(year, "hrv")
    readiness = lake(year, "training_readiness")
    races = lake(year, "race_predictions")
    levels = lake(year, "sleep_levels")
    for day in SAMPLED:
        on = pl.col("calendar_date") == day
        body = shapes.daily_summary(athlete, day)
        assert summary.filter(on)["total_steps"].item() == body["totalSteps"], day
        assert sleep.filter(on)["sleep_s"].item() == athlete.night(day).sleep_s, day
        samples = [v for _, v in shapes.heart_rate(athlete, day)["heartRateValues"] if v]
        assert heart_rate.filter(on).sort("timestamp")["heart_rate_bpm"].to_list() == samples
        assert rest.filter(on)["resting_heart_rate_bpm"].item() == athlete.rest_hr(day), day
        nightly = shapes.hrv(athlete, day)
        if nightly is not None:
            expected = nightly["hrvSummary"]["lastNightAvg"]
            assert hrv.filter(on)["last_night_avg_ms"].item() == expected, day
        served = metrics_shapes.training_readiness(athlete, [day])
        assert sorted(readiness.filter(on)["score"].to_list()) == sorted(e["score"] for e in served)
        (prediction,) = metrics_shapes.race_predictions(athlete, [day])
        assert races.filter(on)["time_5k_s"].item() == prediction["time5K"], day
        # One level per stage segment, then the watch's closing "awake" at the wake-up time.
        night = athlete.night(day)
        starts = levels.filter(on).sort("timestamp")["timestamp"].to_list()
        assert starts == [start for start, _, _ in night.segments] + [night.end_utc], day


def test_each_activity_has_its_records(year):
    athlete = year["athlete"]
    records = lake(year, "activity_records").group_by("activity_id").len()
    expected = {a.activity_id: a.record_count for a in athlete.activities()}
    assert dict(records.iter_rows()) == expected


def test_a_backfilled_day_costs_at_most_five_requests(year):
    by_endpoint = Counter(
        endpoint_of(r.path, year["athlete"].display_name) for r in year["requests"]
    )
    assert by_endpoint.total() / DAYS <= 5, by_endpoint.most_common()
