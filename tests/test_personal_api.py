"""The `personal_api` source: Garmin's own client over real HTTP to the emulator's Personal API.

Where the key comes from and how it is refused, the bearer token cached across runs and renewed
(before expiry and after a 401), 429s through the shared governor and the Personal API's own
breaker, the key's expiry check, the source modes and per-feed choices, and
`login --personal-api`. The keyring is an in-memory stand-in (no system keyring exists here).
"""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from assets.raw import FETCHED_CHECK
from garmin_emulator import DEFAULT_PERSONAL_API_KEY, Emulator, SyntheticAthlete
from garmin_pipeline.catalog import feed
from garmin_pipeline.errors import RateLimitedError, SourceAuthError
from garmin_pipeline.settings import Settings, SettingsError
from garmin_pipeline.sources.breaker import CircuitBreaker
from garmin_pipeline.sources.personal_api import PersonalApiSource
from garmin_pipeline.sources.personal_api.keys import (
    CREATE_KEY_URL,
    KEY_RECORD_NAME,
    bearer_cache_path,
    key_health,
    record_key,
    resolve_key,
)
from garmin_pipeline.sources.selection import check_feed_sources, source_for
from tests.conftest import ATHLETE_END, latest_check, pipeline_env, run_cli

TOKEN_PATH = "/personal-api/personalapitoken-service/personal-api/personal-api-key/token"
STEPS = "/personal-api/usersummary-service/stats/steps/daily/"
WINDOW = (ATHLETE_END - timedelta(days=6), ATHLETE_END)


@pytest.fixture(scope="module")
def served(athlete: SyntheticAthlete) -> Iterator[Emulator]:
    """A private emulator: these tests revoke its key and expire its tokens."""
    with Emulator(athlete, port=0) as emulator:
        yield emulator


@pytest.fixture
def emu(served: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    served.faults.clear()
    served.personal_api.set_key(DEFAULT_PERSONAL_API_KEY)
    served.clear_request_log()
    monkeypatch.setenv("GARMIN_PERSONAL_API_KEY", DEFAULT_PERSONAL_API_KEY)
    yield served
    served.faults.clear()
    served.personal_api.set_key(DEFAULT_PERSONAL_API_KEY)


def settings_for(emu: Emulator, root: Path, **extra: str) -> Settings:
    return Settings.from_env(
        {
            "GARMIN_API_URL": emu.base_url,
            "GARMIN_TOKENS": str(root / "tokens"),
            "GARMIN_DATA_DIR": str(root / "data"),
            "GARMIN_PERSONAL_API_KEY_FILE": str(root / "key"),
            "GARMIN_SOURCE": "personal_api",
            **extra,
        }
    )


def steps(source: PersonalApiSource) -> dict[str, int]:
    answer = source.json("steps", "get_daily_steps", *(d.isoformat() for d in WINDOW))
    return {entry["calendarDate"]: entry["totalSteps"] for entry in answer}


def paths(emu: Emulator) -> list[tuple[str, int]]:
    return [(record.path, record.status) for record in emu.request_log]


def test_reads_the_athletes_values_through_the_personal_api(emu, athlete, tmp_path):
    source = PersonalApiSource(settings_for(emu, tmp_path))
    window = [WINDOW[0] + timedelta(days=i) for i in range(7)]
    assert steps(source) == {
        day.isoformat(): athlete.daily_summary(day)["totalSteps"] for day in window
    }
    assert str(source.timezone) == athlete.personal_information()["timeZone"]
    assert all(path.startswith("/personal-api/") for path, _ in paths(emu))


def test_the_bearer_token_is_cached_0600_and_reused_by_the_next_run(emu, tmp_path):
    settings = settings_for(emu, tmp_path)
    steps(PersonalApiSource(settings))
    steps(PersonalApiSource(settings))
    exchanges = [status for path, status in paths(emu) if path == TOKEN_PATH]
    assert exchanges == [200]
    cache = bearer_cache_path(settings)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert DEFAULT_PERSONAL_API_KEY not in cache.read_text()


def test_a_token_near_its_expiry_is_renewed_before_it_is_used(emu, tmp_path):
    settings = settings_for(emu, tmp_path)
    steps(PersonalApiSource(settings))
    # A day later, an hour before the 24 h token lapses: Garmin's client asks for a new one.
    later = PersonalApiSource(settings, clock=lambda: time.time() + 23.5 * 3600)
    steps(later)
    assert [s for p, s in paths(emu) if p == TOKEN_PATH] == [200, 200]
    assert all(status == 200 for _, status in paths(emu))


def test_a_bearer_token_refused_early_is_exchanged_again_once(emu, tmp_path):
    source = PersonalApiSource(settings_for(emu, tmp_path))
    before = steps(source)
    emu.personal_api.expire_tokens()
    emu.clear_request_log()
    assert steps(source) == before
    assert [(p.split("/")[-3] if p.startswith(STEPS) else p, s) for p, s in paths(emu)] == [
        ("daily", 401),
        (TOKEN_PATH, 200),
        ("daily", 200),
    ]


@pytest.mark.parametrize("refusal", ["revoked", "expired"])
def test_a_revoked_or_expired_key_says_how_to_create_a_new_one(emu, tmp_path, refusal):
    if refusal == "revoked":
        emu.personal_api.revoke_key()
    else:
        emu.personal_api.set_key(DEFAULT_PERSONAL_API_KEY, datetime.now(UTC) - timedelta(days=1))
    with pytest.raises(SourceAuthError) as raised:
        steps(PersonalApiSource(settings_for(emu, tmp_path)))
    message = str(raised.value)
    assert "\n" not in message
    assert "Garmin refused the Personal API key from GARMIN_PERSONAL_API_KEY" in message
    assert CREATE_KEY_URL in message and "garmin-pipeline login --personal-api" in message
    assert DEFAULT_PERSONAL_API_KEY not in message
    assert paths(emu) == [(TOKEN_PATH, 401)]  # no data request, no second exchange


def test_a_short_retry_after_is_waited_out_once(emu, tmp_path):
    emu.faults.add(STEPS, 429, retry_after=1)
    source = PersonalApiSource(settings_for(emu, tmp_path))
    assert len(steps(source)) == 7
    assert [s for p, s in paths(emu) if p.startswith(STEPS)] == [429, 200]


def test_a_long_429_opens_the_personal_api_breaker_only(emu, tmp_path):
    settings = settings_for(emu, tmp_path)
    emu.faults.add(STEPS, 429, retry_after=7200)
    with pytest.raises(RateLimitedError, match="the Personal API answered 429"):
        steps(PersonalApiSource(settings))
    personal = CircuitBreaker(settings.personal_api_breaker_path).state()
    assert personal.open
    assert personal.remaining >= timedelta(hours=1, minutes=59)
    assert not CircuitBreaker(settings.breaker_path).state().open  # Connect's budget untouched
    emu.clear_request_log()
    with pytest.raises(RateLimitedError, match="cooling down until"):
        steps(PersonalApiSource(settings))  # the next run sends nothing
    assert paths(emu) == []


def test_the_key_comes_from_the_environment_then_the_keyring_then_the_file(
    emu, tmp_path, monkeypatch, memory_keyring
):
    settings = settings_for(emu, tmp_path)
    settings.personal_api_key_file.write_text("from-the-file\n")
    settings.personal_api_key_file.chmod(0o600)
    memory_keyring.set_password("garmin-pipeline", "personal-api-key:default", "from-the-keyring")
    assert resolve_key(settings).value == DEFAULT_PERSONAL_API_KEY
    monkeypatch.delenv("GARMIN_PERSONAL_API_KEY")
    assert resolve_key(settings).value == "from-the-keyring"
    memory_keyring.entries.clear()
    assert (resolve_key(settings).value, resolve_key(settings).origin) == (
        "from-the-file",
        str(settings.personal_api_key_file),
    )
    settings.personal_api_key_file.chmod(0o644)
    with pytest.raises(SourceAuthError, match="readable by other users: run chmod 600"):
        resolve_key(settings)
    settings.personal_api_key_file.unlink()
    with pytest.raises(SourceAuthError, match="no Garmin Personal API key") as raised:
        resolve_key(settings)
    assert CREATE_KEY_URL in str(raised.value)


def test_key_health_warns_before_the_recorded_expiry(emu, tmp_path):
    settings = settings_for(emu, tmp_path, GARMIN_TOKEN_WARN_DAYS="7")
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    assert key_health(settings, now).status == "unknown"
    record_key(settings, DEFAULT_PERSONAL_API_KEY, date(2027, 11, 25))
    record = (settings.token_store / KEY_RECORD_NAME).read_text()
    assert DEFAULT_PERSONAL_API_KEY not in record
    healthy = key_health(settings, now)
    assert (healthy.status, healthy.expires_on) == ("ok", date(2027, 11, 25))
    assert healthy.days_left == pytest.approx(365.5, abs=0.01)
    record_key(settings, DEFAULT_PERSONAL_API_KEY, date(2026, 11, 28))
    warned = key_health(settings, now)
    assert warned.status == "warn" and "expires in 3.5 days (on 2026-11-28)" in warned.message
    assert CREATE_KEY_URL in warned.message
    record_key(settings, DEFAULT_PERSONAL_API_KEY, date(2026, 11, 24))
    assert key_health(settings, now).status == "expired"
    record_key(settings, "another key", date(2027, 11, 25))  # recorded for a different key
    assert key_health(settings, now).status == "unknown"


def test_modes_and_per_feed_choices(emu, tmp_path):
    base = {
        "GARMIN_API_URL": emu.base_url,
        "GARMIN_PERSONAL_API_KEY_FILE": str(tmp_path / "key"),
    }
    assert Settings.from_env(base).source_mode == "connect"  # no key: nothing else possible
    assert Settings.from_env({**base, "GARMIN_PERSONAL_API_KEY": "k"}).source_mode == "hybrid"
    # A key `login --personal-api` kept in the keyring: its recorded expiry says it is set up.
    tokens = {**base, "GARMIN_TOKENS": str(tmp_path / "tokens" / "garmin_tokens.json")}
    record_key(Settings.from_env(tokens), "k", date(2027, 1, 1))
    assert Settings.from_env(tokens).source_mode == "hybrid"
    (tmp_path / "key").write_text("k")
    hybrid = Settings.from_env(base)
    assert hybrid.source_mode == "hybrid"
    assert hybrid.personal_api_url == emu.personal_api_url  # the emulator's, never Garmin's
    assert source_for(feed("sleep"), hybrid) == "personal_api"
    assert source_for(feed("training_readiness"), hybrid) == "connect"
    # Served a day per request by the Personal API, 28 days per request by Connect.
    assert source_for(feed("fitness_age"), hybrid) == "connect"
    only = Settings.from_env({**base, "GARMIN_SOURCE": "personal_api"})
    assert source_for(feed("training_readiness"), only) is None
    assert source_for(feed("fitness_age"), only) == "personal_api"
    pinned = Settings.from_env({**base, "GARMIN_FEED_SOURCES": "sleep=connect"})
    assert source_for(feed("sleep"), pinned) == "connect"
    assert source_for(feed("daily_summary"), pinned) == "personal_api"
    wrong = Settings.from_env({**base, "GARMIN_FEED_SOURCES": "training_readiness=personal_api"})
    with pytest.raises(SettingsError, match="does not serve it; it can come from: connect"):
        check_feed_sources(wrong, [feed("training_readiness")])
    with pytest.raises(SettingsError, match="'slep', which is not a feed"):
        check_feed_sources(
            Settings.from_env({**base, "GARMIN_FEED_SOURCES": "slep=connect"}), [feed("sleep")]
        )
    with pytest.raises(SettingsError, match="GARMIN_SOURCE='official' is not one of"):
        Settings.from_env({**base, "GARMIN_SOURCE": "official"})
    with pytest.raises(SettingsError, match="is not feed=source"):
        Settings.from_env({**base, "GARMIN_FEED_SOURCES": "sleep=garmin"})


def test_login_personal_api_checks_and_keeps_the_key_and_its_expiry(emu, tmp_path):
    env = {
        **pipeline_env(emu, tmp_path),
        # No system keyring here: the key goes to the 0600 file.
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    env.pop("GARMIN_PERSONAL_API_KEY", None)
    key_file = Path(env["GARMIN_PERSONAL_API_KEY_FILE"])
    refused = run_cli(env, "login", "--personal-api", "--expires", "90", stdin="not-the-key\n")
    assert refused.returncode == 1
    assert "Garmin refused the Personal API key" in refused.stderr
    assert not key_file.exists()

    done = run_cli(
        env, "login", "--personal-api", "--expires", "90", stdin=DEFAULT_PERSONAL_API_KEY + "\n"
    )
    assert done.returncode == 0, done.stderr
    expires = date.today() + timedelta(days=90)
    assert f"kept in {key_file}, expires on {expires}" in done.stdout
    assert key_file.read_text().strip() == DEFAULT_PERSONAL_API_KEY
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    record = json.loads((Path(env["GARMIN_TOKENS"]).parent / KEY_RECORD_NAME).read_text())
    assert record["expires_on"] == expires.isoformat()
    assert DEFAULT_PERSONAL_API_KEY not in done.stdout + done.stderr

    status = run_cli(env, "status")  # the key file now makes hybrid the default
    assert "GARMIN_SOURCE=hybrid" in status.stdout
    assert "personal api key: the Personal API key is good for 9" in status.stdout
    assert f"(until {expires})" in status.stdout


def test_hybrid_keeps_syncing_the_personal_api_while_connect_cools_down(emu, athlete, tmp_path):
    env = pipeline_env(emu, tmp_path, source="hybrid")
    settings = Settings.from_env(env)
    CircuitBreaker(settings.breaker_path).trip("an earlier sync", retry_after_s=3600)
    synced = run_cli(env, "sync", "--start", str(athlete.first_day), "--end", str(athlete.last_day))
    assert synced.returncode == 3  # partial: Connect's feeds could not run
    (line,) = [x for x in synced.stderr.splitlines() if x.startswith("sync partial: ")]
    assert "Garmin answered 429" in line
    assert {r.path.split("/")[1] for r in emu.request_log} == {"personal-api"}
    lake = Path(env["GARMIN_DATA_DIR"]) / "lake"
    days = sorted(p.name for p in (lake / "daily_summary" / "account=default").iterdir())
    assert days == [f"date={day}" for day in athlete.history()]
    assert (lake / "sleep").is_dir() and not (lake / "training_readiness").exists()
    # The UI shows which feeds the cooldown held back, and why.
    dagster_home = Path(env["DAGSTER_HOME"])
    held = latest_check(dagster_home, ["raw", "training_readiness"], FETCHED_CHECK)
    assert held.passed is False and held.severity == dg.AssetCheckSeverity.ERROR
    assert "default: raw/training_readiness: " in held.description
    assert "Garmin answered 429" in held.description
    assert latest_check(dagster_home, ["raw", "daily_summary"], FETCHED_CHECK).passed is True
