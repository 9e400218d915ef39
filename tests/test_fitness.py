"""Training, fitness, devices and gear: emulator → garminconnect → feed → lake frames.

Each feed is fetched through the real client from the session emulator; the request log shows
one request per window, and the parsed values are checked against the athlete itself (its
activities' training load, its nights, its profile) rather than against the bodies served.
"""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from garminconnect import GarminConnectConnectionError

from garmin_emulator import metrics_routes
from garmin_emulator import metrics_shapes as shapes
from garmin_emulator.metrics_shapes import metrics_of
from garmin_pipeline.domains import fitness
from garmin_pipeline.domains.fetching import windows
from garmin_pipeline.errors import SourceUnavailableError
from garmin_pipeline.feeds import Feed

RECORDED = Path(__file__).parent / "data" / "garmin_connect"
FEEDS = {feed.name: feed for feed in fitness.FEEDS}
RANGE_FEEDS = [f.name for f in fitness.FEEDS if not f.snapshot]
# feed → (path prefix, window cap)
ENDPOINTS = {
    "training_readiness": ("/metrics-service/metrics/trainingreadiness/", 28),
    "training_status": ("/metrics-service/metrics/trainingstatus/weekly/", 28),
    "max_metrics": ("/metrics-service/metrics/maxmet/daily/", 28),
    "fitness_age": ("/fitnessage-service/stats/daily/", 28),
    "race_predictions": ("/metrics-service/metrics/racepredictions/daily/", 366),
    "endurance_score": ("/metrics-service/metrics/endurancescore/stats", 28),
    "hill_score": ("/metrics-service/metrics/hillscore/stats", 28),
}


class Fetched:
    """A feed's payloads over some days, the requests they cost, and the parsed frames."""

    def __init__(self, feed: Feed, source, emulator, days: list[date]) -> None:
        # One call first, so the request log holds only the feed's requests: it logs in, and
        # refreshes the session's token if an earlier test revoked it (expire_tokens).
        source.json("device last used", "get_device_last_used")
        emulator.clear_request_log()
        self.payloads = list(feed.fetch(source, days, lambda d, n: None))
        self.requests = emulator.request_log
        self.feed = feed
        self.dataset = feed.datasets[0]

    def frame(self, day: date) -> pl.DataFrame:
        raw = {p.name: p.payload for p in self.payloads if p.day == day}
        parsed = self.feed.parse(raw, day)
        assert not parsed.rejected, parsed.rejected
        frame = parsed.frames[self.dataset.name]
        self.dataset.schema.validate(frame)
        return frame

    def all(self) -> pl.DataFrame:
        return pl.concat([self.frame(day) for day in sorted({p.day for p in self.payloads})])


@pytest.fixture(scope="module")
def fetched(athlete, emulator, connect_source) -> dict[str, Fetched]:
    """Every feed over the athlete's whole history, fetched once for the module."""
    return {
        name: Fetched(feed, connect_source, emulator, athlete.history())
        for name, feed in FEEDS.items()
    }


def rows(frame: pl.DataFrame) -> list[dict]:
    return frame.to_dicts()


# ---------------------------------------------------------------------- requests and windows
@pytest.mark.parametrize("name", RANGE_FEEDS)
def test_a_range_feed_costs_one_request_per_window(name, fetched, athlete):
    run = fetched[name]
    prefix, cap = ENDPOINTS[name]
    assert len(run.requests) == len(list(windows(athlete.history(), cap))) == 1
    assert run.requests[0].path.startswith(prefix) and run.requests[0].status == 200
    assert [p.day for p in run.payloads] == athlete.history()  # one payload per day


@pytest.mark.parametrize("name", ["training_readiness", "max_metrics", "hill_score"])
def test_a_long_backfill_is_cut_into_capped_windows_and_empty_days_stay_empty(
    name, athlete, emulator, connect_source
):
    """61 days (40 before the history): 3 windows of at most 28 days, all accepted; the days
    Garmin has nothing for become empty partitions, not errors."""
    days = [athlete.last_day - timedelta(days=n) for n in range(60, -1, -1)]
    run = Fetched(FEEDS[name], connect_source, emulator, days)
    assert len(run.requests) == 3
    assert all(r.status == 200 for r in run.requests)
    before = [d for d in days if d < athlete.first_day]
    assert all(run.frame(day).is_empty() for day in before)
    assert not run.all().is_empty()


def test_race_predictions_backfill_a_year_per_request(athlete, emulator, connect_source):
    days = [athlete.last_day - timedelta(days=n) for n in range(399, -1, -1)]
    run = Fetched(FEEDS["race_predictions"], connect_source, emulator, days)
    assert [r.status for r in run.requests] == [200, 200]
    assert run.all().height == athlete.days


@pytest.mark.parametrize(
    ("method", "cap", "extra"),
    [
        ("get_training_readiness_range", metrics_routes.READINESS_MAX_DAYS, ()),
        ("get_weekly_training_status", metrics_routes.TRAINING_STATUS_MAX_DAYS, ()),
        ("get_max_metrics_range", metrics_routes.MAX_METRICS_MAX_DAYS, ()),
        ("get_fitness_age_daily", metrics_routes.FITNESS_AGE_MAX_DAYS, ()),
        ("get_endurance_score", metrics_routes.ENDURANCE_SCORE_MAX_DAYS, ("daily",)),
        ("get_hill_score", metrics_routes.HILL_SCORE_MAX_DAYS, ()),
    ],
)
def test_the_emulator_refuses_a_range_over_the_cap(method, cap, extra, connect_source, athlete):
    last = athlete.last_day
    within = (str(last - timedelta(days=cap - 1)), str(last), *extra)
    assert connect_source.json(method, method, *within) is not None
    over = (str(last - timedelta(days=cap)), str(last), *extra)
    with pytest.raises(SourceUnavailableError, match=f"exceeds the limit of {cap}"):
        connect_source.json(method, method, *over)


def test_the_emulator_refuses_race_predictions_over_a_year(emulator, connect_source):
    """garminconnect lets 367 days through (it checks end - start > 366); Garmin's cap is ours."""
    path = "/metrics-service/metrics/racepredictions/daily/" + connect_source.display_name
    call = connect_source.garmin.connectapi  # the raw call, past garminconnect's own check
    with pytest.raises(GarminConnectConnectionError, match=r"\(400\).*exceeds the limit of 366"):
        call(path, params={"fromCalendarDate": "2023-06-29", "toCalendarDate": "2024-06-30"})


# ---------------------------------------------------------------------- values
def acute(athlete, day: date, days: int = 7) -> int:
    """The load of `days` days up to `day`, straight from the athlete's activities."""
    loads = [
        a.training_load for k in range(days) for a in athlete.activities_on(day - timedelta(days=k))
    ]
    return int(sum(loads) + 0.5)


def chronic(athlete, day: date) -> int:
    loads = [
        a.training_load for k in range(28) for a in athlete.activities_on(day - timedelta(days=k))
    ]
    return int(sum(loads) / 4 + 0.5)


def test_training_readiness_rows_follow_sleep_and_activities(fetched, athlete):
    run = fetched["training_readiness"]
    for day in athlete.history():
        frame = run.frame(day)
        activities = athlete.activities_on(day)
        assert frame.height == 1 + len(activities)  # on waking up, and after each activity
        wake, *after = rows(frame)
        night = athlete.night(day)
        assert wake["input_context"] == "AFTER_WAKEUP_RESET"
        assert wake["sleep_score"] == night.score
        assert wake["timestamp"] == night.end_utc + timedelta(minutes=2)
        # Before the day's first activity: the previous six days' load only.
        assert wake["acute_load"] == acute(athlete, day - timedelta(days=1), days=6)
        for row, activity in zip(after, activities, strict=True):
            assert row["input_context"] == "AFTER_POST_EXERCISE_RESET"
            assert row["timestamp"] == activity.end_time_utc + timedelta(minutes=3)
            assert row["recovery_time_min"] > 0  # an activity always asks for recovery
            assert row["acute_load"] > wake["acute_load"]
        assert all(0 <= r["score"] <= 100 for r in rows(frame))
    last = run.frame(athlete.last_day)
    assert last["level"].to_list()[0] in {"POOR", "LOW", "MODERATE", "HIGH", "PRIME"}


def test_training_status_loads_come_from_the_activities(fetched, athlete):
    run = fetched["training_status"]
    metrics = metrics_of(athlete)
    for n, day in enumerate(athlete.history()):
        (row,) = rows(run.frame(day))
        assert row["acute_load"] == acute(athlete, day)
        assert row["chronic_load"] == chronic(athlete, day)
        if row["chronic_load"]:
            assert row["acwr"] == round(row["acute_load"] / row["chronic_load"], 1)
            assert row["load_tunnel_min"] == pytest.approx(0.8 * row["chronic_load"])
            assert row["load_tunnel_max"] == pytest.approx(1.5 * row["chronic_load"])
        assert row["device_id"] == athlete.profile.device_id
        assert row["training_status"] == metrics.training_status(day)
        if n < 6:  # a week of data before Garmin gives a status
            assert (row["training_status"], row["training_status_phrase"]) == (0, "NO_STATUS")
        else:
            assert row["training_status"] in {1, 4, 5, 7}
            assert row["training_status_phrase"].split("_")[0] in shapes.STATUS_NAMES.values()


def test_max_metrics_exist_on_run_and_ride_days_near_the_profile(fetched, athlete):
    run = fetched["max_metrics"]
    metrics = metrics_of(athlete)
    profile = athlete.profile
    for day in athlete.history():
        sports = {a.sport for a in athlete.activities_on(day)}
        frame = run.frame(day)
        if not sports & {"running", "cycling"}:
            assert frame.is_empty()
            continue
        (row,) = rows(frame)
        if "running" in sports:
            assert abs(row["vo2max_running_ml_kg_min"] - profile.vo2max_running) <= 1.5
            assert row["vo2max_running_ml_kg_min"] == metrics.vo2max_running(day)
            assert row["fitness_age_years"] == int(metrics.fitness_age(day) + 0.5)
        else:
            assert row["vo2max_running_ml_kg_min"] is None
        if "cycling" in sports:
            assert abs(row["vo2max_cycling_ml_kg_min"] - profile.vo2max_cycling) <= 1.2
        else:
            assert row["vo2max_cycling_ml_kg_min"] is None


@pytest.mark.fast
def test_vo2max_drifts_slowly(athlete):
    metrics = metrics_of(athlete)
    values = [metrics.vo2max_running(day) for day in athlete.history()]
    assert max(abs(b - a) for a, b in itertools.pairwise(values)) <= 0.11


def test_fitness_age_uses_the_athletes_heart_rate_and_body(fetched, athlete):
    run = fetched["fitness_age"]
    metrics = metrics_of(athlete)
    height_m = athlete.profile.height_cm / 100
    for day in athlete.history():
        (row,) = rows(run.frame(day))
        assert row["resting_heart_rate_bpm"] == athlete.rest_hr(day)
        assert row["bmi_kg_m2"] == round(athlete.profile.weight_kg / height_m**2, 1)
        assert row["fitness_age_years"] == metrics.fitness_age(day)
        assert row["achievable_fitness_age_years"] <= row["fitness_age_years"]
        assert row["body_fat_pct"] is None


def test_race_predictions_follow_vo2max(fetched, athlete):
    predictions = fetched["race_predictions"].all()
    vo2 = fetched["max_metrics"].all().drop_nulls("vo2max_running_ml_kg_min")
    joined = predictions.join(vo2, on="calendar_date")
    assert joined.height > 0
    for row in rows(joined):
        assert row["time_5k_s"] == int(69_426 / (row["vo2max_running_ml_kg_min"] + 8) + 0.5)
        times = [row[c] for c in ("time_5k_s", "time_10k_s", "time_half_marathon_s")]
        assert times == sorted(times) and row["time_marathon_s"] > times[-1]
        # Longer races are run slower: pace per km rises with distance.
        assert row["time_marathon_s"] / 42.195 > row["time_5k_s"] / 5
    assert predictions.height == athlete.days


def test_endurance_and_hill_scores(fetched, athlete):
    metrics = metrics_of(athlete)
    endurance = fetched["endurance_score"]
    hill = fetched["hill_score"]
    first_run = min(a.local_date for a in athlete.activities() if a.sport == "running")
    for day in athlete.history():
        (row,) = rows(endurance.frame(day))
        assert row["endurance_score"] == metrics.endurance_score(day)
        frame = hill.frame(day)
        if day < first_run:
            assert frame.is_empty()
            continue
        (h,) = rows(frame)
        assert h["vo2max_ml_kg_min"] == metrics.vo2max_running(day)
        climbed = sum(
            a.elevation_gain_m or 0
            for k in range(28)
            for a in athlete.activities_on(day - timedelta(days=k))
            if a.sport == "running"
        )
        assert h["strength_score"] == max(1, min(100, int(climbed / 5)))
    scores = endurance.all()["endurance_score"].to_list()
    assert scores[-1] > scores[0]  # the load built up over the history


def test_devices_snapshot(fetched, athlete):
    run = fetched["devices"]
    assert len(run.requests) == 1 and run.requests[0].path.endswith("/deviceregistration/devices")
    assert [p.day for p in run.payloads] == [athlete.last_day]
    frame = run.frame(athlete.last_day)
    assert "serial" not in "".join(frame.columns)
    watch, strap = sorted(rows(frame), key=lambda r: not r["is_primary_tracker"])
    assert watch["device_id"] == athlete.profile.device_id
    assert watch["last_sync"] == athlete.last_upload_utc
    assert strap["last_sync"] is None
    assert set(frame["snapshot_date"].to_list()) == {athlete.last_day}


def test_gear_snapshot_totals_match_the_activities(fetched, athlete):
    run = fetched["gear"]
    assert len(run.requests) == 3  # the list, then each item's stats
    frame = run.frame(athlete.last_day)
    by_type = {r["gear_type"]: r for r in rows(frame)}
    for gear_type, sport in (("Shoes", "running"), ("Bike", "cycling")):
        done = [a for a in athlete.activities() if a.sport == sport]
        assert by_type[gear_type]["total_activities"] == len(done)
        assert by_type[gear_type]["total_distance_m"] == pytest.approx(
            sum(a.distance_m for a in done)
        )
        assert by_type[gear_type]["date_begin"] == athlete.first_day
        assert by_type[gear_type]["status"] == "active"


def test_snapshots_without_days_ask_nothing(connect_source, emulator):
    for name in ("devices", "gear"):
        assert Fetched(FEEDS[name], connect_source, emulator, []).requests == []


# ---------------------------------------------------------------------- recorded shapes
def recorded(name: str):
    return json.loads((RECORDED / name).read_text("utf-8"))


@pytest.mark.fast
def test_emulated_bodies_have_the_recorded_keys(athlete):
    day = athlete.last_day
    readiness = shapes.training_readiness(athlete, [day])[0]
    for name in (
        "training_readiness.json",
        "training_readiness_2024-07-07.json",
        "training_readiness_2025-07-06.json",
    ):
        assert list(readiness) == list(recorded(name)[0])
    body = shapes.weekly_training_status(athlete, [day])
    entry = next(iter(body["reportData"].values()))[0]
    pages = recorded("weekly_training_status_pages.json").values()
    for status in (recorded("weekly_training_status.json"), *pages):
        assert list(body) == list(status)
        recorded_entry = next(iter(status["reportData"].values()))[0]
        assert list(entry) == list(recorded_entry)
        assert list(entry["acuteTrainingLoadDTO"]) == list(recorded_entry["acuteTrainingLoadDTO"])
    hill = shapes.hill_score_stats(athlete, [day])["hillScoreDTOList"][0]
    assert list(hill) == list(recorded("hill_score.json"))
    assert list(hill) == list(recorded("hill_score_2025-07-06.json"))
    # maxmet/daily is not recorded: its entries are shaped as the recorded maxmet/latest body.
    latest = recorded("max_metrics_latest.json")
    max_metrics = shapes.max_metrics(athlete, athlete.history())[0]
    assert list(max_metrics) == list(latest)
    assert list(max_metrics["generic"]) == list(latest["generic"])
    assert list(shapes.endurance_score_dto(athlete, day)) == list(recorded("endurance_score.json"))


@pytest.mark.fast
def test_recorded_readiness_parses_every_entry():
    day = date(2025, 7, 7)
    parts = fitness._group_by_date()(recorded("training_readiness.json"), [day])
    frame = fitness.build_training_readiness(parts[day], day)
    fitness.TRAINING_READINESS.schema.validate(frame)
    assert frame.height == 5
    last = frame.row(-1, named=True)
    assert (last["score"], last["level"], last["recovery_time_min"]) == (50, "MODERATE", 2004)
    assert str(last["timestamp"]) == "2025-07-08 03:50:17+00:00"
    first = frame.row(0, named=True)
    assert first["sleep_score"] is None and first["valid_sleep"] is False


@pytest.mark.fast
def test_recorded_weekly_training_status_parses():
    body = recorded("weekly_training_status.json")
    parts = fitness.split_training_status(body, [])
    day = date(2025, 5, 22)
    (row,) = rows(fitness.build_training_status(parts[day], day))
    assert row["training_status"] == 7 and row["training_status_phrase"] == "PRODUCTIVE_2"
    assert (row["acute_load"], row["chronic_load"], row["acwr"]) == (325, 219, 1.4)
    assert row["load_tunnel_min"] == pytest.approx(175.2)
    assert str(row["timestamp"]) == "2025-05-22 14:22:25+00:00"
    assert sorted(parts) == [date(2025, 5, 21), date(2025, 5, 22), date(2025, 5, 23)]


@pytest.mark.fast
def test_recorded_hill_score_parses():
    body = recorded("hill_score.json")
    day = date(2025, 7, 7)
    parts = fitness.split_hill_score({"hillScoreDTOList": [body]}, [day])
    (row,) = rows(fitness.build_hill_score(parts[day], day))
    assert (row["hill_score"], row["strength_score"], row["endurance_score"]) == (20, 2, 15)
    assert row["vo2max_ml_kg_min"] == 48.0


@pytest.mark.fast
def test_null_payloads_give_empty_frames():
    day = date(2024, 1, 1)
    for feed in fitness.FEEDS:
        parsed = feed.parse({f"{feed.name}.json": b"null"}, day)
        assert not parsed.rejected
        assert parsed.frames[feed.name].is_empty()
        feed.datasets[0].schema.validate(parsed.frames[feed.name])
