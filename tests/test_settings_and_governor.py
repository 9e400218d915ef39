"""Settings fail with a message that says how to fix them; the governor counts by endpoint."""

import time

import pytest

from garmin_pipeline.settings import Settings, SettingsError
from garmin_pipeline.sources.governor import RateGovernor, endpoint_of

pytestmark = pytest.mark.fast


def test_defaults_are_absolute_and_polite_to_real_garmin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.data_dir == tmp_path / "data"
    assert settings.layout.warehouse_path == tmp_path / "data" / "warehouse.duckdb"
    assert settings.api_url is None
    assert settings.request_interval_s == 1.0
    local = Settings.from_env({"GARMIN_API_URL": "http://127.0.0.1:9/"})
    assert local.api_url == "http://127.0.0.1:9"
    assert local.request_interval_s == 0.0


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"GARMIN_ACCOUNT": "Bad Slug"}, "GARMIN_ACCOUNT"),
        ({"GARMIN_API_URL": "localhost:8765"}, "GARMIN_API_URL"),
        ({"GARMIN_PROVISIONAL_DAYS": "sleep=three"}, "GARMIN_PROVISIONAL_DAYS"),
        ({"GARMIN_PROVISIONAL_DAYS": "sleep"}, "GARMIN_PROVISIONAL_DAYS"),
        ({"GARMIN_REQUEST_TIMEOUT_S": "0"}, r"GARMIN_REQUEST_TIMEOUT_S='0' is not seconds above"),
        ({"GARMIN_TOKEN_WARN_DAYS": "31"}, r"GARMIN_TOKEN_WARN_DAYS='31' .* e\.g\. 7$"),
        ({"GARMIN_MAX_PAYLOAD_MB": "nan"}, r"GARMIN_MAX_PAYLOAD_MB='nan' is not a positive"),
        ({"GARMIN_COOLDOWN_HOURS": "4,2"}, "GARMIN_COOLDOWN_HOURS"),
        ({"GARMIN_ACCOUNTS": "alex,../sam"}, r"GARMIN_ACCOUNTS: '\.\./sam' is not a usable"),
        ({"GARMIN_ACCOUNTS": "alex,alex"}, "names an account twice"),
        ({"GARMIN_ACCOUNTS": "alex,sam", "GARMIN_ACCOUNT": "kim"}, "is not one of"),
        ({"GARMIN_LAKE_WORKERS": "0"}, r"GARMIN_LAKE_WORKERS='0' is not a whole number"),
        ({"GARMIN_LAKE_WORKERS": "1.5"}, r"GARMIN_LAKE_WORKERS='1.5' is not a whole number"),
    ],
)
def test_bad_settings_say_which_and_how(env, words):
    with pytest.raises(SettingsError, match=words) as excinfo:
        Settings.from_env(env)
    assert "\n" not in str(excinfo.value)


def test_provisional_days_override_per_feed():
    settings = Settings.from_env({"GARMIN_PROVISIONAL_DAYS": " sleep=3, training_status=7 ,"})
    assert settings.provisional_days == {"sleep": 3, "training_status": 7}
    assert Settings.from_env({}).provisional_days == {}


def test_endpoints_fold_dates_ids_and_the_display_name():
    assert (
        endpoint_of("/usersummary-service/usersummary/daily/jane", "jane")
        == "/usersummary-service/usersummary/daily/{displayName}"
    )
    assert endpoint_of("/download-service/files/activity/10000738960") == (
        "/download-service/files/activity/{id}"
    )
    assert endpoint_of("/hrv-service/hrv/2024-06-01") == "/hrv-service/hrv/{date}"
    assert endpoint_of("/gear-service/gear/stats/99b9bee0-358b-cc69-2718-0d40567abd81") == (
        "/gear-service/gear/stats/{uuid}"
    )


def test_the_governor_paces_requests():
    governor = RateGovernor(min_interval_s=0.05)
    started = time.monotonic()
    for _ in range(4):
        governor.wait_turn()
    assert time.monotonic() - started >= 0.15


def test_each_of_several_accounts_has_its_own_token_store(tmp_path):
    env = {"GARMIN_ACCOUNTS": "alex,sam", "GARMIN_TOKENS": str(tmp_path)}
    settings = Settings.from_env(env)
    assert (settings.account, settings.token_store) == ("alex", tmp_path / "alex")
    sam = settings.for_account("sam")
    assert (sam.account, sam.token_store, sam.breaker_path.name) == (
        "sam",
        tmp_path / "sam",
        "rate_limit-sam.json",
    )
    with pytest.raises(SettingsError, match="'kim' is not one of GARMIN_ACCOUNTS=alex,sam"):
        settings.for_account("kim")
    alone = Settings.from_env({"GARMIN_TOKENS": str(tmp_path)})
    assert alone.for_account("default").token_store == tmp_path  # one account: as before
