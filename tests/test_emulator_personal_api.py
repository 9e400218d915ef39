"""The emulator's Personal API, read by Garmin's own ``garmin_personal_api`` client over loopback
HTTP: the API-key exchange and its refusals, bearer tokens that open only their own API, bodies
equal to what the Connect side serves for the same athlete and window, range caps, the
allow-list, and the gate's request log and faults applying to ``/personal-api/...`` paths."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from garmin_personal_api.auth import PersonalApiAuthenticator, _jwt_expiration
from garmin_personal_api.client import GarminPersonalApiClient
from garmin_personal_api.errors import HttpError

from garmin_emulator import (
    DEFAULT_PERSONAL_API_KEY,
    Emulator,
    SyntheticAthlete,
)
from tests.conftest import ATHLETE_END, REPO_ROOT, bearer

TOKEN_PATH = "/personal-api/personalapitoken-service/personal-api/personal-api-key/token"
FIRST = ATHLETE_END - timedelta(days=20)  # the conftest athlete's first day of history
DAY = date(2024, 6, 20)
BEFORE = date(2024, 6, 5)  # five nights before the history starts
# The recorded /biometric-service/heartRateZones item (garth core/test_put.yaml).
ZONE_KEYS = set(
    json.loads((REPO_ROOT / "tests/data/garmin_connect/heart_rate_zones.json").read_text())[0]
)


@pytest.fixture(scope="module")
def served(athlete: SyntheticAthlete) -> Iterator[Emulator]:
    """A private emulator: these tests revoke and replace its key."""
    with Emulator(athlete, port=0) as emulator:
        yield emulator


@pytest.fixture
def emu(served: Emulator) -> Iterator[Emulator]:
    """The module's emulator with the default key, no fault rules and an empty log."""
    served.faults.clear()
    served.personal_api.set_key(DEFAULT_PERSONAL_API_KEY)
    served.clear_request_log()
    yield served
    served.faults.clear()
    served.personal_api.set_key(DEFAULT_PERSONAL_API_KEY)


def authenticator(emu: Emulator, tmp_path: Path) -> PersonalApiAuthenticator:
    auth = PersonalApiAuthenticator(bearer_token_cache_file=tmp_path / "bearer-token.json")
    auth.base_url = emu.personal_api_url
    return auth


@pytest.fixture
def client(emu: Emulator, tmp_path: Path) -> Iterator[GarminPersonalApiClient]:
    """Garmin's client with a bearer token fresh from the emulator's key exchange."""
    token = authenticator(emu, tmp_path).obtain_token(emu.personal_api_key)
    with GarminPersonalApiClient(token.access_token) as api:
        api.base_url = emu.personal_api_url
        yield api


def connect(emu: Emulator, path: str, **params: Any) -> requests.Response:
    """The Connect side's answer, with a DI bearer token."""
    return requests.get(emu.base_url + path, headers=bearer(emu), params=params, timeout=30)


def personal_raw(
    emu: Emulator, api: GarminPersonalApiClient, path: str, **params: Any
) -> requests.Response:
    """The Personal API's answer as bytes, with the client's own bearer token."""
    headers = {"Authorization": api._headers["Authorization"]}
    return requests.get(emu.personal_api_url + path, headers=headers, params=params, timeout=30)


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---------------------------------------------------------------------- the key exchange
def test_the_key_is_exchanged_for_a_24h_jwt_that_the_client_caches(emu, tmp_path):
    auth = authenticator(emu, tmp_path)
    token = auth.obtain_token(emu.personal_api_key)
    assert token.expires_at == pytest.approx(time.time() + 24 * 3600, abs=60)
    assert _jwt_expiration(token.access_token) == token.expires_at
    assert token.access_token in emu.personal_api.issued_tokens
    assert [(r.method, r.path, r.status) for r in emu.request_log] == [("POST", TOKEN_PATH, 200)]

    assert auth.obtain_token(emu.personal_api_key) == token  # from the cache file
    assert len(emu.request_log) == 1

    again = auth.obtain_token(emu.personal_api_key, force_refresh=True)
    assert again.access_token != token.access_token
    payloads = [json.loads(_b64decode(t.access_token.split(".")[1])) for t in (token, again)]
    assert payloads[0]["jti"] != payloads[1]["jti"]


def test_the_token_answer_is_the_bare_jwt_as_text(emu):
    response = requests.post(
        emu.base_url + TOKEN_PATH,
        headers={"Authorization": f"ApiKey {emu.personal_api_key}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.count(".") == 2


def test_a_wrong_key_is_refused(emu, tmp_path):
    with pytest.raises(HttpError) as caught:
        authenticator(emu, tmp_path).obtain_token("not-the-key")
    assert caught.value.status_code == 401
    assert json.loads(caught.value.response_text) == {"message": "Invalid API key"}


def test_a_revoked_key_is_refused(emu, tmp_path):
    emu.personal_api.revoke_key()
    with pytest.raises(HttpError) as caught:
        authenticator(emu, tmp_path).obtain_token(emu.personal_api_key)
    assert caught.value.status_code == 401
    assert "revoked" in json.loads(caught.value.response_text)["message"]


def test_the_control_endpoint_revokes_the_key(emu, tmp_path):
    response = requests.post(
        emu.base_url + "/_emulator/personal-api/revoke-key", json={}, timeout=10
    )
    assert response.status_code == 200
    assert emu.personal_api.revoked
    with pytest.raises(HttpError, match="revoked"):
        authenticator(emu, tmp_path).obtain_token(emu.personal_api_key)


def test_an_expired_key_is_refused_and_a_new_key_works(emu, tmp_path):
    emu.personal_api.set_key("old-key", expires_at=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(HttpError) as caught:
        authenticator(emu, tmp_path).obtain_token("old-key")
    assert caught.value.status_code == 401
    assert "expired" in json.loads(caught.value.response_text)["message"]

    emu.personal_api.set_key("new-key", expires_at=datetime.now(UTC) + timedelta(days=30))
    assert emu.personal_api_key == "new-key"
    assert authenticator(emu, tmp_path).obtain_token("new-key").access_token


def test_the_key_and_its_expiry_are_emulator_arguments(athlete, tmp_path):
    past = datetime.now(UTC) - timedelta(minutes=1)
    with Emulator(athlete, personal_api_key="k", personal_api_key_expires_at=past) as emu:
        assert emu.personal_api_url == emu.base_url + "/personal-api"
        assert emu.personal_api_key == "k"
        with pytest.raises(HttpError, match="expired"):
            authenticator(emu, tmp_path).obtain_token("k")


@pytest.mark.parametrize("how", ["python", "control endpoint"])
def test_expired_bearer_tokens_get_401_on_data_paths(emu, client, how):
    assert client.get_daily_steps(DAY, DAY)
    if how == "python":
        emu.personal_api.expire_tokens()
    else:
        url = emu.base_url + "/_emulator/personal-api/expire-tokens"
        assert requests.post(url, json={}, timeout=10).status_code == 200
    with pytest.raises(HttpError) as caught:
        client.get_daily_steps(DAY, DAY)
    assert caught.value.status_code == 401
    assert "token expired" in json.loads(caught.value.response_text)["message"]


def test_each_api_accepts_only_its_own_tokens(emu, client):
    steps = f"/usersummary-service/stats/steps/daily/{DAY}/{DAY}"
    connect_token = bearer(emu)
    personal_token = {"Authorization": client._headers["Authorization"]}

    def status(base: str, headers: dict[str, str] | None) -> int:
        return requests.get(base + steps, headers=headers, timeout=10).status_code

    assert status(emu.personal_api_url, personal_token) == 200
    assert status(emu.base_url, connect_token) == 200
    assert status(emu.personal_api_url, connect_token) == 401
    assert status(emu.base_url, personal_token) == 401
    assert status(emu.personal_api_url, None) == 401


# ---------------------------------------------------------------------- bodies
NAME = "synthetic-athlete-7"
START, END = BEFORE, ATHLETE_END  # 26 days, the first 5 before the history
SAME_AS_CONNECT: list[tuple[str, Callable[[GarminPersonalApiClient], Any], str, dict]] = [
    (
        "stress",
        lambda c: c.get_daily_stress(START, END),
        f"/usersummary-service/stats/stress/daily/{START}/{END}",
        {},
    ),
    (
        "steps",
        lambda c: c.get_daily_steps(START, END),
        f"/usersummary-service/stats/steps/daily/{START}/{END}",
        {},
    ),
    (
        "hydration",
        lambda c: c.get_daily_hydration(START, END),
        f"/usersummary-service/stats/hydration/daily/{START}/{END}",
        {},
    ),
    (
        "daily summaries",
        lambda c: c.get_daily_summaries(START, END),
        "/usersummary-service/v2/dailysummaries",
        {"startDate": START, "endDate": END},
    ),
    (
        "hrv range",
        lambda c: c.get_daily_hrv_summaries(START, END),
        f"/hrv-service/hrv/daily/{START}/{END}",
        {},
    ),
    ("hrv day", lambda c: c.get_daily_hrv(DAY), f"/hrv-service/hrv/{DAY}", {}),
    (
        "body battery",
        lambda c: c.get_daily_body_battery(START, END),
        "/wellness-service/wellness/bodyBattery/reports/daily",
        {"startDate": START, "endDate": END},
    ),
    (
        "weight range",
        lambda c: c.get_weight_measurements(START, END),
        f"/weight-service/weight/range/{START}/{END}",
        {"includeAll": "true"},
    ),
    (
        "sleep",
        lambda c: c.get_daily_sleep(DAY),
        f"/wellness-service/wellness/dailySleepData/{NAME}",
        {"date": DAY},
    ),
    (
        "sleep, no data",
        lambda c: c.get_daily_sleep(BEFORE),
        f"/wellness-service/wellness/dailySleepData/{NAME}",
        {"date": BEFORE},
    ),
    (
        "heart rate",
        lambda c: c.get_daily_heart_rate(DAY),
        f"/wellness-service/wellness/dailyHeartRate/{NAME}",
        {"date": DAY},
    ),
    (
        "activities",
        lambda c: c.search_activities(start=0, limit=5, start_date=START, end_date=END),
        "/activitylist-service/activities/search/activities",
        {"start": 0, "limit": 5, "startDate": START, "endDate": END},
    ),
]


# Where the Personal API's path differs from Connect's (no display name, another service).
WELLNESS = "/wellness-service/wellness"
PERSONAL_PATHS = {
    f"{WELLNESS}/dailySleepData/{NAME}": "/sleep-service/sleep/dailySleep",
    f"{WELLNESS}/dailyHeartRate/{NAME}": f"{WELLNESS}/dailyHeartRate",
}


@pytest.mark.parametrize(
    ("call", "path", "params"),
    [case[1:] for case in SAME_AS_CONNECT],
    ids=[case[0] for case in SAME_AS_CONNECT],
)
def test_bodies_equal_the_connect_answer(emu, athlete, client, call, path, params):
    assert athlete.display_name == NAME
    theirs = connect(emu, path, **params)
    assert theirs.status_code == 200
    ours = call(client)
    assert ours == theirs.json()
    assert ours  # not vacuous
    personal_path = PERSONAL_PATHS.get(path, path)
    assert personal_raw(emu, client, personal_path, **params).content == theirs.content


def test_hrv_range_without_any_night_is_a_204_on_both_sides(emu, client):
    start, end = date(2024, 5, 1), date(2024, 5, 10)
    assert connect(emu, f"/hrv-service/hrv/daily/{start}/{end}").status_code == 204
    assert client.get_daily_hrv_summaries(start, end) is None


def test_the_original_download_is_connects_zip(emu, athlete, client):
    activity_id = athlete.all_plans()[0].activity_id
    theirs = connect(emu, f"/download-service/files/activity/{activity_id}")
    assert client.download_activity(activity_id) == theirs.content
    assert theirs.content[:2] == b"PK"


def test_weight_range_lists_the_date_range_weigh_ins_by_day(emu, client):
    ours = client.get_weight_measurements(START, END)
    composition = connect(
        emu, "/weight-service/weight/dateRange", startDate=START, endDate=END
    ).json()
    entries = composition["dateWeightList"]
    assert entries
    assert [e for s in ours["dailyWeightSummaries"] for e in s["allWeightMetrics"]] == entries
    dates = [s["summaryDate"] for s in ours["dailyWeightSummaries"]]
    assert dates == sorted({e["calendarDate"] for e in entries}, reverse=True)
    for summary in ours["dailyWeightSummaries"]:
        metrics = summary["allWeightMetrics"]
        assert {e["calendarDate"] for e in metrics} == {summary["summaryDate"]}
        assert summary["numOfWeightEntries"] == len(metrics)
        assert summary["latestWeight"] == metrics[0]
        assert summary["minWeight"] == min(e["weight"] for e in metrics)
        assert summary["maxWeight"] == max(e["weight"] for e in metrics)
    assert ours["totalAverage"] == composition["totalAverage"]
    assert ours["previousDateWeight"]["weight"] is None  # nothing weighed before the history
    assert set(ours["nextDateWeight"]) == set(entries[0])


def test_sleep_summaries_list_every_night_as_connects_per_night_body(emu, athlete, client):
    start, end = BEFORE, BEFORE + timedelta(days=9)  # five nights without data, five with
    nights = client.get_daily_sleep_summaries(start, end)
    days = [start + timedelta(days=n) for n in range(10)]
    assert [night["dailySleepDTO"]["calendarDate"] for night in nights] == [
        d.isoformat() for d in days
    ]
    for day, night in zip(days, nights, strict=True):
        path = f"/wellness-service/wellness/dailySleepData/{athlete.display_name}"
        assert night == connect(emu, path, date=day).json()
    assert nights[0]["dailySleepDTO"]["sleepTimeSeconds"] is None
    assert nights[-1]["dailySleepDTO"]["sleepTimeSeconds"] > 0


def test_spo2_is_the_daily_summarys(emu, athlete, client):
    summary = connect(
        emu, f"/usersummary-service/usersummary/daily/{athlete.display_name}", calendarDate=DAY
    ).json()
    spo2 = client.get_daily_spo2(DAY)
    assert spo2["calendarDate"] == DAY.isoformat()
    assert spo2["averageSPO2"] == summary["averageSpo2"] is not None
    assert spo2["lowestSPO2"] == summary["lowestSpo2"]
    assert spo2["latestSPO2"] == summary["latestSpo2"]
    empty = client.get_daily_spo2(BEFORE)
    assert empty["calendarDate"] == BEFORE.isoformat()
    assert empty["averageSPO2"] is None and empty["lowestSPO2"] is None


def test_fitness_age_is_the_daily_stats_value(emu, athlete, client):
    row = connect(emu, f"/fitnessage-service/stats/daily/{DAY}/{DAY}").json()[0]
    ours = client.get_fitness_age(DAY)
    assert ours["fitnessAge"] == row["values"]["fitnessAge"]
    assert ours["achievableFitnessAge"] == row["values"]["achievableFitnessAge"]
    assert ours["components"]["rhr"]["value"] == row["values"]["rhr"]
    assert 18 < ours["chronologicalAge"] < 60
    assert client.get_fitness_age(BEFORE) is None  # no row: 204


def test_profile_settings_are_connects_user_settings_plus_the_timezone(emu, athlete, client):
    settings = client.get_user_profile_settings()
    user_settings = connect(emu, "/userprofile-service/userprofile/user-settings").json()
    info = connect(
        emu, f"/userprofile-service/userprofile/personal-information/{athlete.display_name}"
    ).json()
    assert {k: settings[k] for k in user_settings} == user_settings
    assert settings["timeZone"] == info["timeZone"] == "Europe/Paris"


def test_heart_rate_zones_have_the_recorded_keys_and_the_athletes_heart_rates(athlete, client):
    zones = client.get_heart_rate_zones()
    assert [set(zone) for zone in zones] == [ZONE_KEYS]
    zone = zones[0]
    assert zone["maxHeartRateUsed"] == athlete.profile.max_hr
    assert zone["restingHeartRateUsed"] == athlete.profile.rest_hr_base
    floors = [zone[f"zone{n}Floor"] for n in range(1, 6)]
    assert zone["restingHeartRateUsed"] < floors[0] < floors[1] < floors[2] < floors[3]
    assert floors[3] < floors[4] < zone["maxHeartRateUsed"]


def test_an_activity_summary_for_a_listed_activity_and_404_otherwise(emu, athlete, client):
    listed = client.search_activities(start=0, limit=1)[0]
    summary = client.get_activity(listed["activityId"])
    assert summary["activityId"] == listed["activityId"]
    assert summary["activityName"] == listed["activityName"]
    assert summary["activityTypeDTO"] == listed["activityType"]
    assert summary["summaryDTO"]["distance"] == listed["distance"]
    assert summary["summaryDTO"]["averageHR"] == listed["averageHR"]
    with pytest.raises(HttpError) as caught:
        client.get_activity(10_000_000_000 + FIRST.toordinal() * 10 + 9)
    assert caught.value.status_code == 404


# ---------------------------------------------------------------------- caps and allow-list
def _window(cap: int) -> tuple[date, date]:
    return END - timedelta(days=cap - 1), END


CAPS: list[tuple[str, int, Callable[[date, date], tuple[str, dict]]]] = [
    ("stress", 28, lambda s, e: (f"/usersummary-service/stats/stress/daily/{s}/{e}", {})),
    ("steps", 28, lambda s, e: (f"/usersummary-service/stats/steps/daily/{s}/{e}", {})),
    ("hydration", 28, lambda s, e: (f"/usersummary-service/stats/hydration/daily/{s}/{e}", {})),
    (
        "daily summaries",
        35,
        lambda s, e: ("/usersummary-service/v2/dailysummaries", {"startDate": s, "endDate": e}),
    ),
    ("hrv range", 35, lambda s, e: (f"/hrv-service/hrv/daily/{s}/{e}", {})),
    (
        "body battery",
        28,
        lambda s, e: (
            "/wellness-service/wellness/bodyBattery/reports/daily",
            {"startDate": s, "endDate": e},
        ),
    ),
    (
        "weight range",
        28,
        lambda s, e: (f"/weight-service/weight/range/{s}/{e}", {"includeAll": "true"}),
    ),
    (
        "sleep summaries",
        31,
        lambda s, e: (
            "/sleep-service/sleep/dailySleepSummariesByDate",
            {"startDate": s, "endDate": e},
        ),
    ),
]


@pytest.mark.parametrize(("cap", "request_for"), [c[1:] for c in CAPS], ids=[c[0] for c in CAPS])
def test_ranges_over_the_cap_are_refused(client, cap, request_for):
    path, params = request_for(*_window(cap))
    assert client.get(path, params={k: str(v) for k, v in params.items()}) is not None
    path, params = request_for(END - timedelta(days=cap), END)
    with pytest.raises(HttpError) as caught:
        client.get(path, params={k: str(v) for k, v in params.items()})
    assert caught.value.status_code == 400
    assert f"exceeds the limit of {cap}" in caught.value.response_text


def test_daily_summaries_cap_is_wider_than_connects(emu, client):
    start, end = _window(29)
    assert (
        connect(
            emu, "/usersummary-service/v2/dailysummaries", startDate=start, endDate=end
        ).status_code
        == 400
    )
    assert len(client.get_daily_summaries(start, end)["data"]) == 29


@pytest.mark.parametrize(
    "path",
    [
        f"/metrics-service/metrics/trainingreadiness/{DAY}/{DAY}",
        "/userprofile-service/userprofile/user-settings",
        f"/usersummary-service/stats/floors/daily/{DAY}/{DAY}",
        "/no-such-service",
    ],
)
def test_paths_off_the_allow_list_are_404(client, path):
    with pytest.raises(HttpError) as caught:
        client.get(path)
    assert caught.value.status_code == 404


# ---------------------------------------------------------------------- the gate
def test_the_request_log_records_full_personal_api_paths(emu, client):
    emu.clear_request_log()
    client.get_daily_steps(DAY, DAY)
    with pytest.raises(HttpError):
        client.get("/no-such-service")
    assert [(r.method, r.path, r.status) for r in emu.request_log] == [
        ("GET", f"/personal-api/usersummary-service/stats/steps/daily/{DAY}/{DAY}", 200),
        ("GET", "/personal-api/no-such-service", 404),
    ]


def test_a_429_rule_on_a_personal_api_path_is_applied(emu, client):
    emu.faults.add("/usersummary-service/stats/steps/", status=500)  # a Connect path: not ours
    emu.faults.add("/personal-api/usersummary-service/stats/steps/", status=429, retry_after=7)
    emu.clear_request_log()
    with pytest.raises(HttpError) as caught:
        client.get_daily_steps(DAY, DAY)
    assert caught.value.status_code == 429
    assert "injected fault" in caught.value.response_text
    assert client.get_daily_steps(DAY, DAY)  # the rule was for one request
    assert [r.status for r in emu.request_log] == [429, 200]
    assert [rule.pattern for rule in emu.faults.rules] == ["/usersummary-service/stats/steps/"]
