"""Body measures over date ranges: smart-scale weigh-ins and Body Battery (samples, daily, events).

Both come from range endpoints (at most 28 days a request) split into one payload per day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import polars as pl

from garmin_pipeline.domains.fetching import (
    PERSONAL_API_RANGE_DAYS,
    RANGE_WINDOW_DAYS,
    PersonalApiRange,
    by_calendar_date,
    range_feed,
    ranged,
)
from garmin_pipeline.domains.health import CALENDAR_DATE, gmt_string_to_utc
from garmin_pipeline.feeds import SAME_AS_CONNECT, Dataset, Feed, Shape
from garmin_pipeline.lake.parsers import (
    epoch_ms_to_local,
    epoch_ms_to_utc,
    json_array,
    json_column,
    json_object,
    json_objects,
    json_scalar,
    one_row,
    parse_json_frames,
)
from garmin_pipeline.lake.schema import LOCAL_TIME, UTC_TIME, Column, empty_frame, in_range

# No cap is documented for these two; 28 days is Garmin's usual range limit.
LEVEL = in_range(0, 100)

WEIGH_INS = Dataset(
    name="weigh_ins",
    description=(
        "One row per weigh-in (smart scale or manual entry), from get_body_composition's "
        "dateWeightList; Garmin sends weight and masses in grams, stored here in kg."
    ),
    key=("timestamp",),
    columns=(
        CALENDAR_DATE,
        Column("timestamp", UTC_TIME, "When the weigh-in was taken.", "UTC", nullable=False),
        Column("timestamp_local", LOCAL_TIME, "The same, local wall-clock time.", "local"),
        Column("weight_kg", pl.Float64, "Body weight.", "kg", in_range(20, 400), nullable=False),
        Column("bmi", pl.Float64, "Body mass index.", "kg/m2", in_range(8, 80)),
        Column("body_fat_pct", pl.Float64, "Body fat.", "%", in_range(1, 80)),
        Column("body_water_pct", pl.Float64, "Body water.", "%", in_range(20, 90)),
        Column("bone_mass_kg", pl.Float64, "Bone mass.", "kg", in_range(0, 20)),
        Column("muscle_mass_kg", pl.Float64, "Muscle mass.", "kg", in_range(0, 200)),
        Column("source_type", pl.String, "Where it came from, e.g. INDEX_SCALE or MANUAL."),
    ),
)


def weigh_ins_by_day(answer: Any, days: Sequence[date]) -> Mapping[date, Any]:
    """Each day of the window gets its list of weigh-ins, empty when there were none: the
    answer covers the whole window, so an empty day is known to have none."""
    entries = answer.get("dateWeightList") if isinstance(answer, Mapping) else None
    by_day: dict[date, list[Any]] = {day: [] for day in days}
    for entry in entries or []:
        day = date.fromisoformat(str(entry["calendarDate"])[:10])
        by_day.setdefault(day, []).append(entry)
    return by_day


def weigh_ins_from_summaries(answer: Any, days: Sequence[date]) -> Mapping[date, Any]:
    """The Personal API's `weight/range` answer (`dailyWeightSummaries`, each day's weigh-ins
    in `allWeightMetrics`, the same entries Connect's dateWeightList holds) split like it."""
    summaries = answer.get("dailyWeightSummaries") if isinstance(answer, Mapping) else None
    entries = [
        entry
        for summary in summaries or []
        for entry in (summary.get("allWeightMetrics") or [] if isinstance(summary, Mapping) else [])
    ]
    return weigh_ins_by_day({"dateWeightList": entries}, days)


def build_weigh_ins(entries: Sequence[Mapping[str, Any]] | None, day: date) -> pl.DataFrame:
    entries = json_objects(entries or None, "the payload")
    if not entries:
        return empty_frame(WEIGH_INS.columns)
    keys = ("timestampGMT", "date", "weight", "bmi", "bodyFat", "bodyWater", "boneMass")
    raw = pl.DataFrame(
        {k: json_column(entries, k, "weigh-ins") for k in (*keys, "muscleMass", "sourceType")},
        schema={**{k: pl.Float64 for k in keys}, "muscleMass": pl.Float64, "sourceType": pl.String},
        strict=False,
    )
    return raw.select(
        pl.lit(day, pl.Date).alias("calendar_date"),
        epoch_ms_to_utc("timestampGMT").alias("timestamp"),
        epoch_ms_to_local("date").alias("timestamp_local"),
        (pl.col("weight") / 1000).alias("weight_kg"),
        pl.col("bmi"),
        pl.col("bodyFat").alias("body_fat_pct"),
        pl.col("bodyWater").alias("body_water_pct"),
        (pl.col("boneMass") / 1000).alias("bone_mass_kg"),
        (pl.col("muscleMass") / 1000).alias("muscle_mass_kg"),
        pl.col("sourceType").alias("source_type"),
    )


BODY_BATTERY = Dataset(
    name="body_battery",
    description=(
        "Intraday Body Battery: one row per sample get_body_battery reports (every ~3 minutes); "
        "null readings (watch off the wrist) are not samples and are left out."
    ),
    key=("timestamp",),
    columns=(
        CALENDAR_DATE,
        Column("timestamp", UTC_TIME, "When the level was sampled.", "UTC", nullable=False),
        Column("body_battery_level", pl.Int32, "Body Battery (0-100).", None, LEVEL, False),
    ),
)
BODY_BATTERY_DAILY = Dataset(
    name="body_battery_daily",
    description="One row per day with Body Battery data: points charged and drained.",
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column("charged", pl.Int32, "Body Battery points gained that day.", None, LEVEL),
        Column("drained", pl.Int32, "Body Battery points spent that day.", None, LEVEL),
    ),
)
BODY_BATTERY_EVENTS = Dataset(
    name="body_battery_events",
    description=(
        "One row per Body Battery event (sleep, activity, nap, recovery...) carried in the "
        "get_body_battery report entries (bodyBatteryActivityEvent)."
    ),
    key=("event_start", "event_type"),
    columns=(
        CALENDAR_DATE,
        Column("event_start", UTC_TIME, "When the event started.", "UTC", nullable=False),
        Column("event_type", pl.String, "Garmin's event type, e.g. SLEEP or ACTIVITY.", None),
        Column("duration_s", pl.Float64, "How long it lasted.", "s", in_range(0, 86_400 * 2)),
        Column(
            "body_battery_impact",
            pl.Int32,
            "Points gained (positive) or spent (negative).",
            None,
            in_range(-100, 100),
        ),
        Column("utc_offset_s", pl.Int32, "Local time minus UTC at the start.", "s"),
        Column("feedback_type", pl.String, "Garmin's feedback code for the event."),
        Column("short_feedback", pl.String, "Garmin's short feedback for the event."),
        Column("activity_id", pl.Int64, "The activity, for activity events."),
        Column("activity_name", pl.String, "The activity's name, for activity events."),
        Column("activity_type", pl.String, "The activity's type key, for activity events."),
    ),
)
BODY_BATTERY_DAILY_FIELDS = {"calendar_date": "date", "charged": "charged", "drained": "drained"}


def build_body_battery_samples(entry: Mapping[str, Any], day: date) -> pl.DataFrame:
    what = "bodyBatteryValuesArray"
    samples = []
    for i, sample in enumerate(json_array(entry.get(what) or None, what)):
        if not isinstance(sample, list):
            sample = json_array(sample, f"{what}[{i}]")  # raises: not an array
        if len(sample) >= 2:
            samples.append([json_scalar(v, f"{what}[{i}][{j}]") for j, v in enumerate(sample[:2])])
    if not samples:
        return empty_frame(BODY_BATTERY.columns)
    # Column by column: row orientation fails on mixed types even with strict=False.
    frame = pl.DataFrame(
        {"ms": [s[0] for s in samples], "level": [s[1] for s in samples]},
        schema={"ms": pl.Int64, "level": pl.Int32},
        strict=False,
    )
    return frame.filter(pl.col("level").is_not_null()).select(
        pl.lit(day, pl.Date).alias("calendar_date"),
        epoch_ms_to_utc("ms").alias("timestamp"),
        pl.col("level").alias("body_battery_level"),
    )


def build_body_battery_events(entry: Mapping[str, Any], day: date) -> pl.DataFrame:
    events = json_objects(entry.get("bodyBatteryActivityEvent") or None, "bodyBatteryActivityEvent")
    if not events:
        return empty_frame(BODY_BATTERY_EVENTS.columns)
    strings = ("eventStartTimeGmt", "eventType", "feedbackType", "shortFeedback")
    numbers = ("durationInMilliseconds", "bodyBatteryImpact", "timezoneOffset", "activityId")
    texts = ("activityName", "activityType")
    raw = pl.DataFrame(
        {
            k: json_column(events, k, "bodyBatteryActivityEvent")
            for k in (*strings, *numbers, *texts)
        },
        schema={
            **{k: pl.String for k in (*strings, *texts)},
            **{k: pl.Float64 for k in numbers},
        },
        strict=False,
    )
    return raw.select(
        pl.lit(day, pl.Date).alias("calendar_date"),
        gmt_string_to_utc("eventStartTimeGmt").alias("event_start"),
        pl.col("eventType").alias("event_type"),
        (pl.col("durationInMilliseconds") / 1000).alias("duration_s"),
        pl.col("bodyBatteryImpact").cast(pl.Int32).alias("body_battery_impact"),
        (pl.col("timezoneOffset") / 1000).cast(pl.Int32).alias("utc_offset_s"),
        pl.col("feedbackType").alias("feedback_type"),
        pl.col("shortFeedback").alias("short_feedback"),
        pl.col("activityId").cast(pl.Int64).alias("activity_id"),
        pl.col("activityName").alias("activity_name"),
        pl.col("activityType").alias("activity_type"),
    )


def build_body_battery(entry: Mapping[str, Any] | None, day: date) -> dict[str, pl.DataFrame]:
    entry = json_object(entry or None, "the payload")
    if not entry:
        return {
            d.name: empty_frame(d.columns)
            for d in (BODY_BATTERY, BODY_BATTERY_DAILY, BODY_BATTERY_EVENTS)
        }
    daily = one_row(
        {**entry, "date": entry.get("date") or day.isoformat()},
        BODY_BATTERY_DAILY_FIELDS,
        BODY_BATTERY_DAILY.columns,
    )
    return {
        BODY_BATTERY.name: build_body_battery_samples(entry, day),
        BODY_BATTERY_DAILY.name: daily,
        BODY_BATTERY_EVENTS.name: build_body_battery_events(entry, day),
    }


WEIGH_INS_FEED = range_feed(
    WEIGH_INS,
    "weight-service/weight/dateRange",
    "get_body_composition",
    weigh_ins_by_day,
    build_weigh_ins,
    personal_api=PersonalApiRange("get_weight_measurements", split=weigh_ins_from_summaries),
    shape=Shape(
        recorded=(
            "body_composition_empty.json",
            "weight_dayview.json",
            "weight_dayview_manual.json",
            "weight_dayview_empty.json",
            "weight_range.json",
            "weight_range_empty.json",
            "weight_range_single_day.json",
        ),
        assumed="dateRange is recorded only empty; its dateWeightList items are taken to be "
        "those weight/dayview answers in the same envelope",
        personal_api="weight/range is taken to answer as Connect's recorded weight/range",
    ),
)
BODY_BATTERY_FEED = Feed(
    name="body_battery",
    description=(
        "GET wellness-service/wellness/bodyBattery/reports/daily (get_body_battery), one "
        f"request per {RANGE_WINDOW_DAYS} days: samples, daily charge/drain and events."
    ),
    fetch=ranged(
        "get_body_battery", RANGE_WINDOW_DAYS, by_calendar_date("date"), "body_battery.json"
    ),
    parse=parse_json_frames("body_battery.json", build_body_battery),
    datasets=(BODY_BATTERY, BODY_BATTERY_DAILY, BODY_BATTERY_EVENTS),
    personal_api=ranged(
        "get_daily_body_battery",
        PERSONAL_API_RANGE_DAYS,
        by_calendar_date("date"),
        "body_battery.json",
    ),
    shape=Shape(
        recorded=("body_battery_report.json",),
        assumed="the recording's levels were scrubbed to null upstream and it has no "
        "bodyBatteryActivityEvent; event items are taken to have the keys of the recorded "
        "get_body_battery_events `event` object and its activity fields",
        personal_api=SAME_AS_CONNECT,
    ),
)

FEEDS = (WEIGH_INS_FEED, BODY_BATTERY_FEED)
