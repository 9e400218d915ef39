"""The Garmin Connect emulator: bodies shaped like real recordings, deterministic values, FIT files
that decode cleanly, and the real garminconnect client logging in, refreshing, paging and
downloading against it over loopback HTTP."""

from __future__ import annotations

import base64
import io
import itertools
import json
import math
import re
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import fitdecode
import pytest
import requests
from garminconnect import Garmin, GarminConnectTooManyRequestsError
from garminconnect.client.tokens import token_file_path as garminconnect_token_file_path

from garmin_emulator import Emulator, FaultPlan, SyntheticAthlete
from garmin_emulator.auth import TokenAuthority, token_file_path
from garmin_emulator.timefmt import epoch_ms
from tests.conftest import TOKEN_PATH, bearer, client_for

DATA = Path(__file__).parent / "data" / "garmin_connect"
END = date(2024, 3, 31)  # Europe/Paris springs forward that day: a 23-hour day is in range
DAY = date(2024, 3, 15)
SUMMARY_PATH = "/usersummary-service/usersummary/daily/synthetic-athlete-42"


def recorded(name: str) -> Any:
    return json.loads((DATA / name).read_text())


@pytest.fixture(scope="module")
def athlete60() -> SyntheticAthlete:
    return SyntheticAthlete(seed=42, end_date=END, days=60)


@pytest.fixture(scope="module")
def emu(athlete60):
    with Emulator(athlete60, port=0) as emulator:
        yield emulator


@pytest.fixture
def clean(emu):
    """An empty request log and no fault rules, before and after the test."""
    emu.faults.clear()
    emu.clear_request_log()
    yield emu
    emu.faults.clear()


def login(emu: Emulator, tmp_path: Path, ttl: int = 3600) -> tuple[Garmin, Path]:
    """The real client, logged in from a token store (a directory) the emulator wrote."""
    store = emu.write_token_store(tmp_path / "tokens", access_ttl_s=ttl)
    garmin = client_for(emu)
    garmin.login(str(tmp_path / "tokens"))
    return garmin, store


def get(emu: Emulator, path: str, **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", None) or bearer(emu)
    return requests.get(emu.base_url + path, headers=headers, timeout=10, **kwargs)


def shape_problems(ref: Any, served: Any, where: str = "$") -> list[str]:
    """Differences in keys, nesting and value types (a null on either side matches anything)."""
    if ref is None or served is None:
        return []
    if isinstance(ref, dict):
        if not isinstance(served, dict):
            return [f"{where}: object expected, got {type(served).__name__}"]
        problems = [f"{where}.{k}: missing" for k in ref if k not in served]
        problems += [f"{where}.{k}: not in the recording" for k in served if k not in ref]
        for key in ref.keys() & served.keys():
            problems += shape_problems(ref[key], served[key], f"{where}.{key}")
        return problems
    if isinstance(ref, list):
        if not isinstance(served, list):
            return [f"{where}: array expected, got {type(served).__name__}"]
        problems = []
        for i, (a, b) in enumerate(zip(ref, served, strict=False)):
            problems += shape_problems(a, b, f"{where}[{i}]")
        return problems
    if type(ref) is not type(served):
        return [f"{where}: {type(ref).__name__} expected, got {type(served).__name__} {served!r}"]
    return []


def without(body: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def keys_of(value: Any) -> Any:
    """The nested key structure of a body (its objects' keys), without values."""
    if isinstance(value, dict):
        return {k: keys_of(v) for k, v in value.items()}
    return None


# ---------------------------------------------------------------------------- shape parity
def test_profile_and_settings_have_the_recorded_shape(athlete60):
    # hasPremiumSocialIcon is in the newer python-garminconnect recording, not in garth's.
    ref = recorded("social_profile.json")
    served = athlete60.social_profile()
    assert shape_problems(ref, without(served, {"hasPremiumSocialIcon"})) == []
    assert served["displayName"] == "synthetic-athlete-42"
    assert isinstance(served["profileId"], int)
    settings = athlete60.user_settings()
    assert shape_problems(recorded("user_settings.json"), settings) == []
    assert settings["userData"]["measurementSystem"] == "metric"
    assert athlete60.personal_information()["timeZone"] == "Europe/Paris"


def test_daily_summary_has_the_recorded_shape(athlete60):
    served = athlete60.daily_summary(DAY)
    assert shape_problems(recorded("daily_summary.json"), served) == []
    # The displayName-path recording is the sanitised subset: same keys, minus four.
    assert set(recorded("daily_summary_display_name.json")) <= set(served)
    empty = athlete60.daily_summary(END + timedelta(days=1))
    assert set(empty) == set(served)
    assert empty["totalSteps"] is None
    assert empty["includesWellnessData"] is False
    assert empty["bodyBatteryActivityEventList"] == []


def test_heart_rate_stress_and_hrv_have_the_recorded_shape(athlete60):
    assert shape_problems(recorded("daily_heart_rate.json"), athlete60.heart_rate(DAY)) == []
    assert shape_problems(recorded("daily_stress.json"), athlete60.stress(DAY)) == []
    day = next(d for d in athlete60.history() if athlete60.hrv(d) is not None)
    assert shape_problems(recorded("hrv.json"), athlete60.hrv(day)) == []


def test_heart_rate_zones_have_the_recorded_shape(emu, athlete60, clean):
    (served,) = get(emu, "/biometric-service/heartRateZones").json()
    (ref,) = recorded("heart_rate_zones.json")  # garth core/test_put.yaml
    assert shape_problems(ref, served) == []
    assert list(served) == list(ref)
    assert served["maxHeartRateUsed"] == athlete60.profile.max_hr


def test_days_without_data_look_like_garmins(athlete60):
    outside = athlete60.first_day - timedelta(days=1)
    assert athlete60.stress(outside) is None
    assert recorded("daily_stress_no_data.json") is None  # the recorded body is JSON null
    assert athlete60.hrv(outside) is None  # served as HTTP 204
    no_sleep = athlete60.sleep(outside)
    assert shape_problems(recorded("daily_sleep_no_data.json"), no_sleep) == []
    assert set(no_sleep["dailySleepDTO"]) == set(
        recorded("daily_sleep_no_data.json")["dailySleepDTO"]
    )
    heart = athlete60.heart_rate(outside)
    assert heart["heartRateValues"] is None
    assert heart["restingHeartRate"] is None


def test_sleep_has_the_recorded_shape(athlete60):
    old = recorded("daily_sleep.json")  # this very path, recorded in 2021
    nights = recorded("sleep_nights_2021-07.json").values()  # the 19 nights before it
    assert all(keys_of(night) == keys_of(old) for night in nights)
    new = recorded("daily_sleep_v2.json")  # the 2025 body with sleep scores
    newest = recorded("daily_sleep_v2_2025-07-06.json")  # the night before: one key more
    assert set(old["dailySleepDTO"]) <= set(new["dailySleepDTO"])
    assert set(newest["dailySleepDTO"]) - set(new["dailySleepDTO"]) == {
        "breathingDisruptionSeverity"
    }
    served = athlete60.sleep(DAY)
    # Keys newer than both recordings (garminconnect 0.3.20 documents them) are extra.
    newer = {"restlessMomentsCount", "avgOvernightHrv", "hrvStatus"}
    assert newer <= set(served)
    union = {**old, **new, "dailySleepDTO": {**new["dailySleepDTO"], **newest["dailySleepDTO"]}}
    assert shape_problems(union, {k: v for k, v in served.items() if k not in newer}) == []
    levels = served["sleepLevels"]
    assert {lvl["activityLevel"] for lvl in levels} <= {0.0, 1.0, 2.0, 3.0}
    assert (
        levels[0]["startGMT"] == served["wellnessSpO2SleepSummaryDTO"]["sleepMeasurementStartGMT"]
    )


# Fields a watch without a chest strap, thermometer or running-power pod cannot produce, plus the
# owner's image URLs and account roles: the synthetic athlete has none of them.
_NOT_SIMULATED = {
    "avgGradeAdjustedSpeed",
    "avgGroundContactTime",
    "avgVerticalOscillation",
    "avgVerticalRatio",
    "fastestSplit_1609",
    "minTemperature",
    "maxTemperature",
    "ownerProfileImageUrlSmall",
    "ownerProfileImageUrlMedium",
    "ownerProfileImageUrlLarge",
    "userRoles",
    "workoutId",
    "cloudPositioningStatus",
    *(f"powerTimeInZone_{z}" for z in range(1, 6)),
}
_RUNNING_ONLY = {
    "averageRunningCadenceInStepsPerMinute",
    "maxRunningCadenceInStepsPerMinute",
    "steps",
    "avgStrideLength",
    "maxDoubleCadence",
    "fastestSplit_1000",
}
_BIKE_ONLY = {"averageBikingCadenceInRevPerMinute", "maxBikingCadenceInRevPerMinute"}
_POWER = {"avgPower", "maxPower", "normPower"}
_POOL_ONLY = {"activeLengths", "avgStrokes", "poolLength", "unitOfPoolLength"}
_NO_GPS = {
    "startLatitude",
    "startLongitude",
    "endLatitude",
    "endLongitude",
    "locationName",
    "vO2MaxValue",
}


@pytest.mark.parametrize(
    ("sport", "ref_file", "ref_index", "missing", "extra"),
    [
        ("running", "activity_list.json", 0, _NOT_SIMULATED | _POWER, set()),
        ("cycling", "activity_list.json", 0, _NOT_SIMULATED | _RUNNING_ONLY, _BIKE_ONLY),
        ("lap_swimming", "activity_list_page2.json", 1, _NOT_SIMULATED | _NO_GPS, _POOL_ONLY),
    ],
)
def test_activity_list_items_have_the_recorded_shape(
    athlete60, sport, ref_file, ref_index, missing, extra
):
    ref = recorded(ref_file)[ref_index]
    activity = next(a for a in athlete60.activities() if a.sport == sport)
    served = athlete60.activity_list_item(activity.activity_id)
    assert set(ref) - set(served) == missing & set(ref)
    assert set(served) - set(ref) == extra
    assert shape_problems(without(ref, set(ref) - set(served)), without(served, extra)) == []
    assert served["distance"] == activity.distance_m
    assert served["duration"] == activity.duration_s
    assert served["lapCount"] == activity.lap_count
    assert served["activityType"]["typeKey"] == sport


def test_token_endpoint_answers_like_the_recorded_oauth_exchange(emu, clean):
    refresh = emu.tokens.issue()["refresh_token"]
    response = requests.post(
        emu.base_url + TOKEN_PATH,
        data={"grant_type": "refresh_token", "client_id": "GARMIN_CONNECT_MOBILE_ANDROID_DI_2025Q2",
              "refresh_token": refresh},
        timeout=10,
    )  # fmt: skip
    assert response.status_code == 200
    assert shape_problems(recorded("token_exchange.json"), response.json()) == []
    assert response.json()["token_type"] == "Bearer"


# ---------------------------------------------------------------------------- values
@pytest.mark.fast
def test_the_same_seed_gives_byte_identical_bodies_and_files_and_another_seed_does_not():
    def bodies(a: SyntheticAthlete) -> bytes:
        out = b""
        for d in a.history():
            for body in (a.daily_summary(d), a.heart_rate(d), a.sleep(d), a.stress(d), a.hrv(d)):
                out += json.dumps(body).encode()
        return out

    first = SyntheticAthlete(seed=5, end_date=date(2024, 6, 30), days=10)
    second = SyntheticAthlete(seed=5, end_date=date(2024, 6, 30), days=10)
    for d in reversed(second.history()):  # computing days in another order changes nothing
        second.stress(d)
    assert bodies(first) == bodies(second)
    files = [first.activity_zip(a.activity_id) for a in first.activities()]
    assert files == [second.activity_zip(a.activity_id) for a in second.activities()]
    assert len(files) >= 3

    other = SyntheticAthlete(seed=6, end_date=date(2024, 6, 30), days=10)
    assert bodies(other) != bodies(first)
    assert other.daily_summary(date(2024, 6, 25)) != first.daily_summary(date(2024, 6, 25))
    assert [a.start_time_utc for a in other.activities()] != [
        a.start_time_utc for a in first.activities()
    ]


def test_the_athlete_is_plausible_every_day(athlete60):
    for day in athlete60.history():
        summary = athlete60.daily_summary(day)
        assert 3_000 <= summary["totalSteps"] <= 25_000
        assert 45 <= summary["restingHeartRate"] <= 60
        assert summary["minHeartRate"] <= summary["restingHeartRate"] + 3
        assert summary["bodyBatteryLowestValue"] < summary["bodyBatteryHighestValue"] <= 100
        heart = athlete60.heart_rate(day)["heartRateValues"]
        hours = 23 if day == END else 24
        assert len(heart) == hours * 30  # one sample every 2 minutes, 23 h on the DST day
        assert {b[0] - a[0] for a, b in itertools.pairwise(heart)} == {120_000}
        dto = athlete60.sleep(day)["dailySleepDTO"]
        assert 5 * 3600 <= dto["sleepTimeSeconds"] <= 10 * 3600
        assert dto["sleepTimeSeconds"] == sum(
            dto[k] for k in ("deepSleepSeconds", "lightSleepSeconds", "remSleepSeconds")
        )
        window = (dto["sleepEndTimestampGMT"] - dto["sleepStartTimestampGMT"]) // 1000
        assert window == dto["sleepTimeSeconds"] + dto["awakeSleepSeconds"]
        # Local epoch fields are the GMT ones shifted by Paris' offset (1 h in winter).
        assert dto["sleepStartTimestampLocal"] - dto["sleepStartTimestampGMT"] in (
            3_600_000,
            7_200_000,
        )
    per_week = len(athlete60.activities()) / (athlete60.days / 7)
    assert 3.0 <= per_week <= 6.0
    sports = {a.sport for a in athlete60.activities()}
    assert sports == {"running", "cycling", "lap_swimming"}


def test_a_days_figures_include_its_activities(athlete60):
    day = next(d for d in athlete60.history() if any(
        a.sport == "running" for a in athlete60.activities_on(d)))  # fmt: skip
    run = next(a for a in athlete60.activities_on(day) if a.sport == "running")
    wellness = athlete60.wellness(day)
    assert athlete60.daily_summary(day)["totalSteps"] == wellness.walking_steps + run.steps
    assert 30 * 60 <= run.duration_s <= 70 * 60
    assert 2.3 <= run.avg_speed_m_s <= 4.0
    # Intraday HR during the run is the run's own HR; stress reads "activity" (-2).
    inside = epoch_ms(run.start_time_utc) + 600_000
    hr_at = next(v for ms, v in athlete60.heart_rate(day)["heartRateValues"] if ms >= inside)
    assert hr_at >= run.avg_hr - 25
    stress_at = next(v for ms, v in athlete60.stress(day)["stressValuesArray"] if ms >= inside)
    assert stress_at == -2
    events = athlete60.daily_summary(day)["bodyBatteryActivityEventList"]
    assert run.activity_id in [e["activityId"] for e in events]


@pytest.mark.fast
def test_the_profile_zone_is_a_parameter_that_every_body_and_file_follows():
    """The same seed in Auckland keeps its local routine; instants, GMT fields, day bounds and the
    FIT local times move by the zone's offset (UTC+12 in June), so days stay local days."""
    paris = SyntheticAthlete(seed=5, end_date=date(2024, 6, 30), days=10)
    auckland = SyntheticAthlete(
        seed=5, end_date=date(2024, 6, 30), days=10, timezone="Pacific/Auckland"
    )
    assert auckland.personal_information()["timeZone"] == "Pacific/Auckland"
    assert paris.personal_information()["timeZone"] == "Europe/Paris"
    local_starts = [p.start_time_local for p in paris.all_plans()]
    assert local_starts and [p.start_time_local for p in auckland.all_plans()] == local_starts
    twelve_hours = timedelta(hours=12)
    for a in auckland.activities():
        item = auckland.activity_list_item(a.activity_id)
        local, gmt = (datetime.fromisoformat(item[k]) for k in ("startTimeLocal", "startTimeGMT"))
        assert local - gmt == twelve_hours
        assert item["timeZoneId"] is None  # Garmin's id for the zone is not in any recording
        assert paris.activity_list_item(a.activity_id)["timeZoneId"] == 124
        with fitdecode.FitReader(io.BytesIO(auckland.fit_bytes(a.activity_id))) as reader:
            (stamps,) = [
                (f.get_value("timestamp"), f.get_value("local_timestamp"))
                for f in reader
                if isinstance(f, fitdecode.FitDataMessage) and f.name == "activity"
            ]
        assert stamps[1] - stamps[0] == twelve_hours
    day = date(2024, 6, 25)
    summary = auckland.daily_summary(day)
    assert summary["calendarDate"] == "2024-06-25"
    assert summary["wellnessStartTimeGmt"] == "2024-06-24T12:00:00.0"
    assert summary["wellnessStartTimeLocal"] == "2024-06-25T00:00:00.0"
    assert auckland.heart_rate(day)["heartRateValues"][0][0] == epoch_ms(
        datetime(2024, 6, 24, 12, tzinfo=UTC)
    )
    dto = auckland.sleep(day)["dailySleepDTO"]
    assert dto["sleepEndTimestampLocal"] - dto["sleepEndTimestampGMT"] == 12 * 3_600_000


# ---------------------------------------------------------------------------- the real client
def test_the_real_client_reads_the_athlete_over_http(emu, athlete60, tmp_path, clean):
    garmin, _ = login(emu, tmp_path)
    assert garmin.display_name == athlete60.display_name
    assert garmin.unit_system == "metric"
    assert garmin.get_user_timezone() == "Europe/Paris"
    day = DAY.isoformat()
    assert garmin.get_user_summary(day)["totalSteps"] == athlete60.daily_summary(DAY)["totalSteps"]
    heart = garmin.get_heart_rates(day)
    assert heart["heartRateValues"] == athlete60.heart_rate(DAY)["heartRateValues"]
    assert len(garmin.get_heart_rates(END.isoformat())["heartRateValues"]) == 23 * 30
    sleep = garmin.get_sleep_data(day)
    assert sleep["dailySleepDTO"]["sleepTimeSeconds"] == athlete60.night(DAY).sleep_s
    assert (
        garmin.get_all_day_stress(day)["avgStressLevel"] == athlete60.stress(DAY)["avgStressLevel"]
    )
    assert garmin.get_all_day_stress("2020-01-01") is None
    assert garmin.get_hrv_data("2020-01-01") == {}  # the client's stand-in for a 204
    last = garmin.get_device_last_used()
    assert last["lastUsedDeviceUploadTime"] == epoch_ms(athlete60.last_upload_utc)
    statuses = {(r.path, r.status) for r in emu.request_log}
    assert ("/hrv-service/hrv/2020-01-01", 204) in statuses
    summary = next(r for r in emu.request_log if r.path == SUMMARY_PATH)
    assert summary.query == {"calendarDate": day}
    assert summary.bytes_sent == len(
        json.dumps(athlete60.daily_summary(DAY), ensure_ascii=False, separators=(",", ":")).encode()
    )


def test_pagination_returns_every_activity_of_the_range_exactly_once(
    emu, athlete60, tmp_path, clean
):
    garmin, _ = login(emu, tmp_path)
    expected = [a.activity_id for a in athlete60.activities()]
    items = garmin.get_activities_by_date(athlete60.first_day.isoformat(), END.isoformat())
    ids = [item["activityId"] for item in items]
    assert sorted(ids) == sorted(expected)
    assert len(ids) == len(set(ids))
    assert ids == expected[::-1]  # newest first
    pages = [r for r in emu.request_log if r.path.endswith("/search/activities")]
    assert len(pages) == math.ceil(len(expected) / 20) + 1
    assert [r.query["start"] for r in pages] == [str(20 * i) for i in range(len(pages))]
    assert pages[-1].bytes_sent == 2  # "[]": the client stops on the empty page
    oldest_first = garmin.get_activities_by_date(
        athlete60.first_day.isoformat(), END.isoformat(), sortorder="asc"
    )
    assert [item["activityId"] for item in oldest_first] == expected
    # Bounds are inclusive on the local start date.
    day = athlete60.activities()[3].local_date
    one_day = garmin.get_activities_by_date(day.isoformat(), day.isoformat())
    assert [i["activityId"] for i in one_day][::-1] == [
        a.activity_id for a in athlete60.activities_on(day)
    ]
    swims = garmin.get_activities_by_date(
        athlete60.first_day.isoformat(), END.isoformat(), activitytype="swimming"
    )
    assert {i["activityType"]["typeKey"] for i in swims} == {"lap_swimming"}


def test_the_original_download_is_the_zip_of_the_fit_file(emu, athlete60, tmp_path, clean):
    garmin, _ = login(emu, tmp_path)
    activity = athlete60.activities()[0]
    data = garmin.download_activity(
        str(activity.activity_id), dl_fmt=Garmin.ActivityDownloadFormat.ORIGINAL
    )
    assert data == athlete60.activity_zip(activity.activity_id)
    with zipfile.ZipFile(DATA / "activity_original_11998957007.zip") as answer:
        assert answer.namelist() == ["11998957007_ACTIVITY.fit"]  # garth core/test_download.yaml
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == [f"{activity.activity_id}_ACTIVITY.fit"]
        assert archive.testzip() is None
        assert archive.read(archive.namelist()[0]) == athlete60.fit_bytes(activity.activity_id)
    assert get(emu, "/download-service/files/activity/10000000001").status_code == 404


def test_a_cut_download_does_not_open(emu, athlete60, clean):
    activity = athlete60.activities()[1]
    path = f"/download-service/files/activity/{activity.activity_id}"
    emu.faults.add(path, truncate=True)
    cut = get(emu, path)
    assert cut.status_code == 200
    whole = athlete60.activity_zip(activity.activity_id)
    assert cut.content == whole[: len(whole) // 2]
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(cut.content))
    assert get(emu, path).content == whole  # the rule was used up
    assert [r.bytes_sent for r in emu.request_log] == [len(whole) // 2, len(whole)]


# ---------------------------------------------------------------------------- tokens
def _jwt_part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_short_lived_token_is_refreshed_at_the_emulator_and_rotated_on_disk(emu, tmp_path, clean):
    store = emu.write_token_store(tmp_path / "garmin_tokens.json", access_ttl_s=60)
    before = json.loads(store.read_text())
    assert _jwt_part(before["di_token"], 0)["alg"] == "HS256"
    claims = _jwt_part(before["di_token"], 1)
    assert claims["client_id"] == before["di_client_id"]
    assert claims["exp"] - claims["iat"] == 60  # < 900: the client must refresh first
    assert store.stat().st_mode & 0o777 == 0o600

    garmin = client_for(emu)
    garmin.login(str(store))
    log = emu.request_log
    assert (log[0].method, log[0].path, log[0].status) == ("POST", TOKEN_PATH, 200)
    assert (log[1].path, log[1].status) == ("/userprofile-service/socialProfile", 200)
    assert [r.path for r in log].count(TOKEN_PATH) == 1
    after = json.loads(store.read_text())
    assert after["di_refresh_token"] != before["di_refresh_token"]
    assert after["di_refresh_token"] == garmin.client.di_refresh_token
    assert after["di_token"] == garmin.client.di_token
    fresh = _jwt_part(after["di_token"], 1)
    assert fresh["exp"] - fresh["iat"] == 3600
    replay = requests.post(
        emu.base_url + TOKEN_PATH,
        data={"grant_type": "refresh_token", "refresh_token": before["di_refresh_token"]},
        timeout=10,
    )
    assert replay.status_code == 400  # the rotated-out refresh token is spent


def test_after_expire_tokens_the_client_gets_401_refreshes_and_succeeds(
    emu, athlete60, tmp_path, clean
):
    garmin, store = login(emu, tmp_path)
    old = json.loads(store.read_text())
    emu.clear_request_log()
    emu.faults.expire_tokens()
    steps = garmin.get_user_summary(DAY.isoformat())["totalSteps"]
    assert steps == athlete60.daily_summary(DAY)["totalSteps"]
    assert [(r.method, r.path, r.status) for r in emu.request_log] == [
        ("GET", SUMMARY_PATH, 401),
        ("POST", TOKEN_PATH, 200),
        ("GET", SUMMARY_PATH, 200),
    ]
    assert json.loads(store.read_text())["di_refresh_token"] != old["di_refresh_token"]


def test_requests_without_a_good_token_are_refused(emu, athlete60, clean):
    path = "/userprofile-service/socialProfile"
    assert get(emu, path, headers={"X": "none"}).status_code == 401
    assert get(emu, path, headers={"Authorization": "Bearer not.a.jwt"}).status_code == 401
    stranger = TokenAuthority(seed=43).issue()["access_token"]  # signed with another key
    assert get(emu, path, headers={"Authorization": f"Bearer {stranger}"}).status_code == 401
    expired = emu.tokens.issue(access_ttl_s=-1)["access_token"]
    refused = get(emu, path, headers={"Authorization": f"Bearer {expired}"})
    assert (refused.status_code, refused.json()) == (
        401,
        {"message": "Unauthorized: token expired"},
    )
    assert get(emu, path).status_code == 200
    assert get(emu, "/no-such-service/at-all").json()["message"].startswith("No such endpoint")
    assert get(emu, "/no-such-service/at-all").status_code == 404
    other_user = "/usersummary-service/usersummary/daily/someone-else"
    assert get(emu, other_user, params={"calendarDate": "2024-03-01"}).status_code == 403
    assert get(emu, SUMMARY_PATH).status_code == 400  # calendarDate is required


@pytest.mark.fast
@pytest.mark.parametrize("name", ["existing_dir", "tokens", "tokens.json", "TOKENS.JSON", "t.txt"])
def test_the_token_store_path_is_where_garminconnect_looks(tmp_path, name):
    (tmp_path / "existing_dir").mkdir()
    target = str(tmp_path / name)
    assert token_file_path(target) == garminconnect_token_file_path(target)


# ---------------------------------------------------------------------------- faults
def test_a_429_carries_retry_after_and_the_client_raises_too_many_requests(
    emu, athlete60, tmp_path, clean
):
    garmin, _ = login(emu, tmp_path)
    emu.faults.add("/usersummary-service/", status=429, retry_after=120, times=2)
    with pytest.raises(GarminConnectTooManyRequestsError):
        garmin.get_user_summary(DAY.isoformat())
    raw = get(emu, SUMMARY_PATH, params={"calendarDate": DAY.isoformat()})
    assert raw.status_code == 429
    assert raw.headers["Retry-After"] == "120"
    assert "429" in raw.json()["message"]
    assert garmin.get_user_summary(DAY.isoformat())["totalSteps"] > 0  # both uses spent
    summary = [r.status for r in emu.request_log if r.path == SUMMARY_PATH]
    assert summary == [429, 429, 200]


def test_5xx_bursts_delays_and_regex_rules(emu, clean):
    path = "/wellness-service/wellness/dailyHeartRate/synthetic-athlete-42"
    emu.faults.add(re.compile(r"/dailyHeartRate/"), status=503, times=2)
    statuses = [get(emu, path, params={"date": "2024-03-01"}).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    emu.faults.add("/hrv-service/", delay_s=0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(emu.base_url + "/hrv-service/hrv/2024-03-01", headers=bearer(emu), timeout=0.2)
    assert get(emu, "/hrv-service/hrv/2024-03-01").status_code in (200, 204)
    assert emu.faults.rules == []
    endless = emu.faults.add("/device-service/", status=500, times=None)
    assert [get(emu, "/device-service/deviceservice/mylastused").status_code for _ in range(3)] == [
        500
    ] * 3
    assert endless.hits == 3


def test_the_fault_plan_can_be_swapped_while_serving(emu, clean):
    plan = FaultPlan()
    plan.add("/userprofile-service/", status=418)
    previous = emu.faults
    emu.faults = plan
    try:
        assert get(emu, "/userprofile-service/socialProfile").status_code == 418
    finally:
        emu.faults = previous


# ---------------------------------------------------------------------------- FIT files
def _decode(data: bytes) -> dict[str, list[dict[str, Any]]]:
    messages: dict[str, list[dict[str, Any]]] = {}
    with fitdecode.FitReader(
        io.BytesIO(data),
        check_crc=fitdecode.CrcCheck.RAISE,
        error_handling=fitdecode.ErrorHandling.RAISE,
    ) as reader:
        for frame in reader:
            if isinstance(frame, fitdecode.FitDataMessage):
                fields = {f.name: f.value for f in frame.fields}
                messages.setdefault(frame.name, []).append(fields)
    return messages


def test_every_fit_file_decodes_with_crc_checks_and_matches_its_activity(athlete60):
    activities = athlete60.activities()
    assert len(activities) >= 20
    for activity in activities:
        fit = _decode(athlete60.fit_bytes(activity.activity_id))
        assert len(fit["record"]) == activity.record_count
        assert len(fit["lap"]) == activity.lap_count
        (session,) = fit["session"]
        assert session["total_distance"] == pytest.approx(activity.distance_m, abs=0.01)
        assert session["total_timer_time"] == activity.duration_s
        assert session["num_laps"] == activity.lap_count
        assert session["avg_heart_rate"] == activity.avg_hr
        assert sum(lap["total_distance"] for lap in fit["lap"]) == pytest.approx(
            activity.distance_m, abs=0.05
        )
        (file_id,) = fit["file_id"]
        assert file_id["type"] == "activity"
        assert file_id["manufacturer"] == "garmin"
        assert file_id["time_created"] == activity.start_time_utc
        records = fit["record"]
        assert records[0]["timestamp"] == activity.start_time_utc
        assert records[-1]["timestamp"] == activity.end_time_utc
        assert records[-1]["distance"] == pytest.approx(activity.distance_m, abs=0.01)
        (done,) = fit["activity"]
        offset = done["local_timestamp"] - done["timestamp"]
        assert offset.total_seconds() == activity.utc_offset_s
        if activity.sport == "lap_swimming":
            assert session["sub_sport"] == "lap_swimming"
            assert session["pool_length"] == 25.0
            assert len(fit["length"]) == session["num_lengths"]
            assert "position_lat" not in records[0]
        else:
            latitude = records[0]["position_lat"] * 180 / 2**31  # semicircles
            assert latitude == pytest.approx(activity.start_lat, abs=1e-6)
            assert 48.7 < latitude < 49.0  # around Paris
            assert records[0]["enhanced_altitude"] is not None
        if activity.sport == "cycling":
            assert session["avg_power"] == activity.avg_power_w
            assert all("power" in r for r in records)


def test_the_definition_reusing_encoder_writes_the_sdks_bytes(athlete60, monkeypatch):
    """The emulator's encoder keeps a message definition per arrangement instead of building
    one per message; every activity of the 60 days (runs, rides, swims) must come out byte for
    byte as the FIT SDK's own encoder writes it."""
    from garmin_fit_sdk import Encoder

    from garmin_emulator import fitgen

    activities = [a for day in athlete60.history() for a in athlete60.activities_on(day)]
    assert len({a.sport for a in activities}) >= 3

    def encoded() -> list[bytes]:
        return [
            fitgen.encode_activity(a, athlete60.track(a.activity_id), athlete60.profile)
            for a in activities
        ]

    reusing = encoded()
    monkeypatch.setattr(fitgen, "DefinitionReusingEncoder", Encoder)
    assert encoded() == reusing
