"""Full-fidelity activity decoding, the synthetic FIT's extra messages, and activity edits.

The oracle for real files is fitdecode, iterated here independently of the decoder: every wide
column is compared whole against fitdecode's values after the documented unit conversion, and
every non-null field value fitdecode yields is found either in a wide column or in the long
``activity_developer_fields`` table, so nothing in a file is dropped.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import fitdecode
import polars as pl
import pytest

from garmin_emulator import Emulator, SyntheticAthlete
from garmin_pipeline.domains import activities as activities_domain
from garmin_pipeline.errors import EndpointUnavailableError
from garmin_pipeline.fit import TABLE_KEYS, TABLES, decode_activity
from garmin_pipeline.lake.parsers import activity_zip_name

DATA = Path(__file__).parent / "data" / "fit"
pytestmark = pytest.mark.filterwarnings("ignore:invalid field size:UserWarning")

NOT_ACTIVITIES = ("monitoring_", "course_")  # a wellness file and a course: no activity in them
ACTIVITY_FILES = sorted(p.name for p in DATA.glob("*.fit") if not p.name.startswith(NOT_ACTIVITIES))
RUN = "run_garmin-fenix5_gps-hr-hrv_short.fit"
INDOOR_BIKE = "bike-indoor_garmin-edge530_hrv.fit"
POOL_CHAINED = "swim-pool_garmin-fr735xt_chained5.fit"
TRI_SUMMARY_LAST = "triathlon_garmin-fr255_summary-last.fit"
ROWING_DEV = "rowing-indoor_garmin-vivoactivehr_devfields.fit"
RIDE_POWER = "bike_garmin-edge810_vector-power_header-crc0.fit"
NO_CLOCK = "run_garmin-fr70_compressed-timestamps.fit"

MESSAGE_TABLES = {name: t for name, t in TABLES.items() if t.layout == "message"}
MESSAGE_OF_COLUMN = {id(c): t.message for t in MESSAGE_TABLES.values() for c in t.columns}
NEW_TABLES = (
    "activity_lengths",
    "activity_events",
    "activity_hrv",
    "activity_device_info",
    "activity_splits",
    "activity_workout_steps",
    "activity_developer_fields",
)


# --- the oracle ---------------------------------------------------------------------------------


@functools.cache
def messages(name: str) -> tuple[fitdecode.FitDataMessage, ...]:
    """Every data message fitdecode reads from the file, in order."""
    with fitdecode.FitReader(
        DATA / name,
        check_crc=fitdecode.CrcCheck.RAISE,
        error_handling=fitdecode.ErrorHandling.WARN,
    ) as reader:
        return tuple(f for f in reader if f.frame_type == fitdecode.FIT_FRAME_DATA)


def of_type(name: str, message: str) -> list[fitdecode.FitDataMessage]:
    return [m for m in messages(name) if m.name == message]


@functools.cache
def decoded(name: str) -> dict[str, pl.DataFrame]:
    return decode_activity(DATA / name, activity_id=4242)


def is_dev(field: Any) -> bool:
    return field.field_def is not None and field.field_def.is_dev


def is_null(value: Any) -> bool:
    return value is None or (isinstance(value, tuple) and all(v is None for v in value))


def pick(message: fitdecode.FitDataMessage, names: tuple[str, ...], whole: bool) -> Any:
    """First non-null value among ``names``: device-written before expanded, never developer
    fields, arrays by their first item unless ``whole``. Also returns the field's units."""
    for name in names:
        fields = [f for f in message.fields if f.name == name and not is_dev(f)]
        fields.sort(key=lambda f: f.field_def is None)
        for f in fields:
            value = f.value
            if isinstance(value, tuple) and not whole:
                value = value[0] if value else None
            if not is_null(value):
                return value, f.units
    return None, None


def expected_value(column: Any, value: Any, units: str | None) -> Any:
    """fitdecode's value after the documented conversion, written independently of tables.py."""
    if value is None:
        return None
    name = column.name
    if name == "system_time_s":
        return value if isinstance(value, int) and value < 0x10000000 else None
    if name.startswith("left_right_balance"):
        # uint8 in records (flag 0x80, percent in 0x7F); uint16 elsewhere (0x8000, 0x3FFF / 100)
        wide = MESSAGE_OF_COLUMN[id(column)] != "record"
        right_bit, mask, scale = (0x8000, 0x3FFF, 100) if wide else (0x80, 0x7F, 1)
        raw = {"right": right_bit, "mask": mask}[value] if isinstance(value, str) else value
        return bool(raw & right_bit) if name.endswith("is_right") else (raw & mask) / scale
    dtype = column.dtype
    if dtype == pl.Datetime("us", "UTC"):
        return value if isinstance(value, dt.datetime) else None
    if units == "semicircles":
        return value * 180 / 2**31
    if isinstance(dtype, pl.List):
        return [None if v is None else float(v) for v in value]
    if dtype == pl.String():
        return value if isinstance(value, str) else str(value)
    if dtype in (pl.Int32(), pl.Int64()):
        return round(value) if isinstance(value, int | float) else None
    if dtype == pl.Float64():
        return float(value) if isinstance(value, int | float) else None
    raise AssertionError(f"no oracle conversion for {name} ({dtype})")


# --- real files: wide tables --------------------------------------------------------------------


@pytest.mark.fast
@pytest.mark.parametrize("name", ACTIVITY_FILES)
def test_every_message_table_has_one_row_per_message(name: str) -> None:
    tables = decoded(name)
    assert tuple(tables)[3:] == NEW_TABLES
    for table, spec in MESSAGE_TABLES.items():
        frame = tables[table]
        assert frame.height == len(of_type(name, spec.message)), table
        assert frame[spec.index_column].to_list() == list(range(frame.height))
        assert frame["activity_id"].to_list() == [4242] * frame.height


@pytest.mark.fast
@pytest.mark.parametrize("name", ACTIVITY_FILES)
def test_every_wide_column_equals_fitdecode(name: str) -> None:
    tables = decoded(name)
    for table, spec in MESSAGE_TABLES.items():
        truth = of_type(name, spec.message)
        for column in spec.columns:
            if not column.fit_fields:
                continue
            whole = isinstance(column.dtype, pl.List)
            expected = [expected_value(column, *pick(m, column.fit_fields, whole)) for m in truth]
            assert tables[table][column.name].to_list() == expected, (table, column.name)


@pytest.mark.fast
def test_records_carry_running_dynamics_power_balance_and_gps_accuracy() -> None:
    run = decoded(RUN)["activity_records"]
    assert run["stance_time_balance_pct"].drop_nulls().is_between(40, 60).all()
    assert run["vertical_ratio_pct"].drop_nulls().len() > 0
    assert run["temperature_c"].null_count() == 0
    for name in (RIDE_POWER, INDOOR_BIKE):
        ride = decoded(name)["activity_records"]
        assert ride["left_right_balance_pct"].drop_nulls().len() > 0.5 * ride.height
        assert ride["left_right_balance_pct"].drop_nulls().is_between(0, 100).all()
    indoor = decoded(INDOOR_BIKE)["activity_records"]
    assert indoor["left_torque_effectiveness_pct"].drop_nulls().len() > 0
    assert indoor["respiration_rate_brpm"].drop_nulls().len() > 0


@pytest.mark.fast
def test_pool_lengths() -> None:
    tables = decoded(POOL_CHAINED)
    lengths, session = tables["activity_lengths"], tables["activity_sessions"].row(0, named=True)
    truth, (fit_session,) = of_type(POOL_CHAINED, "length"), of_type(POOL_CHAINED, "session")
    # Every length message, idle ones included (166), against the lengths the session counts
    # (116): the table keeps what the file holds, not the session's summary.
    assert lengths.height == len(truth) > session["num_lengths"]
    assert session["num_lengths"] == fit_session.get_value("num_lengths")
    active = lengths.filter(pl.col("length_type") == "active")
    fit_active = [m for m in truth if m.get_value("length_type") == "active"]
    assert active.height == session["num_active_lengths"] == len(fit_active) > 0
    assert session["num_active_lengths"] == fit_session.get_value("num_active_lengths")
    assert set(active["swim_stroke"].unique()) <= {"freestyle", "breaststroke", "drill"}
    assert (lengths["end_time"] >= lengths["start_time"]).all()
    assert tables["activity_laps"]["num_lengths"].sum() == session["num_lengths"]


@pytest.mark.fast
def test_events_device_info_splits_and_workout_steps() -> None:
    events = decoded(RUN)["activity_events"]
    assert events.row(0, named=True)["event"] == "timer"
    assert events.row(0, named=True)["event_type"] == "start"
    assert events["timer_trigger"].drop_nulls().len() > 0
    creator = decoded(RUN)["activity_device_info"].filter(pl.col("device_index") == "creator")
    assert "fenix5" in creator["product"].to_list()
    splits = decoded(TRI_SUMMARY_LAST)["activity_splits"]
    assert splits.height == len(of_type(TRI_SUMMARY_LAST, "split")) > 0
    steps = decoded(INDOOR_BIKE)["activity_workout_steps"]
    assert steps.height == len(of_type(INDOOR_BIKE, "workout_step")) > 0
    assert steps["duration_type"].null_count() == 0


# --- real files: HRV ----------------------------------------------------------------------------


@pytest.mark.fast
@pytest.mark.parametrize("name", ACTIVITY_FILES)
def test_hrv_intervals_equal_fitdecode(name: str) -> None:
    rows: dict[str, list[Any]] = {
        "hrv_message_index": [],
        "value_position": [],
        "record_index": [],
        "rr_interval_ms": [],
    }
    records = hrv_messages = 0
    for message in messages(name):
        if message.name == "record":
            records += 1
        elif message.name == "hrv":
            for position, value in enumerate(message.get_value("time")):
                if value is not None:
                    rows["hrv_message_index"].append(hrv_messages)
                    rows["value_position"].append(position)
                    rows["record_index"].append(records - 1 if records else None)
                    rows["rr_interval_ms"].append(round(value * 1000))
            hrv_messages += 1
    hrv = decoded(name)["activity_hrv"]
    assert hrv["hrv_index"].to_list() == list(range(hrv.height))
    for column, values in rows.items():
        assert hrv[column].to_list() == values, column
    if name in (RUN, INDOOR_BIKE):
        assert hrv.height > 100
        assert hrv["rr_interval_ms"].is_between(250, 2000).all()


# --- real files: the long table and the field count ----------------------------------------------


def long_value(value: Any) -> tuple[float | None, str | None]:
    """How the long table writes a value (the documented rule, restated here)."""
    if isinstance(value, bool | int | float):
        text = str(value) if isinstance(value, int) and abs(value) > 2**53 else None
        return float(value), text
    if isinstance(value, str):
        return None, value
    if isinstance(value, dt.datetime | dt.time | dt.date):
        return None, value.isoformat()
    if isinstance(value, bytes):
        return None, value.hex()
    return None, None  # arrays: compared via json below


def claimed(message: str, field: Any) -> bool:
    if is_dev(field):
        return False
    if message == "hrv" and field.name == "time":
        return True
    return any(field.name in t.fit_fields for t in MESSAGE_TABLES.values() if t.message == message)


@pytest.mark.fast
@pytest.mark.parametrize("name", ACTIVITY_FILES)
def test_every_field_value_lands_in_a_wide_column_or_the_long_table(name: str) -> None:
    long = decoded(name)["activity_developer_fields"]
    rows = {
        (r["message"], r["message_index"], r["field_index"]): r for r in long.iter_rows(named=True)
    }
    counts: Counter[str] = Counter()
    total = in_wide = 0
    for message in messages(name):
        index = counts[message.name]
        counts[message.name] += 1
        for position, field in enumerate(message.fields):
            if is_null(field.value):
                continue
            total += 1
            key = (message.name, index, position)
            if claimed(message.name, field):
                in_wide += 1
                assert key not in rows, key
                continue
            row = rows.pop(key)
            assert row["field_name"] == field.name
            assert row["field_number"] == field.def_num
            assert row["units"] == (field.units or None)
            dev_index = field.field_def.dev_data_index if is_dev(field) else None
            assert row["developer_data_index"] == dev_index
            if isinstance(field.value, tuple):
                items = json.loads(row["value_string"])
                assert len(items) == len(field.value)
                for got, want in zip(items, field.value, strict=True):
                    if isinstance(want, float) and math.isfinite(want):
                        assert got == pytest.approx(want)
                    elif isinstance(want, int | str) or want is None:
                        assert got == want
            else:
                assert (row["value_float"], row["value_string"]) == long_value(field.value)
    assert not rows, f"long-table rows with no fitdecode field: {list(rows)[:5]}"
    assert in_wide + long.height == total
    assert long.select(TABLE_KEYS["activity_developer_fields"][1:]).is_duplicated().sum() == 0


@pytest.mark.fast
def test_developer_fields_equal_fitdecode() -> None:
    expected = []
    counts: Counter[str] = Counter()
    for message in messages(ROWING_DEV):
        index = counts[message.name]
        counts[message.name] += 1
        for field in message.fields:
            if is_dev(field) and not is_null(field.value):
                expected.append(
                    (
                        message.name,
                        index,
                        field.field_def.dev_data_index,
                        field.def_num,
                        field.name,
                        field.units or None,
                        float(field.value) if isinstance(field.value, int | float) else None,
                    )
                )
    long = decoded(ROWING_DEV)["activity_developer_fields"].filter(
        pl.col("developer_data_index").is_not_null()
    )
    got = long.select(
        "message",
        "message_index",
        "developer_data_index",
        "field_number",
        "field_name",
        "units",
        "value_float",
    ).rows()
    assert got == expected
    assert {"Power", "Speed", "Heart Rate"} <= set(long["field_name"])
    records = decoded(ROWING_DEV)["activity_records"]
    powers = long.filter((pl.col("message") == "record") & (pl.col("field_name") == "Power"))
    # each developer row joins back to its record by message_index = record_index
    assert powers["message_index"].is_in(records["record_index"].implode()).all()
    assert powers["timestamp"].to_list() == [
        records["timestamp"][i] for i in powers["message_index"].to_list()
    ]


@pytest.mark.fast
def test_compressed_speed_distance_is_kept_raw_in_the_long_table() -> None:
    long = decoded(NO_CLOCK)["activity_developer_fields"]
    packed = long.filter(pl.col("field_name") == "compressed_speed_distance")
    truth = [
        m
        for m in of_type(NO_CLOCK, "record")
        if m.has_field("compressed_speed_distance")
        and not is_null(m.get_value("compressed_speed_distance"))
    ]
    assert packed.height == len(truth) > 0
    assert packed["message"].unique().to_list() == ["record"]


# --- the lake datasets --------------------------------------------------------------------------


@pytest.mark.fast
def test_datasets_derive_from_the_declarations() -> None:
    datasets = {d.name: d for d in activities_domain.FIT_DATASETS}
    assert tuple(datasets) == tuple(TABLES)
    for name, table in TABLES.items():
        dataset = datasets[name]
        assert dataset.key == TABLE_KEYS[name]
        assert dataset.description == table.description
        assert [(c.name, c.dtype, c.unit, c.description) for c in dataset.columns] == [
            (c.name, c.dtype, c.unit, c.description) for c in table.columns
        ]
        for column in dataset.columns:
            assert column.description and "\n" not in column.description


@pytest.mark.fast
@pytest.mark.parametrize("name", [RUN, POOL_CHAINED, ROWING_DEV, TRI_SUMMARY_LAST])
def test_decoded_frames_pass_their_lake_schemas(name: str) -> None:
    tables = decoded(name)
    for dataset in activities_domain.FIT_DATASETS:
        dataset.schema.validate(tables[dataset.name])


# --- the emulator's FIT ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_athlete() -> SyntheticAthlete:
    return SyntheticAthlete(seed=7, end_date=date(2024, 6, 30), days=10)


def first_of(athlete: SyntheticAthlete, sport: str) -> int:
    return next(a.activity_id for a in athlete.activities() if a.sport == sport)


@pytest.mark.fast
def test_synthetic_run_has_rr_intervals_device_info_and_timer_events(small_athlete) -> None:
    run = first_of(small_athlete, "running")
    tables = decode_activity(small_athlete.fit_bytes(run), run)
    track = small_athlete.track(run)
    hrv = tables["activity_hrv"]
    assert hrv.height == len(track.rr_ms) > 0
    assert hrv["rr_interval_ms"].to_list() == track.rr_ms
    assert hrv["record_index"].to_list() == track.rr_record
    # The RR intervals follow the recorded heart rate.
    by_record = (
        hrv.group_by("record_index").agg(pl.col("rr_interval_ms").mean()).sort("record_index")
    )
    hr = [track.heart_rate[i] for i in by_record["record_index"].to_list()]
    for mean_rr, bpm in zip(by_record["rr_interval_ms"].to_list(), hr, strict=True):
        assert abs(60_000 / mean_rr - bpm) < 0.06 * bpm
    devices = tables["activity_device_info"]
    assert devices["device_index"].to_list() == ["creator", "1"]
    assert devices["device_type"].to_list()[1] == "heart_rate"
    events = tables["activity_events"].select("event", "event_type").rows()
    assert events == [("timer", "start"), ("timer", "stop_all")]


@pytest.mark.fast
def test_synthetic_swim_has_laps_and_lengths(small_athlete) -> None:
    swim = first_of(small_athlete, "lap_swimming")
    tables = decode_activity(small_athlete.fit_bytes(swim), swim)
    track = small_athlete.track(swim)
    assert track.lengths is not None
    lengths = tables["activity_lengths"]
    assert lengths.height == len(track.lengths)
    assert lengths["length_type"].to_list() == [
        "active" if ln.active else "idle" for ln in track.lengths
    ]
    assert tables["activity_laps"]["num_lengths"].sum() == lengths.height
    assert tables["activity_hrv"].height == 0


@pytest.mark.fast
def test_same_seed_gives_the_same_bytes_and_edits_leave_the_file_alone() -> None:
    one = SyntheticAthlete(seed=7, end_date=date(2024, 6, 30), days=10)
    two = SyntheticAthlete(seed=7, end_date=date(2024, 6, 30), days=10)
    ids = [a.activity_id for a in one.activities()]
    two.rename_activity(ids[0], "Renamed")
    for activity_id in ids:
        assert one.activity_zip(activity_id) == two.activity_zip(activity_id)
    assert two.activity(ids[0]).activity_name == "Renamed"
    assert one.activity(ids[0]).activity_name != "Renamed"


# --- edits in Connect, through the feed -----------------------------------------------------------


@pytest.fixture
def mutable(tmp_path):
    """A separate athlete and emulator (this test mutates them) and a logged-in source."""
    from garmin_pipeline.settings import Settings
    from garmin_pipeline.sources.connect.client import ConnectSource

    athlete = SyntheticAthlete(seed=11, end_date=date(2024, 6, 30), days=7)
    with Emulator(athlete, port=0) as emu:
        tokens = emu.write_token_store(tmp_path / "garmin_tokens.json")
        settings = Settings.from_env(
            {
                "GARMIN_DATA_DIR": str(tmp_path / "data"),
                "GARMIN_API_URL": emu.base_url,
                "GARMIN_TOKENS": str(tokens),
            }
        )
        yield athlete, ConnectSource(settings)


def sync(source: Any, days: list[date], raw: dict[tuple[date, str], bytes]) -> None:
    feed = activities_domain.FEED
    for payload in feed.fetch(source, days, lambda d, n: raw.get((d, n))):
        raw[(payload.day, payload.name)] = payload.payload


def parse(raw: dict[tuple[date, str], bytes], day: date) -> dict[str, pl.DataFrame]:
    bundle = {name: body for (d, name), body in raw.items() if d == day}
    parsed = activities_domain.FEED.parse(bundle, day)
    assert not parsed.rejected
    return parsed.frames


def test_rename_and_delete_reach_every_activity_dataset(mutable) -> None:
    athlete, source = mutable
    days = athlete.history()
    acts = athlete.activities()
    assert len(acts) >= 2
    renamed, deleted = acts[0], acts[-1]
    raw: dict[tuple[date, str], bytes] = {}
    sync(source, days, raw)
    before = parse(raw, deleted.local_date)
    for table in ("activities", "activity_records", "activity_sessions", "activity_events"):
        assert deleted.activity_id in before[table]["activity_id"].to_list(), table

    athlete.rename_activity(renamed.activity_id, "Morning Tempo")
    athlete.delete_activity(deleted.activity_id)
    listed = source.activity_list(days[0], days[-1])
    assert deleted.activity_id not in [e["activityId"] for e in listed]
    with pytest.raises(EndpointUnavailableError, match="Garmin answered 404 Not Found"):
        source.activity_original(deleted.activity_id)

    sync(source, days, raw)
    after_deleted_day = parse(raw, deleted.local_date)
    assert (deleted.local_date, activity_zip_name(deleted.activity_id)) in raw  # raw keeps it
    for dataset in activities_domain.FEED.datasets:
        frame = after_deleted_day[dataset.name]
        assert deleted.activity_id not in frame["activity_id"].to_list(), dataset.name
    others = [a.activity_id for a in acts if a.local_date == deleted.local_date and a != deleted]
    assert sorted(after_deleted_day["activities"]["activity_id"].to_list()) == sorted(others)

    renamed_day = parse(raw, renamed.local_date)["activities"]
    row = renamed_day.filter(pl.col("activity_id") == renamed.activity_id)
    assert row["activity_name"].to_list() == ["Morning Tempo"]
    with pytest.raises(KeyError):
        athlete.rename_activity(deleted.activity_id, "gone")
