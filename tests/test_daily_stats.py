"""Daily statistics, sleep and body feeds: the real client over HTTP to the emulator, checked
against the athlete's own values, the number of requests a backfill costs, and the caps."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from garminconnect import GarminConnectConnectionError

from garmin_emulator import shapes, stats_shapes
from garmin_emulator.athlete import DEEP, LIGHT, REM
from garmin_pipeline.domains import body, daily_stats, health
from garmin_pipeline.feeds import Feed
from garmin_pipeline.lake.validate import validate

RECORDED = Path(__file__).parent / "data" / "garmin_connect"
FEEDS: dict[str, Feed] = {f.name: f for f in (*health.FEEDS, *daily_stats.FEEDS, *body.FEEDS)}
RANGE_FEEDS = [name for name in FEEDS if name != "sleep"]
WINDOW = {name: 28 for name in RANGE_FEEDS} | {"resting_heart_rate": 365}


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@pytest.fixture(scope="module")
def fetched(connect_source, emulator, athlete) -> dict[str, tuple[dict, list]]:
    """Every feed fetched once over the athlete's 21 days: (payloads by (day, name), requests)."""
    assert connect_source.display_name  # log in first: the log holds only the feeds' requests
    out = {}
    for name, feed in FEEDS.items():
        emulator.clear_request_log()
        payloads = list(feed.fetch(connect_source, athlete.history(), lambda d, n: None))
        out[name] = ({(p.day, p.name): p.payload for p in payloads}, emulator.request_log)
    return out


def parsed(fetched, name: str, day: date) -> dict[str, pl.DataFrame]:
    raw = {n: payload for (d, n), payload in fetched[name][0].items() if d == day}
    result = FEEDS[name].parse(raw, day)
    assert result.rejected == {}
    return result.frames


def one(fetched, feed: str, day: date, dataset: str | None = None) -> dict[str, Any]:
    (row,) = parsed(fetched, feed, day)[dataset or feed].to_dicts()
    return row


def sample_days(athlete) -> list[date]:
    return [athlete.first_day, athlete.first_day + timedelta(days=9), athlete.last_day]


# ---------------------------------------------------------------------- requests and caps
@pytest.mark.parametrize("name", RANGE_FEEDS)
def test_a_range_feed_costs_one_request_per_window(fetched, athlete, name):
    """The history (21 days) is shorter than every range endpoint's cap: one request for all
    of it, and every day of it comes back."""
    payloads, requests = fetched[name]
    assert len(athlete.history()) <= WINDOW[name]
    assert [r.status for r in requests] == [200]
    assert sorted({day for day, _ in payloads}) == athlete.history()


def test_sleep_is_one_request_per_night(fetched, athlete):
    _, requests = fetched["sleep"]
    assert [r.query["date"] for r in requests] == [d.isoformat() for d in athlete.history()]


@pytest.mark.parametrize("name", RANGE_FEEDS)
def test_a_long_backfill_is_cut_at_the_endpoints_cap(connect_source, emulator, athlete, name):
    """90 days (most outside the history) cost ceil(90 / cap) requests, none refused."""
    days = [athlete.last_day - timedelta(days=n) for n in reversed(range(90))]
    assert connect_source.display_name
    emulator.clear_request_log()
    payloads = list(FEEDS[name].fetch(connect_source, days, lambda d, n: None))
    statuses = [r.status for r in emulator.request_log]
    assert len(statuses) == -(-90 // WINDOW[name])
    assert set(statuses) <= {200, 204}  # 204: an HRV window without a single reading
    assert sorted({p.day for p in payloads}) == days
    before = days[0]  # a day without data: empty partitions (the daily summary keeps its row)
    frames = FEEDS[name].parse({p.name: p.payload for p in payloads if p.day == before}, before)
    assert frames.rejected == {}
    for dataset in FEEDS[name].datasets:
        frame = frames.frames[dataset.name]
        assert frame.height == (1 if name == "daily_summary" else 0)
        assert validate(frame, dataset).quarantined.height == 0


IN_PATH = ("{}", "{}")  # the range is two path segments
QUERY = {"startDate": "{}", "endDate": "{}"}


@pytest.mark.parametrize(
    ("path", "params", "cap"),
    [
        ("/usersummary-service/v2/dailysummaries", QUERY, 28),
        ("/usersummary-service/stats/steps/daily/{}/{}", IN_PATH, 28),
        ("/usersummary-service/stats/floors/daily/{}/{}", IN_PATH, 28),
        ("/usersummary-service/stats/im/daily/{}/{}", IN_PATH, 28),
        ("/usersummary-service/stats/stress/daily/{}/{}", IN_PATH, 28),
        ("/usersummary-service/stats/respiration/daily/{}/{}", IN_PATH, 28),
        ("/usersummary-service/stats/hydration/daily/{}/{}", IN_PATH, 28),
        (
            "/userstats-service/wellness/daily/synthetic-athlete-7",
            {"fromDate": "{}", "untilDate": "{}", "metricId": "60"},
            365,
        ),
        ("/hrv-service/hrv/daily/{}/{}", IN_PATH, 28),
        ("/weight-service/weight/dateRange", QUERY, 28),
        ("/wellness-service/wellness/bodyBattery/reports/daily", QUERY, 28),
    ],
)
def test_a_range_over_the_cap_is_refused(connect_source, athlete, path, params, cap):
    last = athlete.last_day.isoformat()

    def get(days: int) -> Any:
        first = (athlete.last_day - timedelta(days=days - 1)).isoformat()
        if params is IN_PATH:
            return connect_source.garmin.connectapi(path.format(first, last))
        query = dict(zip(params, (first, last, *list(params.values())[2:]), strict=True))
        return connect_source.garmin.connectapi(path, params=query)

    get(cap)
    with pytest.raises(GarminConnectConnectionError, match=f"exceeds the limit of {cap}"):
        get(cap + 1)


# ---------------------------------------------------------------------- every day validates
@pytest.mark.parametrize("name", list(FEEDS))
def test_every_day_parses_and_validates(fetched, athlete, name):
    for day in athlete.history():
        for dataset in FEEDS[name].datasets:
            frame = parsed(fetched, name, day)[dataset.name]
            result = validate(frame, dataset)
            assert result.quarantined.height == 0, (day, dataset.name, result.quarantined)


# ---------------------------------------------------------------------- values = the athlete's
def test_daily_summary_from_the_range_equals_the_per_day_summary(fetched, athlete):
    for day in sample_days(athlete):
        summary = athlete.daily_summary(day)
        row = one(fetched, "daily_summary", day)
        assert row["calendar_date"] == day
        assert row["total_steps"] == summary["totalSteps"]
        assert row["resting_heart_rate_bpm"] == athlete.rest_hr(day)
        assert row["body_battery_highest"] == summary["bodyBatteryHighestValue"]
        assert row["floors_ascended"] == summary["floorsAscended"]


def test_sleep_row_holds_the_nights_values(fetched, athlete):
    for day in sample_days(athlete):
        night = athlete.night(day)
        row = one(fetched, "sleep", day)
        assert (row["sleep_start"], row["sleep_end"]) == (night.start_utc, night.end_utc)
        assert row["sleep_s"] == night.sleep_s and row["deep_sleep_s"] == night.deep_s
        assert row["sleep_score"] == night.score
        assert row["deep_sleep_pct"] == int(night.deep_s * 100 / night.sleep_s + 0.5)
        assert row["rem_sleep_pct"] == int(night.rem_s * 100 / night.sleep_s + 0.5)
        assert row["sleep_score_quality"] in {"EXCELLENT", "GOOD", "FAIR", "POOR"}
        assert row["awake_count"] == night.awake_count
        assert (row["average_spo2_pct"], row["lowest_spo2_pct"]) == (
            night.avg_spo2,
            night.lowest_spo2,
        )
        assert (
            row["average_respiration_brpm"],
            row["lowest_respiration_brpm"],
            row["highest_respiration_brpm"],
        ) == (night.avg_respiration, night.lowest_respiration, night.highest_respiration)
        assert row["body_battery_change"] == athlete.wellness(day).body_battery_sleep_charge
        assert row["resting_heart_rate_bpm"] == athlete.rest_hr(day)


@pytest.mark.fast
def test_sleep_reads_overnight_hrv_and_restless_moments(athlete):
    day = athlete.first_day + timedelta(days=4)
    night = athlete.night(day)
    body = athlete.sleep(day)
    raw = {"sleep.json": json.dumps(body).encode()}
    (row,) = health.SLEEP_FEED.parse(raw, day).frames["sleep"].to_dicts()
    assert row["average_overnight_hrv_ms"] == (night.hrv.last_night_avg if night.hrv else None)
    assert row["restless_moments"] == body["restlessMomentsCount"] > 0


def test_sleep_stages_are_the_nights_segments(fetched, athlete):
    day = athlete.first_day + timedelta(days=6)
    night = athlete.night(day)
    stages = parsed(fetched, "sleep", day)["sleep_stages"]
    names = {DEEP: "deep", LIGHT: "light", REM: "rem", 3: "awake"}
    assert stages.select("stage_start", "stage_end", "stage").rows() == [
        (a, b, names[s]) for a, b, s in night.segments
    ]
    seconds = dict(
        stages.group_by("stage")
        .agg((pl.col("stage_end") - pl.col("stage_start")).dt.total_seconds().sum())
        .rows()
    )
    assert seconds == {
        "deep": night.deep_s,
        "light": night.light_s,
        "rem": night.rem_s,
        "awake": night.awake_s,
    }


def test_steps_floors_intensity_and_stress_equal_the_daily_summary(fetched, athlete):
    for day in sample_days(athlete):
        s = athlete.daily_summary(day)
        steps = one(fetched, "daily_steps", day)
        assert (steps["total_steps"], steps["total_distance_m"], steps["step_goal"]) == (
            s["totalSteps"],
            s["totalDistanceMeters"],
            s["dailyStepGoal"],
        )
        floors = one(fetched, "daily_floors", day)
        assert (floors["floors_ascended"], floors["floors_descended"]) == (
            s["floorsAscended"],
            s["floorsDescended"],
        )
        minutes = one(fetched, "daily_intensity_minutes", day)
        assert (minutes["moderate_minutes"], minutes["vigorous_minutes"]) == (
            s["moderateIntensityMinutes"],
            s["vigorousIntensityMinutes"],
        )
        stress = one(fetched, "daily_stress", day)
        assert stress == {
            "calendar_date": day,
            "overall_stress_level": s["averageStressLevel"],
            "rest_stress_s": s["restStressDuration"],
            "low_stress_s": s["lowStressDuration"],
            "medium_stress_s": s["mediumStressDuration"],
            "high_stress_s": s["highStressDuration"],
        }


def test_respiration_resting_hr_and_hydration_are_the_athletes(fetched, athlete):
    for day in sample_days(athlete):
        breathing = one(fetched, "daily_respiration", day)
        assert breathing["avg_waking_respiration_brpm"] == athlete.wellness(day).respiration_awake
        assert breathing["avg_sleep_respiration_brpm"] == athlete.night(day).avg_respiration
        rhr = one(fetched, "resting_heart_rate", day)["resting_heart_rate_bpm"]
        assert rhr == athlete.rest_hr(day) == athlete.daily_summary(day)["restingHeartRate"]
        water = one(fetched, "hydration", day)
        assert (water["intake_ml"], water["goal_ml"]) == stats_shapes.hydration(athlete, day)


def test_hrv_is_the_nightly_summary(fetched, athlete):
    for day in athlete.history():
        body_ = shapes.hrv(athlete, day)
        frame = parsed(fetched, "hrv", day)["hrv"]
        if body_ is None:  # a night with too little data: an empty partition
            assert frame.height == 0
            continue
        summary = body_["hrvSummary"]
        (row,) = frame.to_dicts()
        assert row["last_night_avg_ms"] == athlete.night(day).hrv.last_night_avg
        assert (row["weekly_avg_ms"], row["last_night_5min_high_ms"], row["status"]) == (
            summary["weeklyAvg"],
            summary["lastNight5MinHigh"],
            summary["status"],
        )
        assert row["baseline_balanced_upper_ms"] == summary["baseline"]["balancedUpper"]


def test_weigh_ins_land_on_their_days_and_other_days_are_empty(fetched, athlete):
    seen = 0
    for day in athlete.history():
        expected = stats_shapes.weigh_ins(athlete, day)
        frame = parsed(fetched, "weigh_ins", day)["weigh_ins"]
        assert frame.height == len(expected)
        for row, w in zip(frame.to_dicts(), expected, strict=True):
            seen += 1
            assert row["timestamp"] == w.timestamp_utc
            assert row["weight_kg"] == pytest.approx(w.weight_g / 1000)
            assert row["body_fat_pct"] == w.body_fat_pct
            assert row["bone_mass_kg"] == pytest.approx(w.bone_mass_g / 1000)
            assert row["muscle_mass_kg"] == pytest.approx(w.muscle_mass_g / 1000)
    assert seen == 9  # three mornings a week over three weeks


def test_body_battery_samples_daily_and_events_are_the_athletes(fetched, athlete):
    for day in sample_days(athlete):
        frames = parsed(fetched, "body_battery", day)
        expected = [(utc(ms), lvl) for ms, _, lvl in athlete.wellness(day).body_battery if lvl]
        assert frames["body_battery"].select("timestamp", "body_battery_level").rows() == expected
        summary = athlete.daily_summary(day)
        (daily,) = frames["body_battery_daily"].to_dicts()
        assert (daily["charged"], daily["drained"]) == (
            summary["bodyBatteryChargedValue"],
            summary["bodyBatteryDrainedValue"],
        )
        events = frames["body_battery_events"]
        assert events.select("event_type", "body_battery_impact", "activity_id").rows() == [
            (e["eventType"], e["bodyBatteryImpact"], e["activityId"])
            for e in summary["bodyBatteryActivityEventList"]
        ]
        sleep = events.filter(pl.col("event_type") == "SLEEP").row(0, named=True)
        assert sleep["event_start"] == athlete.night(day).start_utc
        assert sleep["duration_s"] == (athlete.night(day).end_utc - sleep["event_start"]).seconds


# ---------------------------------------------------------------------- recorded shapes
def keys(value: Any) -> Any:
    """The nested key structure of a body (first list item only), without values."""
    if isinstance(value, Mapping):
        return {k: keys(v) for k, v in value.items()}
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return [keys(value[0])]
    return None


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text(encoding="utf-8"))


@pytest.mark.fast
def test_range_bodies_have_the_recorded_keys(athlete):
    days = athlete.history()[:7]
    assert keys(stats_shapes.daily_steps(athlete, days)) == keys(recorded("stats_steps_daily.json"))
    assert keys(stats_shapes.daily_intensity_minutes(athlete, days)) == keys(
        recorded("stats_im_daily.json")
    )
    assert keys(stats_shapes.daily_stress(athlete, days)) == keys(
        recorded("stats_stress_daily.json")
    )
    assert keys(stats_shapes.daily_hydration(athlete, days)) == keys(
        recorded("stats_hydration_daily.json")
    )
    assert keys(stats_shapes.hrv_range(athlete, days)) == keys(recorded("hrv_daily_range.json"))
    weights = stats_shapes.body_composition(athlete, days)
    assert keys(weights) == keys(recorded("weight_dayview.json"))
    assert set(weights["totalAverage"]) == set(
        recorded("body_composition_empty.json")["totalAverage"]
    )
    # The other recorded answers of these endpoints (tests/test_recorded_answers.py) too.
    assert keys(stats_shapes.daily_steps(athlete, days)) == keys(
        recorded("stats_steps_daily_one_day.json")
    )
    stress = keys(stats_shapes.daily_stress(athlete, days))
    assert stress == keys(recorded("stats_stress_daily_one_day.json"))
    assert all(keys(page) == stress for page in recorded("stats_stress_daily_pages.json").values())
    hrv = keys(stats_shapes.hrv_range(athlete, days))
    assert all(keys(page) == hrv for page in recorded("hrv_daily_range_pages.json").values())
    assert keys(weights) == keys(recorded("weight_dayview_manual.json"))
    assert set(weights) == set(recorded("weight_dayview_empty.json"))
    weight_range = stats_shapes.weight_range(athlete, days)
    for name in ("weight_range.json", "weight_range_single_day.json"):
        assert keys(weight_range) == keys(recorded(name))
    assert set(weight_range) == set(recorded("weight_range_empty.json"))
    report = stats_shapes.body_battery_reports(athlete, days)
    assert set(recorded("body_battery_report.json")[0]) <= set(report[0])
    event = recorded("body_battery_events.json")[0]
    assert set(report[0]["bodyBatteryActivityEvent"][0]) == set(event["event"]) | {
        "activityName",
        "activityType",
        "activityId",
    }
