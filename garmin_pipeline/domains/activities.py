"""Activities: the activity list, and each activity's FIT file decoded into its tables.

A day's raw bundle is that day's slice of the activity list (by local start date) plus the
ORIGINAL download of each listed activity. The list is fetched once per sync range, and a
download is made only for activities raw does not already hold.

The list is the truth about which activities exist: only listed activities are decoded, so an
activity deleted in Connect drops out of every activity dataset of its day once the day is
fetched and rebuilt again, while its raw zip stays in raw. Renames land the same way, through
the list. The FIT datasets (one per table the decoder declares, see `garmin_pipeline.fit`) take
their columns, units, descriptions and keys from the decoder's declarations.

Values from the list never become paths unchecked: an activity id must be an integer in
1..2**63-1 to name a download, names are only ever data, and an entry is filed under its local
start day only if that day is readable, within 1970..today+2 and inside the range asked for.
An entry failing that is left out of the lake and quarantined with its reason (raw keeps it,
in `activity_list.json` or, when it has no day of its own, `activity_list.unplaced.json` on
the range's last day); everything else lands.

A download whose zip is sound but whose FIT fails its own CRC is downloaded once more in the
same sync; Garmin serving the same bytes again means its copy is corrupt, so it is kept, the
lake quarantines it ("corrupt FIT file: CRC mismatch ..."), and later syncs do not download it
again (delete it from raw to retry). A cut download (a zip that does not open) is retried by
every sync until it arrives whole.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

import polars as pl

from garmin_pipeline.domains.fetching import refused
from garmin_pipeline.errors import MalformedPayloadError, UnsafeValueError
from garmin_pipeline.feeds import SAME_AS_CONNECT, Dataset, Feed, RawPayload, Shape, Stored
from garmin_pipeline.fit import ACTIVITY_TABLES, TABLE_KEYS, TABLES, FitDecodeError
from garmin_pipeline.fit.decode import check_structure
from garmin_pipeline.lake.parsers import (
    ParsedDay,
    RawDay,
    activity_zip_name,
    decode_activity_payloads,
    fit_from_zip,
    json_column,
    json_object,
    read_json,
)
from garmin_pipeline.lake.schema import (
    LOCAL_TIME,
    UTC_TIME,
    Column,
    ColumnSpec,
    Plausible,
    empty_frame,
    in_range,
    lake_columns,
)
from garmin_pipeline.raw.canonical import canonical_json
from garmin_pipeline.raw.store import check_day

log = logging.getLogger(__name__)

ACTIVITY_LIST = "activity_list.json"
# Entries of the list that cannot be filed under a day of the range (unreadable, absurd or
# out-of-range start dates): kept on the range's last day, quarantined, never decoded.
UNPLACED_LIST = "activity_list.unplaced.json"
MAX_ACTIVITY_ID = 2**63 - 1
# Fields an entry cannot land without (the lake's non-null columns); drift in one of them
# quarantines the entry with the field's name.
REQUIRED_FIELDS = ("activityId", "startTimeGMT", "startTimeLocal")

# What a body, a bike and a watch can really measure; outside it a value is a sensor fault or a
# "no sensor" sentinel (heart rate 0 from an indoor rower without a strap) and is nulled.
HEART_RATE = in_range(20, 250)
POWER = in_range(0, 3_000)
CADENCE = in_range(0, 250)  # running (rpm, per foot), cycling and swimming strokes
SPEED = in_range(0, 150)
TEMPERATURE = in_range(-60, 70)
DURATION = in_range(0, 7 * 86_400)  # an activity longer than a week is a recording left running
DISTANCE = in_range(0, 2_000_000)
ALTITUDE = in_range(-500, 9_000)
CALORIES = in_range(0, 50_000)
RESPIRATION = in_range(0, 80)
RR_INTERVAL = in_range(200, 3_000)  # ms: 20..300 bpm

ACTIVITY_ID = Column("activity_id", pl.Int64, "Garmin's activity id.", nullable=False)
ACTIVITIES = Dataset(
    name="activities",
    description="One row per activity, from Garmin's activity list (name, sport, totals).",
    key=("activity_id",),
    columns=(
        ACTIVITY_ID,
        Column("activity_name", pl.String, "The name shown in Garmin Connect."),
        Column("activity_type", pl.String, "Garmin's activity type key, e.g. running."),
        Column("start_time", UTC_TIME, "When the activity started.", "UTC", nullable=False),
        Column("start_time_local", LOCAL_TIME, "Start, local wall-clock time.", "local"),
        Column("duration_s", pl.Float64, "Timer duration.", "s", DURATION),
        Column("elapsed_duration_s", pl.Float64, "Elapsed duration.", "s", DURATION),
        Column("moving_duration_s", pl.Float64, "Moving duration.", "s", DURATION),
        Column("distance_m", pl.Float64, "Distance.", "m", DISTANCE),
        Column("calories_kcal", pl.Float64, "Energy burned.", "kcal", CALORIES),
        Column("average_heart_rate_bpm", pl.Float64, "Mean heart rate.", "bpm", HEART_RATE),
        Column("max_heart_rate_bpm", pl.Float64, "Highest heart rate.", "bpm", HEART_RATE),
        Column("average_speed_m_s", pl.Float64, "Mean speed.", "m/s", in_range(0, 100)),
        Column("max_speed_m_s", pl.Float64, "Highest speed.", "m/s", SPEED),
        Column("elevation_gain_m", pl.Float64, "Total ascent.", "m", in_range(0, 20_000)),
        Column("elevation_loss_m", pl.Float64, "Total descent.", "m", in_range(0, 20_000)),
    ),
)
ACTIVITY_FIELDS = {
    "activity_id": "activityId",
    "activity_name": "activityName",
    "activity_type": "activityType",
    "start_time": "startTimeGMT",
    "start_time_local": "startTimeLocal",
    "duration_s": "duration",
    "elapsed_duration_s": "elapsedDuration",
    "moving_duration_s": "movingDuration",
    "distance_m": "distance",
    "calories_kcal": "calories",
    "average_heart_rate_bpm": "averageHR",
    "max_heart_rate_bpm": "maxHR",
    "average_speed_m_s": "averageSpeed",
    "max_speed_m_s": "maxSpeed",
    "elevation_gain_m": "elevationGain",
    "elevation_loss_m": "elevationLoss",
}

# The decoded tables that record what happened; events hold alert thresholds (settings),
# workout steps targets, device info batteries: none is a measurement of the activity.
MEASURED_TABLES = frozenset(
    {"activity_records", "activity_laps", "activity_sessions", "activity_lengths"}
    | {"activity_splits", "activity_hrv"}
)
_BY_UNIT = {
    "bpm": HEART_RATE,
    "rpm": CADENCE,
    "strokes/min": CADENCE,
    "°C": TEMPERATURE,
    "kcal": CALORIES,
    "breaths/min": RESPIRATION,
}


def fit_plausibility(column: ColumnSpec) -> Plausible | None:
    """A decoded column's plausible range, by the quantity its name and unit say it holds."""
    name, unit = column.name, column.unit
    if not column.dtype.is_numeric():  # lists (time in zones, power phases), labels
        return None
    if unit in _BY_UNIT:
        return _BY_UNIT[unit]
    if unit == "W" and not name.startswith("accumulated"):
        return POWER
    if unit == "m/s" and "speed" in name and "vert" not in name:
        return SPEED
    if unit == "deg" and "latitude" in name:
        return in_range(-90, 90)
    if unit == "deg" and "longitude" in name:
        return in_range(-180, 180)
    if unit == "m" and ("altitude" in name or "elevation" in name):
        return ALTITUDE
    if name in ("distance_m", "total_distance_m"):
        return DISTANCE
    if name in ("total_elapsed_time_s", "total_timer_time_s"):
        return DURATION
    if name == "rr_interval_ms":
        return RR_INTERVAL
    return None


FIT_KEYS: dict[str, tuple[str, ...]] = {table: TABLE_KEYS[table] for table in ACTIVITY_TABLES}
FIT_DESCRIPTIONS: dict[str, str] = {table: TABLES[table].description for table in ACTIVITY_TABLES}


def _fit_dataset(table: str) -> Dataset:
    return Dataset(
        name=table,
        description=FIT_DESCRIPTIONS[table],
        key=FIT_KEYS[table],
        columns=lake_columns(
            TABLES[table].columns,
            fit_plausibility if table in MEASURED_TABLES else lambda column: None,
            required=FIT_KEYS[table],
        ),
    )


FIT_DATASETS = tuple(_fit_dataset(table) for table in ACTIVITY_TABLES)


def shown(value: Any, limit: int = 60) -> str:
    """A value from the source, quoted on one line and cut short, for a reason."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def activity_id_of(entry: Any) -> int | None:
    """The entry's activity id if it is a positive 64-bit integer (it names a file), else None."""
    value = entry.get("activityId") if isinstance(entry, Mapping) else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_ACTIVITY_ID else None


def local_day(entry: Any) -> date | None:
    """The local day the activity started, if readable and within 1970..today+2."""
    value = entry.get("startTimeLocal") if isinstance(entry, Mapping) else None
    try:
        return check_day(date.fromisoformat(str(value)[:10]))
    except (ValueError, UnsafeValueError):
        return None


def entry_problem(entry: Any) -> str | None:
    """Why a list entry cannot land (it is quarantined instead), or None."""
    if not isinstance(entry, Mapping):
        return f"not an object ({shown(entry)})"
    if activity_id_of(entry) is None:
        return f"activityId {shown(entry.get('activityId'))} is not an integer in 1..2**63-1"
    missing = [f for f in REQUIRED_FIELDS if entry.get(f) in (None, "")]
    if missing:
        return f"activity {entry['activityId']}: no {', '.join(map(repr, missing))} (required)"
    if local_day(entry) is None:
        return (
            f"activity {entry['activityId']}: startTimeLocal {shown(entry.get('startTimeLocal'))}"
            " is not a date within 1970..today+2"
        )
    return None


def is_manual(entry: Mapping[str, Any]) -> bool:
    """An activity entered by hand in Connect: whole without a FIT file (it has none)."""
    return entry.get("manualActivity") is True


def intact(download: bytes | None) -> bool:
    """A download whose zip opens and whose FIT member passes the zip's CRC-32."""
    if download is None:
        return False
    try:
        fit_from_zip(download)
    except FitDecodeError:
        return False
    return True


def sound(download: bytes) -> bool:
    """Intact, and the FIT inside passes its own structure and CRC checks."""
    try:
        check_structure(fit_from_zip(download))
    except FitDecodeError:
        return False
    return True


def download_activity(source: Any, activity_id: int) -> bytes:
    """The ORIGINAL download; one more try if it arrives cut or fails the FIT CRC.

    A second copy that is still bad is kept as is: the lake quarantines it, and a cut one is
    downloaded again by the next sync (raw does not count it as held), a corrupt one is not."""
    download = source.activity_original(activity_id)
    if sound(download):
        return download
    again = source.activity_original(activity_id)
    return again if sound(again) or not intact(download) else download


def fetch_activities(source: Any, days: Sequence[date], stored: Stored) -> Iterator[RawPayload]:
    """One paginated list walk for the whole range, then only the downloads raw lacks.

    Entries are filed by their local start day; one with a hostile id is filed (the lake
    quarantines it) but nothing is downloaded for it, one with no usable day goes to
    `activity_list.unplaced.json`. A list that is not JSON is kept aside for every day.
    """
    if not days:
        return
    try:
        listed = source.activity_list(days[0], days[-1])
        if not isinstance(listed, list):
            raise MalformedPayloadError(
                f"the activity list {days[0]}..{days[-1]} is not a JSON list; "
                "kept in raw, fetched again next sync",
                body=canonical_json(listed),
            )
    except MalformedPayloadError as error:
        for day in days:
            yield refused(day, ACTIVITY_LIST, error)
        return
    by_day: dict[date, list[Any]] = {}
    unplaced: list[Any] = []
    for entry in listed:
        started = local_day(entry)
        if started is None or not days[0] <= started <= days[-1]:
            unplaced.append(entry)
        else:
            by_day.setdefault(started, []).append(entry)
    if unplaced:
        log.warning("%d activities have no usable start day; quarantined", len(unplaced))
    for day in days:
        entries = by_day.get(day, [])
        for entry in entries:
            activity_id = activity_id_of(entry)
            if activity_id is None:
                continue  # never a path: the lake quarantines the entry from the list
            if is_manual(entry):
                continue  # typed in, not recorded: there is no file to download
            name = activity_zip_name(activity_id)
            if intact(stored(day, name)):
                continue
            yield RawPayload(day, name, download_activity(source, activity_id))
        if day == days[-1] and (unplaced or stored(day, UNPLACED_LIST) is not None):
            yield RawPayload(day, UNPLACED_LIST, canonical_json(unplaced))
        # The list goes last: once it is stored, the day's downloads are all in raw.
        yield RawPayload(day, ACTIVITY_LIST, canonical_json(entries))


def _type_key(entry: Mapping[str, Any]) -> Any:
    return json_object(entry.get("activityType") or None, "activityType").get("typeKey")


# The list Garmin served until about 2021 (garmin-connect-export's recordings) gave
# elapsedDuration in milliseconds and had no endTimeGMT; today's gives seconds. Elapsed time is
# never shorter than the timer's `duration` and, in seconds, never hundreds of times longer.
_END_TIME = "endTimeGMT"
_MS_ELAPSED_RATIO = 500


def _elapsed_s() -> pl.Expr:
    elapsed = pl.col("elapsed_duration_s").cast(pl.Float64)
    duration = pl.col("duration_s").cast(pl.Float64)
    in_ms = pl.col(_END_TIME).is_null() & (duration > 0) & (elapsed >= _MS_ELAPSED_RATIO * duration)
    return pl.when(in_ms).then(elapsed / 1000).otherwise(elapsed).alias("elapsed_duration_s")


def build_activities(entries: list[dict[str, Any]]) -> pl.DataFrame:
    if not entries:
        return empty_frame(ACTIVITIES.columns)
    flat = [{**e, "activityType": _type_key(e)} for e in entries]
    frame = pl.DataFrame(
        {col: json_column(flat, key, ACTIVITY_LIST) for col, key in ACTIVITY_FIELDS.items()}
        | {_END_TIME: json_column(flat, _END_TIME, ACTIVITY_LIST)},
        strict=False,
    )
    return frame.select(
        pl.col("activity_id").cast(pl.Int64),
        pl.col("activity_name").cast(pl.String),
        pl.col("activity_type").cast(pl.String),
        # An unreadable time becomes null, and the row is quarantined by the schema check.
        pl.col("start_time")
        .cast(pl.String)
        .str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False)
        .dt.replace_time_zone("UTC"),
        pl.col("start_time_local")
        .cast(pl.String)
        .str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False),
        *(
            _elapsed_s() if c.name == "elapsed_duration_s" else pl.col(c.name).cast(pl.Float64)
            for c in ACTIVITIES.columns[5:]
        ),
    )


def left_out(payload: str, problems: list[str]) -> str:
    listed = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
    return f"{len(problems)} entries of {payload} left out: {listed}"


def parse_activities(raw: RawDay, day: date) -> ParsedDay:
    rejected: dict[str, str] = {}
    if UNPLACED_LIST in raw:
        try:
            unplaced = read_json(raw, UNPLACED_LIST)
        except ValueError as error:
            rejected[UNPLACED_LIST] = f"cannot parse {UNPLACED_LIST}: {error}"
        else:
            if not isinstance(unplaced, list):
                unplaced = [unplaced]  # not as written: each entry still gets its reason
            problems = [
                entry_problem(e) or f"activity {e.get('activityId')}: outside the synced range"
                for e in unplaced
            ]
            if problems:
                rejected[UNPLACED_LIST] = left_out(UNPLACED_LIST, problems)
    if ACTIVITY_LIST not in raw:
        return ParsedDay(rejected=rejected)
    try:
        entries = read_json(raw, ACTIVITY_LIST)
        if not isinstance(entries, list):
            raise TypeError(f"expected a list, got {type(entries).__name__}")
        problems = [f"entry {i}: {p}" for i, e in enumerate(entries) if (p := entry_problem(e))]
        good = [e for e in entries if entry_problem(e) is None]
        activities = build_activities(good)
    except (ValueError, TypeError, KeyError, pl.exceptions.PolarsError) as error:
        reason = " ".join(str(error).split())
        return ParsedDay(
            rejected={**rejected, ACTIVITY_LIST: f"cannot parse {ACTIVITY_LIST}: {reason}"}
        )
    if problems:
        rejected[ACTIVITY_LIST] = left_out(ACTIVITY_LIST, problems)
    # Every good entry has an id (entry_problem checked it); the walrus only tells the type.
    recorded = [i for e in good if not is_manual(e) and (i := activity_id_of(e)) is not None]
    parsed = decode_activity_payloads(raw, recorded, {d.name: d.columns for d in FIT_DATASETS})
    parsed.frames[ACTIVITIES.name] = activities
    parsed.rejected.update(rejected)
    return parsed


FEED = Feed(
    name="activities",
    description=(
        "GET activitylist-service/activities/search/activities (paginated, once per range) and "
        "download-service/files/activity/{id} (ORIGINAL zip) for each activity not yet held."
    ),
    fetch=fetch_activities,
    parse=parse_activities,
    datasets=(ACTIVITIES, *FIT_DATASETS),
    provisional_days=2,
    # Edits and deletions need no device upload: the list is walked on every sync.
    refresh="always",
    intact=lambda name, payload: not name.endswith(".zip") or intact(payload),
    # The same list walk and downloads: both sources offer activity_list and activity_original.
    personal_api=fetch_activities,
    shape=Shape(
        recorded=(
            "activity_list.json",
            "activity_list_page2.json",
            "activity_list_2018.json",
            "activity_list_2021.json",
            "activity_overview_2541953812.json",
            "activity_original_11998957007.zip",
        ),
        assumed="the list is recorded only paged by start and limit; asked by startDate and "
        "endDate (get_activities_by_date) it is taken to answer the same entries",
        personal_api=SAME_AS_CONNECT,
    ),
    # Never half an activity: in `activities` and every FIT dataset, or quarantined from all.
    entity=ACTIVITY_ID.name,
)
