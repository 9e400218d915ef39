"""Wellness: the daily wellness download (a zip of the watch's monitoring, sleep and HRV FIT files).

One request per day (``download-service/files/wellness/{date}``), kept raw byte for byte and
decoded by `garmin_pipeline.fit.wellness` into intraday heart rate, stress, respiration, SpO2,
activity, sleep stages and scores, HRV, skin temperature, the device's resting heart rate and
naps. The datasets' columns come from the decoder's table declarations; only the plausibility
ranges are added here. A zip that cannot be decoded is rejected with the decoder's reason and
the day's partitions are left as they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date

from garmin_pipeline.domains.fetching import per_day_download
from garmin_pipeline.feeds import Dataset, Feed, Shape
from garmin_pipeline.fit.wellness import (
    WELLNESS_TABLES,
    Field,
    WellnessTable,
    assumed_messages,
    decode_wellness,
    public_columns,
)
from garmin_pipeline.lake.parsers import PARSE_ERRORS, ParsedDay, RawDay
from garmin_pipeline.lake.schema import MINUTES_IN_DAY, in_range, lake_columns

WELLNESS_ZIP = "wellness.zip"

HEART_RATE = in_range(20, 250)
# Plausibility per column name; values outside are sensor or parser faults and are nulled.
PLAUSIBLE = {
    "heart_rate_bpm": HEART_RATE,
    "stress_level": in_range(-5, 100),  # Garmin's negative codes (-1, -2...) are kept
    "respiration_rate_brpm": in_range(0, 80),
    "spo2_pct": in_range(50, 100),
    "confidence": in_range(0, 100),
    "cycles": in_range(0, 500_000),
    "steps": in_range(0, 1_000_000),
    "distance_m": in_range(0, 1_000_000),
    "active_time_s": in_range(0, 86_400 * 2),
    "calories_kcal": in_range(0, 50_000),
    "active_calories_kcal": in_range(0, 50_000),
    "ascent_m": in_range(0, 20_000),
    "descent_m": in_range(0, 20_000),
    "moderate_activity_min": MINUTES_IN_DAY,
    "vigorous_activity_min": MINUTES_IN_DAY,
    "rmssd_ms": in_range(0, 500),
    "weekly_average_ms": in_range(0, 500),
    "last_night_average_ms": in_range(0, 500),
    "last_night_5_min_high_ms": in_range(0, 500),
    "resting_heart_rate_bpm": in_range(20, 150),
    "current_day_resting_heart_rate_bpm": in_range(20, 150),
    "sleep_score": in_range(0, 100),
    "overall_sleep_score": in_range(0, 100),
    "average_stress_during_sleep": in_range(0, 100),
    "average_deviation_c": in_range(-10, 10),
    "average_7_day_deviation_c": in_range(-10, 10),
    "nightly_value_c": in_range(20, 45),
    "start_timezone_offset_min": in_range(-12 * 60, 14 * 60),
    "end_timezone_offset_min": in_range(-12 * 60, 14 * 60),
}


def _listed(messages: Iterable[int]) -> tuple[str, str]:
    """("message 281", "is") or ("messages 281 and 521", "are")."""
    listed = sorted(set(messages))
    if len(listed) == 1:
        return f"message {listed[0]}", "is"
    return f"messages {' and '.join(map(str, listed))}", "are"


def _documented(column: Field) -> Field:
    """The column, its description saying so when its values rest on an assumed layout."""
    assumed = assumed_messages(column)
    if not assumed:
        return column
    what, verb = _listed(assumed)
    if set(assumed) == set(column.source):
        note = f"Assumed layout: {what} {verb} not in the public FIT SDK profile."
    else:
        note = (
            f"Assumed layout in rows from {what}, which {verb} not in the public FIT SDK profile."
        )
    return replace(column, description=f"{column.description} {note}")


def _assumed_note(columns: Sequence[Field]) -> str:
    """What the dataset's description says about the columns read from assumed layouts."""
    assumed = [c for c in columns if assumed_messages(c)]
    if not assumed:
        return ""
    what, verb = _listed(m for c in assumed for m in assumed_messages(c))
    names = " and ".join(", ".join(f"`{c.name}`" for c in assumed).rsplit(", ", 1))
    return (
        f" Garmin's {what} {verb} not in the public FIT SDK profile: the values of {names} read "
        f"from {'it' if verb == 'is' else 'them'} follow an assumed layout, unverified against "
        "a device file."
    )


def _dataset(table: WellnessTable) -> Dataset:
    columns = public_columns(table.name)
    return Dataset(
        name=table.name,
        description=table.description + _assumed_note(columns),
        key=table.key,
        columns=lake_columns(
            [_documented(c) for c in columns],
            lambda column: PLAUSIBLE.get(column.name),
            required={"calendar_date", *table.key},
        ),
    )


DATASETS: tuple[Dataset, ...] = tuple(_dataset(t) for t in WELLNESS_TABLES.values())


def parse_wellness(raw: RawDay, day: date) -> ParsedDay:
    """Decode the day's zip into every wellness dataset, or reject it with a one-line reason."""
    if WELLNESS_ZIP not in raw:
        return ParsedDay()
    try:
        tables = decode_wellness(raw[WELLNESS_ZIP], calendar_date=day)
    except PARSE_ERRORS as error:  # FitDecodeError is a ValueError
        reason = " ".join(str(error).split()) or type(error).__name__
        return ParsedDay(rejected={WELLNESS_ZIP: f"cannot decode {WELLNESS_ZIP}: {reason}"})
    return ParsedDay(frames=dict(tables))


FEED = Feed(
    name="wellness",
    description=(
        "GET download-service/files/wellness/{date} (garminconnect download_health_snapshot): "
        "the day's monitoring, sleep and HRV FIT files, one zip per day."
    ),
    fetch=per_day_download("download_health_snapshot", WELLNESS_ZIP),
    parse=parse_wellness,
    datasets=DATASETS,
    provisional_days=2,
    shape=Shape(
        assumed="the download is a zip of the day's WELLNESS, SLEEP_DATA and HRV_STATUS FIT files"
    ),
)
FEEDS: tuple[Feed, ...] = (FEED,)

__all__ = ["DATASETS", "FEED", "FEEDS", "WELLNESS_ZIP", "parse_wellness"]
