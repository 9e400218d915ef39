"""Daily statistics series, each fetched through a range endpoint so a backfill costs few requests.

Every feed here asks Garmin for a window of days (at most the endpoint's cap) and splits the
answer into one raw payload per day: the day's entry, or `null` when the answer does not
mention the day. A day without an entry becomes an empty partition, not a row of nulls, since
these series (unlike the daily summary) list only days that have data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import polars as pl

from garmin_pipeline.domains.fetching import (
    PERSONAL_API_DAILIES_DAYS,
    RANGE_WINDOW_DAYS,
    PersonalApiRange,
    Split,
    by_calendar_date,
    range_feed,
)
from garmin_pipeline.domains.health import CALENDAR_DATE, STRESS
from garmin_pipeline.feeds import SAME_AS_CONNECT, Dataset, Feed, Shape
from garmin_pipeline.lake.parsers import json_object, one_row
from garmin_pipeline.lake.schema import (
    MINUTES_IN_DAY,
    SECONDS_IN_DAY,
    Column,
    empty_frame,
    in_range,
)

# get_rhr_daily: "fetch a range (up to ~1 year) in a single request".
RHR_WINDOW_DAYS = 365


def daily_series_feed(
    dataset: Dataset,
    method: str,
    endpoint: str,
    fields: Mapping[str, str],
    window_days: int = RANGE_WINDOW_DAYS,
    split: Split | None = None,
    personal_api: PersonalApiRange | None = None,
    *,
    shape: Shape,
) -> Feed:
    """A range feed whose per-day payload is one JSON entry, read into one row by `fields`."""

    def build(entry: Any, day: date) -> pl.DataFrame:
        entry = json_object(entry or None, "the payload")
        if not entry:
            return empty_frame(dataset.columns)
        entry = {**entry, "calendarDate": entry.get("calendarDate") or day.isoformat()}
        return one_row(entry, fields, dataset.columns)

    return range_feed(
        dataset,
        endpoint,
        method,
        split or by_calendar_date(),
        build,
        window_days=window_days,
        personal_api=personal_api,
        shape=shape,
    )


def _in_key(key: str, inner: Split) -> Split:
    """Split the list found under `key` of an object answer (absent on HTTP 204)."""

    def split(answer: Any, days: Sequence[date]) -> Mapping[date, Any]:
        return inner(answer.get(key) if isinstance(answer, Mapping) else None, days)

    return split


DAILY_STEPS = Dataset(
    name="daily_steps",
    description="One row per day with steps: total steps, distance and the step goal.",
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column("total_steps", pl.Int64, "Steps that day.", "steps", in_range(0, 200_000)),
        Column("total_distance_m", pl.Float64, "Distance walked.", "m", in_range(0, 1_000_000)),
        Column("step_goal", pl.Int64, "The day's step goal.", "steps", in_range(0, 200_000)),
    ),
)
DAILY_FLOORS = Dataset(
    name="daily_floors",
    description="One row per day: floors climbed and descended (1 floor = 3 m).",
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column("floors_ascended", pl.Float64, "Floors climbed.", "floors", in_range(0, 2_000)),
        Column("floors_descended", pl.Float64, "Floors descended.", "floors", in_range(0, 2_000)),
        Column("floors_goal", pl.Int32, "The day's floors goal.", "floors", in_range(0, 2_000)),
    ),
)
DAILY_INTENSITY_MINUTES = Dataset(
    name="daily_intensity_minutes",
    description="One row per day: moderate and vigorous intensity minutes, and the weekly goal.",
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column("moderate_minutes", pl.Int32, "Moderate intensity.", "min", MINUTES_IN_DAY),
        Column("vigorous_minutes", pl.Int32, "Vigorous intensity.", "min", MINUTES_IN_DAY),
        Column("weekly_goal_minutes", pl.Int32, "Weekly goal.", "min", in_range(0, 10_080)),
    ),
)
DAILY_STRESS = Dataset(
    name="daily_stress",
    description="One row per day: the overall stress level and the time spent in each band.",
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column("overall_stress_level", pl.Int32, "Mean all-day stress (0-100).", None, STRESS),
        Column("rest_stress_s", pl.Int64, "Time at rest (stress 0-25).", "s", SECONDS_IN_DAY),
        Column("low_stress_s", pl.Int64, "Time in low stress (26-50).", "s", SECONDS_IN_DAY),
        Column("medium_stress_s", pl.Int64, "Time in medium stress (51-75).", "s", SECONDS_IN_DAY),
        Column("high_stress_s", pl.Int64, "Time in high stress (76-100).", "s", SECONDS_IN_DAY),
    ),
)
RESPIRATION = in_range(0, 80)
DAILY_RESPIRATION = Dataset(
    name="daily_respiration",
    description=(
        "One row per day: mean waking breathing rate and that of the night that ended that morning."
    ),
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column(
            "avg_waking_respiration_brpm",
            pl.Float64,
            "Mean waking breathing rate.",
            "breaths/min",
            RESPIRATION,
        ),
        Column(
            "avg_sleep_respiration_brpm",
            pl.Float64,
            "Mean breathing rate asleep.",
            "breaths/min",
            RESPIRATION,
        ),
    ),
)
RESTING_HEART_RATE = Dataset(
    name="resting_heart_rate",
    description=(
        "One row per day: resting heart rate (userstats metric 60, as get_rhr_daily reads it)."
    ),
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column("resting_heart_rate_bpm", pl.Int32, "Resting heart rate.", "bpm", in_range(20, 150)),
    ),
)
HYDRATION = Dataset(
    name="hydration",
    description="One row per day with a hydration record: water logged and the day's goal.",
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column("intake_ml", pl.Float64, "Water logged.", "ml", in_range(-10_000, 20_000)),
        Column("goal_ml", pl.Float64, "The day's hydration goal.", "ml", in_range(0, 20_000)),
    ),
)
HRV_MS = in_range(0, 300)
HRV = Dataset(
    name="hrv",
    description=(
        "One row per night with HRV: Garmin's nightly HRV summary, dated by the wake-up day."
    ),
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column("last_night_avg_ms", pl.Int32, "Mean overnight HRV (RMSSD).", "ms", HRV_MS),
        Column("last_night_5min_high_ms", pl.Int32, "Highest 5-minute HRV.", "ms", HRV_MS),
        Column("weekly_avg_ms", pl.Int32, "7-night mean HRV.", "ms", HRV_MS),
        Column("baseline_low_upper_ms", pl.Int32, "Upper bound of 'low'.", "ms", HRV_MS),
        Column("baseline_balanced_low_ms", pl.Int32, "Balanced range, low end.", "ms", HRV_MS),
        Column("baseline_balanced_upper_ms", pl.Int32, "Balanced range, high end.", "ms", HRV_MS),
        Column("status", pl.String, "Garmin's HRV status: BALANCED, UNBALANCED, LOW, POOR."),
    ),
)

FEEDS = (
    daily_series_feed(
        DAILY_STEPS,
        "get_daily_steps",
        "usersummary-service/stats/steps/daily/{start}/{end}",
        {
            "calendar_date": "calendarDate",
            "total_steps": "totalSteps",
            "total_distance_m": "totalDistance",
            "step_goal": "stepGoal",
        },
        personal_api=PersonalApiRange("get_daily_steps"),
        shape=Shape(
            recorded=("stats_steps_daily.json", "stats_steps_daily_one_day.json"),
            personal_api=SAME_AS_CONNECT,
        ),
    ),
    daily_series_feed(
        DAILY_FLOORS,
        "get_daily_floors_stats",
        "usersummary-service/stats/floors/daily/{start}/{end}",
        {
            "calendar_date": "calendarDate",
            "floors_ascended": "values.wellnessFloorsAscended",
            "floors_descended": "values.wellnessFloorsDescended",
            "floors_goal": "values.wellnessUserFloorsAscendedGoal",
        },
        shape=Shape(
            assumed="stats/floors/daily answers the {calendarDate, values} entries of the "
            "recorded stress series, with the value keys public clients read"
        ),
    ),
    daily_series_feed(
        DAILY_INTENSITY_MINUTES,
        "get_daily_intensity_minutes_stats",
        "usersummary-service/stats/im/daily/{start}/{end}",
        {
            "calendar_date": "calendarDate",
            "moderate_minutes": "moderateValue",
            "vigorous_minutes": "vigorousValue",
            "weekly_goal_minutes": "weeklyGoal",
        },
        shape=Shape(recorded=("stats_im_daily.json",)),
    ),
    daily_series_feed(
        DAILY_STRESS,
        "get_daily_stress_stats",
        "usersummary-service/stats/stress/daily/{start}/{end}",
        {
            "calendar_date": "calendarDate",
            "overall_stress_level": "values.overallStressLevel",
            "rest_stress_s": "values.restStressDuration",
            "low_stress_s": "values.lowStressDuration",
            "medium_stress_s": "values.mediumStressDuration",
            "high_stress_s": "values.highStressDuration",
        },
        personal_api=PersonalApiRange("get_daily_stress"),
        shape=Shape(
            recorded=(
                "stats_stress_daily.json",
                "stats_stress_daily_pages.json",
                "stats_stress_daily_one_day.json",
            ),
            personal_api=SAME_AS_CONNECT,
        ),
    ),
    daily_series_feed(
        DAILY_RESPIRATION,
        "get_daily_respiration_stats",
        "usersummary-service/stats/respiration/daily/{start}/{end}",
        {
            "calendar_date": "calendarDate",
            "avg_waking_respiration_brpm": "values.avgWakingRespiration",
            "avg_sleep_respiration_brpm": "values.avgSleepRespiration",
        },
        shape=Shape(
            assumed="stats/respiration/daily answers {calendarDate, values} entries with the "
            "keys garminconnect documents and public clients read"
        ),
    ),
    daily_series_feed(
        RESTING_HEART_RATE,
        "get_rhr_daily",
        "userstats-service/wellness/daily/{displayName}?metricId=60",
        {"calendar_date": "calendarDate", "resting_heart_rate_bpm": "value"},
        window_days=RHR_WINDOW_DAYS,
        shape=Shape(
            assumed="userstats-service/wellness/daily answers metric 60 as {calendarDate, "
            "value} entries, as garminconnect's get_rhr_daily reads them"
        ),
    ),
    daily_series_feed(
        HYDRATION,
        "get_daily_hydration_stats",
        "usersummary-service/stats/hydration/daily/{start}/{end}",
        {"calendar_date": "calendarDate", "intake_ml": "valueInML", "goal_ml": "goalInML"},
        personal_api=PersonalApiRange("get_daily_hydration"),
        shape=Shape(recorded=("stats_hydration_daily.json",), personal_api=SAME_AS_CONNECT),
    ),
    daily_series_feed(
        HRV,
        "get_hrv_data_range",
        "hrv-service/hrv/daily/{start}/{end}",
        {
            "calendar_date": "calendarDate",
            "last_night_avg_ms": "lastNightAvg",
            "last_night_5min_high_ms": "lastNight5MinHigh",
            "weekly_avg_ms": "weeklyAvg",
            "baseline_low_upper_ms": "baseline.lowUpper",
            "baseline_balanced_low_ms": "baseline.balancedLow",
            "baseline_balanced_upper_ms": "baseline.balancedUpper",
            "status": "status",
        },
        split=_in_key("hrvSummaries", by_calendar_date()),
        personal_api=PersonalApiRange("get_daily_hrv_summaries", PERSONAL_API_DAILIES_DAYS),
        shape=Shape(
            recorded=("hrv_daily_range.json", "hrv_daily_range_pages.json"),
            personal_api=SAME_AS_CONNECT,
        ),
    ),
)
