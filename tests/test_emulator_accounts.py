"""One emulator serving two Garmin accounts (a household): each account's token store, SSO login
and Personal API key read that account's athlete only, a token never opens the other athlete's
display-name paths, and the request log, faults and token expiry keep the accounts apart. The
real garminconnect and garmin_personal_api clients talk loopback HTTP to the emulator."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from garmin_personal_api.auth import PersonalApiAuthenticator
from garmin_personal_api.client import GarminPersonalApiClient
from garmin_personal_api.errors import HttpError
from garminconnect import (
    Garmin,
    GarminConnectConnectionError,
    GarminConnectTooManyRequestsError,
)

from garmin_emulator import Emulator, SyntheticAthlete, stats_shapes
from garmin_emulator.accounts import other_credentials, other_personal_api_key
from garmin_emulator.auth import TokenAuthority
from garmin_pipeline.errors import SourceAuthError
from garmin_pipeline.settings import Settings
from garmin_pipeline.sources.connect.login import start_login
from tests.conftest import ATHLETE_DAYS, ATHLETE_END, TOKEN_PATH, client_for

DAY = date(2024, 6, 20)
LOGIN_PATH = "/mobile/api/login"
SUMMARY = "/usersummary-service/usersummary/daily/"
PERSONAL_TOKEN_PATH = "/personal-api/personalapitoken-service/personal-api/personal-api-key/token"


@pytest.fixture(scope="module")
def alice() -> SyntheticAthlete:
    return SyntheticAthlete(seed=7, end_date=ATHLETE_END, days=ATHLETE_DAYS)


@pytest.fixture(scope="module")
def bob() -> SyntheticAthlete:
    return SyntheticAthlete(seed=8, end_date=ATHLETE_END, days=ATHLETE_DAYS)


@pytest.fixture(scope="module")
def household(alice, bob) -> Iterator[Emulator]:
    with Emulator(alice, port=0, account="alice", others={"bob": bob}) as emu:
        yield emu


@pytest.fixture
def emu(household: Emulator, monkeypatch) -> Iterator[Emulator]:
    """The household emulator with no fault rules, an empty log and no login delay."""
    monkeypatch.setenv("GARMIN_LOGIN_DELAY_S", "0")
    household.faults.clear()
    household.clear_request_log()
    yield household
    household.faults.clear()


def logged_in(emu: Emulator, root: Path, account: str) -> Garmin:
    """The real client, logged in from the token store the emulator wrote for ``account``."""
    emu.write_token_store(root / account, account=account)
    garmin = client_for(emu)
    garmin.login(str(root / account))
    return garmin


def claims(jwt: str) -> dict[str, Any]:
    body = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def personal_client(emu: Emulator, root: Path, account: str) -> GarminPersonalApiClient:
    """Garmin's Personal API client, its bearer token exchanged for ``account``'s key."""
    auth = PersonalApiAuthenticator(bearer_token_cache_file=root / f"{account}-bearer.json")
    auth.base_url = emu.personal_api_url
    token = auth.obtain_token(emu.personal_api_key_for(account))
    api = GarminPersonalApiClient(token.access_token)
    api.base_url = emu.personal_api_url
    return api


def by_account(emu: Emulator) -> Counter[str | None]:
    return Counter(record.account for record in emu.request_log)


# ---------------------------------------------------------------------------- Connect tokens
def test_each_accounts_token_store_reads_its_own_athlete(emu, alice, bob, tmp_path):
    served: dict[str, list[tuple[int, str]]] = {}
    for name, athlete in (("alice", alice), ("bob", bob)):
        emu.clear_request_log()
        garmin = logged_in(emu, tmp_path, name)
        assert garmin.display_name == athlete.display_name
        summary = garmin.get_user_summary(DAY.isoformat())
        assert summary == athlete.daily_summary(DAY)
        assert summary["userProfileId"] == athlete.profile.profile_id
        stress = garmin.get_all_day_stress(DAY.isoformat())  # no display name in this path
        assert stress["avgStressLevel"] == athlete.stress(DAY)["avgStressLevel"]
        listed = garmin.get_activities_by_date(str(athlete.first_day), str(athlete.last_day))
        served[name] = sorted((item["activityId"], item["startTimeGMT"]) for item in listed)
        expected = [athlete.activity_list_item(a.activity_id) for a in athlete.activities()]
        assert served[name] == sorted((a["activityId"], a["startTimeGMT"]) for a in expected)
        assert {r.account for r in emu.request_log} == {name}  # the login's requests too
    # Two different athletes, so the equalities above could not hold by accident.
    assert alice.display_name != bob.display_name
    assert alice.profile.profile_id != bob.profile.profile_id
    steps = [a.daily_summary(DAY)["totalSteps"] for a in (alice, bob)]
    assert steps[0] != steps[1]
    assert served["alice"] != served["bob"]


def test_the_token_names_its_account_and_a_forged_claim_is_refused(emu, alice, tmp_path):
    store = json.loads(emu.write_token_store(tmp_path / "bob", account="bob").read_text())
    assert claims(store["di_token"])["account"] == "bob"
    assert claims(store["di_refresh_token"])["account"] == "bob"
    alices = emu.accounts["alice"].tokens.issue()["access_token"]
    head, _, signature = alices.split(".")
    as_bob = {**claims(alices), "account": "bob"}
    forged = base64.urlsafe_b64encode(json.dumps(as_bob).encode()).rstrip(b"=").decode()
    url = emu.base_url + SUMMARY + alice.display_name
    params = {"calendarDate": DAY.isoformat()}

    def status(token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        return requests.get(url, headers=headers, params=params, timeout=10).status_code

    assert status(alices) == 200
    assert status(f"{head}.{forged}.{signature}") == 401  # bob's claim under alice's signature
    assert [(r.status, r.account) for r in emu.request_log] == [(200, "alice"), (401, "bob")]
    # The claim is checked too, not only the seed's signing key.
    same_key = TokenAuthority(seed=7, account="bob")
    assert same_key.check(f"Bearer {alices}") == "invalid token"
    assert TokenAuthority(seed=7, account="alice").check(f"Bearer {alices}") is None


def test_a_token_on_the_other_athletes_display_name_paths_is_refused(emu, alice, bob, tmp_path):
    garmin = logged_in(emu, tmp_path, "alice")
    emu.clear_request_log()
    garmin.display_name = bob.display_name  # alice's client asks for bob's pages
    with pytest.raises(GarminConnectConnectionError, match="API Error 403"):
        garmin.get_user_summary(DAY.isoformat())
    with pytest.raises(GarminConnectConnectionError, match="API Error 403"):
        garmin.get_heart_rates(DAY.isoformat())
    refused = [(r.path, r.status, r.account) for r in emu.request_log]
    assert refused == [
        (SUMMARY + bob.display_name, 403, "alice"),
        (f"/wellness-service/wellness/dailyHeartRate/{bob.display_name}", 403, "alice"),
    ]
    token = {"Authorization": f"Bearer {emu.accounts['alice'].tokens.issue()['access_token']}"}
    gear = requests.get(
        emu.base_url + "/gear-service/gear/filterGear",
        headers=token,
        params={"userProfilePk": bob.profile.profile_id},
        timeout=10,
    )
    assert gear.status_code == 403
    garmin.display_name = alice.display_name
    summary = garmin.get_user_summary(DAY.isoformat())
    assert summary["totalSteps"] == alice.daily_summary(DAY)["totalSteps"]


def test_an_sso_login_with_bobs_credentials_yields_bobs_tokens(emu, alice, bob, tmp_path):
    assert emu.credentials_for("bob") == other_credentials("bob")
    assert emu.credentials_for("alice") != emu.credentials_for("bob")
    for name, athlete in (("bob", bob), ("alice", alice)):
        settings = Settings.from_env(
            {
                "GARMIN_API_URL": emu.base_url,
                "GARMIN_TOKENS": str(tmp_path / name / "tokens"),
                "GARMIN_DATA_DIR": str(tmp_path / name / "data"),
            }
        )
        emu.clear_request_log()
        email, password = emu.credentials_for(name) or ("", "")
        done = start_login(settings, email, password)
        assert done.display_name == athlete.display_name
        assert done.token_file is not None
        stored = json.loads(done.token_file.read_text())
        assert claims(stored["di_token"])["account"] == name
        attributed = {(r.path, r.account) for r in emu.request_log}
        assert {(LOGIN_PATH, name), (TOKEN_PATH, name)} <= attributed
        garmin = client_for(emu)
        garmin.login(str(done.token_file))
        summary = garmin.get_user_summary(DAY.isoformat())
        assert summary["totalSteps"] == athlete.daily_summary(DAY)["totalSteps"]
    # Bob's password is no key to alice's e-mail.
    alice_email = (emu.credentials_for("alice") or ("", ""))[0]
    settings = Settings.from_env({"GARMIN_API_URL": emu.base_url, **_dirs(tmp_path / "mixed")})
    with pytest.raises(SourceAuthError):
        start_login(settings, alice_email, other_credentials("bob")[1])


def _dirs(root: Path) -> dict[str, str]:
    return {"GARMIN_TOKENS": str(root / "tokens"), "GARMIN_DATA_DIR": str(root / "data")}


def test_a_refreshed_token_stays_its_accounts(emu, bob, tmp_path):
    emu.write_token_store(tmp_path / "bob", access_ttl_s=60, account="bob")  # refresh first
    garmin = client_for(emu)
    garmin.login(str(tmp_path / "bob"))
    summary = garmin.get_user_summary(DAY.isoformat())
    assert summary["totalSteps"] == bob.daily_summary(DAY)["totalSteps"]
    assert claims(garmin.client.di_token)["account"] == "bob"
    refreshes = [(r.status, r.account) for r in emu.request_log if r.path == TOKEN_PATH]
    assert refreshes == [(200, "bob")]


# ---------------------------------------------------------------------------- Personal API
def test_each_personal_api_key_reads_its_own_athlete(emu, alice, bob, tmp_path):
    assert emu.personal_api_key == emu.personal_api_key_for("alice")
    assert emu.personal_api_key_for("bob") == other_personal_api_key("bob")
    for name, athlete in (("alice", alice), ("bob", bob)):
        with personal_client(emu, tmp_path, name) as api:
            assert api.get_daily_heart_rate(DAY) == athlete.heart_rate(DAY)
            assert api.get_daily_steps(DAY, DAY) == stats_shapes.daily_steps(athlete, [DAY])
            settings = api.get_user_profile_settings()
            assert settings["id"] == athlete.user_settings()["id"]
    alices, bobs = (stats_shapes.daily_steps(a, [DAY]) for a in (alice, bob))
    assert alices != bobs
    exchanges = [(r.status, r.account) for r in emu.request_log if r.path == PERSONAL_TOKEN_PATH]
    assert exchanges == [(200, "alice"), (200, "bob")]
    assert by_account(emu) == {"alice": 4, "bob": 4}


def test_revoking_one_accounts_key_leaves_the_others(emu, tmp_path):
    control = emu.base_url + "/_emulator/personal-api/revoke-key"
    try:
        assert requests.post(control, params={"account": "bob"}, json={}, timeout=10).json() == {
            "revoked": True
        }
        with pytest.raises(HttpError) as refused:
            personal_client(emu, tmp_path, "bob")
        assert refused.value.status_code == 401
        assert json.loads(refused.value.response_text) == {"message": "The API key was revoked"}
        personal_client(emu, tmp_path, "alice").close()
        assert (
            requests.post(control, params={"account": "carol"}, json={}, timeout=10).status_code
            == 404
        )
    finally:
        emu.accounts["bob"].personal_api.set_key(other_personal_api_key("bob"))


# ---------------------------------------------------------------------------- separate budgets
def test_the_request_log_and_faults_keep_the_accounts_apart(emu, alice, bob, tmp_path):
    clients = {name: logged_in(emu, tmp_path, name) for name in ("alice", "bob")}
    emu.clear_request_log()
    for day in ("2024-06-18", "2024-06-19", "2024-06-20"):
        clients["alice"].get_user_summary(day)
    clients["bob"].get_user_summary("2024-06-20")
    assert by_account(emu) == {"alice": 3, "bob": 1}

    emu.clear_request_log()
    emu.faults.add(SUMMARY, 429, retry_after=60, times=None, account="bob")
    with pytest.raises(GarminConnectTooManyRequestsError):
        clients["bob"].get_user_summary(DAY.isoformat())
    summary = clients["alice"].get_user_summary(DAY.isoformat())
    assert summary["totalSteps"] == alice.daily_summary(DAY)["totalSteps"]
    assert [(r.account, r.status) for r in emu.request_log] == [("bob", 429), ("alice", 200)]
    assert [rule.to_json()["account"] for rule in emu.faults.rules] == ["bob"]


def test_expiring_one_accounts_tokens_leaves_the_others(emu, alice, bob, tmp_path):
    clients = {name: logged_in(emu, tmp_path, name) for name in ("alice", "bob")}
    emu.clear_request_log()
    control = emu.base_url + "/_emulator/expire-tokens"
    expired = requests.post(control, params={"account": "bob"}, json={}, timeout=10)
    assert expired.json() == {"account": "bob"}
    for name, athlete in (("bob", bob), ("alice", alice)):
        summary = clients[name].get_user_summary(DAY.isoformat())
        assert summary["totalSteps"] == athlete.daily_summary(DAY)["totalSteps"]
    assert [(r.account, r.path, r.status) for r in emu.request_log] == [
        ("bob", SUMMARY + bob.display_name, 401),
        ("bob", TOKEN_PATH, 200),
        ("bob", SUMMARY + bob.display_name, 200),
        ("alice", SUMMARY + alice.display_name, 200),
    ]
    assert (
        requests.post(control, params={"account": "carol"}, json={}, timeout=10).status_code == 404
    )


# ---------------------------------------------------------------------------- construction
def test_a_one_athlete_emulator_serves_the_default_account(alice, tmp_path):
    with Emulator(alice, port=0) as single:
        assert list(single.accounts) == ["default"]
        garmin = logged_in(single, tmp_path, "default")
        assert garmin.get_user_summary(DAY.isoformat()) == alice.daily_summary(DAY)
        assert {r.account for r in single.request_log} == {"default"}
        with pytest.raises(KeyError, match="no account 'bob'"):
            single.write_token_store(tmp_path / "bob", account="bob")


@pytest.mark.fast
@pytest.mark.parametrize(
    ("account", "others", "message"),
    [
        ("default", {"bob": SyntheticAthlete(seed=7, days=1)}, "the same seed 7"),
        ("default", {"Bob Smith": SyntheticAthlete(seed=8, days=1)}, "not a slug"),
        ("bob", {"bob": SyntheticAthlete(seed=8, days=1)}, "is the primary account"),
    ],
)
def test_accounts_the_emulator_could_not_tell_apart_are_refused(account, others, message):
    with pytest.raises(ValueError, match=message):
        Emulator(SyntheticAthlete(seed=7, days=1), account=account, others=others)
