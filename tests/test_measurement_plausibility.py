"""Each class of measurement, outside its plausible range, is nulled and counted; the row stays
and raw keeps the value as the device or Garmin sent it.

Real payloads go through the real lake build: an ORIGINAL download holding a FIT file written
with Garmin's own encoder, the activity list entry beside it, and Garmin-shaped daily JSON. The
oracle for "raw keeps it" is fitdecode's reading of the raw bytes (and the raw JSON itself).
"""

import io
import json
import zipfile
from datetime import UTC, date, datetime

import fitdecode
import polars as pl
import pytest

from garmin_emulator import SyntheticAthlete
from garmin_emulator.quirks import activity_fit
from garmin_emulator.timefmt import fit_time
from garmin_pipeline.catalog import dataset, feed
from garmin_pipeline.lake.build import build_lake
from garmin_pipeline.lake.parsers import activity_zip_name
from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.lake.validate import validate
from garmin_pipeline.raw.store import RawStore

pytestmark = pytest.mark.fast

ACCOUNT = "default"
DAY = date(2025, 3, 9)
NEXT_DAY = date(2025, 3, 10)
START = datetime(2025, 3, 9, 8, 0, tzinfo=UTC)
ACTIVITY_ID = 21_000_000_001
ODD_RECORD = 1  # the record holding the implausible values
MONTH_S = 30 * 86_400
# (class, FIT record field and the value written, lake column and the value decoded)
RECORD_CASES = [
    ("heart rate", "heart_rate", 0, "heart_rate_bpm", 0),
    ("power", "power", 4_000, "power_w", 4_000),
    ("cadence", "cadence", 251, "cadence_rpm", 251),
    ("speed", "enhanced_speed", 200.0, "speed_m_s", 200.0),
    ("temperature", "temperature", 90, "temperature_c", 90),
]


def record(i: int, **odd: object) -> dict[str, object]:
    values = {"heart_rate": 132, "power": 210, "cadence": 88, "enhanced_speed": 8.4}
    values |= {"temperature": 21}
    return {"timestamp": fit_time(START) + i, "distance": 8.4 * i, **values, **odd}


def activity_file() -> bytes:
    """A ride whose second record holds every implausible value, and whose last record comes a
    month later: a recording left running (its duration is the implausible one)."""
    odd = {field: written for _, field, written, _, _ in RECORD_CASES}
    records = [record(0), record(ODD_RECORD, **odd), record(2)]
    records.append({**record(3), "timestamp": fit_time(START) + MONTH_S})
    return activity_fit(START, "cycling", "road", records)


def list_entry() -> dict[str, object]:
    """The activity list's entry, with Connect's own summary of that month-long recording."""
    return {
        "activityId": ACTIVITY_ID,
        "activityName": "Road Cycling",
        "activityType": {"typeKey": "road_biking"},
        "startTimeGMT": "2025-03-09 08:00:00",
        "startTimeLocal": "2025-03-09 09:00:00",
        "duration": float(MONTH_S),
        "elapsedDuration": float(MONTH_S),
        "distance": 25.2,
        "averageHR": 0.0,
        "maxHR": 132.0,
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("plausibility")
    raw = RawStore(root / "raw")
    lake, quarantine = PartitionStore(root / "lake"), PartitionStore(root / "quarantine")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as original:
        original.writestr(f"{ACTIVITY_ID}_ACTIVITY.fit", activity_file())
    raw.put("activities", ACCOUNT, DAY, activity_zip_name(ACTIVITY_ID), buffer.getvalue())
    raw.put("activities", ACCOUNT, DAY, "activity_list.json", json.dumps([list_entry()]).encode())
    sleep = SyntheticAthlete(seed=3, end_date=DAY, days=3).sleep(DAY)
    sleep["dailySleepDTO"]["sleepScores"]["overall"]["value"] = 255
    raw.put("sleep", ACCOUNT, DAY, "sleep.json", json.dumps(sleep).encode())
    reports = {
        name: build_lake(feed(name), raw, lake, quarantine, ACCOUNT, [DAY])
        for name in ("activities", "sleep")
    }
    return raw, lake, quarantine, reports


def raw_records(raw: RawStore) -> list[dict[str, object]]:
    """fitdecode's reading of the FIT file raw keeps: each record's values by field name."""
    download = raw.get("activities", ACCOUNT, DAY, activity_zip_name(ACTIVITY_ID))
    with zipfile.ZipFile(io.BytesIO(download)) as original:
        data = original.read(original.namelist()[0])
    with fitdecode.FitReader(io.BytesIO(data)) as fit:
        return [
            {f.name: f.value for f in frame.fields}
            for frame in fit
            if isinstance(frame, fitdecode.FitDataMessage) and frame.name == "record"
        ]


@pytest.mark.parametrize(("measure", "field", "written", "column", "decoded"), RECORD_CASES)
def test_a_record_measurement_is_nulled_counted_and_kept_in_raw(
    built, measure, field, written, column, decoded
):
    raw, lake, _, reports = built
    records = lake.read("activity_records").sort("record_index")
    assert records.height == 4  # every row kept
    assert records[column].to_list() == [
        records[column][0],
        None,
        records[column][2],
        records[column][3],
    ]
    assert records[column][0] is not None  # plausible values stay
    nulled = reports["activities"].datasets["activity_records"].nulled
    assert nulled[DAY][column] == 1, measure
    # The rest of the odd record is what the device wrote.
    assert records.row(ODD_RECORD, named=True)["distance_m"] == pytest.approx(8.4)
    assert raw_records(raw)[ODD_RECORD][field] == pytest.approx(decoded)


def test_a_duration_is_nulled_in_the_session_and_the_list_and_the_activity_kept(built):
    raw, lake, _, reports = built
    session = lake.read("activity_sessions").row(0, named=True)
    assert session["total_elapsed_time_s"] is None and session["total_timer_time_s"] is None
    assert session["total_distance_m"] == pytest.approx(25.2)
    nulled = reports["activities"].datasets["activity_sessions"].nulled[DAY]
    assert nulled["total_elapsed_time_s"] == nulled["total_timer_time_s"] == 1
    activity = lake.read("activities").row(0, named=True)
    assert activity["activity_id"] == ACTIVITY_ID
    assert (activity["duration_s"], activity["elapsed_duration_s"]) == (None, None)
    assert activity["average_heart_rate_bpm"] is None  # heart rate 0 in the list too
    assert activity["max_heart_rate_bpm"] == 132.0
    assert reports["activities"].datasets["activities"].nulled[DAY] == {
        "duration_s": 1,
        "elapsed_duration_s": 1,
        "average_heart_rate_bpm": 1,
    }
    kept = json.loads(raw.get("activities", ACCOUNT, DAY, "activity_list.json"))[0]
    assert (kept["elapsedDuration"], kept["averageHR"]) == (MONTH_S, 0.0)


def test_a_score_is_nulled_and_the_night_kept(built):
    raw, lake, _, reports = built
    night = lake.read("sleep").row(0, named=True)
    assert night["calendar_date"] == DAY
    assert night["sleep_score"] is None
    assert night["sleep_s"] > 0  # the night's other values stay
    assert reports["sleep"].datasets["sleep"].nulled == {DAY: {"sleep_score": 1}}
    kept = json.loads(raw.get("sleep", ACCOUNT, DAY, "sleep.json"))
    assert kept["dailySleepDTO"]["sleepScores"]["overall"]["value"] == 255


def test_nothing_is_quarantined(built):
    _, _, quarantine, reports = built
    for report in reports.values():
        assert all(d.quarantined_rows == 0 for d in report.datasets.values())
        assert report.rejected_payloads == {}
    assert not (quarantine.root / "activities").exists()


def test_a_25_hour_day_can_hold_25_hours():
    """The autumn day of a daylight-saving change lasts 25 hours: a day sedentary throughout
    is data, not a fault; one second more is."""
    summary = dataset("daily_summary")
    values = {c.name: [None, None] for c in summary.columns}
    values |= {"calendar_date": [DAY, NEXT_DAY], "sedentary_s": [25 * 3600, 25 * 3600 + 1]}
    frame = pl.DataFrame(values, schema=summary.polars_schema)
    result = validate(frame, summary)
    assert result.valid["sedentary_s"].to_list() == [25 * 3600, None]
    assert result.nulled == {"sedentary_s": 1}
