"""Tests for the FIT activity decoder.

The oracle is fitdecode itself, read independently here: message counts and values come from
iterating `fitdecode.FitReader` in this file, never from the module's helpers, and the
expected schemas are written out literally.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import random
import struct
import warnings
import zipfile
from pathlib import Path
from typing import Any

import fitdecode
import polars as pl
import pytest

from garmin_pipeline.fit import (
    ACTIVITY_TABLES,
    TABLE_COLUMNS,
    FitDecodeError,
    decode_activity,
    frame_schema,
)
from garmin_pipeline.fit.decode import fit_crc

DATA = Path(__file__).parent / "data" / "fit"
INVALID = DATA / "invalid"

# The COROS fixture's known spec violation is asserted in its own test; elsewhere it is noise.
pytestmark = [pytest.mark.fast, pytest.mark.filterwarnings("ignore:invalid field size:UserWarning")]

# Files that are not activities (a monitoring file, a course) are refused: see the bad input.
NOT_ACTIVITIES = ("monitoring_", "course_")
ACTIVITY_FILES = sorted(p.name for p in DATA.glob("*.fit") if not p.name.startswith(NOT_ACTIVITIES))
RUN = "run_garmin-fenix5_gps-hr-hrv_short.fit"
NO_CLOCK = "run_garmin-fr70_compressed-timestamps.fit"
RIDE_POWER_CRC0 = "bike_garmin-edge810_vector-power_header-crc0.fit"
RUN_CRC0 = "run_garmin-fr110_2013_header-crc0.fit"
POOL_CHAINED = "swim-pool_garmin-fr735xt_chained5.fit"
TRI_CHAINED = "triathlon_garmin-fr920xt_chained4.fit"
TRI_SUMMARY_LAST = "triathlon_garmin-fr255_summary-last.fit"
ROWING_DEV = "rowing-indoor_garmin-vivoactivehr_devfields.fit"
INDOOR_BIKE = "bike-indoor_garmin-edge530_hrv.fit"
YOGA = "yoga_garmin-fenix6x_gc-download_12129115726_ACTIVITY.fit"
ZWIFT = "bike-virtual_zwift_null-compressed-speed.fit"
COROS = "bike_coros-pace2_misaligned-fields.fit"
MONITORING = "monitoring_b_garmin-vivofit_MonitoringFile.fit"
COURSE = "course_garmin-connect_cptr003_connect.fit"

UTC = pl.Datetime("us", "UTC")
# The original columns of the first three tables, which must stay first and unchanged (the
# wider columns added after them are checked in tests/test_activity_fidelity.py).
EXPECTED_SCHEMAS: dict[str, list[tuple[str, pl.DataType]]] = {
    "activity_records": [
        ("activity_id", pl.Int64()),
        ("record_index", pl.UInt32()),
        ("timestamp", UTC),
        ("latitude_deg", pl.Float64()),
        ("longitude_deg", pl.Float64()),
        ("distance_m", pl.Float64()),
        ("speed_m_s", pl.Float64()),
        ("altitude_m", pl.Float64()),
        ("heart_rate_bpm", pl.Int32()),
        ("cadence_rpm", pl.Int32()),
        ("fractional_cadence_rpm", pl.Float64()),
        ("power_w", pl.Int32()),
        ("temperature_c", pl.Int32()),
        ("vertical_oscillation_mm", pl.Float64()),
        ("stance_time_ms", pl.Float64()),
        ("step_length_mm", pl.Float64()),
        ("grade_pct", pl.Float64()),
        ("calories_kcal", pl.Int32()),
        ("accumulated_power_w", pl.Int64()),
        ("system_time_s", pl.Int64()),
    ],
    "activity_laps": [
        ("activity_id", pl.Int64()),
        ("lap_index", pl.UInt32()),
        ("start_time", UTC),
        ("end_time", UTC),
        ("sport", pl.String()),
        ("total_elapsed_time_s", pl.Float64()),
        ("total_timer_time_s", pl.Float64()),
        ("total_distance_m", pl.Float64()),
        ("total_calories_kcal", pl.Int32()),
        ("avg_heart_rate_bpm", pl.Int32()),
        ("max_heart_rate_bpm", pl.Int32()),
        ("avg_speed_m_s", pl.Float64()),
        ("max_speed_m_s", pl.Float64()),
        ("avg_cadence_rpm", pl.Int32()),
        ("avg_power_w", pl.Int32()),
        ("max_power_w", pl.Int32()),
        ("total_ascent_m", pl.Float64()),
        ("total_descent_m", pl.Float64()),
        ("start_latitude_deg", pl.Float64()),
        ("start_longitude_deg", pl.Float64()),
        ("num_lengths", pl.Int32()),
    ],
    "activity_sessions": [
        ("activity_id", pl.Int64()),
        ("session_index", pl.UInt32()),
        ("sport", pl.String()),
        ("sub_sport", pl.String()),
        ("start_time", UTC),
        ("end_time", UTC),
        ("local_utc_offset_s", pl.Int32()),
        ("total_elapsed_time_s", pl.Float64()),
        ("total_timer_time_s", pl.Float64()),
        ("total_distance_m", pl.Float64()),
        ("total_calories_kcal", pl.Int32()),
        ("avg_heart_rate_bpm", pl.Int32()),
        ("max_heart_rate_bpm", pl.Int32()),
        ("avg_speed_m_s", pl.Float64()),
        ("max_speed_m_s", pl.Float64()),
        ("avg_cadence_rpm", pl.Int32()),
        ("avg_power_w", pl.Int32()),
        ("max_power_w", pl.Int32()),
        ("normalized_power_w", pl.Int32()),
        ("total_ascent_m", pl.Float64()),
        ("total_descent_m", pl.Float64()),
        ("num_laps", pl.Int32()),
        ("pool_length_m", pl.Float64()),
        ("start_latitude_deg", pl.Float64()),
        ("start_longitude_deg", pl.Float64()),
    ],
}
INDEX = {
    "activity_records": ("record_index", "record"),
    "activity_laps": ("lap_index", "lap"),
    "activity_sessions": ("session_index", "session"),
}


# --- the oracle: fitdecode read directly ----------------------------------------------------------


class Oracle:
    """What fitdecode itself reads from a file: headers and the raw data messages we decode."""

    def __init__(self, path: Path) -> None:
        self.headers = 0
        self.messages: dict[str, list[fitdecode.FitDataMessage]] = {
            "record": [],
            "lap": [],
            "session": [],
            "activity": [],
        }
        with fitdecode.FitReader(path, check_crc=fitdecode.CrcCheck.RAISE) as reader:
            for frame in reader:
                if isinstance(frame, fitdecode.FitHeader):
                    self.headers += 1
                elif isinstance(frame, fitdecode.FitDataMessage) and frame.name in self.messages:
                    self.messages[frame.name].append(frame)


@functools.cache
def oracle(name: str) -> Oracle:
    return Oracle(DATA / name)


@functools.cache
def decoded(name: str) -> dict[str, pl.DataFrame]:
    return decode_activity(DATA / name, activity_id=4242)


def pick(message: fitdecode.FitDataMessage, *names: str) -> Any:
    """First non-null value among ``names``; fields written by the device before expanded
    components; developer fields never; multi-value fields by their first value."""
    for name in names:
        fields = [
            f
            for f in message.fields
            if f.name == name and not (f.field_def is not None and f.field_def.is_dev)
        ]
        fields.sort(key=lambda f: f.field_def is None)
        for f in fields:
            value = f.value[0] if isinstance(f.value, tuple) else f.value
            if value is not None:
                return value
    return None


def utc(value: Any) -> dt.datetime | None:
    return value if isinstance(value, dt.datetime) else None


def degrees(value: Any) -> float | None:
    return None if value is None else value * 180 / 2**31


def sport_text(value: Any) -> str | None:
    return None if value is None else str(value)


# --- every valid fixture --------------------------------------------------------------------------


def original_columns(frame: pl.DataFrame, table: str) -> list[tuple[str, pl.DataType]]:
    return list(frame.schema.items())[: len(EXPECTED_SCHEMAS[table])]


@pytest.mark.parametrize("name", ACTIVITY_FILES)
def test_schema_is_exact(name: str) -> None:
    tables = decoded(name)
    assert tuple(tables) == ACTIVITY_TABLES
    for table, frame in tables.items():
        assert frame.schema == frame_schema(table)
        if table in EXPECTED_SCHEMAS:
            assert original_columns(frame, table) == EXPECTED_SCHEMAS[table]


@pytest.mark.parametrize("name", ACTIVITY_FILES)
def test_row_counts_and_indexes_match_fitdecode(name: str) -> None:
    tables, truth = decoded(name), oracle(name)
    for table, (index, message) in INDEX.items():
        frame = tables[table]
        assert frame.height == len(truth.messages[message]), table
        assert frame[index].to_list() == list(range(frame.height))
        assert frame["activity_id"].to_list() == [4242] * frame.height


@pytest.mark.parametrize("name", ACTIVITY_FILES)
def test_record_values_match_fitdecode(name: str) -> None:
    records, truth = decoded(name)["activity_records"], oracle(name).messages["record"]
    expected = {
        "timestamp": [utc(pick(m, "timestamp")) for m in truth],
        "latitude_deg": [degrees(pick(m, "position_lat")) for m in truth],
        "longitude_deg": [degrees(pick(m, "position_long")) for m in truth],
        "heart_rate_bpm": [pick(m, "heart_rate") for m in truth],
        "distance_m": [pick(m, "distance") for m in truth],
        "speed_m_s": [pick(m, "enhanced_speed", "speed") for m in truth],
        "altitude_m": [pick(m, "enhanced_altitude", "altitude") for m in truth],
        "power_w": [pick(m, "power") for m in truth],
    }
    for column, values in expected.items():
        assert records[column].to_list() == values, column
    # The brief's sample points, spelled out: first, middle and last record.
    for i in {0, len(truth) // 2, len(truth) - 1} if truth else ():
        row = records.row(i, named=True)
        assert row["timestamp"] == utc(truth[i].get_value("timestamp"))
        assert row["heart_rate_bpm"] == truth[i].get_value("heart_rate", fallback=None)


@pytest.mark.parametrize("name", ACTIVITY_FILES)
def test_lap_values_match_fitdecode(name: str) -> None:
    laps, truth = decoded(name)["activity_laps"], oracle(name).messages["lap"]
    assert laps["start_time"].to_list() == [utc(pick(m, "start_time")) for m in truth]
    assert laps["end_time"].to_list() == [utc(pick(m, "timestamp")) for m in truth]
    assert laps["sport"].to_list() == [sport_text(pick(m, "sport")) for m in truth]
    assert laps["total_distance_m"].to_list() == [pick(m, "total_distance") for m in truth]
    assert laps["avg_speed_m_s"].to_list() == [
        pick(m, "enhanced_avg_speed", "avg_speed") for m in truth
    ]
    assert laps["avg_cadence_rpm"].to_list() == [
        pick(m, "avg_cadence", "avg_running_cadence") for m in truth
    ]
    assert laps["start_latitude_deg"].to_list() == [
        degrees(pick(m, "start_position_lat")) for m in truth
    ]


@pytest.mark.parametrize("name", ACTIVITY_FILES)
def test_session_values_match_fitdecode(name: str) -> None:
    sessions, truth = decoded(name)["activity_sessions"], oracle(name).messages["session"]
    assert sessions["sport"].to_list() == [sport_text(pick(m, "sport")) for m in truth]
    assert sessions["sub_sport"].to_list() == [sport_text(pick(m, "sub_sport")) for m in truth]
    assert sessions["start_time"].to_list() == [utc(pick(m, "start_time")) for m in truth]
    assert sessions["end_time"].to_list() == [utc(pick(m, "timestamp")) for m in truth]
    assert sessions["total_elapsed_time_s"].to_list() == [
        pick(m, "total_elapsed_time") for m in truth
    ]
    assert sessions["total_distance_m"].to_list() == [pick(m, "total_distance") for m in truth]
    assert sessions["max_speed_m_s"].to_list() == [
        pick(m, "enhanced_max_speed", "max_speed") for m in truth
    ]
    assert sessions["num_laps"].to_list() == [pick(m, "num_laps") for m in truth]


@pytest.mark.parametrize("name", ACTIVITY_FILES)
def test_same_bytes_give_identical_frames(name: str) -> None:
    data = (DATA / name).read_bytes()
    first = decode_activity(data, 4242)
    for again in (decode_activity(data, 4242), decoded(name)):
        for table in ACTIVITY_TABLES:
            assert first[table].equals(again[table]), table


# --- specific cases -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "parts"), [(POOL_CHAINED, 5), (TRI_CHAINED, 4)])
def test_chained_files_keep_every_part(name: str, parts: int) -> None:
    assert oracle(name).headers == parts
    tables = decoded(name)
    assert tables["activity_records"].height == len(oracle(name).messages["record"])
    assert tables["activity_laps"]["lap_index"].is_sorted()


def test_pool_swim_lengths_and_pool_length() -> None:
    session = decoded(POOL_CHAINED)["activity_sessions"].row(0, named=True)
    assert (session["sport"], session["sub_sport"]) == ("swimming", "lap_swimming")
    assert session["pool_length_m"] == pick(
        oracle(POOL_CHAINED).messages["session"][0], "pool_length"
    )
    assert decoded(POOL_CHAINED)["activity_laps"]["num_lengths"].drop_nulls().sum() > 0


@pytest.mark.parametrize("name", [TRI_CHAINED, TRI_SUMMARY_LAST])
def test_multisport_has_one_session_per_leg(name: str) -> None:
    sports = decoded(name)["activity_sessions"]["sport"].to_list()
    assert sports == ["swimming", "transition", "cycling", "transition", "running"]


def test_multi_value_speed_fields_use_the_first_value() -> None:
    # The fr255 writes enhanced_avg_speed as two uint32s: (real value, 65535 padding).
    lap = oracle(TRI_SUMMARY_LAST).messages["lap"][0]
    raw = lap.get_value("enhanced_avg_speed")
    assert isinstance(raw, tuple)
    assert decoded(TRI_SUMMARY_LAST)["activity_laps"]["avg_speed_m_s"][0] == raw[0]


def test_run_with_gps_and_heart_rate() -> None:
    records = decoded(RUN)["activity_records"]
    first = oracle(RUN).messages["record"][0]
    assert records["latitude_deg"][0] == first.get_value("position_lat") * 180 / 2**31
    assert records["longitude_deg"][0] == first.get_value("position_long") * 180 / 2**31
    assert records["latitude_deg"].drop_nulls().is_between(-90, 90).all()
    assert records["heart_rate_bpm"].drop_nulls().len() == records.height
    assert records["timestamp"][0] == dt.datetime(2017, 6, 11, 14, 34, 9, tzinfo=dt.UTC)


def test_ride_with_power() -> None:
    records = decoded(RIDE_POWER_CRC0)["activity_records"]
    assert records["power_w"].drop_nulls().len() > 0.9 * records.height
    session = decoded(RIDE_POWER_CRC0)["activity_sessions"].row(0, named=True)
    assert session["sport"] == "cycling"
    assert session["avg_power_w"] == pick(
        oracle(RIDE_POWER_CRC0).messages["session"][0], "avg_power"
    )


@pytest.mark.parametrize("name", [RIDE_POWER_CRC0, RUN_CRC0])
def test_header_crc_zero_is_accepted(name: str) -> None:
    head = (DATA / name).read_bytes()[:14]
    assert head[0] == 14 and head[12:14] == b"\x00\x00"
    assert decoded(name)["activity_records"].height > 0


def test_compressed_timestamps_without_clock() -> None:
    # The FR70 had no real-time clock: its times are seconds since power-on, not UTC.
    records, truth = decoded(NO_CLOCK)["activity_records"], oracle(NO_CLOCK).messages["record"]
    assert any(m.time_offset is not None for m in truth)  # compressed-timestamp headers
    assert records["timestamp"].null_count() == records.height
    assert records["system_time_s"].to_list() == [m.get_value("timestamp") for m in truth]
    assert records["system_time_s"].is_sorted()
    # speed and distance come from the packed compressed_speed_distance field
    assert records["speed_m_s"].drop_nulls().len() > 0.9 * records.height
    assert decoded(NO_CLOCK)["activity_sessions"]["local_utc_offset_s"][0] is None


def test_clocked_files_leave_system_time_null() -> None:
    records = decoded(RUN)["activity_records"]
    assert records["system_time_s"].null_count() == records.height
    assert records.height == len(oracle(RUN).messages["record"]) > 0


@pytest.mark.parametrize("name", [INDOOR_BIKE, ROWING_DEV])
def test_files_without_gps(name: str) -> None:
    records = decoded(name)["activity_records"]
    assert records["latitude_deg"].null_count() == records.height
    assert records["longitude_deg"].null_count() == records.height
    assert records["heart_rate_bpm"].drop_nulls().len() > 0


def test_developer_fields_stay_out_of_the_wide_columns() -> None:
    # The rowing app writes developer fields called "Power", "Speed" and "Heart Rate"; they go
    # to the long developer-fields table (tests/test_activity_fidelity.py), never here.
    truth = oracle(ROWING_DEV).messages["record"]
    dev_names = {f.name for f in truth[0].fields if f.field_def is not None and f.field_def.is_dev}
    assert {"Power", "Speed", "Heart Rate"} <= dev_names
    records = decoded(ROWING_DEV)["activity_records"]
    assert records["power_w"].null_count() == records.height
    assert records["heart_rate_bpm"].to_list() == [m.get_value("heart_rate") for m in truth]


def test_yoga_without_laps_keeps_empty_but_typed_lap_table() -> None:
    tables = decoded(YOGA)
    assert tables["activity_laps"].height == 0
    assert (
        original_columns(tables["activity_laps"], "activity_laps")
        == EXPECTED_SCHEMAS["activity_laps"]
    )
    session = tables["activity_sessions"].row(0, named=True)
    assert (session["sport"], session["sub_sport"]) == ("training", "yoga")


@pytest.mark.parametrize(
    ("name", "offset"),
    [(RUN, -7 * 3600), (TRI_SUMMARY_LAST, -5 * 3600), (ZWIFT, None), (RIDE_POWER_CRC0, None)],
)
def test_local_utc_offset_from_activity_message(name: str, offset: int | None) -> None:
    activity = oracle(name).messages["activity"][0]
    local = activity.get_value("local_timestamp", fallback=None)
    if offset is not None:
        assert local - activity.get_value("timestamp") == dt.timedelta(seconds=offset)
    sessions = decoded(name)["activity_sessions"]
    assert sessions["local_utc_offset_s"].to_list() == [offset] * sessions.height


def test_zwift_prefers_the_device_written_field_over_the_null_compressed_one() -> None:
    # Each record has distance twice: the real field and a null one expanded from
    # compressed_speed_distance.
    first = oracle(ZWIFT).messages["record"][0]
    assert len(list(first.get_fields("distance"))) == 2
    assert decoded(ZWIFT)["activity_records"]["distance_m"].null_count() == 0


def test_recoverable_spec_violations_are_logged_not_warned_and_decoded(caplog) -> None:
    """A sync stays quiet about a file a real device wrote slightly off spec: the violations
    are log lines (shown with -v), and every record is decoded."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning escaping the decoder fails the test
        with caplog.at_level(logging.INFO, logger="garmin_pipeline.fit.decode"):
            tables = decode_activity(DATA / COROS, 1)
    assert tables["activity_records"].height == 11272
    logged = [r.getMessage() for r in caplog.records]
    assert logged and all(m.startswith("FIT spec violation, decoded anyway: ") for m in logged)
    assert any("invalid field size" in m for m in logged)


def test_source_may_be_bytes_str_or_path() -> None:
    path = DATA / RUN
    for source in (path, str(path), path.read_bytes()):
        assert decode_activity(source, 4242)["activity_records"].equals(
            decoded(RUN)["activity_records"]
        )


def test_declarations_match_the_frames() -> None:
    assert ACTIVITY_TABLES[:3] == ("activity_records", "activity_laps", "activity_sessions")
    assert tuple(TABLE_COLUMNS) == ACTIVITY_TABLES
    for table, columns in TABLE_COLUMNS.items():
        assert [(c.name, c.dtype) for c in columns] == list(frame_schema(table).items())
        if table in EXPECTED_SCHEMAS:
            prefix = columns[: len(EXPECTED_SCHEMAS[table])]
            assert [(c.name, c.dtype) for c in prefix] == EXPECTED_SCHEMAS[table]
        for column in columns:
            assert column.description and "\n" not in column.description
            assert column.unit is None or isinstance(column.unit, str)


# --- bad input ------------------------------------------------------------------------------------


def assert_one_line_error(excinfo: pytest.ExceptionInfo[FitDecodeError], *words: str) -> None:
    message = str(excinfo.value)
    assert message.strip() and "\n" not in message
    for word in words:
        assert word.lower() in message.lower(), message


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("bad-file-crc_activity-filecrc.fit", ("CRC", "re-download")),
        ("truncated_course_invalid_truncated.fit", ("truncated", "327")),
        ("undefined-local-mesg_strava-android.fit", ("truncated",)),
        ("not-fit-after-header_sports-lib-broken.fit", ("declares no messages", "86002")),
    ],
)
def test_invalid_fixtures_raise_fit_decode_error(name: str, words: tuple[str, ...]) -> None:
    with pytest.raises(FitDecodeError) as excinfo:
        decode_activity(INVALID / name, 1)
    assert_one_line_error(excinfo, *words)


def test_every_invalid_fixture_is_covered() -> None:
    names = {p.name for p in INVALID.glob("*.fit")}
    assert len(names) == 4


def _zip_of(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("12129115726_ACTIVITY.fit", (DATA / name).read_bytes())
    return buffer.getvalue()


def _with_file_crc(data: bytes) -> bytes:
    body = data[:-2]
    return body + struct.pack("<H", fitdecode.utils.compute_crc(body))


def _empty_header(data: bytes) -> bytes:
    """The file's 14-byte header with its data size set to 0 and its CRC recomputed."""
    header = data[:4] + struct.pack("<I", 0) + data[8:12]
    return header + struct.pack("<H", fitdecode.utils.compute_crc(header))


RUN_BYTES = (DATA / RUN).read_bytes()
BAD_INPUTS = {
    "zip": (_zip_of(YOGA), ("not a FIT file", "unzip")),
    "empty": (b"", ("empty",)),
    "random": (random.Random(7).randbytes(4096), ("not a FIT file",)),
    "too-short": (b".FIT", ("not a FIT file",)),
    "html": (b"<!DOCTYPE html><html>Too Many Requests</html>", ("not a FIT file",)),
    "cut-short": (RUN_BYTES[:3000], ("truncated",)),
    "flipped-byte": (
        RUN_BYTES[:2000] + bytes([RUN_BYTES[2000] ^ 0xFF]) + RUN_BYTES[2001:],
        ("CRC",),
    ),
    "bad-header-crc": (RUN_BYTES[:12] + b"\x01\x00" + RUN_BYTES[14:], ("header CRC",)),
    "trailing-garbage": (RUN_BYTES + b"garbage after the end", ("unexpected bytes", "5597")),
    "non-activity": ((DATA / MONITORING).read_bytes(), ("not an activity", "monitoring_b")),
    "course": ((DATA / COURSE).read_bytes(), ("not an activity", "'course'")),
    # A header that declares no messages, then data (as sports-lib's broken.fit, in invalid/).
    "no-messages-after-header": (
        _empty_header(RUN_BYTES) + RUN_BYTES[14:],
        ("declares no messages",),
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_raises_fit_decode_error(case: str) -> None:
    data, words = BAD_INPUTS[case]
    with pytest.raises(FitDecodeError) as excinfo:
        decode_activity(data, 1)
    assert_one_line_error(excinfo, *words)
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize("size", [1, 2, 3, 13, 14, 4095])
def test_crc_is_the_one_fitdecode_computes(size: int) -> None:
    # The decoder checks CRCs up front with its own, faster routine (and fitdecode does not
    # check them again), so it must agree with fitdecode's at every length and alignment.
    data = random.Random(size).randbytes(size + 2)
    for start in (0, 1, 2):
        expected = fitdecode.utils.compute_crc(data, start=start, end=start + size)
        assert fit_crc(data, start, start + size) == expected
    assert fit_crc(data, 1, 1) == 0


def test_damaged_messages_with_valid_crc_never_leak_other_errors() -> None:
    # Garble message bytes but fix the file CRC, so the damage reaches fitdecode's parser.
    rng = random.Random(2024)
    rejected = 0
    for _ in range(150):
        data = bytearray(RUN_BYTES)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(14, len(data) - 2)] = rng.randrange(256)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # recoverable-error warnings are expected here
                tables = decode_activity(_with_file_crc(bytes(data)), 1)
        except FitDecodeError as exc:
            assert str(exc).strip() and "\n" not in str(exc)
            rejected += 1
        else:
            for table, frame in tables.items():
                assert frame.schema == frame_schema(table)
    assert rejected > 0


def _every_field(path: Path, processor: fitdecode.DataProcessorBase) -> list[tuple[Any, ...]]:
    with fitdecode.FitReader(str(path), processor=processor) as reader:
        return [
            (frame.name, field.name, field.value, field.raw_value, field.units)
            for frame in reader
            if frame.frame_type == fitdecode.FIT_FRAME_DATA
            for field in frame.fields
        ]


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.fit")))
def test_the_lean_processor_gives_every_value_the_default_processor_gives(name):
    """The decoder's reader skips fitdecode's per-field method lookups (`LeanDataProcessor`);
    every field of every message, wellness and monitoring files included, must read the same:
    value, raw value and units (date_time fields lose their 's' as they become datetimes)."""
    from garmin_pipeline.fit.decode import LeanDataProcessor

    default = _every_field(DATA / name, fitdecode.DefaultDataProcessor())
    assert _every_field(DATA / name, LeanDataProcessor()) == default
    assert any(isinstance(value, dt.datetime) for _, _, value, _, _ in default)


def test_every_reader_of_fit_bytes_turns_a_fitdecode_failure_into_its_one_line_error():
    """One guarded frame loop (`guarded_frames`) serves the activity decoder, the wellness
    decoder and the export's linking: a failure inside fitdecode becomes the caller's own
    `FitDecodeError`, with fitdecode's error as its cause."""
    from garmin_pipeline.fit.decode import fit_reader, guarded_frames
    from garmin_pipeline.sources.export.fitlink import wellness_times

    monitoring = (DATA / "monitoring_b_garmin-vivofit_MonitoringFile.fit").read_bytes()
    cut = monitoring[: len(monitoring) // 2]  # no structure check first: fitdecode meets it

    def cut_short(error: Exception) -> FitDecodeError:
        return FitDecodeError(f"cut short: {type(error).__name__}")

    reader = fit_reader(cut)
    with pytest.raises(FitDecodeError, match=r"^cut short: FitEOFError$") as caught, reader:
        for _ in guarded_frames(reader, cut_short):
            pass
    assert isinstance(caught.value.__cause__, fitdecode.FitEOFError)
    with pytest.raises(FitDecodeError, match=r"^truncated FIT file: header at byte 0 declares"):
        wellness_times(cut)  # the export's reader checks the structure first, as the lake's
    assert wellness_times(monitoring).file_type == "monitoring_b"
