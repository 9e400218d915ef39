"""The emulator serving real FIT files (tests/data/fit) and the generated quirk files as an
athlete's activities, read through the real garminconnect client, the pipeline's ConnectSource
and Garmin's Personal API client. Every expectation comes from fitdecode's own reading of the
files, written here independently of ``recorded``."""

from __future__ import annotations

import functools
import hashlib
import io
import itertools
import warnings
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import fitdecode
import pytest
from click.testing import CliRunner
from garmin_fit_sdk import Decoder, Stream
from garmin_personal_api.auth import PersonalApiAuthenticator
from garmin_personal_api.client import GarminPersonalApiClient
from garminconnect import Garmin

from garmin_emulator import Emulator, RecordedAthlete, SyntheticAthlete
from garmin_emulator.quirks import QUIRKS, quirk_files
from garmin_emulator.recorded import (
    ACTIVITY_TYPES,
    ID_BASE,
    ID_SPAN,
    RecordedActivities,
    collect_files,
    fitdecode_record_count,
)
from tests.conftest import bearer, client_for, source_for

DATA = Path(__file__).parent / "data" / "fit"
ACTIVITY_TYPES_JSON = Path(__file__).parent / "data" / "garmin_connect" / "activity_types.json"
END = date(2025, 3, 31)
PARIS = ZoneInfo("Europe/Paris")
EVER = (date(2000, 1, 1), date(2030, 12, 31))
QUIRK_FILES = quirk_files()
CORPUS = {p.relative_to(DATA).as_posix(): p.read_bytes() for p in sorted(DATA.rglob("*.fit"))}
FILES = {**CORPUS, **QUIRK_FILES}
NO_CLOCK = "run_garmin-fr70_compressed-timestamps.fit"  # times count from power-on
NOT_FIT = "invalid/not-fit-after-header_sports-lib-broken.fit"
TYPE_OF = {
    "rowing-indoor_garmin-vivoactivehr_devfields.fit": "indoor_rowing",
    "swim-pool_garmin-fr735xt_chained5.fit": "lap_swimming",
    "swim-openwater_garmin-fenix6.fit": "open_water_swimming",
    "triathlon_garmin-fr920xt_chained4.fit": "multi_sport",
    "triathlon_garmin-fr255_summary-last.fit": "multi_sport",
    "bike-virtual_zwift_null-compressed-speed.fit": "virtual_ride",
    "bike-indoor_garmin-edge530_hrv.fit": "indoor_cycling",
    "bike-road_garmin-4655_power.fit": "road_biking",
    "bike_wahoo-elemnt-bolt_devfields.fit": "cycling",
    "run-indoor_garmin-fr935_devfields.fit": "indoor_running",
    "run_garmin-fenix5_gps-hr-hrv_short.fit": "running",
    "walk_garmin-fenix5_short.fit": "walking",
    "yoga_garmin-fenix6x_gc-download_12129115726_ACTIVITY.fit": "yoga",
    "course_garmin-connect_cptr003_connect.fit": "other",
    "monitoring_b_garmin-vivofit_MonitoringFile.fit": "other",
    NOT_FIT: "other",
    "quirk_rowing_hr-0.fit": "indoor_rowing",
    "quirk_settings.fit": "other",
}


# --- the oracle: fitdecode, read here ----------------------------------------------------------


@functools.cache
def messages(name: str) -> tuple[fitdecode.FitDataMessage, ...]:
    """Every data message fitdecode reads before the file ends or breaks off."""
    read: list[fitdecode.FitDataMessage] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with fitdecode.FitReader(
                io.BytesIO(FILES[name]),
                check_crc=fitdecode.CrcCheck.WARN,
                error_handling=fitdecode.ErrorHandling.WARN,
            ) as reader:
                read.extend(f for f in reader if isinstance(f, fitdecode.FitDataMessage))
        except fitdecode.FitError:
            pass
    return tuple(read)


def of(name: str, message: str) -> list[fitdecode.FitDataMessage]:
    return [m for m in messages(name) if m.name == message]


def value(message: fitdecode.FitDataMessage, field: str) -> Any:
    return message.get_value(field, fallback=None)


def expected_start(name: str) -> tuple[datetime, datetime]:
    """(UTC start, local start) the list must show, from fitdecode's reading of the file."""
    sessions, records = of(name, "session"), of(name, "record")
    activity = of(name, "activity")
    if name == NO_CLOCK:
        # Device-relative times; the activity message's local clock anchors the start.
        start_rel, end_rel = value(sessions[0], "start_time"), value(activity[0], "timestamp")
        local = value(activity[0], "local_timestamp").replace(tzinfo=None)
        local -= timedelta(seconds=end_rel - start_rel)
        return local.replace(tzinfo=PARIS).astimezone(UTC), local
    if name == NOT_FIT:  # nothing readable: noon of the athlete's last day
        start = datetime.combine(END, time(12), PARIS).astimezone(UTC)
    elif sessions:
        start = value(sessions[0], "start_time")
    elif records:
        start = value(records[0], "timestamp")
    else:
        start = value(of(name, "file_id")[0], "time_created")
    assert isinstance(start, datetime), name
    offset = None
    if activity and isinstance(value(activity[0], "timestamp"), datetime):
        local_ts = value(activity[0], "local_timestamp")
        if isinstance(local_ts, datetime):
            seconds = (local_ts - value(activity[0], "timestamp")).total_seconds()
            offset = seconds if -12 * 3600 <= seconds <= 14 * 3600 else None
    if offset is None:
        return start, start.astimezone(PARIS).replace(tzinfo=None)
    return start, start.replace(tzinfo=None) + timedelta(seconds=offset)


def spaced(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def athlete() -> RecordedAthlete:
    return RecordedAthlete([DATA, QUIRK_FILES], seed=15, end_date=END, days=7)


@pytest.fixture(scope="module")
def emu(athlete: RecordedAthlete) -> Iterator[Emulator]:
    with Emulator(athlete, port=0) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def garmin(emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Garmin:
    store = tmp_path_factory.mktemp("tokens")
    emu.write_token_store(store / "garmin_tokens.json")
    client = client_for(emu)
    client.login(str(store))
    return client


@pytest.fixture(scope="module")
def source(emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The pipeline's Connect source, as the activity feeds use it."""
    return source_for(emu, tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="module")
def listed(source: Any) -> list[dict[str, Any]]:
    return source.activity_list(*EVER)


@pytest.fixture(scope="module")
def served_files(source: Any, listed: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """File name -> its list item, matched through the ORIGINAL download's bytes."""
    by_digest = {hashlib.sha256(data).digest(): name for name, data in FILES.items()}
    served: dict[str, dict[str, Any]] = {}
    for item in listed:
        with zipfile.ZipFile(io.BytesIO(source.activity_original(item["activityId"]))) as z:
            assert z.namelist() == [f"{item['activityId']}_ACTIVITY.fit"]
            member = z.read(z.namelist()[0])
        name = by_digest[hashlib.sha256(member).digest()]
        assert member == FILES[name]
        assert name not in served, f"{name} listed twice"
        served[name] = item
    return served


# --- the list and the downloads -----------------------------------------------------------------


def test_every_file_is_listed_once_and_downloads_as_its_own_bytes(served_files, listed):
    assert sorted(served_files) == sorted(FILES)
    assert len(listed) == len(FILES)
    ids = [item["activityId"] for item in listed]
    assert len(set(ids)) == len(ids)
    assert all(ID_BASE <= i < ID_BASE + ID_SPAN for i in ids)


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_file_starts_when_fitdecode_says_it_does(served_files, name):
    start, local = expected_start(name)
    item = served_files[name]
    assert item["startTimeGMT"] == spaced(start)
    assert item["startTimeLocal"] == spaced(local)
    assert item["beginTimestamp"] == int(start.timestamp()) * 1000


def test_the_list_is_oldest_first_when_asked(listed):
    starts = [(item["startTimeGMT"], item["activityId"]) for item in listed]
    assert starts == sorted(starts)


@pytest.mark.parametrize("name", sorted(TYPE_OF))
def test_the_type_comes_from_the_sessions_sport(served_files, name):
    kind = served_files[name]["activityType"]
    assert kind["typeKey"] == TYPE_OF[name]
    assert (kind["typeId"], kind["parentTypeId"], kind["trimmable"]) == ACTIVITY_TYPES[
        TYPE_OF[name]
    ]


def test_every_type_the_emulator_serves_is_garmins_own():
    import json

    recorded = {t["typeKey"]: t for t in json.loads(ACTIVITY_TYPES_JSON.read_text())}
    for key, (type_id, parent, trimmable) in ACTIVITY_TYPES.items():
        real = recorded[key]
        assert (real["typeId"], real["parentTypeId"], real["trimmable"]) == (
            type_id,
            parent,
            trimmable,
        ), key


@pytest.mark.parametrize(
    "name",
    [n for n in sorted(FILES) if len(of(n, "session")) == 1 and n != NO_CLOCK],
)
def test_one_session_summaries_are_the_sessions_values(served_files, name):
    session = of(name, "session")[0]
    item = served_files[name]
    pairs = {
        "duration": "total_timer_time",
        "elapsedDuration": "total_elapsed_time",
        "distance": "total_distance",
        "calories": "total_calories",
        "averageHR": "avg_heart_rate",
        "maxHR": "max_heart_rate",
        "elevationGain": "total_ascent",
        "elevationLoss": "total_descent",
    }
    for key, field in pairs.items():
        expected = value(session, field)
        if expected is None:
            assert key not in item, (key, item[key])
        else:
            assert item[key] == pytest.approx(float(expected)), key
            assert isinstance(item[key], float), key
    speed = value(session, "enhanced_avg_speed") or value(session, "avg_speed")
    assert item.get("averageSpeed") == (None if speed is None else pytest.approx(speed))
    assert item["lapCount"] == len(of(name, "lap"))


@pytest.mark.parametrize(
    "name", ["triathlon_garmin-fr920xt_chained4.fit", "triathlon_garmin-fr255_summary-last.fit"]
)
def test_a_triathlon_sums_its_sessions(served_files, name):
    sessions = of(name, "session")
    item = served_files[name]
    assert len(sessions) == 5
    assert item["distance"] == pytest.approx(sum(value(s, "total_distance") for s in sessions))
    assert item["duration"] == pytest.approx(sum(value(s, "total_timer_time") for s in sessions))
    assert item["maxHR"] == max(value(s, "max_heart_rate") for s in sessions)
    assert item["parent"] is True
    assert item["activityName"] == "Multisport"


@pytest.mark.parametrize(
    ("name", "activity_name"),
    [
        ("run_garmin-fenix5_gps-hr-hrv_short.fit", "Running"),  # as garth's cassettes name them
        ("yoga_garmin-fenix6x_gc-download_12129115726_ACTIVITY.fit", "Yoga"),  # this very one
        ("swim-openwater_garmin-fenix6.fit", "Open Water Swimming"),  # "Bacalar Open Water ..."
        ("swim-pool_garmin-fr735xt_chained5.fit", "Pool Swim"),  # as the synthetic swims
        ("rowing-indoor_garmin-vivoactivehr_devfields.fit", "Indoor Rowing"),
        ("bike-road_garmin-4655_power.fit", "Road Cycling"),
        ("bike-virtual_zwift_null-compressed-speed.fit", "Virtual Cycling"),
        ("triathlon_garmin-fr255_summary-last.fit", "Multisport"),
        ("course_garmin-connect_cptr003_connect.fit", "Other"),
    ],
)
def test_names_follow_connect_for_activities_without_a_place(served_files, name, activity_name):
    assert served_files[name]["activityName"] == activity_name


def test_pages_walk_the_whole_list_newest_first(garmin, listed, emu):
    emu.clear_request_log()
    pages = [garmin.get_activities(start, 10) for start in range(0, len(listed) + 10, 10)]
    assert [len(p) for p in pages] == [10, 10, 10, len(listed) - 30, 0]
    walked = [item["activityId"] for page in pages for item in page]
    assert walked == [item["activityId"] for item in listed][::-1]


def test_dates_filter_on_the_local_start_day_inclusively(garmin, served_files):
    # The treadmill run starts on 2 December in UTC but on 3 December at home (UTC+8).
    indoor = served_files["run-indoor_garmin-fr935_devfields.fit"]["activityId"]
    on_3rd = garmin.get_activities_by_date("2020-12-03", "2020-12-03")
    assert [i["activityId"] for i in on_3rd] == [indoor]
    assert garmin.get_activities_by_date("2020-12-02", "2020-12-02") == []
    # Two activities on one morning, newest first unless asked otherwise.
    walk = served_files["walk_garmin-fenix5_short.fit"]["activityId"]
    run = served_files["run_garmin-fenix5_gps-hr-hrv_short.fit"]["activityId"]
    day = garmin.get_activities_by_date("2017-06-11", "2017-06-11")
    assert [i["activityId"] for i in day] == [run, walk]
    oldest_first = garmin.get_activities_by_date("2017-06-11", "2017-06-11", sortorder="asc")
    assert [i["activityId"] for i in oldest_first] == [walk, run]
    quirks = garmin.get_activities_by_date("2025-03-01", "2025-03-25")
    assert len(quirks) == len(QUIRK_FILES)


def test_an_unknown_or_synthetic_id_is_not_downloadable(emu, athlete):
    import requests

    synthetic = athlete.plans_on(END)[0].activity_id if athlete.plans_on(END) else 10_000_000_001
    for activity_id in (ID_BASE - 1, synthetic):
        answer = requests.get(
            f"{emu.base_url}/download-service/files/activity/{activity_id}",
            headers=bearer(emu),
            timeout=10,
        )
        assert answer.status_code == 404


def test_the_personal_api_serves_the_same_files(emu, served_files, tmp_path):
    auth = PersonalApiAuthenticator(bearer_token_cache_file=tmp_path / "bearer.json")
    auth.base_url = emu.personal_api_url
    token = auth.obtain_token(emu.personal_api_key)
    name = "swim-pool_garmin-fr735xt_chained5.fit"
    item = served_files[name]
    with GarminPersonalApiClient(token.access_token) as api:
        api.base_url = emu.personal_api_url
        day = item["startTimeLocal"][:10]
        found = api.search_activities(start=0, limit=5, start_date=day, end_date=day)
        assert [a["activityId"] for a in found] == [item["activityId"]]
        with zipfile.ZipFile(io.BytesIO(api.download_activity(item["activityId"]))) as z:
            assert z.read(z.namelist()[0]) == FILES[name]
        summary = api.get_activity(item["activityId"])
    assert summary["activityTypeDTO"]["typeKey"] == "lap_swimming"
    assert (
        summary["summaryDTO"]["startTimeLocal"] == item["startTimeLocal"].replace(" ", "T") + ".0"
    )
    assert summary["summaryDTO"]["distance"] == item["distance"]


def test_the_wellness_days_stay_the_synthetic_athletes(athlete):
    synthetic = SyntheticAthlete(seed=15, end_date=END, days=7)
    for day in (END - timedelta(days=3), END):
        assert athlete.daily_summary(day) == synthetic.daily_summary(day)
        assert athlete.sleep(day) == synthetic.sleep(day)


def test_ids_are_the_files_own_in_any_folder(athlete, served_files):
    name = "walk_garmin-fenix5_short.fit"
    alone = RecordedActivities([(name, FILES[name])], PARIS, datetime(2025, 1, 1, tzinfo=UTC))
    assert alone.activities[0].activity_id == served_files[name]["activityId"]
    again = RecordedAthlete([DATA, QUIRK_FILES], seed=15, end_date=END, days=7)
    assert [a.activity_id for a in again.recorded] == [a.activity_id for a in athlete.recorded]


def test_the_same_bytes_twice_are_one_activity():
    name = "walk_garmin-fenix5_short.fit"
    files = collect_files([DATA / name, ("copy.fit", FILES[name])])
    assert len(files) == 2
    served = RecordedActivities(files, PARIS, datetime(2025, 1, 1, tzinfo=UTC))
    assert [a.file_name for a in served] == [name]


def test_renaming_and_deleting_a_recorded_activity(emu, athlete, garmin, served_files):
    item = served_files["walk_garmin-fenix5_short.fit"]
    activity_id = item["activityId"]
    try:
        athlete.rename_activity(activity_id, "Morning stroll")
        day = garmin.get_activities_by_date("2017-06-11", "2017-06-11")
        assert {i["activityId"]: i["activityName"] for i in day}[activity_id] == "Morning stroll"
        athlete.delete_activity(activity_id)
        day = garmin.get_activities_by_date("2017-06-11", "2017-06-11")
        assert activity_id not in [i["activityId"] for i in day]
    finally:
        athlete._renamed.pop(activity_id, None)
        athlete._deleted.discard(activity_id)


def test_the_cli_serves_a_folder_and_the_quirks(monkeypatch):
    from garmin_pipeline import cli

    served: dict[str, Any] = {}
    monkeypatch.setattr("garmin_emulator.serve", lambda athlete, **_: served.update(a=athlete))
    args = ["emulator", "--activity-files", str(DATA / "invalid"), "--quirks"]
    result = CliRunner().invoke(
        cli.main,
        [*args, "--end-date", "2025-03-31"],
        env={"GARMIN_TOKENS": "/nonexistent/tokens.json", "GARMIN_DATA_DIR": "/nonexistent"},
    )
    assert result.exit_code == 0, result.output
    athlete = served["a"]
    assert isinstance(athlete, RecordedAthlete)
    names = sorted(a.file_name for a in athlete.recorded)
    invalid = sorted(p.name for p in (DATA / "invalid").glob("*.fit"))
    assert names == sorted([*invalid, *QUIRK_FILES])
    assert f"activities: {len(names)} FIT files" in result.output


# --- the quirk files ----------------------------------------------------------------------------


def test_quirk_files_are_deterministic_and_valid_fit():
    assert quirk_files() == QUIRK_FILES
    assert [q.file_name for q in QUIRKS] == list(QUIRK_FILES)
    for name, data in QUIRK_FILES.items():
        with fitdecode.FitReader(
            io.BytesIO(data),
            check_crc=fitdecode.CrcCheck.RAISE,
            error_handling=fitdecode.ErrorHandling.RAISE,
        ) as reader:
            assert sum(1 for _ in reader) > 0, name
        decoder = Decoder(Stream.from_byte_array(bytearray(data)))
        assert decoder.check_integrity(), name


def test_each_quirk_starts_when_its_table_says(served_files):
    for quirk in QUIRKS:
        assert served_files[quirk.file_name]["startTimeGMT"] == spaced(quirk.start_utc)


def records(name: str) -> list[fitdecode.FitDataMessage]:
    return of(name, "record")


def test_heart_rate_zero_and_one_on_every_record():
    for name, bpm in (("quirk_rowing_hr-0.fit", 0), ("quirk_bike-indoor_hr-1.fit", 1)):
        rows = records(name)
        assert len(rows) >= 1200
        assert {value(r, "heart_rate") for r in rows} == {bpm}
        assert all(value(r, "power") > 0 and value(r, "cadence") > 0 for r in rows)
        assert value(of(name, "session")[0], "avg_heart_rate") == bpm


def test_a_recording_left_running_for_27_days():
    name = "quirk_run_27-days-left-running.fit"
    rows = records(name)
    session = of(name, "session")[0]
    assert value(session, "total_elapsed_time") == 27 * 86_400
    assert value(session, "total_timer_time") == 27 * 86_400
    times = [value(r, "timestamp") for r in rows]
    assert times[-1] - times[0] == timedelta(days=27)
    assert max(b - a for a, b in itertools.pairwise(times)) == timedelta(minutes=10)
    assert len(QUIRK_FILES[name]) < 100_000


def test_sentinels_are_stored_raw_and_near_sentinels_are_numbers():
    rows = records("quirk_ride_sentinels.fit")
    fields = ("heart_rate", "cadence", "power", "speed", "altitude")
    # A field the message defines but fitdecode reads as None holds the base type's invalid value.
    invalid = [r for r in rows if all(r.has_field(f) and value(r, f) is None for f in fields)]
    assert len(invalid) == len(rows) // 60
    near = [r for r in rows if value(r, "heart_rate") == 0xFE]
    assert len(near) == len(rows) // 60
    for r in near:
        assert (value(r, "cadence"), value(r, "power")) == (0xFE, 0xFFFE)
        assert value(r, "speed") == pytest.approx(65.534)
        assert value(r, "altitude") == pytest.approx(0xFFFE / 5 - 500)
    no_heart_rate = {i for i, r in enumerate(rows) if value(r, "heart_rate") is None}
    assert no_heart_rate == {i for i in range(len(rows)) if i % 60 == 17} | set(range(600, 630))


def test_timestamps_go_backwards_and_repeat():
    times = [value(r, "timestamp") for r in records("quirk_run_timestamps-backwards.fit")]
    steps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert [i + 1 for i, s in enumerate(steps) if s < 0] == [300]
    assert times[700] == times[699]
    assert len(times) - len(set(times)) == 11  # ten re-stamped records and the repeat


def test_a_file_id_without_a_type_on_a_normal_run():
    name = "quirk_run_no-file-type.fit"
    file_id = of(name, "file_id")[0]
    assert not file_id.has_field("type")
    assert len(records(name)) == 600
    assert value(of(name, "session")[0], "sport") == "running"


def test_non_activity_files_have_their_own_type_and_messages():
    expected = {
        "quirk_course.fit": ("course", {"course", "course_point", "record", "lap"}),
        "quirk_settings.fit": ("settings", {"user_profile", "zones_target", "hr_zone"}),
        "quirk_locations.fit": (8, {"unknown_29", "unknown_189"}),
    }
    for name, (file_type, names) in expected.items():
        assert value(of(name, "file_id")[0], "type") == file_type
        assert names <= {m.name for m in messages(name)}
        assert of(name, "session") == []
    assert len(of("quirk_locations.fit", "unknown_29")) == 3
    assert [q.file_name for q in QUIRKS if not q.is_activity] == list(expected)


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("quirk_rowing_hr-0.fit", 1200),
        ("quirk_run_27-days-left-running.fit", 27 * 144 + 1),
        ("quirk_settings.fit", 0),
        ("invalid/bad-file-crc_activity-filecrc.fit", 14),  # a wrong CRC is only warned about
        ("invalid/truncated_course_invalid_truncated.fit", None),
        ("invalid/undefined-local-mesg_strava-android.fit", None),
        (NOT_FIT, None),
        ("swim-pool_garmin-fr735xt_chained5.fit", 4376),  # all five chained parts
    ],
)
def test_fitdecode_record_count(name, count):
    assert fitdecode_record_count(FILES[name]) == count
