"""Logging in: `garmin-pipeline login` (with and without MFA) against the emulator's SSO, the
library's start/resume login across two `Garmin` instances, token health, the unattended
re-login from the environment or the keyring, the legacy garth directory, and no login after a
429. The real garminconnect client talks real HTTP to the emulator throughout; the only stand-in
is an in-memory keyring backend, because a system keyring cannot exist here.

garminconnect pauses 2-5 s before posting credentials; GARMIN_LOGIN_DELAY_S=0 (honoured only for
a loopback GARMIN_API_URL) removes that wait in the CLI child processes and in-process alike.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from garmin_emulator import Emulator, SyntheticAthlete
from garmin_emulator.auth import REFRESH_TTL_S, TokenAuthority
from garmin_pipeline.errors import RateLimitedError, SourceAuthError
from garmin_pipeline.settings import Settings
from garmin_pipeline.sources.connect import ConnectSource
from garmin_pipeline.sources.connect.credentials import KEYRING_SERVICE, save_password
from garmin_pipeline.sources.connect.login import (
    BAD_CREDENTIALS,
    MfaCodeRejectedError,
    PendingMfa,
    resume_login,
    start_login,
)
from garmin_pipeline.sources.connect.tokens import token_health
from tests.conftest import ATHLETE_DAYS, ATHLETE_END, TOKEN_PATH, pipeline_env, run_cli

EMAIL = "runner@example.com"
PASSWORD = "Pa55-w0rd-that-must-stay-secret"
MFA_CODE = "246810"
WRONG_CODE = "135790"
DAY = ATHLETE_END.isoformat()
LOGIN_PATH = "/mobile/api/login"


@pytest.fixture(scope="module")
def athlete() -> SyntheticAthlete:
    return SyntheticAthlete(seed=7, end_date=ATHLETE_END, days=ATHLETE_DAYS)


@pytest.fixture(scope="module")
def plain(athlete):
    """An account without MFA."""
    with Emulator(athlete, port=0, credentials=(EMAIL, PASSWORD)) as emu:
        yield emu


@pytest.fixture(scope="module")
def with_mfa(athlete):
    """An account that asks for an MFA code at every login."""
    with Emulator(athlete, port=0, credentials=(EMAIL, PASSWORD), mfa_code=MFA_CODE) as emu:
        yield emu


@pytest.fixture(autouse=True)
def no_login_delay(monkeypatch, plain, with_mfa):
    monkeypatch.setenv("GARMIN_LOGIN_DELAY_S", "0")
    monkeypatch.delenv("GARMIN_EMAIL", raising=False)
    monkeypatch.delenv("GARMIN_PASSWORD", raising=False)
    for emu in (plain, with_mfa):
        emu.faults.clear()
        emu.clear_request_log()


def settings_for(emu: Emulator, root: Path) -> Settings:
    return Settings.from_env(
        {
            "GARMIN_API_URL": emu.base_url,
            "GARMIN_TOKENS": str(root / "tokens"),
            "GARMIN_DATA_DIR": str(root / "data"),
        }
    )


def cli_env(emu: Emulator, root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GARMIN_EMAIL", "GARMIN_PASSWORD")}
    return {
        **env,
        "GARMIN_API_URL": emu.base_url,
        "GARMIN_TOKENS": str(root / "tokens"),
        "GARMIN_DATA_DIR": str(root / "data"),
        "GARMIN_LOGIN_DELAY_S": "0",
    }


def login_cli(env: dict[str, str], stdin: str, *args: str) -> subprocess.CompletedProcess:
    """`garmin-pipeline login` with typed answers on stdin."""
    return run_cli(env, "login", *args, stdin=stdin)


def assert_nowhere(secrets: list[str], directory: Path, *texts: str) -> None:
    """None of the secrets in the outputs or in any file under the directory."""
    files = [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []
    for secret in secrets:
        for text in texts:
            assert secret not in text
        for path in files:
            assert secret.encode() not in path.read_bytes(), path


def assert_private(token_file: Path) -> None:
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert token_file.parent.stat().st_mode & 0o777 == 0o700


def steps_with_stored_tokens(emu: Emulator, root: Path) -> int:
    source = ConnectSource(settings_for(emu, root))
    return source.json("daily summary", "get_user_summary", DAY)["totalSteps"]


# ---------------------------------------------------------------------------- the CLI
def test_cli_login_without_mfa_stores_only_private_tokens_that_work(plain, athlete, tmp_path):
    (tmp_path / "tokens").mkdir(mode=0o755)  # an existing folder is its owner's: kept as it is
    (tmp_path / "tokens").chmod(0o755)
    done = login_cli(cli_env(plain, tmp_path), f"{EMAIL}\n{PASSWORD}\n")
    assert done.returncode == 0, done.stderr
    token_file = tmp_path / "tokens" / "garmin_tokens.json"
    assert done.stdout.splitlines()[-1].endswith(
        f"logged in as {athlete.display_name}; tokens stored in {token_file} (0600)"
    )
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert token_file.parent.stat().st_mode & 0o777 == 0o755
    assert sorted(json.loads(token_file.read_text())) == [
        "di_client_id",
        "di_refresh_token",
        "di_token",
    ]
    assert_nowhere([PASSWORD], tmp_path / "tokens", done.stdout, done.stderr)
    assert [(r.method, r.path) for r in plain.request_log][:2] == [
        ("GET", "/mobile/sso/en_US/sign-in"),
        ("POST", LOGIN_PATH),
    ]
    expected = athlete.daily_summary(ATHLETE_END)["totalSteps"]
    assert steps_with_stored_tokens(plain, tmp_path) == expected


def test_cli_login_asks_for_the_mfa_code_again_after_a_wrong_one(with_mfa, athlete, tmp_path):
    attempts = with_mfa.sso.mfa_attempts
    answers = f"{EMAIL}\n{PASSWORD}\n{WRONG_CODE}\n{MFA_CODE}\n"
    done = login_cli(cli_env(with_mfa, tmp_path), answers)
    assert done.returncode == 0, done.stderr
    assert "Garmin did not accept the MFA code" in done.stderr
    assert "(2 tries left)" in done.stderr
    # The wrong code is tried at both verify endpoints, the right one at the first.
    assert with_mfa.sso.mfa_attempts - attempts == 3
    token_file = tmp_path / "tokens" / "garmin_tokens.json"
    assert f"logged in as {athlete.display_name}; tokens stored in {token_file}" in done.stdout
    assert_private(token_file)
    assert_nowhere([PASSWORD, MFA_CODE, WRONG_CODE], tmp_path, done.stdout, done.stderr)
    expected = athlete.daily_summary(ATHLETE_END)["totalSteps"]
    assert steps_with_stored_tokens(with_mfa, tmp_path) == expected


def test_cli_login_gives_up_after_three_wrong_mfa_codes(with_mfa, tmp_path):
    codes = "\n".join([WRONG_CODE] * 3)
    done = login_cli(cli_env(with_mfa, tmp_path), f"{EMAIL}\n{PASSWORD}\n{codes}\n")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: Garmin did not accept the MFA code; check it (or wait for a new one) and try "
        "again (3 tries); run `garmin-pipeline login` again"
    )
    assert not (tmp_path / "tokens" / "garmin_tokens.json").exists()


def test_cli_login_with_a_wrong_password_says_so_in_one_line_and_stores_nothing(plain, tmp_path):
    env = {**cli_env(plain, tmp_path), "GARMIN_EMAIL": EMAIL, "GARMIN_PASSWORD": "not-it-123"}
    done = login_cli(env, "")
    assert done.returncode == 1
    assert done.stderr.strip() == f"Error: {BAD_CREDENTIALS}"
    assert not (tmp_path / "tokens").exists()
    assert "not-it-123" not in done.stdout + done.stderr
    assert [r.path for r in plain.request_log].count(LOGIN_PATH) == 1


def test_cli_save_password_puts_it_in_the_keyring_only(plain, tmp_path):
    """The keyring of a child process cannot be swapped in-process: a keyring-less host gets the
    one-line advice, with the tokens already stored."""
    env = {**cli_env(plain, tmp_path), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    done = login_cli(env, f"{EMAIL}\n{PASSWORD}\n", "--save-password")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: the system keyring could not store the password (NoKeyringError); the tokens "
        "are stored, and for unattended re-login set GARMIN_EMAIL and GARMIN_PASSWORD in the "
        "environment instead"
    )
    assert_private(tmp_path / "tokens" / "garmin_tokens.json")
    assert_nowhere([PASSWORD], tmp_path, done.stdout, done.stderr)


# ---------------------------------------------------------------------------- the library
def test_an_mfa_login_started_on_one_garmin_resumes_on_another(with_mfa, athlete, tmp_path):
    settings = settings_for(with_mfa, tmp_path)
    started = start_login(settings, EMAIL, PASSWORD)
    assert started.needs_mfa and started.token_file is None
    assert started.pending is not None and started.pending.garmin is not None
    first = started.pending.garmin
    # Only the JSON state crosses over, as it would between two processes.
    state = json.loads(json.dumps(started.pending.client_state))
    elsewhere = PendingMfa(settings, state)
    with pytest.raises(MfaCodeRejectedError):
        resume_login(elsewhere, WRONG_CODE)
    done = resume_login(elsewhere, MFA_CODE)
    assert elsewhere.garmin is not None and elsewhere.garmin is not first
    assert first.client.di_token is None  # the first instance never got tokens
    assert done.display_name == athlete.display_name
    assert done.token_file == tmp_path / "tokens" / "garmin_tokens.json"
    assert json.loads(done.token_file.read_text())["di_token"] == elsewhere.garmin.client.di_token
    assert_private(done.token_file)


def test_a_429_on_the_login_stops_it_and_the_next_login_is_not_sent(plain, tmp_path):
    plain.faults.add(LOGIN_PATH, 429, times=None)
    settings = settings_for(plain, tmp_path)
    with pytest.raises(RateLimitedError) as raised:
        start_login(settings, EMAIL, PASSWORD)
    assert "\n" not in str(raised.value)
    # One credential POST: no other strategy or TLS fingerprint tried after the 429.
    assert [r.path for r in plain.request_log].count(LOGIN_PATH) == 1
    plain.clear_request_log()
    with pytest.raises(RateLimitedError, match="skipped login"):
        start_login(settings, EMAIL, PASSWORD)
    assert plain.request_log == []
    assert not (tmp_path / "tokens" / "garmin_tokens.json").exists()


def test_a_failed_ticket_exchange_falls_back_on_loopback_not_the_internet(plain, tmp_path):
    """garminconnect consumes the ticket at the service URL when the DI exchange fails; with
    GARMIN_API_URL set that URL is the emulator's too, so nothing leaves the machine."""
    plain.faults.add(TOKEN_PATH, 500, times=None, method="POST")
    with pytest.raises(SourceAuthError) as raised:
        start_login(settings_for(plain, tmp_path), EMAIL, PASSWORD)
    assert "\n" not in str(raised.value)
    paths = [(r.method, r.path) for r in plain.request_log]
    assert ("GET", "/gcm/ios") in paths  # the fallback, answered by the emulator (404)
    assert not (tmp_path / "tokens" / "garmin_tokens.json").exists()


# ---------------------------------------------------------------------------- token health
T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC


def health_settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"GARMIN_TOKENS": str(tmp_path / "tokens")})


def test_token_health_reads_the_refresh_tokens_expiry(tmp_path):
    TokenAuthority(seed=7, clock=lambda: T0).write_token_store(tmp_path / "tokens")
    settings = health_settings(tmp_path)
    expires = datetime.fromtimestamp(T0 + REFRESH_TTL_S, UTC)

    ok = token_health(settings, datetime.fromtimestamp(T0, UTC))
    assert (ok.status, ok.refresh_expires_at) == ("ok", expires)
    assert ok.days_left == pytest.approx(REFRESH_TTL_S / 86400)
    assert ok.message == (
        "the Garmin refresh token is good for 30.0 more days (until 2023-12-14 22:13 UTC)"
    )

    warn = token_health(settings, expires - timedelta(days=3))
    assert (warn.status, warn.days_left) == ("warn", pytest.approx(3.0))
    assert warn.message == (
        "the Garmin refresh token lapses in 3.0 days (at 2023-12-14 22:13 UTC): "
        "run `garmin-pipeline login` before then"
    )
    stricter = Settings.from_env(
        {"GARMIN_TOKENS": str(tmp_path / "tokens"), "GARMIN_TOKEN_WARN_DAYS": "2"}
    )
    assert token_health(stricter, expires - timedelta(days=3)).status == "ok"

    expired = token_health(settings, expires + timedelta(hours=6))
    assert (expired.status, expired.days_left) == ("expired", pytest.approx(-0.25))
    assert expired.message == (
        "the Garmin refresh token expired at 2023-12-14 22:13 UTC: run `garmin-pipeline login`"
    )
    tokens_text = (tmp_path / "tokens" / "garmin_tokens.json").read_text()
    for token in json.loads(tokens_text).values():
        assert token not in ok.message + warn.message + expired.message


def test_token_health_without_a_jwt_counts_30_days_from_the_files_last_write(tmp_path):
    token_file = tmp_path / "tokens" / "garmin_tokens.json"
    token_file.parent.mkdir()
    token_file.write_text(json.dumps({"di_token": "x", "di_refresh_token": "opaque-refresh"}))
    token_file.chmod(0o600)
    os.utime(token_file, (T0, T0))
    health = token_health(health_settings(tmp_path), datetime.fromtimestamp(T0, UTC))
    assert health.refresh_expires_at == datetime.fromtimestamp(T0, UTC) + timedelta(days=30)
    assert (health.status, health.days_left) == ("ok", pytest.approx(30.0))
    assert "opaque-refresh" not in health.message


def test_token_health_missing_and_legacy(tmp_path):
    missing = token_health(health_settings(tmp_path), datetime.now(UTC))
    token_file = tmp_path / "tokens" / "garmin_tokens.json"
    assert (missing.status, missing.refresh_expires_at, missing.days_left) == (
        "missing",
        None,
        None,
    )
    assert missing.message == f"no Garmin tokens at {token_file}: run `garmin-pipeline login`"

    (tmp_path / "tokens").mkdir()
    (tmp_path / "tokens" / "oauth1_token.json").write_text("{}")
    (tmp_path / "tokens" / "oauth2_token.json").write_text("{}")
    legacy = token_health(health_settings(tmp_path), datetime.now(UTC))
    assert (legacy.status, legacy.days_left) == ("legacy", None)
    assert legacy.message == (
        f"found a legacy garth token directory at {tmp_path / 'tokens'}; garth can no longer "
        "log in to Garmin: run `garmin-pipeline login` to create new tokens"
    )


# ---------------------------------------------------------------------------- unattended
def test_a_sync_without_tokens_logs_in_again_with_the_environments_credentials(
    plain, athlete, tmp_path
):
    env = pipeline_env(plain, tmp_path)
    token_file = Path(env["GARMIN_TOKENS"])
    token_file.unlink()
    env.update(GARMIN_EMAIL=EMAIL, GARMIN_PASSWORD=PASSWORD, GARMIN_LOGIN_DELAY_S="0")
    done = run_cli(env, "sync", "--start", DAY, "--end", DAY)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_private(token_file)
    assert [r.path for r in plain.request_log].count(LOGIN_PATH) == 1
    assert_nowhere([PASSWORD], token_file.parent, done.stdout, done.stderr)
    assert json.loads(token_file.read_text())["di_refresh_token"]


def test_refused_tokens_lead_to_a_keyring_login_that_stores_new_tokens(
    plain, athlete, tmp_path, memory_keyring
):
    settings = settings_for(plain, tmp_path)
    old = plain.write_token_store(settings.token_store, access_ttl_s=0)  # refresh at once
    plain.tokens.revoke_refresh_tokens()  # ... and the refresh is refused
    before = json.loads(old.read_text())
    save_password(EMAIL, PASSWORD)
    assert memory_keyring.entries == {
        (KEYRING_SERVICE, EMAIL): PASSWORD,
        (KEYRING_SERVICE, "login-email"): EMAIL,
    }
    source = ConnectSource(settings)
    summary = source.json("daily summary", "get_user_summary", DAY)
    assert summary["totalSteps"] == athlete.daily_summary(ATHLETE_END)["totalSteps"]
    after = json.loads(old.read_text())
    assert after["di_refresh_token"] != before["di_refresh_token"]
    assert [r.path for r in plain.request_log].count(LOGIN_PATH) == 1
    assert_private(old)
    assert_nowhere([PASSWORD], old.parent)


def test_an_account_with_mfa_is_not_logged_in_unattended(with_mfa, tmp_path, monkeypatch):
    monkeypatch.setenv("GARMIN_EMAIL", EMAIL)
    monkeypatch.setenv("GARMIN_PASSWORD", PASSWORD)
    settings = settings_for(with_mfa, tmp_path)
    for _ in range(2):
        with pytest.raises(SourceAuthError) as raised:
            ConnectSource(settings).display_name  # noqa: B018
        assert str(raised.value) == (
            "no tokens and Garmin asks this account for an MFA code, which an unattended sync "
            "cannot give: run `garmin-pipeline login`"
            if _ == 0
            else "no tokens and this Garmin account asks for an MFA code at login, which an "
            "unattended sync cannot give: run `garmin-pipeline login`"
        )
    # Tried once; afterwards the account is known to ask for MFA and no code is sent again.
    assert [r.path for r in with_mfa.request_log].count(LOGIN_PATH) == 1
    assert not (tmp_path / "tokens" / "garmin_tokens.json").exists()


def test_no_credential_login_while_the_429_breaker_is_open(plain, tmp_path, monkeypatch):
    monkeypatch.setenv("GARMIN_EMAIL", EMAIL)
    monkeypatch.setenv("GARMIN_PASSWORD", PASSWORD)
    settings = settings_for(plain, tmp_path)
    plain.faults.add(LOGIN_PATH, 429)
    with pytest.raises(RateLimitedError):
        ConnectSource(settings).display_name  # noqa: B018
    plain.clear_request_log()
    with pytest.raises(RateLimitedError):
        ConnectSource(settings).display_name  # noqa: B018
    assert plain.request_log == []


def test_a_legacy_garth_directory_asks_for_a_new_login(plain, tmp_path, monkeypatch):
    monkeypatch.setenv("GARMIN_EMAIL", EMAIL)
    monkeypatch.setenv("GARMIN_PASSWORD", PASSWORD)
    (tmp_path / "tokens").mkdir()
    (tmp_path / "tokens" / "oauth2_token.json").write_text("{}")
    with pytest.raises(SourceAuthError) as raised:
        ConnectSource(settings_for(plain, tmp_path)).display_name  # noqa: B018
    assert str(raised.value) == (
        f"found a legacy garth token directory at {tmp_path / 'tokens'}; garth can no longer "
        "log in to Garmin: run `garmin-pipeline login` to create new tokens"
    )
    assert plain.request_log == []


def test_a_429_from_the_token_endpoint_is_not_answered_with_a_credential_login(
    plain, tmp_path, monkeypatch
):
    """garminconnect swallows a failed refresh and then reads as refused tokens; the 429 behind
    it still stops the sync before any credential is sent."""
    monkeypatch.setenv("GARMIN_EMAIL", EMAIL)
    monkeypatch.setenv("GARMIN_PASSWORD", PASSWORD)
    settings = settings_for(plain, tmp_path)
    plain.write_token_store(settings.token_store, access_ttl_s=0)  # must refresh first
    plain.faults.add("/di-oauth2-service/oauth/token", 429, times=None)
    with pytest.raises(RateLimitedError):
        ConnectSource(settings).display_name  # noqa: B018
    assert LOGIN_PATH not in [r.path for r in plain.request_log]
