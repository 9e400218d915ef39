"""Activities: the activity list, and each activity's FIT file decoded into its tables.

A day's raw bundle is that day's slice of the activity list (by local start date) plus the
ORIGINAL download of each listed activity. The list is fetched once per sync range, and a
download is made only for activities raw does not already hold.

The list is the truth about which activities exist: only listed activities are decoded, so an
activity deleted in Connect drops out of every activity dataset of its day once the day is
fetched and rebuilt again, while its raw zip stays in raw. Renames land the same way, through
the list. The FIT datasets (one per table the decoder declares, see `garmin_pipeline.fit`) take
their columns, units, descriptions and keys from the decoder's declarations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import polars as pl

from garmin_pipeline.feeds import Dataset, Feed, RawPayload, Stored
from garmin_pipeline.fit import ACTIVITY_TABLES, TABLE_KEYS, TABLES, FitDecodeError
from garmin_pipeline.lake.parsers import (
    ParsedDay,
    RawDay,
    activity_zip_name,
    decode_activity_payloads,
    fit_from_zip,
)
from garmin_pipeline.lake.schema import (
    LOCAL_TIME,
    UTC_TIME,
    Column,
    empty_frame,
    in_range,
    lake_columns,
)
from garmin_pipeline.sources.connect.client import canonical_json

ACTIVITY_LIST = "activity_list.json"

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
        Column("duration_s", pl.Float64, "Timer duration.", "s", in_range(0, 7 * 86_400)),
        Column("elapsed_duration_s", pl.Float64, "Elapsed duration.", "s", in_range(0, 7 * 86_400)),
        Column("moving_duration_s", pl.Float64, "Moving duration.", "s", in_range(0, 7 * 86_400)),
        Column("distance_m", pl.Float64, "Distance.", "m", in_range(0, 2_000_000)),
        Column("calories_kcal", pl.Float64, "Energy burned.", "kcal", in_range(0, 50_000)),
        Column("average_heart_rate_bpm", pl.Float64, "Mean heart rate.", "bpm", in_range(20, 250)),
        Column("max_heart_rate_bpm", pl.Float64, "Highest heart rate.", "bpm", in_range(20, 250)),
        Column("average_speed_m_s", pl.Float64, "Mean speed.", "m/s", in_range(0, 100)),
        Column("max_speed_m_s", pl.Float64, "Highest speed.", "m/s", in_range(0, 150)),
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

# Plausibility checks on the decoded record columns; the columns come from the decoder.
FIT_CHECKS = {
    "latitude_deg": in_range(-90, 90),
    "longitude_deg": in_range(-180, 180),
    "heart_rate_bpm": in_range(20, 250),
    "speed_m_s": in_range(0, 150),
    "altitude_m": in_range(-500, 9_000),
    "distance_m": in_range(0, 2_000_000),
    "power_w": in_range(0, 3_000),
}
FIT_KEYS: dict[str, tuple[str, ...]] = {table: TABLE_KEYS[table] for table in ACTIVITY_TABLES}
FIT_DESCRIPTIONS: dict[str, str] = {table: TABLES[table].description for table in ACTIVITY_TABLES}


def _fit_dataset(table: str) -> Dataset:
    return Dataset(
        name=table,
        description=FIT_DESCRIPTIONS[table],
        key=FIT_KEYS[table],
        columns=lake_columns(
            TABLES[table].columns,
            FIT_CHECKS if table == "activity_records" else {},
            required=FIT_KEYS[table],
        ),
    )


FIT_DATASETS = tuple(_fit_dataset(table) for table in ACTIVITY_TABLES)


def local_day(entry: dict[str, Any]) -> date:
    return date.fromisoformat(str(entry["startTimeLocal"])[:10])


def intact(download: bytes | None) -> bool:
    """A download whose zip opens and whose FIT member passes the zip's CRC-32."""
    if download is None:
        return False
    try:
        fit_from_zip(download)
    except FitDecodeError:
        return False
    return True


def fetch_activities(source: Any, days: Sequence[date], stored: Stored) -> Iterator[RawPayload]:
    """One paginated list walk for the whole range, then only the downloads raw lacks.

    A download that arrives broken (a cut transfer still looks like a complete HTTP response)
    is tried once more; if it is still broken it is kept as received, the lake quarantines it,
    and the next sync downloads it again because raw does not count it as held.
    """
    if not days:
        return
    listed = source.activity_list(days[0], days[-1])
    for day in days:
        entries = [e for e in listed if local_day(e) == day]
        for entry in entries:
            activity_id = int(entry["activityId"])
            name = activity_zip_name(activity_id)
            if intact(stored(day, name)):
                continue
            download = source.activity_original(activity_id)
            if not intact(download):
                download = source.activity_original(activity_id)
            yield RawPayload(day, name, download)
        # The list goes last: once it is stored, the day's downloads are all in raw.
        yield RawPayload(day, ACTIVITY_LIST, canonical_json(entries))


def build_activities(entries: list[dict[str, Any]]) -> pl.DataFrame:
    if not entries:
        return empty_frame(ACTIVITIES.columns)
    flat = [{**e, "activityType": (e.get("activityType") or {}).get("typeKey")} for e in entries]
    frame = pl.DataFrame(
        {col: [e.get(key) for e in flat] for col, key in ACTIVITY_FIELDS.items()}, strict=False
    )
    return frame.select(
        pl.col("activity_id").cast(pl.Int64),
        pl.col("activity_name").cast(pl.String),
        pl.col("activity_type").cast(pl.String),
        pl.col("start_time")
        .str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us")
        .dt.replace_time_zone("UTC"),
        pl.col("start_time_local").str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us"),
        *(pl.col(c.name).cast(pl.Float64) for c in ACTIVITIES.columns[5:]),
    )


def parse_activities(raw: RawDay, day: date) -> ParsedDay:
    if ACTIVITY_LIST not in raw:
        return ParsedDay()
    try:
        entries = json.loads(raw[ACTIVITY_LIST])
        activities = build_activities(entries)
    except (ValueError, TypeError, KeyError, pl.exceptions.PolarsError) as error:
        return ParsedDay(rejected={ACTIVITY_LIST: f"cannot parse {ACTIVITY_LIST}: {error}"})
    parsed = decode_activity_payloads(
        raw, activities["activity_id"].to_list(), {d.name: d.columns for d in FIT_DATASETS}
    )
    parsed.frames[ACTIVITIES.name] = activities
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
)
