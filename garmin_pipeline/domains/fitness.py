"""Training and fitness: readiness, training status, VO2max, fitness age, race predictions,
endurance and hill scores; and the state that has no history: devices and gear.

Every series comes from a range endpoint, so a backfill costs one request per window (28 days,
a year for race predictions) instead of one per day; each window's answer is split back into
one payload per day. A day the answer does not mention is stored as `null` and lands as an
empty partition: Garmin only has these metrics for days the watch recorded enough data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import polars as pl

from garmin_pipeline.domains.fetching import (
    by_calendar_date,
    per_day,
    range_feed,
    snapshot,
)
from garmin_pipeline.domains.frames import date_prefix, day_literal, json_frame, typed
from garmin_pipeline.domains.health import CALENDAR_DATE
from garmin_pipeline.feeds import CONNECT, Dataset, Feed, RawPayload, Shape, Stored
from garmin_pipeline.lake.parsers import (
    epoch_ms_to_utc,
    json_column,
    json_object,
    json_objects,
    parse_json_day,
)
from garmin_pipeline.lake.schema import LOCAL_TIME, UTC_TIME, Column, empty_frame, in_range
from garmin_pipeline.raw.canonical import canonical_json

# The caps the emulator enforces (see `sources/emulator/metrics_routes.py`): garminconnect
# documents one year for race predictions; the rest use 28 days.
RACE_PREDICTION_WINDOW_DAYS = 366
# What the endpoints no recording shows are read as.
PUBLIC = "the keys garminconnect's docstrings and public clients read"

SNAPSHOT_DATE = Column(
    "snapshot_date", pl.Date, "The last day of the sync that read this state.", nullable=False
)
PERCENT = in_range(0, 100)
VO2MAX = in_range(10, 100)
AGE = in_range(10, 120)
RACE_TIME = in_range(60, 100_000)


def _pct(name: str, what: str) -> Column:
    return Column(name, pl.Int32, what, "%", PERCENT)


def _garmin_time(column: str) -> pl.Expr:
    """Garmin's "2025-07-08T03:50:17.0" spelling, naive."""
    # Cast first: a column holding only nulls (or numbers) has no string dtype to parse.
    text = pl.col(column).cast(pl.String)
    return text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False)


def _group_by_date(key: str = "calendarDate") -> Callable[[Any, Sequence[date]], dict[date, Any]]:
    """Split a list where a day may have several entries: each day gets its list."""

    def split(answer: Any, days: Sequence[date]) -> dict[date, Any]:
        parts: dict[date, list[Any]] = {}
        for entry in answer or []:
            if isinstance(entry, Mapping) and entry.get(key):
                parts.setdefault(date.fromisoformat(str(entry[key])[:10]), []).append(entry)
        return parts

    return split


# ---------------------------------------------------------------------- training readiness
TRAINING_READINESS = Dataset(
    name="training_readiness",
    description=(
        "One row per training readiness computation: after waking up and again after each "
        "activity (Garmin's inputContext), so several rows per day are normal."
    ),
    key=("calendar_date", "timestamp"),
    columns=(
        CALENDAR_DATE,
        Column("timestamp", UTC_TIME, "When Garmin computed it.", "UTC", nullable=False),
        Column("timestamp_local", LOCAL_TIME, "When it was computed, local wall clock.", "local"),
        Column("input_context", pl.String, "What triggered it, e.g. AFTER_WAKEUP_RESET."),
        Column("score", pl.Int32, "Training readiness score (0-100).", None, PERCENT),
        Column("level", pl.String, "Garmin's level: POOR, LOW, MODERATE, HIGH or PRIME."),
        Column("feedback_short", pl.String, "Garmin's short feedback phrase key."),
        Column("sleep_score", pl.Int32, "Last night's sleep score.", None, PERCENT),
        _pct("sleep_score_factor_pct", "Contribution of last night's sleep."),
        _pct("sleep_history_factor_pct", "Contribution of the last nights' sleep."),
        Column(
            "recovery_time_min",
            pl.Int32,
            "Recovery time still needed.",
            "min",
            in_range(0, 10_000),
        ),
        _pct("recovery_time_factor_pct", "Contribution of the remaining recovery time."),
        Column(
            "acute_load", pl.Int32, "Acute training load at that time.", "load", in_range(0, 10_000)
        ),
        _pct("acwr_factor_pct", "Contribution of the acute:chronic workload ratio."),
        _pct("hrv_factor_pct", "Contribution of last night's HRV against its weekly mean."),
        Column(
            "hrv_weekly_average_ms",
            pl.Int32,
            "Weekly mean of the nightly HRV.",
            "ms",
            in_range(1, 300),
        ),
        _pct("stress_history_factor_pct", "Contribution of the recent stress history."),
        Column("valid_sleep", pl.Boolean, "Whether last night's sleep counted."),
    ),
)
READINESS_FIELDS = {
    "calendar_date": "calendarDate",
    "timestamp": "timestamp",
    "timestamp_local": "timestampLocal",
    "input_context": "inputContext",
    "score": "score",
    "level": "level",
    "feedback_short": "feedbackShort",
    "sleep_score": "sleepScore",
    "sleep_score_factor_pct": "sleepScoreFactorPercent",
    "sleep_history_factor_pct": "sleepHistoryFactorPercent",
    "recovery_time_min": "recoveryTime",
    "recovery_time_factor_pct": "recoveryTimeFactorPercent",
    "acute_load": "acuteLoad",
    "acwr_factor_pct": "acwrFactorPercent",
    "hrv_factor_pct": "hrvFactorPercent",
    "hrv_weekly_average_ms": "hrvWeeklyAverage",
    "stress_history_factor_pct": "stressHistoryFactorPercent",
    "valid_sleep": "validSleep",
}


def build_training_readiness(
    entries: Sequence[Mapping[str, Any]] | None, day: date
) -> pl.DataFrame:
    entries = json_objects(entries, "the payload")
    if not entries:
        return empty_frame(TRAINING_READINESS.columns)
    return typed(
        json_frame(entries, READINESS_FIELDS),
        TRAINING_READINESS,
        calendar_date=day_literal(day),
        timestamp=_garmin_time("timestamp").dt.replace_time_zone("UTC"),
        timestamp_local=_garmin_time("timestamp_local"),
    ).sort("timestamp")


# ---------------------------------------------------------------------- training status
TRAINING_STATUS = Dataset(
    name="training_status",
    description=(
        "One row per day: the primary training device's training status, acute and chronic "
        "load, their ratio and the optimal load range. Garmin's load balance (aerobic low/high, "
        "anaerobic) is only served one day per request, so it is not fetched."
    ),
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column("timestamp", UTC_TIME, "When Garmin last computed the day's status.", "UTC"),
        Column("device_id", pl.Int64, "The primary training device."),
        Column(
            "training_status",
            pl.Int32,
            "Garmin's status code (0 none, 1 detraining, 2 unproductive, 4 maintaining, "
            "5 recovery, 6 peaking, 7 productive, 8 strained, as recorded; other codes pass "
            "through).",
            None,
            in_range(0, 20),
        ),
        Column("training_status_phrase", pl.String, "Garmin's phrase key, e.g. PRODUCTIVE_2."),
        Column("training_paused", pl.Boolean, "Whether the user paused training status."),
        Column("fitness_trend", pl.Int32, "Garmin's fitness trend code (recorded: 0 to 3)."),
        Column("acute_load", pl.Int32, "Acute (7-day) training load.", "load", in_range(0, 10_000)),
        Column(
            "chronic_load", pl.Int32, "Chronic (4-week) training load.", "load", in_range(0, 10_000)
        ),
        Column("acwr", pl.Float64, "Acute:chronic workload ratio.", "ratio", in_range(0, 20)),
        _pct("acwr_pct", "The ratio's position on Garmin's gauge."),
        Column("acwr_status", pl.String, "LOW, OPTIMAL, HIGH or VERY_HIGH."),
        Column(
            "load_tunnel_min",
            pl.Float64,
            "Lower edge of the optimal acute load (minTrainingLoadChronic).",
            "load",
            in_range(0, 20_000),
        ),
        Column(
            "load_tunnel_max",
            pl.Float64,
            "Upper edge of the optimal acute load (maxTrainingLoadChronic).",
            "load",
            in_range(0, 20_000),
        ),
    ),
)
TRAINING_STATUS_FIELDS = {
    "timestamp": "timestamp",
    "device_id": "deviceId",
    "training_status": "trainingStatus",
    "training_status_phrase": "trainingStatusFeedbackPhrase",
    "training_paused": "trainingPaused",
    "fitness_trend": "fitnessTrend",
}
ACUTE_LOAD_FIELDS = {
    "acute_load": "dailyTrainingLoadAcute",
    "chronic_load": "dailyTrainingLoadChronic",
    "acwr": "dailyAcuteChronicWorkloadRatio",
    "acwr_pct": "acwrPercent",
    "acwr_status": "acwrStatus",
    "load_tunnel_min": "minTrainingLoadChronic",
    "load_tunnel_max": "maxTrainingLoadChronic",
}


def split_training_status(answer: Any, days: Sequence[date]) -> dict[date, Any]:
    """`reportData` is keyed by device: keep the primary training device's entry of each day."""
    report = (answer or {}).get("reportData") or {}
    parts: dict[date, Any] = {}
    for entries in report.values():
        for entry in entries or []:
            if not isinstance(entry, Mapping) or not entry.get("calendarDate"):
                continue
            day = date.fromisoformat(str(entry["calendarDate"])[:10])
            if entry.get("primaryTrainingDevice") or day not in parts:
                parts[day] = entry
    return parts


def build_training_status(entry: Mapping[str, Any] | None, day: date) -> pl.DataFrame:
    entry = json_object(entry, "the payload")
    if not entry:
        return empty_frame(TRAINING_STATUS.columns)
    status = json_frame([entry], TRAINING_STATUS_FIELDS)
    load_dto = json_object(entry.get("acuteTrainingLoadDTO"), "acuteTrainingLoadDTO")
    load = json_frame([load_dto], ACUTE_LOAD_FIELDS, "acuteTrainingLoadDTO")
    return typed(
        pl.concat([status, load], how="horizontal"),
        TRAINING_STATUS,
        calendar_date=day_literal(day),
        timestamp=epoch_ms_to_utc("timestamp"),
    )


# ---------------------------------------------------------------------- max metrics
MAX_METRICS = Dataset(
    name="max_metrics",
    description=(
        "One row per day Garmin updated a VO2max (after a run or a ride); other days are empty."
    ),
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column(
            "vo2max_running_ml_kg_min", pl.Float64, "Running VO2max, precise.", "ml/kg/min", VO2MAX
        ),
        Column(
            "vo2max_cycling_ml_kg_min", pl.Float64, "Cycling VO2max, precise.", "ml/kg/min", VO2MAX
        ),
        Column(
            "fitness_age_years", pl.Int32, "Fitness age, if Garmin gives it here.", "years", AGE
        ),
    ),
)


def split_max_metrics(answer: Any, days: Sequence[date]) -> dict[date, Any]:
    """An entry carries its date in `generic` (running) or `cycling`."""
    parts: dict[date, Any] = {}
    for entry in answer or []:
        dated = [(entry.get(k) or {}).get("calendarDate") for k in ("generic", "cycling")]
        when = next((d for d in dated if d), None)
        if when:
            parts[date.fromisoformat(str(when)[:10])] = entry
    return parts


def build_max_metrics(entry: Mapping[str, Any] | None, day: date) -> pl.DataFrame:
    entry = json_object(entry, "the payload")
    if not entry or not (entry.get("generic") or entry.get("cycling")):
        return empty_frame(MAX_METRICS.columns)
    running = json_object(entry.get("generic") or None, "generic")
    cycling = json_object(entry.get("cycling") or None, "cycling")
    frame = pl.DataFrame(
        {
            "vo2max_running_ml_kg_min": json_column([running], "vo2MaxPreciseValue", "generic"),
            "vo2max_cycling_ml_kg_min": json_column([cycling], "vo2MaxPreciseValue", "cycling"),
            "fitness_age_years": json_column([running], "fitnessAge", "generic"),
        },
        strict=False,
    )
    return typed(frame, MAX_METRICS, calendar_date=day_literal(day))


# ---------------------------------------------------------------------- fitness age
FITNESS_AGE = Dataset(
    name="fitness_age",
    description="One row per day: Garmin's fitness age and what it is made of.",
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column("fitness_age_years", pl.Float64, "Fitness age.", "years", AGE),
        Column(
            "achievable_fitness_age_years",
            pl.Float64,
            "The fitness age Garmin says is reachable.",
            "years",
            AGE,
        ),
        Column(
            "resting_heart_rate_bpm", pl.Int32, "Resting heart rate used.", "bpm", in_range(20, 150)
        ),
        Column("bmi_kg_m2", pl.Float64, "Body mass index used.", "kg/m2", in_range(10, 70)),
        Column("body_fat_pct", pl.Float64, "Body fat used, if measured.", "%", in_range(1, 70)),
        Column(
            "vigorous_days_per_week",
            pl.Float64,
            "Mean days per week with vigorous activity.",
            "days/week",
            in_range(0, 7),
        ),
    ),
)
FITNESS_AGE_FIELDS = {
    "fitness_age_years": "fitnessAge",
    "achievable_fitness_age_years": "achievableFitnessAge",
    "resting_heart_rate_bpm": "rhr",
    "bmi_kg_m2": "bmi",
    "body_fat_pct": "bodyFat",
    "vigorous_days_per_week": "vigorousDaysAvg",
}


def personal_api_fitness_age(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The Personal API's per-day answer (fitnessage/v2: the figures, and each input under
    `components` as {"value": ...}) as the `values` of Connect's daily row."""
    components = json_object(answer.get("components") or None, "components")
    inputs = {
        name: json_object(component or None, f"components.{name}").get("value")
        for name, component in components.items()
    }
    return {key: answer.get(key) for key in ("fitnessAge", "achievableFitnessAge")} | inputs


def build_fitness_age(entry: Mapping[str, Any] | None, day: date) -> pl.DataFrame:
    entry = json_object(entry, "the payload")
    if "components" in entry:  # fetched from the Personal API
        entry = {"values": personal_api_fitness_age(entry)}
    values = json_object(entry.get("values") or None, "values")
    if not values:
        return empty_frame(FITNESS_AGE.columns)
    return typed(
        json_frame([values], FITNESS_AGE_FIELDS, "values"),
        FITNESS_AGE,
        calendar_date=day_literal(day),
    )


# ---------------------------------------------------------------------- race predictions
RACE_PREDICTIONS = Dataset(
    name="race_predictions",
    description="One row per day: Garmin's predicted race times.",
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column("time_5k_s", pl.Int32, "Predicted 5 km time.", "s", RACE_TIME),
        Column("time_10k_s", pl.Int32, "Predicted 10 km time.", "s", RACE_TIME),
        Column("time_half_marathon_s", pl.Int32, "Predicted half marathon time.", "s", RACE_TIME),
        Column("time_marathon_s", pl.Int32, "Predicted marathon time.", "s", RACE_TIME),
    ),
)
RACE_FIELDS = {
    "time_5k_s": "time5K",
    "time_10k_s": "time10K",
    "time_half_marathon_s": "timeHalfMarathon",
    "time_marathon_s": "timeMarathon",
}


def build_race_predictions(entry: Mapping[str, Any] | None, day: date) -> pl.DataFrame:
    entry = json_object(entry, "the payload")
    if not entry or all(entry.get(key) is None for key in RACE_FIELDS.values()):
        return empty_frame(RACE_PREDICTIONS.columns)
    return typed(json_frame([entry], RACE_FIELDS), RACE_PREDICTIONS, calendar_date=day_literal(day))


# ---------------------------------------------------------------------- endurance score
ENDURANCE_SCORE = Dataset(
    name="endurance_score",
    description=(
        "One row per day: Garmin's endurance score, from the daily groups of "
        "endurancescore/stats (the classification is only in the one-day form, not fetched)."
    ),
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column(
            "endurance_score",
            pl.Int32,
            "Endurance score (Garmin's ~3500-10500 scale).",
            None,
            in_range(0, 20_000),
        ),
    ),
)


def split_endurance_score(answer: Any, days: Sequence[date]) -> dict[date, Any]:
    """`groupMap` is keyed by day when aggregation=daily."""
    groups = (answer or {}).get("groupMap") or {}
    return {
        date.fromisoformat(key[:10]): {"calendarDate": key, **group}
        for key, group in groups.items()
    }


def build_endurance_score(group: Mapping[str, Any] | None, day: date) -> pl.DataFrame:
    group = json_object(group, "the payload")
    if not group or group.get("groupAverage") is None:
        return empty_frame(ENDURANCE_SCORE.columns)
    return typed(
        json_frame([group], {"endurance_score": "groupAverage"}),
        ENDURANCE_SCORE,
        calendar_date=day_literal(day),
    )


# ---------------------------------------------------------------------- hill score
HILL_SCORE = Dataset(
    name="hill_score",
    description="One row per day Garmin has a hill score (none before the first run).",
    key=("calendar_date",),
    columns=(
        CALENDAR_DATE,
        Column("hill_score", pl.Int32, "Overall hill score (1-100).", None, PERCENT),
        Column("strength_score", pl.Int32, "Hill strength (1-100).", None, PERCENT),
        Column("endurance_score", pl.Int32, "Hill endurance (1-100).", None, PERCENT),
        Column("classification_id", pl.Int32, "Garmin's hill score classification."),
        Column("feedback_phrase_id", pl.Int32, "Garmin's feedback phrase id."),
        Column(
            "vo2max_ml_kg_min", pl.Float64, "Running VO2max used, precise.", "ml/kg/min", VO2MAX
        ),
    ),
)
HILL_FIELDS = {
    "hill_score": "overallScore",
    "strength_score": "strengthScore",
    "endurance_score": "enduranceScore",
    "classification_id": "hillScoreClassificationId",
    "feedback_phrase_id": "hillScoreFeedbackPhraseId",
    "vo2max_ml_kg_min": "vo2MaxPreciseValue",
}


def split_hill_score(answer: Any, days: Sequence[date]) -> Mapping[date, Any]:
    return by_calendar_date()((answer or {}).get("hillScoreDTOList"), days)


def build_hill_score(entry: Mapping[str, Any] | None, day: date) -> pl.DataFrame:
    entry = json_object(entry, "the payload")
    if not entry or entry.get("overallScore") is None:
        return empty_frame(HILL_SCORE.columns)
    return typed(json_frame([entry], HILL_FIELDS), HILL_SCORE, calendar_date=day_literal(day))


# ---------------------------------------------------------------------- devices
DEVICES = Dataset(
    name="devices",
    description=(
        "The registered devices as of a sync (kept on its last day). Serial numbers are "
        "identifiers, not data, and are left out."
    ),
    key=("device_id",),
    columns=(
        SNAPSHOT_DATE,
        Column("device_id", pl.Int64, "Garmin's device id.", nullable=False),
        Column("product_name", pl.String, "The product, e.g. fēnix 6."),
        Column("display_name", pl.String, "The name the user gave it."),
        Column("application_key", pl.String, "Garmin's product key."),
        Column("part_number", pl.String, "Garmin's part number."),
        Column("software_version", pl.String, "Installed firmware version."),
        Column("device_status", pl.String, "Registration status, e.g. active."),
        Column("is_primary_tracker", pl.Boolean, "Whether it is the primary activity tracker."),
        Column("last_sync", UTC_TIME, "When it last synced (sensors: never).", "UTC"),
    ),
)
DEVICE_FIELDS = {
    "device_id": "deviceId",
    "product_name": "productDisplayName",
    "display_name": "displayName",
    "application_key": "applicationKey",
    "part_number": "partNumber",
    "software_version": "currentFirmwareVersion",
    "device_status": "deviceStatus",
    "is_primary_tracker": "primaryActivityTrackerIndicator",
    "last_sync": "lastSyncTime",
}


def build_devices(entries: Sequence[Mapping[str, Any]] | None, day: date) -> pl.DataFrame:
    entries = json_objects(entries, "the payload")
    if not entries:
        return empty_frame(DEVICES.columns)
    return typed(
        json_frame(entries, DEVICE_FIELDS),
        DEVICES,
        snapshot_date=day_literal(day),
        last_sync=_garmin_time("last_sync").dt.replace_time_zone("UTC"),
    ).sort("device_id")


# ---------------------------------------------------------------------- gear
GEAR_PAYLOAD = "gear.json"
GEAR = Dataset(
    name="gear",
    description=(
        "The user's gear as of a sync (kept on its last day), with each item's totals from "
        "gear/stats."
    ),
    key=("gear_uuid",),
    columns=(
        SNAPSHOT_DATE,
        Column("gear_uuid", pl.String, "Garmin's gear uuid.", nullable=False),
        Column("gear_pk", pl.Int64, "Garmin's numeric gear id."),
        Column("display_name", pl.String, "The name shown in Garmin Connect."),
        Column("gear_type", pl.String, "Garmin's gear type, e.g. Shoes or Bike."),
        Column("make", pl.String, "Manufacturer."),
        Column("model", pl.String, "Model."),
        Column("status", pl.String, "active or retired."),
        Column("date_begin", pl.Date, "First day in use.", "local"),
        Column("date_end", pl.Date, "Retired on.", "local"),
        Column("maximum_m", pl.Float64, "Expected lifespan (0: none set).", "m", in_range(0, 1e8)),
        Column("total_distance_m", pl.Float64, "Distance covered with it.", "m", in_range(0, 1e9)),
        Column(
            "total_activities", pl.Int32, "Activities done with it.", "activities", in_range(0, 1e6)
        ),
    ),
)
GEAR_FIELDS = {
    "gear_uuid": "uuid",
    "gear_pk": "gearPk",
    "display_name": "displayName",
    "gear_type": "gearTypeName",
    "make": "gearMakeName",
    "model": "gearModelName",
    "status": "gearStatusName",
    "date_begin": "dateBegin",
    "date_end": "dateEnd",
    "maximum_m": "maximumMeters",
}


def fetch_gear(source: Any, days: Sequence[date], stored: Stored) -> Iterator[RawPayload]:
    """The gear list, then each item's stats (its distance): 1 + one request per item."""
    if not days:
        return
    listed = source.json("get_gear", "get_gear", source.profile_id) or []
    stats = {
        item["uuid"]: source.json(f"get_gear_stats {item['uuid']}", "get_gear_stats", item["uuid"])
        for item in listed
        if item.get("uuid")
    }
    yield RawPayload(days[-1], GEAR_PAYLOAD, canonical_json({"gear": listed, "stats": stats}))


def build_gear(payload: Mapping[str, Any] | None, day: date) -> pl.DataFrame:
    payload = json_object(payload, "the payload")
    items = json_objects(payload.get("gear") or None, "gear")
    if not items:
        return empty_frame(GEAR.columns)
    stats = json_object(payload.get("stats") or None, "stats")
    uuids = json_column(items, "uuid", "gear")
    totals = [json_object(stats.get(uuid) or None, f"stats.{uuid}") for uuid in uuids]
    frame = pl.concat(
        [
            json_frame(items, GEAR_FIELDS, "gear"),
            json_frame(
                totals,
                {"total_distance_m": "totalDistance", "total_activities": "totalActivities"},
                "stats",
            ),
        ],
        how="horizontal",
    )
    return typed(
        frame,
        GEAR,
        snapshot_date=day_literal(day),
        date_begin=date_prefix("date_begin"),
        date_end=date_prefix("date_end"),
    ).sort("gear_uuid")


# ---------------------------------------------------------------------- feeds
_FITNESS_AGE_CONNECT = range_feed(
    FITNESS_AGE,
    "fitnessage-service/stats/daily/{start}/{end}",
    "get_fitness_age_daily",
    by_calendar_date(),
    build_fitness_age,
    shape=Shape(assumed=f"fitnessage-service/stats/daily answers {PUBLIC}"),
)
# The Personal API serves fitness age a day at a time (fitnessage/v2/{date}), kept as received
# and read by the same parser; hybrid mode keeps Connect's 28 days a request for it.
FITNESS_AGE_FEED = replace(
    _FITNESS_AGE_CONNECT,
    description=_FITNESS_AGE_CONNECT.description
    + " Personal API: get_fitness_age, one request per day (hybrid mode uses Connect).",
    personal_api=per_day("get_fitness_age", "fitness_age.json"),
    hybrid_source=CONNECT,
    shape=replace(
        _FITNESS_AGE_CONNECT.shape,
        personal_api="fitnessage/v2/{date} is taken to answer get_fitnessage_data's keys "
        "(fitnessAge, achievableFitnessAge, components.*.value)",
    ),
)


def _iso_with(*extra: Any) -> Callable[[date, date], tuple[Any, ...]]:
    return lambda first, last: (first.isoformat(), last.isoformat(), *extra)


def _snapshot_feed(dataset: Dataset, endpoint: str, fetch: Any, build: Any, shape: Shape) -> Feed:
    return Feed(
        name=dataset.name,
        description=f"GET {endpoint}, once per sync (state without history).",
        fetch=fetch,
        parse=parse_json_day(f"{dataset.name}.json", build, dataset.name),
        datasets=(dataset,),
        snapshot=True,
        shape=shape,
    )


FEEDS = (
    range_feed(
        TRAINING_READINESS,
        "metrics-service/metrics/trainingreadiness/{start}/{end}",
        "get_training_readiness_range",
        _group_by_date(),
        build_training_readiness,
        shape=Shape(
            recorded=(
                "training_readiness.json",
                "training_readiness_2024-07-07.json",
                "training_readiness_2025-07-06.json",
                "training_readiness_no_data.json",
            ),
            assumed="only the one-day form trainingreadiness/{date} is recorded; the range "
            "form is taken to list the same entries for every day of the window",
        ),
    ),
    range_feed(
        TRAINING_STATUS,
        "metrics-service/metrics/trainingstatus/weekly/{displayName}",
        "get_weekly_training_status",
        split_training_status,
        build_training_status,
        shape=Shape(recorded=("weekly_training_status.json", "weekly_training_status_pages.json")),
    ),
    range_feed(
        MAX_METRICS,
        "metrics-service/metrics/maxmet/daily/{start}/{end}",
        "get_max_metrics_range",
        split_max_metrics,
        build_max_metrics,
        shape=Shape(
            recorded=("max_metrics_latest.json",),
            assumed="maxmet/daily is not recorded; it is taken to list entries shaped as the "
            "recorded maxmet/latest body, one per day VO2max changed",
        ),
    ),
    FITNESS_AGE_FEED,
    range_feed(
        RACE_PREDICTIONS,
        "metrics-service/metrics/racepredictions/daily/{displayName}",
        "get_race_predictions",
        by_calendar_date(),
        build_race_predictions,
        window_days=RACE_PREDICTION_WINDOW_DAYS,
        args=_iso_with("daily"),
        shape=Shape(assumed=f"racepredictions/daily answers {PUBLIC}"),
    ),
    range_feed(
        ENDURANCE_SCORE,
        "metrics-service/metrics/endurancescore/stats?aggregation=daily",
        "get_endurance_score",
        split_endurance_score,
        build_endurance_score,
        aggregation="daily",
        shape=Shape(
            assumed="endurancescore/stats answers a groupMap of daily groups (groupAverage), "
            "as public clients read it; the recorded one-day endurancescore body is not what "
            "this feed reads"
        ),
    ),
    range_feed(
        HILL_SCORE,
        "metrics-service/metrics/hillscore/stats?aggregation=daily",
        "get_hill_score",
        split_hill_score,
        build_hill_score,
        shape=Shape(
            recorded=("hill_score.json", "hill_score_2025-07-06.json"),
            assumed="only the one-day form hillscore?calendarDate is recorded; hillscore/stats "
            "is taken to list those bodies in hillScoreDTOList",
        ),
    ),
    _snapshot_feed(
        DEVICES,
        "device-service/deviceregistration/devices",
        snapshot("get_devices", "devices.json"),
        build_devices,
        Shape(assumed=f"deviceregistration/devices answers {PUBLIC}"),
    ),
    _snapshot_feed(
        GEAR,
        "gear-service/gear/filterGear and gear-service/gear/stats/{uuid} per item",
        fetch_gear,
        build_gear,
        Shape(assumed=f"gear/filterGear and gear/stats answer {PUBLIC}"),
    ),
)
