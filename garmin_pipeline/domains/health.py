"""Daily health: the daily summary, intraday heart rate and the night's sleep."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

import polars as pl

from garmin_pipeline.feeds import Dataset, Feed, Fetch, RawPayload, Stored
from garmin_pipeline.lake.parsers import (
    epoch_ms_to_local,
    epoch_ms_to_utc,
    one_row,
    parse_json_day,
)
from garmin_pipeline.lake.schema import LOCAL_TIME, UTC_TIME, Column, empty_frame, in_range

CALENDAR_DATE = Column(
    "calendar_date", pl.Date, "The day, in the account's own timezone.", nullable=False
)


def per_day(method: str, payload_name: str) -> Fetch:
    """A feed fetched with one request per day (until issue-3 range endpoints replace it)."""

    def fetch(source: Any, days: Sequence[date], stored: Stored) -> Iterator[RawPayload]:
        for day in days:
            yield RawPayload(day, payload_name, getattr(source, method)(day))

    return fetch


DAILY_SUMMARY_FIELDS = {
    "calendar_date": "calendarDate",
    "total_steps": "totalSteps",
    "daily_step_goal": "dailyStepGoal",
    "total_distance_m": "totalDistanceMeters",
    "total_kilocalories": "totalKilocalories",
    "active_kilocalories": "activeKilocalories",
    "bmr_kilocalories": "bmrKilocalories",
    "resting_heart_rate_bpm": "restingHeartRate",
    "min_heart_rate_bpm": "minHeartRate",
    "max_heart_rate_bpm": "maxHeartRate",
    "average_stress_level": "averageStressLevel",
    "max_stress_level": "maxStressLevel",
    "body_battery_highest": "bodyBatteryHighestValue",
    "body_battery_lowest": "bodyBatteryLowestValue",
    "floors_ascended": "floorsAscended",
    "moderate_intensity_minutes": "moderateIntensityMinutes",
    "vigorous_intensity_minutes": "vigorousIntensityMinutes",
    "highly_active_s": "highlyActiveSeconds",
    "active_s": "activeSeconds",
    "sedentary_s": "sedentarySeconds",
    "sleeping_s": "sleepingSeconds",
    "average_spo2_pct": "averageSpo2",
    "avg_waking_respiration_brpm": "avgWakingRespirationValue",
}
SECONDS_IN_DAY = in_range(0, 86_400)
HEART_RATE = in_range(20, 250)
STRESS = in_range(-2, 100)  # Garmin uses -1 and -2 for "too active to measure" and "no data"

DAILY_SUMMARY = Dataset(
    name="daily_summary",
    description="One row per day: Garmin's daily summary (steps, energy, HR, stress, battery).",
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column("total_steps", pl.Int64, "Steps walked that day.", "steps", in_range(0, 200_000)),
        Column("daily_step_goal", pl.Int64, "The day's step goal.", "steps", in_range(0, 200_000)),
        Column("total_distance_m", pl.Float64, "Distance covered.", "m", in_range(0, 1_000_000)),
        Column("total_kilocalories", pl.Float64, "Energy burned.", "kcal", in_range(0, 20_000)),
        Column("active_kilocalories", pl.Float64, "Active energy.", "kcal", in_range(0, 20_000)),
        Column("bmr_kilocalories", pl.Float64, "Resting energy.", "kcal", in_range(0, 10_000)),
        Column("resting_heart_rate_bpm", pl.Int32, "Resting heart rate.", "bpm", in_range(20, 150)),
        Column("min_heart_rate_bpm", pl.Int32, "Lowest heart rate.", "bpm", HEART_RATE),
        Column("max_heart_rate_bpm", pl.Int32, "Highest heart rate.", "bpm", HEART_RATE),
        Column("average_stress_level", pl.Int32, "Mean all-day stress (0-100).", None, STRESS),
        Column("max_stress_level", pl.Int32, "Highest stress (0-100).", None, STRESS),
        Column("body_battery_highest", pl.Int32, "Highest Body Battery.", None, in_range(0, 100)),
        Column("body_battery_lowest", pl.Int32, "Lowest Body Battery.", None, in_range(0, 100)),
        Column("floors_ascended", pl.Float64, "Floors climbed.", "floors", in_range(0, 2_000)),
        Column(
            "moderate_intensity_minutes",
            pl.Int32,
            "Moderate intensity minutes.",
            "min",
            in_range(0, 1_440),
        ),
        Column(
            "vigorous_intensity_minutes",
            pl.Int32,
            "Vigorous intensity minutes.",
            "min",
            in_range(0, 1_440),
        ),
        Column("highly_active_s", pl.Int64, "Time highly active.", "s", SECONDS_IN_DAY),
        Column("active_s", pl.Int64, "Time active.", "s", SECONDS_IN_DAY),
        Column("sedentary_s", pl.Int64, "Time sedentary.", "s", SECONDS_IN_DAY),
        Column("sleeping_s", pl.Int64, "Time asleep.", "s", SECONDS_IN_DAY),
        Column("average_spo2_pct", pl.Float64, "Mean blood oxygen.", "%", in_range(50, 100)),
        Column(
            "avg_waking_respiration_brpm",
            pl.Float64,
            "Mean waking breathing rate.",
            "breaths/min",
            in_range(0, 80),
        ),
    ),
)


def build_daily_summary(payload: dict[str, Any], day: date) -> pl.DataFrame:
    # A day Garmin has no data for still gets its row, so completeness is visible downstream.
    payload = {**payload, "calendarDate": payload.get("calendarDate") or day.isoformat()}
    return one_row(payload, DAILY_SUMMARY_FIELDS, DAILY_SUMMARY.columns)


HEART_RATE_SAMPLES = Dataset(
    name="heart_rate",
    description="Intraday heart rate: one row per sample Garmin reports (every ~2 minutes).",
    key=("timestamp",),
    columns=(
        CALENDAR_DATE,
        Column("timestamp", UTC_TIME, "When the sample was taken.", "UTC", nullable=False),
        Column("heart_rate_bpm", pl.Int32, "Heart rate.", "bpm", HEART_RATE, nullable=False),
    ),
)


def build_heart_rate(payload: dict[str, Any], day: date) -> pl.DataFrame:
    samples = payload.get("heartRateValues") or []
    if not samples:
        return empty_frame(HEART_RATE_SAMPLES.columns)
    frame = pl.DataFrame(samples, schema=["epoch_ms", "bpm"], orient="row", strict=False)
    # Null readings mean "not worn / no signal": they are not samples, so they are not rows.
    return frame.filter(pl.col("bpm").is_not_null()).select(
        pl.lit(day, pl.Date).alias("calendar_date"),
        epoch_ms_to_utc("epoch_ms").alias("timestamp"),
        pl.col("bpm").cast(pl.Int32).alias("heart_rate_bpm"),
    )


SLEEP_FIELDS = {
    "calendar_date": "calendarDate",
    "sleep_start": "sleepStartTimestampGMT",
    "sleep_end": "sleepEndTimestampGMT",
    "sleep_start_local": "sleepStartTimestampLocal",
    "sleep_end_local": "sleepEndTimestampLocal",
    "sleep_s": "sleepTimeSeconds",
    "deep_sleep_s": "deepSleepSeconds",
    "light_sleep_s": "lightSleepSeconds",
    "rem_sleep_s": "remSleepSeconds",
    "awake_s": "awakeSleepSeconds",
    "sleep_score": "sleepScores.overall.value",
    "average_spo2_pct": "averageSpO2Value",
    "average_respiration_brpm": "averageRespirationValue",
    "average_sleep_stress": "avgSleepStress",
}
SLEEP = Dataset(
    name="sleep",
    description="One row per night, dated by the day the sleeper woke up (Garmin's rule).",
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column("sleep_start", UTC_TIME, "Fell asleep.", "UTC", nullable=False),
        Column("sleep_end", UTC_TIME, "Woke up.", "UTC", nullable=False),
        Column("sleep_start_local", LOCAL_TIME, "Fell asleep, local wall-clock time.", "local"),
        Column("sleep_end_local", LOCAL_TIME, "Woke up, local wall-clock time.", "local"),
        Column("sleep_s", pl.Int64, "Time asleep.", "s", SECONDS_IN_DAY),
        Column("deep_sleep_s", pl.Int64, "Deep sleep.", "s", SECONDS_IN_DAY),
        Column("light_sleep_s", pl.Int64, "Light sleep.", "s", SECONDS_IN_DAY),
        Column("rem_sleep_s", pl.Int64, "REM sleep.", "s", SECONDS_IN_DAY),
        Column("awake_s", pl.Int64, "Awake during the night.", "s", SECONDS_IN_DAY),
        Column("sleep_score", pl.Int32, "Garmin's overall sleep score.", None, in_range(0, 100)),
        Column("average_spo2_pct", pl.Float64, "Mean blood oxygen asleep.", "%", in_range(50, 100)),
        Column(
            "average_respiration_brpm",
            pl.Float64,
            "Mean breathing rate asleep.",
            "breaths/min",
            in_range(0, 80),
        ),
        Column("average_sleep_stress", pl.Float64, "Mean stress asleep.", None, STRESS),
    ),
)
_SLEEP_TIMES = ("sleep_start", "sleep_end", "sleep_start_local", "sleep_end_local")


def build_sleep(payload: dict[str, Any], day: date) -> pl.DataFrame:
    summary = payload.get("dailySleepDTO") or {}
    if not summary.get("sleepStartTimestampGMT"):
        return empty_frame(SLEEP.columns)  # no sleep recorded that night
    fields = {k: v for k, v in SLEEP_FIELDS.items() if k not in _SLEEP_TIMES}
    times = pl.DataFrame({k: [summary.get(SLEEP_FIELDS[k])] for k in _SLEEP_TIMES}).select(
        epoch_ms_to_utc("sleep_start").alias("sleep_start"),
        epoch_ms_to_utc("sleep_end").alias("sleep_end"),
        epoch_ms_to_local("sleep_start_local").alias("sleep_start_local"),
        epoch_ms_to_local("sleep_end_local").alias("sleep_end_local"),
    )
    summary = {**summary, "calendarDate": summary.get("calendarDate") or day.isoformat()}
    values = one_row(
        summary,
        {"calendar_date": "calendarDate", **fields},
        [c for c in SLEEP.columns if c.name not in _SLEEP_TIMES],
    )
    return pl.concat([values, times], how="horizontal").select(
        pl.col(c.name).cast(c.dtype) for c in SLEEP.columns
    )


def daily_json_feed(
    dataset: Dataset,
    endpoint: str,
    build: Callable[[Any, date], pl.DataFrame],
    provisional_days: int = 2,
) -> Feed:
    """A feed of one JSON payload per day, fetched by the source method named like the dataset."""
    payload = f"{dataset.name}.json"
    return Feed(
        name=dataset.name,
        description=f"GET {endpoint}, one request per day.",
        fetch=per_day(dataset.name, payload),
        parse=parse_json_day(payload, build, dataset.name),
        datasets=(dataset,),
        provisional_days=provisional_days,
    )


FEEDS = (
    daily_json_feed(
        DAILY_SUMMARY, "usersummary-service/usersummary/daily/{displayName}", build_daily_summary
    ),
    daily_json_feed(
        HEART_RATE_SAMPLES,
        "wellness-service/wellness/dailyHeartRate/{displayName}",
        build_heart_rate,
    ),
    daily_json_feed(
        SLEEP, "wellness-service/wellness/dailySleepData/{displayName}", build_sleep, 3
    ),
)
