"""Declarations of the activity tables: one `Table` per FIT message type, one `Column` per column.

These declarations are the single source of truth for the decoder (which FIT fields feed which
column, and how they are converted), for the polars frame schema, and for whatever else is
derived downstream (Pandera schemas, the data dictionary). Adding a table is one more `Table`
entry in `TABLES`; the decoder needs no new code.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

__all__ = [
    "ACTIVITY_TABLES",
    "TABLES",
    "TABLE_COLUMNS",
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


# --- declarations -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """One output column.

    ``fit_fields`` lists the FIT field names that feed it, in preference order: the first one
    present with a non-null value wins (this is how ``enhanced_speed`` beats ``speed``). An
    empty ``fit_fields`` marks a column the decoder fills itself (ids, indexes, file-level
    values such as the local UTC offset).
    """

    name: str
    dtype: pl.DataType
    unit: str | None
    description: str
    fit_fields: tuple[str, ...] = ()
    convert: Converter = to_float


@dataclass(frozen=True, slots=True)
class Table:
    """One output table: every data message named ``message`` becomes one row."""

    name: str
    message: str
    index_column: str
    columns: tuple[Column, ...]


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


def _f(name: str, unit: str, fields: tuple[str, ...], description: str) -> Column:
    return Column(name, pl.Float64(), unit, description, fields, to_float)


def _i(name: str, unit: str | None, fields: tuple[str, ...], description: str) -> Column:
    return Column(name, pl.Int32(), unit, description, fields, to_int32)


def _deg(name: str, field: str, description: str) -> Column:
    return Column(name, pl.Float64(), "deg", description, (field,), semicircles_to_deg)


def _ts(name: str, field: str, description: str) -> Column:
    return Column(name, _UTC, None, description, (field,), to_utc_micros)


def _enum(name: str, field: str, description: str) -> Column:
    return Column(name, pl.String(), None, description, (field,), to_enum_name)


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

RECORDS = Table(
    name="activity_records",
    message="record",
    index_column="record_index",
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
    ),
)

LAPS = Table(
    name="activity_laps",
    message="lap",
    index_column="lap_index",
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
    ),
)

SESSIONS = Table(
    name="activity_sessions",
    message="session",
    index_column="session_index",
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
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (RECORDS, LAPS, SESSIONS)}
ACTIVITY_TABLES: tuple[str, ...] = tuple(TABLES)
TABLE_COLUMNS: dict[str, tuple[Column, ...]] = {t.name: t.columns for t in TABLES.values()}


def frame_schema(table: str) -> pl.Schema:
    """The exact polars schema (names, order, dtypes) of a decoded table."""
    return pl.Schema([(c.name, c.dtype) for c in TABLES[table].columns])
