"""Decoding of Garmin's daily wellness download: a zip of monitoring, sleep and HRV FIT files.

``GET /download-service/files/wellness/{date}`` answers a zip holding the FIT files a watch
uploaded for that local day (``*_WELLNESS.fit``, ``*_SLEEP_DATA.fit``, ``*_HRV_STATUS.fit``...).
`decode_wellness` reads every member and returns one frame per table in `WELLNESS_TABLES`,
timestamps in UTC. What each table holds is declared here, once (`WellnessTable`, `Field`): the
decoder, the frame schema and the lake datasets (``garmin_pipeline.domains.wellness``) all
derive from these declarations.

Timestamps: most messages carry a full ``timestamp`` (field 253, or a compressed-timestamp
record header, which fitdecode expands into one). Monitoring messages usually carry only
``timestamp_16``, the low 16 bits of the time, relative to the last full time seen in the same
FIT file; `_Clock` resolves them (and each resolved time becomes the new reference, so gaps
under 18 hours between monitoring messages never wrap).

Fields are located by FIT message and field *number*, never by name, so messages the installed
fitdecode profile does not know (nap_event 412 in fitdecode 0.11, and the undocumented 281 and
521) decode the same way as known ones: for a known field fitdecode's scaled value is used; for
an unknown one the raw value divided by the declared ``raw_scale``.

Each member's structure and CRCs are checked whole first, then it is read once with the
activity decoder's fitdecode reader. Which position of a message feeds which column depends
only on how the message's fields are arranged, which repeats from one message to the next: it
is worked out once per arrangement (`_Layout`), and a message is then read with a few lookups.
Rows are kept as read and normalised column by column when the frames are built.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import fitdecode
import polars as pl

from garmin_pipeline.fit.decode import (
    FitDecodeError,
    check_structure,
    fit_reader,
    guarded_frames,
    spec_violations_logged,
    zip_fit_members,
)

__all__ = [
    "ASSUMED_LAYOUTS",
    "WELLNESS_TABLES",
    "Field",
    "WellnessTable",
    "assumed_messages",
    "decode_wellness",
    "wellness_frame_schema",
]

UTC_TIME = pl.Datetime("us", "UTC")
FIT_EPOCH = dt.datetime(1989, 12, 31, tzinfo=dt.UTC)
_SECOND = dt.timedelta(seconds=1)
_FIT_EPOCH_UNIX_S = 631_065_600

# Pseudo field numbers: the message's resolved time, and the message's own number.
TIME = -1
MESSAGE = -2

# FIT field numbers the clock reads (profile: timestamp is 253 in every message; timestamp_16
# is field 26 of monitoring, 55).
_TIMESTAMP, _MONITORING, _TIMESTAMP_16 = 253, 55, 26
_DAY_INFO, _LOCAL_TIMESTAMP = 103, 0  # monitoring_info.local_timestamp: local day start

# ---- undocumented messages ------------------------------------------------------------------
# Messages 281 and 521 appear in the daily wellness download but are in neither the FIT SDK
# profile nor the public decoders we searched (Gadgetbridge's message list, a code search).
# This is OUR ASSUMED LAYOUT, UNVERIFIED AGAINST A DEVICE. The emulator declares its own layout
# for them (it never imports this package), so the round trip checks only that the two
# assumptions agree; a real file that disagrees shows up as odd values in these columns, never
# as a crash. The data dictionary marks every column read from these messages as assumed.
#   281 "resting heart rate": 253 timestamp (uint32, s), 0 resting heart rate (uint8, bpm)
#   521 "sleep score":        253 timestamp (uint32, s), 0 overall sleep score (uint8, 0-100)
RESTING_HR_MESG, SLEEP_SCORE_MESG = 281, 521
ASSUMED_LAYOUTS: dict[int, dict[int, tuple[str, str]]] = {
    RESTING_HR_MESG: {_TIMESTAMP: ("timestamp", "uint32"), 0: ("resting_heart_rate", "uint8")},
    SLEEP_SCORE_MESG: {_TIMESTAMP: ("timestamp", "uint32"), 0: ("sleep_score", "uint8")},
}


@dataclass(frozen=True)
class Field:
    """One column: where it comes from in which message, its type and unit.

    ``source`` maps a FIT message number to the field number feeding this column in that
    message (`TIME` = the message's resolved time, `MESSAGE` = the message number); an empty
    ``source`` means the table's ``finish`` step derives the column. ``kind`` says how a value is
    normalised: "time" (UTC), "float", "int", "enum" (the FIT name, via ``enum`` when fitdecode
    hands back a number) or "bool".
    """

    name: str
    dtype: pl.DataType
    unit: str | None
    description: str
    source: dict[int, int] = field(default_factory=dict)
    kind: str = "int"
    raw_scale: float = 1.0
    enum: str | None = None
    raw: bool = False  # always raw / raw_scale, ignoring fitdecode's scaling (see cycles)


Finish = Callable[[pl.LazyFrame], pl.LazyFrame]


@dataclass(frozen=True)
class WellnessTable:
    """A table decoded from one or more FIT message types; ``key`` is unique and the sort order."""

    name: str
    description: str
    columns: tuple[Field, ...]
    key: tuple[str, ...]
    keep: pl.Expr | None = None  # which message rows belong to the table
    finish: Finish | None = None  # derives the columns without a source

    @property
    def messages(self) -> frozenset[int]:
        return frozenset(m for c in self.columns for m in c.source)


def assumed_messages(column: Field) -> tuple[int, ...]:
    """The messages of `ASSUMED_LAYOUTS` (not in the public FIT profile) whose fields this
    column's values are read from, so the docs can say the values rest on an assumed layout."""
    return tuple(
        sorted(m for m, num in column.source.items() if m in ASSUMED_LAYOUTS and num != MESSAGE)
    )


CALENDAR_DATE = Field(
    "calendar_date",
    pl.Date(),
    None,
    "The day whose wellness download held the row, in the account's timezone (a night is "
    "filed under its wake-up day).",
)


def _time(name: str, mesg: int, description: str, num: int = TIME) -> Field:
    return Field(name, UTC_TIME, "UTC", description, {mesg: num}, "time")


def _int(name: str, unit: str | None, mesg: int, num: int, description: str) -> Field:
    return Field(name, pl.Int32(), unit, description, {mesg: num}, "int")


def _float(
    name: str, unit: str | None, mesg: int, num: int, description: str, raw_scale: float = 1.0
) -> Field:
    return Field(name, pl.Float64(), unit, description, {mesg: num}, "float", raw_scale)


def _enum(name: str, mesg: int, num: int, enum: str, description: str) -> Field:
    return Field(name, pl.String(), None, description, {mesg: num}, "enum", enum=enum)


def _ts(mesg: int, what: str = "the sample") -> Field:
    return _time("timestamp", mesg, f"When {what} was taken (UTC).")


def _sequence(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Number the rows sharing a timestamp (one monitoring message per activity type)."""
    frame = frame.sort("timestamp", maintain_order=True)
    return frame.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int32).over("timestamp").alias("sequence")
    )


def _steps(frame: pl.LazyFrame) -> pl.LazyFrame:
    frame = _sequence(frame)
    is_steps = pl.col("activity_type").is_in(["walking", "running"])
    steps = (pl.col("cycles") * 2).round(0).cast(pl.Int64)
    return frame.with_columns(pl.when(is_steps).then(steps).alias("steps"))


def _sleep_intervals(frame: pl.LazyFrame) -> pl.LazyFrame:
    frame = frame.sort("timestamp")
    return frame.with_columns(pl.col("timestamp").shift(-1).alias("end_time"))


def _assessments(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Pair the n-th sleep_assessment (346) with the n-th sleep score (521) of the download."""
    frame = frame.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int32).over("_message").alias("assessment_index")
    )
    values = [c for c in frame.collect_schema() if c not in ("assessment_index", "calendar_date")]
    return (
        frame.group_by("assessment_index", maintain_order=True)
        .agg(pl.col("calendar_date").first(), *(pl.col(c).drop_nulls().first() for c in values))
        .drop("_message")
    )


SLEEP_ASSESSMENT, HRV_SUMMARY, HRV_VALUE, SLEEP_LEVEL = 346, 370, 371, 275
STRESS, RESPIRATION, SPO2, MONITORING_HR, SKIN_TEMP, NAP = 227, 297, 269, 211, 398, 412

_ACTIVITY_FIELDS = (
    "activity_type",
    "activity_level",
    "intensity",
    "cycles",
    "distance_m",
    "active_time_s",
    "calories_kcal",
    "active_calories_kcal",
    "ascent_m",
    "descent_m",
    "moderate_activity_min",
    "vigorous_activity_min",
)


def _score(name: str, num: int, what: str) -> Field:
    return _int(name, None, SLEEP_ASSESSMENT, num, f"{what} (0-100), sleep_assessment.")


_HRV_MS = 128  # HRV values are stored as ms * 128


TABLES: tuple[WellnessTable, ...] = (
    WellnessTable(
        "heart_rate",
        "Intraday heart rate from the watch's monitoring messages (every 1-2 minutes).",
        (
            CALENDAR_DATE,
            _ts(_MONITORING),
            _int("heart_rate_bpm", "bpm", _MONITORING, 27, "Heart rate (monitoring.heart_rate)."),
        ),
        key=("timestamp",),
        keep=pl.col("heart_rate_bpm").is_not_null(),
    ),
    WellnessTable(
        "stress",
        "All-day stress level (stress_level messages, every 3 minutes).",
        (
            CALENDAR_DATE,
            _time("timestamp", STRESS, "When the level was computed (UTC).", 1),
            _int(
                "stress_level",
                None,
                STRESS,
                0,
                "Stress 0-100 as Garmin writes it; negative values are Garmin's codes, kept: "
                "-1 off wrist or not enough data, -2 too active to measure.",
            ),
        ),
        key=("timestamp",),
        keep=pl.col("timestamp").is_not_null(),
    ),
    WellnessTable(
        "respiration",
        "Breathing rate (respiration_rate messages).",
        (
            CALENDAR_DATE,
            _ts(RESPIRATION),
            _float("respiration_rate_brpm", "breaths/min", RESPIRATION, 0, "Breathing rate.", 100),
        ),
        key=("timestamp",),
        keep=pl.col("timestamp").is_not_null(),
    ),
    WellnessTable(
        "spo2",
        "Blood-oxygen readings (spo2_data messages), mostly overnight.",
        (
            CALENDAR_DATE,
            _ts(SPO2, "the reading"),
            _int("spo2_pct", "%", SPO2, 0, "Blood oxygen saturation."),
            _int("confidence", None, SPO2, 1, "The device's confidence in the reading."),
            _enum("mode", SPO2, 2, "spo2_measurement_type", "How it was measured (FIT enum)."),
        ),
        key=("timestamp",),
        keep=pl.col("timestamp").is_not_null(),
    ),
    WellnessTable(
        "monitoring",
        "Intraday activity (monitoring messages): running day totals per activity type.",
        (
            CALENDAR_DATE,
            _ts(_MONITORING, "the snapshot"),
            Field(
                "sequence",
                pl.Int32(),
                None,
                "Order among the messages sharing this timestamp (one per activity type).",
            ),
            _enum("activity_type", _MONITORING, 5, "activity_type", "Activity type (FIT enum)."),
            _enum("activity_level", _MONITORING, 7, "activity_level", "Low/medium/high."),
            _float(
                "intensity", None, _MONITORING, 28, "Activity intensity the device assigns.", 10
            ),
            Field(
                "cycles",
                pl.Float64(),
                "cycles",
                "Day total so far for this activity type, in FIT cycles (the raw count / 2, "
                "whatever subfield the file's layout lets a reader resolve).",
                {_MONITORING: 3},
                "float",
                raw_scale=2,
                raw=True,
            ),
            Field(
                "steps",
                pl.Int64(),
                "steps",
                "Day total of steps so far for walking or running (cycles * 2, the FIT 'steps' "
                "subfield); null for other activity types.",
            ),
            _float("distance_m", "m", _MONITORING, 2, "Day total distance so far.", 100),
            _float("active_time_s", "s", _MONITORING, 4, "Day total active time so far.", 1000),
            _int("calories_kcal", "kcal", _MONITORING, 1, "Day total energy so far."),
            _int("active_calories_kcal", "kcal", _MONITORING, 19, "Day total active energy."),
            _float("ascent_m", "m", _MONITORING, 31, "Day total ascent so far.", 1000),
            _float("descent_m", "m", _MONITORING, 32, "Day total descent so far.", 1000),
            _int("moderate_activity_min", "min", _MONITORING, 33, "Moderate intensity minutes."),
            _int("vigorous_activity_min", "min", _MONITORING, 34, "Vigorous intensity minutes."),
        ),
        key=("timestamp", "sequence"),
        keep=pl.col("timestamp").is_not_null()
        & pl.any_horizontal(pl.col(c).is_not_null() for c in _ACTIVITY_FIELDS),
        finish=_steps,
    ),
    WellnessTable(
        "hrv_readings",
        "Overnight HRV: one RMSSD value per 5 minutes of sleep (hrv_value messages).",
        (
            CALENDAR_DATE,
            _ts(HRV_VALUE, "the reading"),
            _float("rmssd_ms", "ms", HRV_VALUE, 0, "RMSSD over the 5 minutes.", _HRV_MS),
        ),
        key=("timestamp",),
        keep=pl.col("timestamp").is_not_null(),
    ),
    WellnessTable(
        "hrv_status_device",
        "The night's HRV status as the watch computed it (hrv_status_summary).",
        (
            CALENDAR_DATE,
            _ts(HRV_SUMMARY, "the status"),
            _float("weekly_average_ms", "ms", HRV_SUMMARY, 0, "7-day average RMSSD.", _HRV_MS),
            _float("last_night_average_ms", "ms", HRV_SUMMARY, 1, "Night average.", _HRV_MS),
            _float("last_night_5_min_high_ms", "ms", HRV_SUMMARY, 2, "Night 5-min high.", _HRV_MS),
            _float("baseline_low_upper_ms", "ms", HRV_SUMMARY, 3, "Top of 'low'.", _HRV_MS),
            _float(
                "baseline_balanced_lower_ms", "ms", HRV_SUMMARY, 4, "Balanced low end.", _HRV_MS
            ),
            _float(
                "baseline_balanced_upper_ms", "ms", HRV_SUMMARY, 5, "Balanced high end.", _HRV_MS
            ),
            _enum("status", HRV_SUMMARY, 6, "hrv_status", "HRV status (FIT enum)."),
        ),
        key=("timestamp",),
        keep=pl.col("timestamp").is_not_null(),
    ),
    WellnessTable(
        "sleep_levels",
        "Sleep stages: one row per stage change (sleep_level messages); a stage lasts until "
        "the next row.",
        (
            CALENDAR_DATE,
            _ts(SLEEP_LEVEL, "the stage change"),
            Field("end_time", UTC_TIME, "UTC", "When the stage ended: the next row's timestamp."),
            _enum("sleep_level", SLEEP_LEVEL, 0, "sleep_level", "awake, light, deep, rem..."),
        ),
        key=("timestamp",),
        keep=pl.col("timestamp").is_not_null(),
        finish=_sleep_intervals,
    ),
    WellnessTable(
        "sleep_assessment",
        "The night's sleep scores: sleep_assessment (346) plus the sleep score message 521.",
        (
            CALENDAR_DATE,
            Field(
                "assessment_index",
                pl.Int32(),
                None,
                "Which assessment of the download (0 for the first night).",
            ),
            Field("_message", pl.Int32(), None, "", {SLEEP_ASSESSMENT: MESSAGE, 521: MESSAGE}),
            _time("score_time", SLEEP_SCORE_MESG, "When the score was written (UTC; msg 521)."),
            _int(
                "sleep_score",
                None,
                SLEEP_SCORE_MESG,
                0,
                "Overall sleep score 0-100 from message 521.",
            ),
            _score("overall_sleep_score", 6, "Overall sleep score"),
            _score("sleep_quality_score", 7, "Quality score"),
            _score("sleep_duration_score", 4, "Duration score"),
            _score("deep_sleep_score", 3, "Deep sleep score"),
            _score("light_sleep_score", 5, "Light sleep score"),
            _score("rem_sleep_score", 9, "REM sleep score"),
            _score("sleep_recovery_score", 8, "Recovery score"),
            _score("sleep_restlessness_score", 10, "Restlessness score"),
            _score("awake_time_score", 1, "Awake-time score"),
            _score("combined_awake_score", 0, "Combined awake score"),
            _score("awakenings_count_score", 2, "Awakenings score"),
            _score("interruptions_score", 14, "Interruptions score"),
            _int("awakenings_count", None, SLEEP_ASSESSMENT, 11, "Times awake during the night."),
            _float(
                "average_stress_during_sleep",
                None,
                SLEEP_ASSESSMENT,
                15,
                "Average stress level (0-100) while asleep.",
                100,
            ),
        ),
        key=("assessment_index",),
        finish=_assessments,
    ),
    WellnessTable(
        "skin_temperature",
        "Overnight skin temperature relative to the personal baseline (skin_temp_overnight).",
        (
            CALENDAR_DATE,
            _ts(SKIN_TEMP, "the night's value"),
            _float("average_deviation_c", "°C", SKIN_TEMP, 1, "Night deviation from baseline."),
            _float("average_7_day_deviation_c", "°C", SKIN_TEMP, 2, "7-day average deviation."),
            _float("nightly_value_c", "°C", SKIN_TEMP, 4, "The night's skin temperature value."),
        ),
        key=("timestamp",),
        keep=pl.col("timestamp").is_not_null(),
    ),
    WellnessTable(
        "resting_heart_rate_device",
        "Resting heart rate as the watch reports it: monitoring_hr_data (211) and message 281.",
        (
            CALENDAR_DATE,
            Field(
                "timestamp",
                UTC_TIME,
                "UTC",
                "When the device wrote the value (UTC).",
                {MONITORING_HR: TIME, RESTING_HR_MESG: TIME},
                "time",
            ),
            Field(
                "source_message",
                pl.Int32(),
                None,
                "FIT message number the row comes from: 211 monitoring_hr_data or 281.",
                {MONITORING_HR: MESSAGE, RESTING_HR_MESG: MESSAGE},
            ),
            Field(
                "resting_heart_rate_bpm",
                pl.Int32(),
                "bpm",
                "Resting heart rate (211 field resting_heart_rate; 281 field 0).",
                {MONITORING_HR: 0, RESTING_HR_MESG: 0},
            ),
            _int(
                "current_day_resting_heart_rate_bpm",
                "bpm",
                MONITORING_HR,
                1,
                "The current day's resting heart rate (211 only).",
            ),
        ),
        key=("timestamp", "source_message"),
        keep=pl.col("timestamp").is_not_null(),
    ),
    WellnessTable(
        "naps",
        "Naps the watch detected or the user logged (nap_event).",
        (
            CALENDAR_DATE,
            _time("start_time", NAP, "Start of the nap (UTC).", 0),
            _time("end_time", NAP, "End of the nap (UTC).", 2),
            _int("start_timezone_offset_min", "min", NAP, 1, "Local minus UTC at the start."),
            _int("end_timezone_offset_min", "min", NAP, 3, "Local minus UTC at the end."),
            _enum("feedback", NAP, 4, "nap_period_feedback", "Garmin's feedback on the nap."),
            Field("is_deleted", pl.Boolean(), None, "Deleted by the user.", {NAP: 5}, "bool"),
            _enum("source", NAP, 6, "nap_source", "Detected automatically or logged manually."),
            _time("updated_at", NAP, "When the nap record was last written (UTC).", 7),
        ),
        key=("start_time",),
        keep=pl.col("start_time").is_not_null(),
    ),
)
WELLNESS_TABLES: dict[str, WellnessTable] = {t.name: t for t in TABLES}


def _public(table: WellnessTable) -> tuple[Field, ...]:
    return tuple(c for c in table.columns if not c.name.startswith("_"))


def wellness_frame_schema(table: str) -> pl.Schema:
    """The exact polars schema (names, order, dtypes) of a decoded table."""
    return pl.Schema([(c.name, c.dtype) for c in _public(WELLNESS_TABLES[table])])


def public_columns(table: str) -> tuple[Field, ...]:
    """The columns a decoded table has (internal helper columns excluded)."""
    return _public(WELLNESS_TABLES[table])


# ---- value normalisation -------------------------------------------------------------------


def _fit_seconds(value: Any) -> int | None:
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return (value - FIT_EPOCH) // _SECOND
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _number(value: Any, known: bool, raw_scale: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value) if known else value / raw_scale
    return value if math.isfinite(value) else None


# The names of the FIT enums these tables read, as the FIT SDK profile (21.218) declares them,
# copied here: the SDK is under Garmin's FIT licence, so the library never imports it (the
# emulator and tests do; tests/test_wellness_profile.py checks these against its Profile).
FIT_ENUMS: dict[str, dict[int, str]] = {
    "spo2_measurement_type": {
        0: "off_wrist",
        1: "spot_check",
        2: "continuous_check",
        3: "periodic",
    },
    "activity_type": {
        0: "generic",
        1: "running",
        2: "cycling",
        3: "transition",
        4: "fitness_equipment",
        5: "swimming",
        6: "walking",
        8: "sedentary",
        13: "wheelchair_pushing",
        254: "all",
    },
    "activity_level": {0: "low", 1: "medium", 2: "high"},
    "hrv_status": {0: "none", 1: "poor", 2: "low", 3: "unbalanced", 4: "balanced"},
    "sleep_level": {0: "unmeasurable", 1: "awake", 2: "light", 3: "deep", 4: "rem"},
    "nap_period_feedback": {
        0: "none",
        1: "multiple_naps_during_day",
        2: "jetlag_ideal_timing_ideal_duration",
        3: "jetlag_ideal_timing_long_duration",
        4: "jetlag_late_timing_ideal_duration",
        5: "jetlag_late_timing_long_duration",
        6: "ideal_timing_ideal_duration_low_need",
        7: "ideal_timing_ideal_duration_high_need",
        8: "ideal_timing_long_duration_low_need",
        9: "ideal_timing_long_duration_high_need",
        10: "late_timing_ideal_duration_low_need",
        11: "late_timing_ideal_duration_high_need",
        12: "late_timing_long_duration_low_need",
        13: "late_timing_long_duration_high_need",
        14: "ideal_duration_low_need",
        15: "ideal_duration_high_need",
        16: "long_duration_low_need",
        17: "long_duration_high_need",
    },
    "nap_source": {0: "automatic", 1: "manual_device", 2: "manual_gc"},
}


def _enum_name(value: Any, enum: str | None) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return FIT_ENUMS.get(enum or "", {}).get(value, str(value))
    return None


def _normalise(column: Field, value: Any, known: bool) -> Any:
    if isinstance(value, tuple | list):
        value = value[0] if value else None
    if value is None:
        return None
    if column.kind == "time":
        return _fit_seconds(value)
    if column.kind == "enum":
        return _enum_name(value, column.enum)
    if column.kind == "bool":
        return bool(value) if isinstance(value, int | bool) else None
    number = _number(value, known, column.raw_scale)
    if column.kind == "int":
        return None if number is None else round(number)
    return number


# The ints that survive the round trip through float which `_normalise` makes.
_EXACT_INTS = range(-(2**53), 2**53 + 1)


def _normalised(column: Field, values: Sequence[Any]) -> list[Any]:
    """`_normalise` of each of a column's values, trusting fitdecode's scaling unless the
    column is raw. Nearly all values are settled by their type alone (null, an int, a scaled
    float, an enum name) and skip its checks."""
    known = not column.raw
    slow = functools.partial(_normalise, column, known=known)
    if known and column.kind == "int":
        return [
            v if v is None or (type(v) is int and v in _EXACT_INTS) else slow(v) for v in values
        ]
    if known and column.kind == "float":
        return [
            v if v is None or (type(v) is float and math.isfinite(v)) else slow(v) for v in values
        ]
    if column.kind == "time":
        return [v if v is None or type(v) is int else slow(v) for v in values]
    if column.kind == "enum":
        return [v if v is None or type(v) is str else slow(v) for v in values]
    return [None if v is None else slow(v) for v in values]


# ---- reading -------------------------------------------------------------------------------


class _Choice(NamedTuple):
    """A row slot that picking one position cannot fill."""

    slot: int
    positions: tuple[int, ...]  # the field's occurrences, in order of preference
    raw: bool  # the raw value rather than fitdecode's (`Field.raw`)
    # The column, when an occurrence may be a field fitdecode does not know (so does not
    # scale) and the column has a raw_scale for that case.
    rescale: Field | None


_RowGetter = Callable[[list[Any]], Sequence[Any]]


class _Layout(NamedTuple):
    """How to read a message whose fields come in one particular arrangement.

    A field number can occur twice: as written by the device and as expanded by fitdecode from
    another field's components. Its value is that of the first non-null occurrence, written
    ones first; developer fields never count (their numbers are not the profile's). Where the
    occurrences are depends only on each position's profile entry and definition, which
    nearly always repeat from one message to the next (subfields, component expansion and
    compressed timestamps can vary them), so it is worked out once per arrangement.
    """

    timestamp: tuple[int, ...]  # positions of field 253
    timestamp_16: tuple[int, ...]  # of monitoring's timestamp_16; () in other messages
    day_start: tuple[int, ...]  # of monitoring_info's local_timestamp; () in other messages
    # Per table the message feeds: its rows, the getter of its row from the message's values
    # followed by (time, message number, None), and the slots the getter leaves to a choice.
    tables: tuple[tuple[list[Sequence[Any]], _RowGetter, tuple[_Choice, ...]], ...]


_FIELD = operator.attrgetter("field")
_FIELD_DEF = operator.attrgetter("field_def")
_VALUE = operator.attrgetter("value")


def _known(data: fitdecode.types.FieldData) -> bool:
    """Whether the installed fitdecode profile knows the field, i.e. has scaled its value."""
    return data.field is not None and not str(data.name).startswith("unknown")


def _occurrences(fields: list[fitdecode.types.FieldData]) -> dict[int, tuple[int, ...]]:
    """Each field number's positions, written before expanded, developer fields left out."""
    written: dict[int, list[int]] = {}
    expanded: dict[int, list[int]] = {}
    for position, data in enumerate(fields):
        field_def = data.field_def
        if field_def is None:
            expanded.setdefault(data.def_num, []).append(position)
        elif not field_def.is_dev:
            written.setdefault(data.def_num, []).append(position)
    return {num: (*written.get(num, ()), *expanded.get(num, ())) for num in (*written, *expanded)}


def _row_getter(positions: list[int]) -> _RowGetter:
    if len(positions) == 1:  # itemgetter would return the item itself, not a 1-tuple
        (position,) = positions
        return lambda values: (values[position],)
    return operator.itemgetter(*positions)


def _layout(mesg: int, fields: list[fitdecode.types.FieldData], tables: list[_Rows]) -> _Layout:
    """The `_Layout` of messages of type ``mesg`` whose fields are arranged as these are."""
    occurrences = _occurrences(fields)
    time_at, mesg_at, none_at = len(fields), len(fields) + 1, len(fields) + 2
    readers = []
    for builder in tables:
        picks: list[int] = []
        choices: list[_Choice] = []
        for slot, column in enumerate(builder.sourced):
            num = column.source.get(mesg)
            if num == TIME:
                picks.append(time_at)
                continue
            if num == MESSAGE:
                picks.append(mesg_at)
                continue
            positions = occurrences.get(num, ()) if num is not None else ()
            scaled = column.raw_scale == 1 or all(_known(fields[p]) for p in positions)
            rescale = None if scaled or column.raw else column
            if len(positions) == 1 and not column.raw and rescale is None:
                picks.append(positions[0])
                continue
            picks.append(none_at)
            if positions:
                choices.append(_Choice(slot, positions, column.raw, rescale))
        readers.append((builder.rows, _row_getter(picks), tuple(choices)))
    return _Layout(
        occurrences.get(_TIMESTAMP, ()),
        occurrences.get(_TIMESTAMP_16, ()) if mesg == _MONITORING else (),
        occurrences.get(_LOCAL_TIMESTAMP, ()) if mesg == _DAY_INFO else (),
        tuple(readers),
    )


def _value(
    fields: list[fitdecode.types.FieldData],
    positions: tuple[int, ...],
    raw: bool = False,
    rescale: Field | None = None,
) -> Any:
    """The value of the first non-null occurrence at ``positions``, or its raw value.

    With ``rescale``, a field fitdecode does not know is normalised here, with the column's
    raw_scale; `_normalised` leaves a normalised value as it is.
    """
    for position in positions:
        data = fields[position]
        if data.value is not None:
            if raw:
                return data.raw_value
            if rescale is not None and not _known(data):
                return _normalise(rescale, data.value, False)
            return data.value
    return None


class _Clock:
    """The last full timestamp of one FIT file, to resolve ``timestamp_16`` against."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: int | None = None

    def resolve(self, fields: list[fitdecode.types.FieldData], layout: _Layout) -> int | None:
        """The message's time, in FIT seconds; None if it has none."""
        full = _fit_seconds(_value(fields, layout.timestamp))
        if full is not None:
            self.last = full
            return full
        if self.last is not None:  # only monitoring messages have a timestamp_16 position
            short = _value(fields, layout.timestamp_16, raw=True)
            if isinstance(short, int) and not isinstance(short, bool):
                self.last += (short - self.last) & 0xFFFF
                return self.last
        return None


def _add_rows(
    layout: _Layout, fields: list[fitdecode.types.FieldData], time: int | None, mesg: int
) -> None:
    """Add the message's row to each table it feeds."""
    values = list(map(_VALUE, fields))
    values += (time, mesg, None)
    for rows, row_of, choices in layout.tables:
        row = row_of(values)
        if choices:
            row = list(row)
            for slot, positions, raw, rescale in choices:
                row[slot] = _value(fields, positions, raw, rescale)
        rows.append(row)


# ---- frames --------------------------------------------------------------------------------


# Each table's frame is one plan, run step by step as written, as eager calls would run it:
# on frames of a day's size, optimising a plan costs more than it saves.
_AS_WRITTEN = pl.QueryOptFlags.none()


class _Rows:
    """One table's rows: per matching message, the value of each column with a source, as
    read; they are normalised column by column when the frame is built."""

    __slots__ = ("rows", "sourced", "table")

    def __init__(self, table: WellnessTable) -> None:
        self.table = table
        self.sourced = tuple(c for c in table.columns if c.source)
        self.rows: list[Sequence[Any]] = []

    def frame(self, calendar_date: dt.date | None) -> pl.DataFrame:
        rows = len(self.rows)
        if not rows:
            return pl.DataFrame(schema=wellness_frame_schema(self.table.name))
        names = (c.name for c in self.sourced)
        read = dict(zip(names, zip(*self.rows, strict=True), strict=True))
        data: dict[str, Any] = {}
        for column in self.table.columns:
            if column.name == "calendar_date":
                data[column.name] = pl.Series([calendar_date] * rows, dtype=pl.Date)
            elif column.source:
                dtype = pl.Int64 if column.kind == "time" else column.dtype
                data[column.name] = pl.Series(_normalised(column, read[column.name]), dtype=dtype)
            else:
                data[column.name] = pl.Series([None] * rows, dtype=column.dtype)
        frame = pl.LazyFrame(data).with_columns(
            _from_fit_seconds(c.name) for c in self.table.columns if c.kind == "time" and c.source
        )
        if self.table.keep is not None:
            frame = frame.filter(self.table.keep)
        frame = frame.unique(maintain_order=True)  # the same message uploaded twice
        if self.table.finish is not None:
            frame = self.table.finish(frame)
        # A row without its key (e.g. monitoring before any full timestamp) cannot be placed.
        key = list(self.table.key)
        frame = frame.select(c.name for c in _public(self.table)).drop_nulls(key)
        frame = frame.unique(subset=key, keep="first", maintain_order=True)
        frame = frame.sort(key).cast(wellness_frame_schema(self.table.name))
        return frame.collect(engine="in-memory", optimizations=_AS_WRITTEN)


def _from_fit_seconds(name: str) -> pl.Expr:
    micros = (pl.col(name) + _FIT_EPOCH_UNIX_S) * pl.lit(1_000_000, dtype=pl.Int64)
    return micros.cast(UTC_TIME).alias(name)


# ---- input checks: one line, saying what is wrong ------------------------------------------


def _check_fit(data: bytes, member: str) -> None:
    """The activity decoder's header, size and CRC checks of every chained part, with the
    member named so the one-line error says which file of the zip is damaged."""
    try:
        check_structure(data, what="the day's wellness zip")
    except FitDecodeError as error:
        raise FitDecodeError(f"{member}: {error}") from None


def _members(data: bytes) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each .fit in the zip, by name; a bare FIT file is its own member."""
    if not data.startswith(b"PK"):
        yield "input", data
        return
    members = zip_fit_members(data, "the wellness download", "fetch it again")
    if not members:
        raise FitDecodeError(
            "the wellness zip holds no .fit file; fetch the wellness download again"
        )
    yield from members


def _messages(data: bytes, member: str) -> Iterator[Any]:
    """fitdecode's headers and data messages, its failures turned into `FitDecodeError`.

    Read with the activity decoder's reader, which leaves the CRCs to `_check_fit`: fitdecode
    checks the same bytes against the same stored CRCs, so it could only fail where that check
    already has.
    """
    with spec_violations_logged(), fit_reader(data) as reader:
        for frame in guarded_frames(reader, functools.partial(_corrupt, member)):
            if isinstance(frame, fitdecode.FitHeader | fitdecode.FitDataMessage):
                yield frame  # a header starts a new chained part: the clock restarts


def _corrupt(member: str, error: Exception) -> FitDecodeError:
    """What fitdecode failed with on a member of the download, in one line."""
    detail = " ".join(str(error).split()) or type(error).__name__
    return FitDecodeError(
        f"{member}: corrupt FIT file ({type(error).__name__}: {detail}); "
        "fetch the wellness download again"
    )


def _day_from(local_start: Any) -> dt.date | None:
    seconds = _fit_seconds(local_start)
    return None if seconds is None else (FIT_EPOCH + dt.timedelta(seconds=seconds)).date()


def decode_wellness(
    source: bytes | bytearray | memoryview, calendar_date: dt.date | None = None
) -> dict[str, pl.DataFrame]:
    """Decode a wellness download (zip or bare FIT) into ``{table: frame}`` for every table.

    ``calendar_date`` fills the column of that name (the day the download was asked for); when
    it is None the day comes from the first monitoring_info's local start of day, else from
    the UTC date of the first timestamp. Exact duplicate messages (the same upload twice) give
    one row; rows sharing a key keep the first in zip-member order. Raises `FitDecodeError`
    (one line) for empty, truncated, corrupt or non-FIT input.
    """
    if not isinstance(source, bytes | bytearray | memoryview):
        raise TypeError(f"source must be bytes, not {type(source).__name__}")
    data = bytes(source)
    if not data:
        raise FitDecodeError("empty input: 0 bytes; fetch the wellness download again")
    rows = {name: _Rows(table) for name, table in WELLNESS_TABLES.items()}
    by_message: dict[int, list[_Rows]] = {}
    for builder in rows.values():
        for mesg in builder.table.messages:
            by_message.setdefault(mesg, []).append(builder)
    layouts: dict[tuple[object, ...], _Layout] = {}
    day_from_file: dt.date | None = None
    first_time: int | None = None
    for member, fit in _members(data):
        _check_fit(fit, member)
        clock = _Clock()
        for message in _messages(fit, member):
            if isinstance(message, fitdecode.FitHeader):
                clock = _Clock()
                continue
            mesg = message.global_mesg_num
            fields = message.fields
            arrangement = (mesg, *map(_FIELD, fields), *map(_FIELD_DEF, fields))
            layout = layouts.get(arrangement)
            if layout is None:
                layout = _layout(mesg, fields, by_message.get(mesg, []))
                layouts[arrangement] = layout
            time = clock.resolve(fields, layout)
            if first_time is None and time is not None:
                first_time = time
            if mesg == _DAY_INFO and day_from_file is None:
                day_from_file = _day_from(_value(fields, layout.day_start, raw=True))
            if layout.tables:
                _add_rows(layout, fields, time, mesg)
    day = calendar_date or day_from_file
    if day is None and first_time is not None:
        day = (FIT_EPOCH + dt.timedelta(seconds=first_time)).date()
    return {name: builder.frame(day) for name, builder in rows.items()}
