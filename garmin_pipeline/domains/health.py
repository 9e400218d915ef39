"""Daily health: the daily summary (a range endpoint) and the night's sleep (per day).

Intraday heart rate comes from the daily wellness FIT (another module); the daily statistics
series (steps, stress, HRV, ...) are in `daily_stats` and body measures in `body`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import polars as pl

from garmin_pipeline.domains.fetching import (
    PERSONAL_API_DAILIES_DAYS,
    PERSONAL_API_SLEEP_DAYS,
    PersonalApiRange,
    by_calendar_date,
    per_day,
    range_feed,
    ranged,
)
from garmin_pipeline.errors import PayloadParseError
from garmin_pipeline.feeds import SAME_AS_CONNECT, Dataset, Feed, Shape
from garmin_pipeline.lake.parsers import (
    epoch_ms_to_local,
    epoch_ms_to_utc,
    json_column,
    json_object,
    json_objects,
    one_row,
    parse_json_frames,
)
from garmin_pipeline.lake.schema import (
    LOCAL_TIME,
    MINUTES_IN_DAY,
    SECONDS_IN_DAY,
    UTC_TIME,
    Column,
    empty_frame,
    in_range,
)

CALENDAR_DATE = Column(
    "calendar_date", pl.Date, "The day, in the account's own timezone.", nullable=False
)


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
            MINUTES_IN_DAY,
        ),
        Column(
            "vigorous_intensity_minutes",
            pl.Int32,
            "Vigorous intensity minutes.",
            "min",
            MINUTES_IN_DAY,
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


def _summaries_by_day(answer: Any, days: Sequence[date]) -> Mapping[date, Any]:
    """`get_daily_summaries` answers `{"data": [one usersummary per day]}`."""
    entries = (answer or {}).get("data") if isinstance(answer, Mapping) else None
    return by_calendar_date()(entries, days)


def build_daily_summary(payload: Mapping[str, Any] | None, day: date) -> pl.DataFrame:
    # A day Garmin has no data for still gets its row, so completeness is visible downstream.
    payload = json_object(payload or None, "the payload")
    payload = {**payload, "calendarDate": payload.get("calendarDate") or day.isoformat()}
    return one_row(payload, DAILY_SUMMARY_FIELDS, DAILY_SUMMARY.columns)


_DTO = "dailySleepDTO"
_SCORES = f"{_DTO}.sleepScores"
SLEEP_FIELDS = {
    "calendar_date": f"{_DTO}.calendarDate",
    "sleep_s": f"{_DTO}.sleepTimeSeconds",
    "deep_sleep_s": f"{_DTO}.deepSleepSeconds",
    "light_sleep_s": f"{_DTO}.lightSleepSeconds",
    "rem_sleep_s": f"{_DTO}.remSleepSeconds",
    "awake_s": f"{_DTO}.awakeSleepSeconds",
    "sleep_score": f"{_SCORES}.overall.value",
    "average_spo2_pct": f"{_DTO}.averageSpO2Value",
    "average_respiration_brpm": f"{_DTO}.averageRespirationValue",
    "average_sleep_stress": f"{_DTO}.avgSleepStress",
    "sleep_score_quality": f"{_SCORES}.overall.qualifierKey",
    "duration_quality": f"{_SCORES}.totalDuration.qualifierKey",
    "stress_quality": f"{_SCORES}.stress.qualifierKey",
    "awake_count_quality": f"{_SCORES}.awakeCount.qualifierKey",
    "restlessness_quality": f"{_SCORES}.restlessness.qualifierKey",
    "deep_sleep_pct": f"{_SCORES}.deepPercentage.value",
    "deep_sleep_quality": f"{_SCORES}.deepPercentage.qualifierKey",
    "light_sleep_pct": f"{_SCORES}.lightPercentage.value",
    "light_sleep_quality": f"{_SCORES}.lightPercentage.qualifierKey",
    "rem_sleep_pct": f"{_SCORES}.remPercentage.value",
    "rem_sleep_quality": f"{_SCORES}.remPercentage.qualifierKey",
    "awake_count": f"{_DTO}.awakeCount",
    "lowest_spo2_pct": f"{_DTO}.lowestSpO2Value",
    "lowest_respiration_brpm": f"{_DTO}.lowestRespirationValue",
    "highest_respiration_brpm": f"{_DTO}.highestRespirationValue",
    "average_overnight_hrv_ms": "avgOvernightHrv",
    "restless_moments": "restlessMomentsCount",
    "body_battery_change": "bodyBatteryChange",
    "resting_heart_rate_bpm": "restingHeartRate",
}
_SLEEP_TIMES = {
    "sleep_start": "sleepStartTimestampGMT",
    "sleep_end": "sleepEndTimestampGMT",
    "sleep_start_local": "sleepStartTimestampLocal",
    "sleep_end_local": "sleepEndTimestampLocal",
}
QUALIFIER = "Garmin's rating: EXCELLENT, GOOD, FAIR or POOR."
PERCENT = in_range(0, 100)
RESPIRATION = in_range(0, 80)


def _quality(name: str, what: str) -> Column:
    return Column(name, pl.String, f"{what} {QUALIFIER}")


SLEEP = Dataset(
    name="sleep",
    description=(
        "One row per night, dated by the day the sleeper woke up (Garmin's rule): stages, sleep "
        "score and its components, SpO2, breathing, overnight HRV and Body Battery gained."
    ),
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
        Column("sleep_score", pl.Int32, "Garmin's overall sleep score.", None, PERCENT),
        Column("average_spo2_pct", pl.Float64, "Mean blood oxygen asleep.", "%", in_range(50, 100)),
        Column(
            "average_respiration_brpm",
            pl.Float64,
            "Mean breathing rate asleep.",
            "breaths/min",
            RESPIRATION,
        ),
        Column("average_sleep_stress", pl.Float64, "Mean stress asleep.", None, STRESS),
        _quality("sleep_score_quality", "The overall sleep score's rating."),
        _quality("duration_quality", "Sleep score component: how the duration compares."),
        _quality("stress_quality", "Sleep score component: stress during sleep."),
        _quality("awake_count_quality", "Sleep score component: how often awake."),
        _quality("restlessness_quality", "Sleep score component: restlessness."),
        Column("deep_sleep_pct", pl.Int32, "Deep sleep share of sleep time.", "%", PERCENT),
        _quality("deep_sleep_quality", "Sleep score component: the deep sleep share."),
        Column("light_sleep_pct", pl.Int32, "Light sleep share of sleep time.", "%", PERCENT),
        _quality("light_sleep_quality", "Sleep score component: the light sleep share."),
        Column("rem_sleep_pct", pl.Int32, "REM sleep share of sleep time.", "%", PERCENT),
        _quality("rem_sleep_quality", "Sleep score component: the REM sleep share."),
        Column("awake_count", pl.Int32, "Times awake after first falling asleep.", "count"),
        Column("lowest_spo2_pct", pl.Float64, "Lowest blood oxygen asleep.", "%", PERCENT),
        Column(
            "lowest_respiration_brpm",
            pl.Float64,
            "Slowest breathing rate asleep.",
            "breaths/min",
            RESPIRATION,
        ),
        Column(
            "highest_respiration_brpm",
            pl.Float64,
            "Fastest breathing rate asleep.",
            "breaths/min",
            RESPIRATION,
        ),
        Column(
            "average_overnight_hrv_ms",
            pl.Float64,
            "Mean overnight heart rate variability (RMSSD).",
            "ms",
            in_range(0, 300),
        ),
        Column("restless_moments", pl.Int32, "Restless moments counted asleep.", "count"),
        Column(
            "body_battery_change",
            pl.Int32,
            "Body Battery gained over the night.",
            None,
            in_range(-100, 100),
        ),
        Column("resting_heart_rate_bpm", pl.Int32, "Resting heart rate.", "bpm", in_range(20, 150)),
    ),
)

STAGES = {0: "deep", 1: "light", 2: "rem", 3: "awake"}  # sleepLevels' activityLevel
SLEEP_STAGES = Dataset(
    name="sleep_stages",
    description=(
        "One row per sleep-stage interval of the night (sleepLevels), dated by the wake-up day."
    ),
    key=("stage_start",),
    columns=(
        CALENDAR_DATE,
        Column("stage_start", UTC_TIME, "The interval starts.", "UTC", nullable=False),
        Column("stage_end", UTC_TIME, "The interval ends.", "UTC", nullable=False),
        Column(
            "stage",
            pl.String,
            "deep, light, rem or awake; a level Garmin adds later is kept as level_<n>.",
        ),
    ),
)


def gmt_string_to_utc(column: str) -> pl.Expr:
    """Garmin's naive GMT strings ("2024-06-09T20:31:00.0") as UTC instants."""
    return (
        pl.col(column)
        .cast(pl.String)  # a column of only nulls (or numbers) has no string dtype to parse
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False)
        .dt.replace_time_zone("UTC")
    )


def build_sleep(payload: Mapping[str, Any], day: date) -> pl.DataFrame:
    payload = json_object(payload or None, "the payload")
    summary = json_object(payload.get(_DTO) or None, _DTO)
    if not summary.get("sleepStartTimestampGMT"):
        if summary.get("sleepTimeSeconds"):  # a night was recorded: its start went missing
            raise PayloadParseError(
                f"{_DTO} has sleepTimeSeconds but no sleepStartTimestampGMT (renamed or dropped "
                "by Garmin?); the night is kept in raw until the parser follows"
            )
        return empty_frame(SLEEP.columns)  # no sleep recorded that night
    dated = {**summary, "calendarDate": summary.get("calendarDate") or day.isoformat()}
    payload = {**payload, _DTO: dated}
    values = one_row(
        payload, SLEEP_FIELDS, [c for c in SLEEP.columns if c.name not in _SLEEP_TIMES]
    )
    times = pl.DataFrame(
        {k: json_column([summary], v, _DTO) for k, v in _SLEEP_TIMES.items()}, strict=False
    ).select(
        epoch_ms_to_utc("sleep_start").alias("sleep_start"),
        epoch_ms_to_utc("sleep_end").alias("sleep_end"),
        epoch_ms_to_local("sleep_start_local").alias("sleep_start_local"),
        epoch_ms_to_local("sleep_end_local").alias("sleep_end_local"),
    )
    return pl.concat([values, times], how="horizontal").select(
        pl.col(c.name).cast(c.dtype) for c in SLEEP.columns
    )


def build_sleep_stages(payload: Mapping[str, Any], day: date) -> pl.DataFrame:
    payload = json_object(payload or None, "the payload")
    levels = json_objects(payload.get("sleepLevels") or None, "sleepLevels")
    if not levels:
        return empty_frame(SLEEP_STAGES.columns)
    frame = pl.DataFrame(
        {
            "start": json_column(levels, "startGMT", "sleepLevels"),
            "end": json_column(levels, "endGMT", "sleepLevels"),
            "level": json_column(levels, "activityLevel", "sleepLevels"),
        },
        schema={"start": pl.String, "end": pl.String, "level": pl.Float64},
        strict=False,
    )
    level = pl.col("level").cast(pl.Int64, strict=False)
    return frame.select(
        pl.lit(day, pl.Date).alias("calendar_date"),
        gmt_string_to_utc("start").alias("stage_start"),
        gmt_string_to_utc("end").alias("stage_end"),
        level.replace_strict(
            STAGES, default=pl.format("level_{}", level), return_dtype=pl.String
        ).alias("stage"),
    )


def build_sleep_frames(payload: Mapping[str, Any], day: date) -> dict[str, pl.DataFrame]:
    return {"sleep": build_sleep(payload, day), "sleep_stages": build_sleep_stages(payload, day)}


def nights_by_day(answer: Any, days: Sequence[date]) -> Mapping[date, Any]:
    """The Personal API's sleep summaries: a list of nights, each shaped as Connect's
    per-night answer, so each day's payload is what `get_sleep_data` gives for it."""
    nights: dict[date, Any] = {}
    for night in answer or []:
        summary = night.get(_DTO) if isinstance(night, Mapping) else None
        value = summary.get("calendarDate") if isinstance(summary, Mapping) else None
        if not value:
            raise KeyError(f"a night has no {_DTO}.calendarDate")
        nights[date.fromisoformat(str(value)[:10])] = night
    return nights


DAILY_SUMMARY_FEED = range_feed(
    DAILY_SUMMARY,
    "usersummary-service/v2/dailysummaries",
    "get_daily_summaries",
    _summaries_by_day,
    build_daily_summary,
    personal_api=PersonalApiRange("get_daily_summaries", PERSONAL_API_DAILIES_DAYS),
    shape=Shape(
        recorded=(
            "daily_summary.json",
            "daily_summary_2025-06-13.json",
            "daily_summary_display_name.json",
        ),
        assumed="v2/dailysummaries itself is not recorded; its `data` entries are taken to be "
        "the recorded one-day usersummary bodies (garminconnect: 'same fields as "
        "get_user_summary')",
        personal_api=SAME_AS_CONNECT,
    ),
)
SLEEP_FEED = Feed(
    name="sleep",
    description=(
        "GET wellness-service/wellness/dailySleepData/{displayName} (get_sleep_data), one "
        "request per night: Garmin Connect serves sleep only a night at a time. Personal API: "
        f"get_daily_sleep_summaries, one request per {PERSONAL_API_SLEEP_DAYS} nights."
    ),
    fetch=per_day("get_sleep_data", "sleep.json"),
    personal_api=ranged(
        "get_daily_sleep_summaries", PERSONAL_API_SLEEP_DAYS, nights_by_day, "sleep.json"
    ),
    parse=parse_json_frames("sleep.json", build_sleep_frames),
    datasets=(SLEEP, SLEEP_STAGES),
    provisional_days=3,
    shape=Shape(
        recorded=(
            "daily_sleep.json",
            "sleep_nights_2021-07.json",
            "daily_sleep_v2.json",
            "daily_sleep_v2_2025-07-06.json",
            "daily_sleep_no_data.json",
        ),
        assumed="avgOvernightHrv and restlessMomentsCount, top-level keys of today's answer "
        "(garminconnect documents them), are newer than the recordings; the recordings hold "
        "sleepLevels only empty, its items are read as {startGMT, endGMT, activityLevel} with "
        "0 deep, 1 light, 2 REM, 3 awake",
        personal_api="sleep-service/sleep/dailySleepSummariesByDate is taken to answer a list "
        "of Connect's per-night bodies, each dailySleepDTO.calendarDate naming its night",
    ),
)

FEEDS = (DAILY_SUMMARY_FEED, SLEEP_FEED)
