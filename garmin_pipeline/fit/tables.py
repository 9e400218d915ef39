"""Declarations of the activity tables: one `Table` per FIT message type, one `Column` per column.

These declarations are the single source of truth for the decoder (which FIT fields feed which
column, and how they are converted), for the polars frame schema, and for whatever else is
derived downstream (Pandera schemas, the data dictionary). Adding a table is one more `Table`
entry in `TABLES`; the decoder needs no new code.

Nothing in a file is dropped: a field value no wide column claims (developer fields, fields the
FIT profile does not name, profile fields of messages without a table of their own) becomes a
row of the long table `activity_developer_fields`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

__all__ = [
    "ACTIVITY_TABLES",
    "TABLES",
    "TABLE_COLUMNS",
    "TABLE_KEYS",
    "Column",
    "Table",
    "frame_schema",
]

Converter = Callable[[Any], Any]

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_MICROSECOND = dt.timedelta(microseconds=1)
# FIT date_time values below this are seconds since the device powered on, not since the FIT
# epoch (the device had no real-time clock yet). fitdecode leaves those as plain ints.
FIT_DATETIME_MIN = 0x10000000


# --- unit conversions: each takes one fitdecode value (already scaled, never a tuple) -----------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def to_float(value: Any) -> float | None:
    """A finite float, else null (fitdecode may hand back bytes or enum names on odd files)."""
    if _is_number(value) and math.isfinite(value):
        return float(value)
    return None


def _to_int(value: Any, lo: int, hi: int) -> int | None:
    if not _is_number(value):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = round(value)
    return value if lo <= value <= hi else None


def to_int32(value: Any) -> int | None:
    """An integer that fits Int32, else null."""
    return _to_int(value, _INT32_MIN, _INT32_MAX)


def to_int64(value: Any) -> int | None:
    """An integer that fits Int64, else null."""
    return _to_int(value, _INT64_MIN, _INT64_MAX)


def semicircles_to_deg(value: Any) -> float | None:
    """FIT stores positions as semicircles (2**31 per 180 degrees); analysts want degrees."""
    if _is_number(value):
        return value * 180.0 / 2**31
    return None


def to_utc_micros(value: Any) -> int | None:
    """A UTC datetime as microseconds since the Unix epoch (what a Datetime("us") column holds).

    fitdecode only turns a FIT date_time into a datetime when it is absolute; device-relative
    times (ints) have no UTC meaning and become null here (see `to_system_time_s`).
    """
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return (value - _UNIX_EPOCH) // _ONE_MICROSECOND
    return None


def to_system_time_s(value: Any) -> int | None:
    """Seconds since device power-on, for devices that recorded without a real-time clock."""
    if _is_number(value) and 0 <= value < FIT_DATETIME_MIN:
        return int(value)
    return None


def to_enum_name(value: Any) -> str | None:
    """fitdecode gives known enum values as names and unknown ones as ints; keep both as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def to_text(value: Any) -> str | None:
    """A FIT string field (names typed on the device or set by an app)."""
    return value if isinstance(value, str) else None


def to_float_list(value: Any) -> list[float | None] | None:
    """A FIT array field (zones, power phase angles...) as a list of floats, invalid items null;
    null when every item is invalid."""
    if isinstance(value, tuple | list):
        items = [to_float(v) for v in value]
        return items if any(v is not None for v in items) else None
    number = to_float(value)
    return None if number is None else [number]


# left_right_balance (uint8): bit 7 says the percentage is the right pedal's, bits 0-6 hold it.
# left_right_balance_100 (uint16): bit 15 is the same flag, bits 0-13 hold percent * 100.
# fitdecode names the bare flag values ("right", "mask") instead of giving the number.
_BALANCE_NAMES = {"right": 0x80, "mask": 0x7F}
_BALANCE_100_NAMES = {"right": 0x8000, "mask": 0x3FFF}


def _balance_raw(value: Any, names: dict[str, int]) -> int | None:
    if isinstance(value, str):
        return names.get(value)
    return value if _is_number(value) and isinstance(value, int) else None


def balance_pct(value: Any) -> float | None:
    """Percent of the power from one pedal, from a FIT left_right_balance (uint8) value."""
    raw = _balance_raw(value, _BALANCE_NAMES)
    return None if raw is None else float(raw & 0x7F)


def balance_is_right(value: Any) -> bool | None:
    """Whether a left_right_balance (uint8) percentage is the right pedal's."""
    raw = _balance_raw(value, _BALANCE_NAMES)
    return None if raw is None else bool(raw & 0x80)


def balance_100_pct(value: Any) -> float | None:
    """Percent of the power from one pedal, from a FIT left_right_balance_100 (uint16) value."""
    raw = _balance_raw(value, _BALANCE_100_NAMES)
    return None if raw is None else (raw & 0x3FFF) / 100


def balance_100_is_right(value: Any) -> bool | None:
    """Whether a left_right_balance_100 (uint16) percentage is the right pedal's."""
    raw = _balance_raw(value, _BALANCE_100_NAMES)
    return None if raw is None else bool(raw & 0x8000)


# --- declarations -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """One output column.

    ``fit_fields`` lists the FIT field names that feed it, in preference order: the first one
    present with a non-null value wins (this is how ``enhanced_speed`` beats ``speed``). An
    empty ``fit_fields`` marks a column the decoder fills itself (ids, indexes, file-level
    values such as the local UTC offset). A ``pl.List`` dtype marks a FIT array field, kept
    whole; any other column takes the first value of a field written as an array.
    """

    name: str
    dtype: pl.DataType
    unit: str | None
    description: str
    fit_fields: tuple[str, ...] = ()
    convert: Converter = to_float

    @property
    def is_list(self) -> bool:
        return isinstance(self.dtype, pl.List)


# How a table's rows arise: one per message of ``message`` (the usual case), one per RR
# interval of the hrv messages, or one per field value no other column claims.
Layout = Literal["message", "hrv_interval", "unclaimed_field"]


@dataclass(frozen=True, slots=True)
class Table:
    """One output table; with the default layout every data message ``message`` is one row."""

    name: str
    message: str
    index_column: str
    columns: tuple[Column, ...]
    description: str
    layout: Layout = "message"

    @property
    def fit_fields(self) -> frozenset[str]:
        """Every FIT field name the table's columns read (these values are claimed)."""
        return frozenset(f for c in self.columns for f in c.fit_fields)


_UTC = pl.Datetime("us", "UTC")


def _activity_id() -> Column:
    return Column("activity_id", pl.Int64(), None, "Garmin Connect activity id of the file.")


def _index(name: str, what: str) -> Column:
    return Column(
        name,
        pl.UInt32(),
        None,
        f"0-based position of this {what} message in the file, counted across chained FIT parts.",
    )


def _f(name: str, unit: str | None, fields: tuple[str, ...], description: str) -> Column:
    return Column(name, pl.Float64(), unit, description, fields, to_float)


def _i(name: str, unit: str | None, fields: tuple[str, ...], description: str) -> Column:
    return Column(name, pl.Int32(), unit, description, fields, to_int32)


def _i64(name: str, unit: str | None, fields: tuple[str, ...], description: str) -> Column:
    return Column(name, pl.Int64(), unit, description, fields, to_int64)


def _l(name: str, unit: str | None, field: str, description: str) -> Column:
    return Column(name, pl.List(pl.Float64()), unit, description, (field,), to_float_list)


def _deg(name: str, field: str, description: str) -> Column:
    return Column(name, pl.Float64(), "deg", description, (field,), semicircles_to_deg)


def _ts(name: str, field: str, description: str) -> Column:
    return Column(name, _UTC, None, description, (field,), to_utc_micros)


def _enum(name: str, fields: str | tuple[str, ...], description: str) -> Column:
    fields = (fields,) if isinstance(fields, str) else fields
    return Column(name, pl.String(), None, description, fields, to_enum_name)


def _text(name: str, field: str, description: str) -> Column:
    return Column(name, pl.String(), None, description, (field,), to_text)


def _fit_message_index() -> Column:
    return _i(
        "fit_message_index",
        None,
        ("message_index",),
        "The message_index the device wrote (its own numbering; may restart per chained part).",
    )


def _event_columns(what: str) -> tuple[Column, ...]:
    return (
        _enum("event", "event", f"FIT event that closed the {what} (enum name or number)."),
        _enum("event_type", "event_type", "FIT event type, e.g. stop (enum name or number)."),
        _i("event_group", None, ("event_group",), "FIT event group."),
    )


def _position_pair(prefix: str, what: str, lat: str, lon: str) -> tuple[Column, Column]:
    return (
        _deg(f"{prefix}latitude_deg", lat, f"Latitude {what} (WGS84)."),
        _deg(f"{prefix}longitude_deg", lon, f"Longitude {what} (WGS84)."),
    )


def _balance_100() -> tuple[Column, ...]:
    return (
        Column(
            "left_right_balance_pct",
            pl.Float64(),
            "%",
            "Share of the power from one pedal (the right one when left_right_balance_is_right, "
            "otherwise unspecified, usually the left).",
            ("left_right_balance",),
            balance_100_pct,
        ),
        Column(
            "left_right_balance_is_right",
            pl.Boolean(),
            None,
            "True when left_right_balance_pct is the right pedal's share.",
            ("left_right_balance",),
            balance_100_is_right,
        ),
    )


# Summary columns shared by laps and sessions (same FIT field names in both messages).
_SUMMARY = (
    _f("total_elapsed_time_s", "s", ("total_elapsed_time",), "Wall-clock time, pauses included."),
    _f("total_timer_time_s", "s", ("total_timer_time",), "Timer time, pauses excluded."),
    _f("total_distance_m", "m", ("total_distance",), "Distance covered."),
    _i("total_calories_kcal", "kcal", ("total_calories",), "Energy expended."),
    _i("avg_heart_rate_bpm", "bpm", ("avg_heart_rate",), "Average heart rate."),
    _i("max_heart_rate_bpm", "bpm", ("max_heart_rate",), "Maximum heart rate."),
    _f(
        "avg_speed_m_s",
        "m/s",
        ("enhanced_avg_speed", "avg_speed"),
        "Average speed (enhanced 32-bit field when present).",
    ),
    _f(
        "max_speed_m_s",
        "m/s",
        ("enhanced_max_speed", "max_speed"),
        "Maximum speed (enhanced 32-bit field when present).",
    ),
    _i(
        "avg_cadence_rpm",
        "rpm",
        ("avg_cadence", "avg_running_cadence"),
        "Average cadence (strides/min per leg for running, rpm otherwise).",
    ),
    _i("avg_power_w", "W", ("avg_power",), "Average power."),
    _i("max_power_w", "W", ("max_power",), "Maximum power."),
)
_ELEVATION = (
    _f("total_ascent_m", "m", ("total_ascent",), "Elevation gained."),
    _f("total_descent_m", "m", ("total_descent",), "Elevation lost."),
)
# Further summary fields laps and sessions share, added after the original columns.
_SUMMARY_DETAIL = (
    _deg("end_latitude_deg", "end_position_lat", "Latitude where it ended."),
    _deg("end_longitude_deg", "end_position_long", "Longitude where it ended."),
    _f(
        "avg_altitude_m",
        "m",
        ("enhanced_avg_altitude", "avg_altitude"),
        "Average altitude (enhanced 32-bit field when present).",
    ),
    _f(
        "max_altitude_m",
        "m",
        ("enhanced_max_altitude", "max_altitude"),
        "Highest altitude (enhanced 32-bit field when present).",
    ),
    _f(
        "min_altitude_m",
        "m",
        ("enhanced_min_altitude", "min_altitude"),
        "Lowest altitude (enhanced 32-bit field when present).",
    ),
    _f("avg_grade_pct", "%", ("avg_grade",), "Average grade."),
    _f("max_pos_grade_pct", "%", ("max_pos_grade",), "Steepest climbing grade."),
    _f("max_neg_grade_pct", "%", ("max_neg_grade",), "Steepest descending grade."),
    _f("avg_vam_m_s", "m/s", ("avg_vam",), "Average vertical ascent speed (VAM)."),
    _i("min_heart_rate_bpm", "bpm", ("min_heart_rate",), "Minimum heart rate."),
    _i(
        "max_cadence_rpm",
        "rpm",
        ("max_cadence", "max_running_cadence"),
        "Maximum cadence (strides/min per leg for running, rpm otherwise).",
    ),
    _f(
        "avg_fractional_cadence_rpm",
        "rpm",
        ("avg_fractional_cadence",),
        "Fractional part of the average cadence, to add to avg_cadence_rpm.",
    ),
    _f(
        "max_fractional_cadence_rpm",
        "rpm",
        ("max_fractional_cadence",),
        "Fractional part of the maximum cadence, to add to max_cadence_rpm.",
    ),
    _i("normalized_power_w", "W", ("normalized_power",), "Normalized power."),
    _i64("total_work_j", "J", ("total_work",), "Mechanical work done."),
    _i("total_fat_calories_kcal", "kcal", ("total_fat_calories",), "Energy from fat."),
    _i64(
        "total_cycles",
        "cycles",
        ("total_cycles", "total_strides", "total_strokes"),
        "Cycles: strides for running and walking, strokes for swimming and rowing, revolutions "
        "otherwise.",
    ),
    _f("avg_stroke_distance_m", "m", ("avg_stroke_distance",), "Average distance per stroke."),
    _enum("swim_stroke", "swim_stroke", "Swim stroke (enum name or number)."),
    _i("num_active_lengths", None, ("num_active_lengths",), "Pool lengths swum (not resting)."),
    _i("avg_temperature_c", "°C", ("avg_temperature",), "Average temperature."),
    _i("max_temperature_c", "°C", ("max_temperature",), "Maximum temperature."),
    _i("min_temperature_c", "°C", ("min_temperature",), "Minimum temperature."),
    _f(
        "avg_vertical_oscillation_mm",
        "mm",
        ("avg_vertical_oscillation",),
        "Running dynamics: average vertical oscillation.",
    ),
    _f("avg_stance_time_ms", "ms", ("avg_stance_time",), "Running dynamics: ground contact."),
    _f(
        "avg_stance_time_pct",
        "%",
        ("avg_stance_time_percent",),
        "Running dynamics: ground contact as a share of the stride.",
    ),
    _f(
        "avg_stance_time_balance_pct",
        "%",
        ("avg_stance_time_balance",),
        "Running dynamics: left foot's share of ground contact time.",
    ),
    _f("avg_step_length_mm", "mm", ("avg_step_length",), "Running dynamics: step length."),
    _f(
        "avg_vertical_ratio_pct",
        "%",
        ("avg_vertical_ratio",),
        "Running dynamics: vertical oscillation / step length.",
    ),
    _f(
        "avg_respiration_rate_brpm",
        "breaths/min",
        ("enhanced_avg_respiration_rate", "avg_respiration_rate"),
        "Average respiration rate.",
    ),
    _f(
        "max_respiration_rate_brpm",
        "breaths/min",
        ("enhanced_max_respiration_rate", "max_respiration_rate"),
        "Maximum respiration rate.",
    ),
    *_balance_100(),
    _f(
        "avg_left_pedal_smoothness_pct",
        "%",
        ("avg_left_pedal_smoothness",),
        "Left pedal smoothness.",
    ),
    _f(
        "avg_right_pedal_smoothness_pct",
        "%",
        ("avg_right_pedal_smoothness",),
        "Right pedal smoothness.",
    ),
    _f(
        "avg_left_torque_effectiveness_pct",
        "%",
        ("avg_left_torque_effectiveness",),
        "Left pedal torque effectiveness.",
    ),
    _f(
        "avg_right_torque_effectiveness_pct",
        "%",
        ("avg_right_torque_effectiveness",),
        "Right pedal torque effectiveness.",
    ),
    _l(
        "avg_left_power_phase_deg",
        "deg",
        "avg_left_power_phase",
        "Left power phase: start and end crank angles.",
    ),
    _l(
        "avg_left_power_phase_peak_deg",
        "deg",
        "avg_left_power_phase_peak",
        "Left peak power phase: start and end crank angles.",
    ),
    _l(
        "avg_right_power_phase_deg",
        "deg",
        "avg_right_power_phase",
        "Right power phase: start and end crank angles.",
    ),
    _l(
        "avg_right_power_phase_peak_deg",
        "deg",
        "avg_right_power_phase_peak",
        "Right peak power phase: start and end crank angles.",
    ),
    _l("avg_power_position_w", "W", "avg_power_position", "Average power: [seated, standing]."),
    _l("max_power_position_w", "W", "max_power_position", "Maximum power: [seated, standing]."),
    _l(
        "avg_cadence_position_rpm",
        "rpm",
        "avg_cadence_position",
        "Average cadence: [seated, standing].",
    ),
    _l(
        "max_cadence_position_rpm",
        "rpm",
        "max_cadence_position",
        "Maximum cadence: [seated, standing].",
    ),
    _l("time_in_hr_zone_s", "s", "time_in_hr_zone", "Time in each heart rate zone."),
    _l("time_in_power_zone_s", "s", "time_in_power_zone", "Time in each power zone."),
    _l("time_in_speed_zone_s", "s", "time_in_speed_zone", "Time in each speed zone."),
    _l("time_in_cadence_zone_s", "s", "time_in_cadence_zone", "Time in each cadence zone."),
    *_event_columns("lap or session"),
    _fit_message_index(),
)

RECORDS = Table(
    name="activity_records",
    message="record",
    index_column="record_index",
    description="One row per FIT record message: the activity's time series.",
    columns=(
        _activity_id(),
        _index("record_index", "record"),
        _ts(
            "timestamp",
            "timestamp",
            "Time of the sample (UTC); null when the device had no clock (see system_time_s).",
        ),
        _deg("latitude_deg", "position_lat", "Latitude (WGS84); null without GPS fix."),
        _deg("longitude_deg", "position_long", "Longitude (WGS84); null without GPS fix."),
        _f("distance_m", "m", ("distance",), "Cumulative distance since the start."),
        _f(
            "speed_m_s",
            "m/s",
            ("enhanced_speed", "speed"),
            "Instantaneous speed (enhanced 32-bit field when present).",
        ),
        _f(
            "altitude_m",
            "m",
            ("enhanced_altitude", "altitude"),
            "Altitude (enhanced 32-bit field when present).",
        ),
        _i("heart_rate_bpm", "bpm", ("heart_rate",), "Heart rate."),
        _i(
            "cadence_rpm",
            "rpm",
            ("cadence",),
            "Cadence, whole part (strides/min per leg for running, rpm otherwise).",
        ),
        _f(
            "fractional_cadence_rpm",
            "rpm",
            ("fractional_cadence",),
            "Fractional part of the cadence, to add to cadence_rpm.",
        ),
        _i("power_w", "W", ("power",), "Power."),
        _i("temperature_c", "°C", ("temperature",), "Temperature measured by the device."),
        _f(
            "vertical_oscillation_mm",
            "mm",
            ("vertical_oscillation",),
            "Running dynamics: vertical bounce of the torso.",
        ),
        _f("stance_time_ms", "ms", ("stance_time",), "Running dynamics: ground contact time."),
        _f("step_length_mm", "mm", ("step_length",), "Running dynamics: step length."),
        _f("grade_pct", "%", ("grade",), "Slope of the terrain."),
        _i("calories_kcal", "kcal", ("calories",), "Cumulative energy expended since the start."),
        Column(
            "accumulated_power_w",
            pl.Int64(),
            "W",
            "Running sum of power samples (FIT accumulated_power; joules at 1 Hz sampling).",
            ("accumulated_power",),
            to_int64,
        ),
        Column(
            "system_time_s",
            pl.Int64(),
            "s",
            "Seconds since device power-on, set only when the device recorded without a "
            "real-time clock (FIT date_time < 0x10000000) and timestamp is therefore null.",
            ("timestamp",),
            to_system_time_s,
        ),
        _i("gps_accuracy_m", "m", ("gps_accuracy",), "GPS accuracy estimate."),
        _f("vertical_speed_m_s", "m/s", ("vertical_speed",), "Vertical speed (climb rate)."),
        _f(
            "stance_time_pct",
            "%",
            ("stance_time_percent",),
            "Running dynamics: ground contact as a share of the stride.",
        ),
        _f(
            "stance_time_balance_pct",
            "%",
            ("stance_time_balance",),
            "Running dynamics: left foot's share of ground contact time.",
        ),
        _f(
            "vertical_ratio_pct",
            "%",
            ("vertical_ratio",),
            "Running dynamics: vertical oscillation / step length.",
        ),
        Column(
            "left_right_balance_pct",
            pl.Float64(),
            "%",
            "Share of the power from one pedal (the right one when left_right_balance_is_right, "
            "otherwise unspecified, usually the left).",
            ("left_right_balance",),
            balance_pct,
        ),
        Column(
            "left_right_balance_is_right",
            pl.Boolean(),
            None,
            "True when left_right_balance_pct is the right pedal's share.",
            ("left_right_balance",),
            balance_is_right,
        ),
        _f(
            "left_torque_effectiveness_pct",
            "%",
            ("left_torque_effectiveness",),
            "Left pedal torque effectiveness.",
        ),
        _f(
            "right_torque_effectiveness_pct",
            "%",
            ("right_torque_effectiveness",),
            "Right pedal torque effectiveness.",
        ),
        _f(
            "left_pedal_smoothness_pct",
            "%",
            ("left_pedal_smoothness",),
            "Left pedal smoothness.",
        ),
        _f(
            "right_pedal_smoothness_pct",
            "%",
            ("right_pedal_smoothness",),
            "Right pedal smoothness.",
        ),
        _f(
            "combined_pedal_smoothness_pct",
            "%",
            ("combined_pedal_smoothness",),
            "Pedal smoothness of both pedals together.",
        ),
        _f(
            "cycle_length_m",
            "m",
            ("cycle_length16", "cycle_length"),
            "Distance per cycle (stroke, stride or revolution).",
        ),
        _i("cycles", "cycles", ("cycles",), "Cycle counter as written (rolls over at 256)."),
        _i64(
            "total_cycles",
            "cycles",
            ("total_cycles",),
            "Cumulative cycles since the start (strokes, strides or revolutions).",
        ),
        _f(
            "respiration_rate_brpm",
            "breaths/min",
            ("enhanced_respiration_rate", "respiration_rate"),
            "Respiration rate (enhanced field when present).",
        ),
        _f("battery_soc_pct", "%", ("battery_soc",), "Battery state of charge (e-bike)."),
        _f("current_stress", None, ("current_stress",), "Garmin stress level at the sample."),
        _enum("activity_type", "activity_type", "Activity type of the sample (enum name)."),
    ),
)

LAPS = Table(
    name="activity_laps",
    message="lap",
    index_column="lap_index",
    description="One row per FIT lap message.",
    columns=(
        _activity_id(),
        _index("lap_index", "lap"),
        _ts("start_time", "start_time", "Start of the lap (UTC)."),
        _ts("end_time", "timestamp", "End of the lap (UTC; the lap message's timestamp)."),
        _enum("sport", "sport", "Sport of the lap, as the FIT enum name (or its number)."),
        *_SUMMARY,
        *_ELEVATION,
        _deg("start_latitude_deg", "start_position_lat", "Latitude where the lap started."),
        _deg("start_longitude_deg", "start_position_long", "Longitude where the lap started."),
        _i("num_lengths", None, ("num_lengths",), "Pool lengths swum in the lap."),
        _enum("sub_sport", "sub_sport", "Sub-sport of the lap (enum name or number)."),
        _enum("lap_trigger", "lap_trigger", "What ended the lap: manual, distance, time..."),
        _enum("intensity", "intensity", "Workout intensity: active, rest, warmup, cooldown..."),
        _i("first_length_index", None, ("first_length_index",), "Index of its first length."),
        _i("wkt_step_index", None, ("wkt_step_index",), "Workout step the lap belongs to."),
        *_SUMMARY_DETAIL,
    ),
)

SESSIONS = Table(
    name="activity_sessions",
    message="session",
    index_column="session_index",
    description="One row per FIT session message (several in a multisport file).",
    columns=(
        _activity_id(),
        _index("session_index", "session"),
        _enum("sport", "sport", "Sport, as the FIT enum name (or its number)."),
        _enum("sub_sport", "sub_sport", "Sub-sport, as the FIT enum name (or its number)."),
        _ts("start_time", "start_time", "Start of the session (UTC)."),
        _ts("end_time", "timestamp", "End of the session (UTC; the session message's timestamp)."),
        Column(
            "local_utc_offset_s",
            pl.Int32(),
            "s",
            "Device local time minus UTC, from the activity message; null when absent or "
            "outside -12 h..+14 h.",
        ),
        *_SUMMARY,
        _i("normalized_power_w", "W", ("normalized_power",), "Normalized power."),
        *_ELEVATION,
        _i("num_laps", None, ("num_laps",), "Number of laps in the session."),
        _f("pool_length_m", "m", ("pool_length",), "Pool length for pool swims."),
        _deg("start_latitude_deg", "start_position_lat", "Latitude where the session started."),
        _deg("start_longitude_deg", "start_position_long", "Longitude where the session started."),
        _i("first_lap_index", None, ("first_lap_index",), "Index of the session's first lap."),
        _i("num_lengths", None, ("num_lengths",), "Pool lengths in the session."),
        _enum("pool_length_unit", "pool_length_unit", "Unit the pool length was set in."),
        _text("sport_profile_name", "sport_profile_name", "Name of the device's sport profile."),
        _enum("trigger", "trigger", "What ended the session (enum name or number)."),
        *_position_pair(
            "nec_", "of the north-east corner of the bounding box", "nec_lat", "nec_long"
        ),
        *_position_pair(
            "swc_", "of the south-west corner of the bounding box", "swc_lat", "swc_long"
        ),
        _i("threshold_power_w", "W", ("threshold_power",), "Functional threshold power used."),
        _f("training_stress_score", "tss", ("training_stress_score",), "Training Stress Score."),
        _f("intensity_factor", None, ("intensity_factor",), "Intensity factor (NP / FTP)."),
        _f(
            "total_training_effect",
            None,
            ("total_training_effect",),
            "Aerobic training effect (0-5).",
        ),
        _f(
            "total_anaerobic_training_effect",
            None,
            ("total_anaerobic_training_effect",),
            "Anaerobic training effect (0-5).",
        ),
        _f("training_load_peak", None, ("training_load_peak",), "Garmin training load (EPOC)."),
        _f(
            "min_respiration_rate_brpm",
            "breaths/min",
            ("enhanced_min_respiration_rate", "min_respiration_rate"),
            "Minimum respiration rate.",
        ),
        _i("avg_stress", None, ("avg_stress",), "Average Garmin stress level."),
        *(
            c
            for c in _SUMMARY_DETAIL
            if c.name not in {"normalized_power_w", "num_lengths", "swim_stroke"}
        ),
        _enum("swim_stroke", "swim_stroke", "Main swim stroke (enum name or number)."),
    ),
)

LENGTHS = Table(
    name="activity_lengths",
    message="length",
    index_column="length_index",
    description="One row per FIT length message: a pool length swum, or a rest between sets.",
    columns=(
        _activity_id(),
        _index("length_index", "length"),
        _ts("start_time", "start_time", "Start of the length (UTC)."),
        _ts("end_time", "timestamp", "End of the length (UTC; the length message's timestamp)."),
        _enum("length_type", "length_type", "active (swum) or idle (rest)."),
        _f("total_elapsed_time_s", "s", ("total_elapsed_time",), "Wall-clock time."),
        _f("total_timer_time_s", "s", ("total_timer_time",), "Timer time."),
        _i("total_strokes", "strokes", ("total_strokes",), "Strokes swum."),
        _f("avg_speed_m_s", "m/s", ("avg_speed",), "Average speed."),
        _enum("swim_stroke", "swim_stroke", "Stroke (enum name or number)."),
        _i(
            "avg_swimming_cadence_spm",
            "strokes/min",
            ("avg_swimming_cadence",),
            "Stroke rate.",
        ),
        _i("total_calories_kcal", "kcal", ("total_calories",), "Energy expended."),
        _enum("event", "event", "FIT event (length)."),
        _enum("event_type", "event_type", "FIT event type (stop)."),
        _i("event_group", None, ("event_group",), "FIT event group."),
        _fit_message_index(),
    ),
)

EVENTS = Table(
    name="activity_events",
    message="event",
    index_column="event_index",
    description="One row per FIT event message: timer start/stop, alerts, sensor battery...",
    columns=(
        _activity_id(),
        _index("event_index", "event"),
        _ts("timestamp", "timestamp", "When the event happened (UTC)."),
        _enum("event", "event", "What happened: timer, session, lap, alert kinds..."),
        _enum("event_type", "event_type", "start, stop, stop_all, marker..."),
        _i("event_group", None, ("event_group",), "FIT event group."),
        _enum(
            "timer_trigger", "timer_trigger", "For timer events: manual, auto or fitness_equipment."
        ),
        _f(
            "data",
            None,
            ("data",),
            "Event data as a number when the profile gives it no specific meaning.",
        ),
        _f("data16", None, ("data16",), "Legacy 16-bit event data."),
        _f("battery_level_v", "V", ("battery_level",), "For battery events: voltage."),
        _i("power_low_alert_w", "W", ("power_low_alert",), "For power alerts: the threshold."),
        _i("power_high_alert_w", "W", ("power_high_alert",), "For power alerts: the threshold."),
        _i("hr_low_alert_bpm", "bpm", ("hr_low_alert",), "For heart rate alerts: the threshold."),
        _i("hr_high_alert_bpm", "bpm", ("hr_high_alert",), "For heart rate alerts: the threshold."),
        _f(
            "virtual_partner_speed_m_s",
            "m/s",
            ("virtual_partner_speed",),
            "For virtual partner events: its speed.",
        ),
        _i("course_point_index", None, ("course_point_index",), "For course point events."),
        _enum("rider_position", "rider_position", "For rider position events: seated, standing."),
        _i(
            "gear_change_data", None, ("gear_change_data",), "For gear change events: packed gears."
        ),
        _i("front_gear_num", None, ("front_gear_num",), "Front gear number after a shift."),
        _i("front_gear", "teeth", ("front_gear",), "Front gear teeth after a shift."),
        _i("rear_gear_num", None, ("rear_gear_num",), "Rear gear number after a shift."),
        _i("rear_gear", "teeth", ("rear_gear",), "Rear gear teeth after a shift."),
        _i("device_index", None, ("device_index",), "Device the event refers to."),
    ),
)

HRV = Table(
    name="activity_hrv",
    message="hrv",
    index_column="hrv_index",
    layout="hrv_interval",
    description="One row per beat-to-beat (RR) interval from the FIT hrv messages.",
    columns=(
        _activity_id(),
        Column(
            "hrv_index",
            pl.UInt32(),
            None,
            "0-based position of the RR interval in the file, in recording order.",
        ),
        Column(
            "hrv_message_index",
            pl.UInt32(),
            None,
            "0-based position of the hrv message holding it, counted across chained FIT parts.",
        ),
        Column(
            "value_position",
            pl.UInt32(),
            None,
            "Position of the interval inside its hrv message (a message holds up to 5).",
        ),
        Column(
            "record_index",
            pl.UInt32(),
            None,
            "record_index of the last record message before this interval (join key to "
            "activity_records); null before the first record.",
        ),
        Column(
            "rr_interval_ms",
            pl.Int32(),
            "ms",
            "Time between two consecutive heart beats (FIT hrv.time, in whole ms).",
        ),
    ),
)

DEVICE_INFO = Table(
    name="activity_device_info",
    message="device_info",
    index_column="device_info_index",
    description="One row per FIT device_info message: the watch and each sensor, as reported.",
    columns=(
        _activity_id(),
        _index("device_info_index", "device_info"),
        _ts("timestamp", "timestamp", "When the device reported (UTC)."),
        _enum("device_index", "device_index", "Device slot: creator (the recording device) or n."),
        _enum(
            "device_type",
            ("antplus_device_type", "ble_device_type", "local_device_type", "device_type"),
            "Device type, read per source_type (ANT+, BLE or local); enum name or number.",
        ),
        _enum("manufacturer", "manufacturer", "Manufacturer (enum name or number)."),
        _enum(
            "product",
            ("garmin_product", "favero_product", "product"),
            "Product (Garmin/Favero product enum name, else the number).",
        ),
        _text("product_name", "product_name", "Product name as written by the device."),
        _i64("serial_number", None, ("serial_number",), "Serial number."),
        _f("software_version", None, ("software_version",), "Software version."),
        _i("hardware_version", None, ("hardware_version",), "Hardware version."),
        _i64(
            "cum_operating_time_s",
            "s",
            ("cum_operating_time",),
            "Cumulative operating time of the device.",
        ),
        _f("battery_voltage_v", "V", ("battery_voltage",), "Battery voltage."),
        _enum("battery_status", "battery_status", "Battery status: new, good, ok, low..."),
        _i("battery_level_pct", "%", ("battery_level",), "Battery level."),
        _enum("source_type", "source_type", "How the device is connected: local, antplus..."),
        _enum("ant_network", "ant_network", "ANT network."),
        _i("ant_device_number", None, ("ant_device_number",), "ANT device number."),
        _i("ant_transmission_type", None, ("ant_transmission_type",), "ANT transmission type."),
        _text("descriptor", "descriptor", "Device descriptor text."),
        _enum("sensor_position", "sensor_position", "Where the sensor is worn or mounted."),
    ),
)

SPLITS = Table(
    name="activity_splits",
    message="split",
    index_column="split_index",
    description="One row per FIT split message (intervals, climbs, run/walk or ski splits).",
    columns=(
        _activity_id(),
        _index("split_index", "split"),
        _enum("split_type", "split_type", "Kind of split (enum name or number)."),
        _ts("start_time", "start_time", "Start of the split (UTC)."),
        _ts("end_time", "end_time", "End of the split (UTC)."),
        _f("total_elapsed_time_s", "s", ("total_elapsed_time",), "Wall-clock time."),
        _f("total_timer_time_s", "s", ("total_timer_time",), "Timer time."),
        _f("total_distance_m", "m", ("total_distance",), "Distance."),
        _f("avg_speed_m_s", "m/s", ("avg_speed",), "Average speed."),
        _f("max_speed_m_s", "m/s", ("max_speed",), "Maximum speed."),
        _f("avg_vert_speed_m_s", "m/s", ("avg_vert_speed",), "Average vertical speed."),
        _f("total_ascent_m", "m", ("total_ascent",), "Elevation gained."),
        _f("total_descent_m", "m", ("total_descent",), "Elevation lost."),
        _i("total_calories_kcal", "kcal", ("total_calories",), "Energy expended."),
        _f("start_elevation_m", "m", ("start_elevation",), "Elevation at the start."),
        *_position_pair(
            "start_", "where the split started", "start_position_lat", "start_position_long"
        ),
        *_position_pair("end_", "where the split ended", "end_position_lat", "end_position_long"),
        _fit_message_index(),
    ),
)

WORKOUT_STEPS = Table(
    name="activity_workout_steps",
    message="workout_step",
    index_column="workout_step_index",
    description="One row per FIT workout_step message: the planned workout the activity followed.",
    columns=(
        _activity_id(),
        _index("workout_step_index", "workout_step"),
        _fit_message_index(),
        _text("wkt_step_name", "wkt_step_name", "Step name."),
        _text("notes", "notes", "Step notes."),
        _enum("intensity", "intensity", "active, rest, warmup, cooldown, recovery..."),
        _enum("duration_type", "duration_type", "What ends the step: time, distance, repeat..."),
        _f("duration_time_s", "s", ("duration_time",), "Step length, for time steps."),
        _f("duration_distance_m", "m", ("duration_distance",), "Step length, for distance steps."),
        _i("duration_calories_kcal", "kcal", ("duration_calories",), "For calorie steps."),
        _i("duration_hr", "% or bpm", ("duration_hr",), "For heart rate steps (>100: bpm+100)."),
        _i("duration_power", "% or W", ("duration_power",), "For power steps (>1000: W+1000)."),
        _i("duration_reps", None, ("duration_reps",), "For repetition steps."),
        _i("duration_step", None, ("duration_step",), "For repeat steps: step to repeat from."),
        _i64("duration_value", None, ("duration_value",), "Raw duration when untyped."),
        _enum("target_type", "target_type", "What the step targets: speed, heart_rate, open..."),
        _i("target_value", None, ("target_value",), "Raw target when untyped."),
        _i("target_hr_zone", None, ("target_hr_zone",), "Heart rate zone target."),
        _i("target_power_zone", None, ("target_power_zone",), "Power zone target."),
        _i("target_speed_zone", None, ("target_speed_zone",), "Speed zone target."),
        _i("target_cadence_zone", None, ("target_cadence_zone",), "Cadence zone target."),
        _enum("target_stroke_type", "target_stroke_type", "Swim stroke target."),
        _i("repeat_steps", None, ("repeat_steps",), "For repeat steps: how many times."),
        _f("repeat_time_s", "s", ("repeat_time",), "For repeat-until-time steps."),
        _f("repeat_distance_m", "m", ("repeat_distance",), "For repeat-until-distance steps."),
        _i("repeat_calories_kcal", "kcal", ("repeat_calories",), "For repeat-until-calories."),
        _i("repeat_hr", "% or bpm", ("repeat_hr",), "For repeat-until-heart-rate steps."),
        _i("repeat_power", "% or W", ("repeat_power",), "For repeat-until-power steps."),
        _i64(
            "custom_target_value_low",
            None,
            ("custom_target_value_low",),
            "Raw custom target, low end.",
        ),
        _i64(
            "custom_target_value_high",
            None,
            ("custom_target_value_high",),
            "Raw custom target, high end.",
        ),
        _f("custom_target_speed_low_m_s", "m/s", ("custom_target_speed_low",), "Speed range low."),
        _f(
            "custom_target_speed_high_m_s",
            "m/s",
            ("custom_target_speed_high",),
            "Speed range high.",
        ),
        _i(
            "custom_target_heart_rate_low",
            "% or bpm",
            ("custom_target_heart_rate_low",),
            "Heart rate range low (>100: bpm+100).",
        ),
        _i(
            "custom_target_heart_rate_high",
            "% or bpm",
            ("custom_target_heart_rate_high",),
            "Heart rate range high (>100: bpm+100).",
        ),
        _i(
            "custom_target_power_low",
            "% or W",
            ("custom_target_power_low",),
            "Power range low (>1000: W+1000).",
        ),
        _i(
            "custom_target_power_high",
            "% or W",
            ("custom_target_power_high",),
            "Power range high (>1000: W+1000).",
        ),
        _i(
            "custom_target_cadence_low_rpm",
            "rpm",
            ("custom_target_cadence_low",),
            "Cadence range low.",
        ),
        _i(
            "custom_target_cadence_high_rpm",
            "rpm",
            ("custom_target_cadence_high",),
            "Cadence range high.",
        ),
        _enum("equipment", "equipment", "Equipment (swim fins, kickboard...)."),
        _enum("exercise_category", "exercise_category", "Strength exercise category."),
        _f("exercise_weight_kg", "kg", ("exercise_weight",), "Strength exercise weight."),
        _enum("weight_display_unit", "weight_display_unit", "Unit the weight is shown in."),
    ),
)

DEVELOPER_FIELDS = Table(
    name="activity_developer_fields",
    message="*",
    index_column="field_index",
    layout="unclaimed_field",
    description=(
        "Long table of every field value no wide column holds: developer (Connect IQ) fields, "
        "fields the FIT profile does not name (unknown_N), and the fields of messages without "
        "a table of their own, so nothing in the file is dropped."
    ),
    columns=(
        _activity_id(),
        Column("message", pl.String(), None, "FIT message name (unknown_N when unnamed)."),
        Column(
            "message_index",
            pl.UInt32(),
            None,
            "0-based position of the message among the file's messages of that name, counted "
            "across chained parts (equals the row index of the message's own table, if any).",
        ),
        Column(
            "field_index",
            pl.UInt32(),
            None,
            "Position of the field inside the message as decoded (components expanded).",
        ),
        Column(
            "timestamp",
            _UTC,
            None,
            "The message's timestamp (UTC), when it has one.",
        ),
        Column(
            "developer_data_index",
            pl.Int32(),
            None,
            "Developer data index (which app) for developer fields; null for FIT fields.",
        ),
        Column(
            "field_number",
            pl.Int32(),
            None,
            "Field definition number (the developer's own numbering for developer fields).",
        ),
        Column(
            "field_name",
            pl.String(),
            None,
            "Field name from the developer's field_description, the FIT profile, or unknown_N.",
        ),
        Column("units", pl.String(), None, "Units declared for the field, if any."),
        Column(
            "value_float",
            pl.Float64(),
            None,
            "The value when it is a single number (FIT scale and offset applied); else null.",
        ),
        Column(
            "value_string",
            pl.String(),
            None,
            "The value when it is not a single number: text, enum name, ISO 8601 time, hex "
            "bytes, or a JSON array for multi-value fields; else null.",
        ),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        RECORDS,
        LAPS,
        SESSIONS,
        LENGTHS,
        EVENTS,
        HRV,
        DEVICE_INFO,
        SPLITS,
        WORKOUT_STEPS,
        DEVELOPER_FIELDS,
    )
}
ACTIVITY_TABLES: tuple[str, ...] = tuple(TABLES)
TABLE_COLUMNS: dict[str, tuple[Column, ...]] = {t.name: t.columns for t in TABLES.values()}
# The lake key of each table: unique per activity file.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    name: (
        ("activity_id", "message", "message_index", "field_index")
        if t.layout == "unclaimed_field"
        else ("activity_id", t.index_column)
    )
    for name, t in TABLES.items()
}


def frame_schema(table: str) -> pl.Schema:
    """The exact polars schema (names, order, dtypes) of a decoded table."""
    return pl.Schema([(c.name, c.dtype) for c in TABLES[table].columns])
