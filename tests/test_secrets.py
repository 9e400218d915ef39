"""No secret leaves the token store: a login with MFA, a verbose sync that refreshes and
rotates its tokens, a revoked token mid-sync and a failed sync, then every file under
GARMIN_DATA_DIR and DAGSTER_HOME (Dagster's event log, run storage and compute logs included)
and everything the commands printed is searched for the password, the MFA code and every token
value the token store held. The real client talks real HTTP to the emulator throughout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from garmin_emulator import Emulator
from tests.conftest import pipeline_env, run_cli

EMAIL = "secret-runner@example.com"
PASSWORD = "Fake-Passw0rd-7f3a9c2e"
MFA_CODE = "864209"


@pytest.fixture(scope="module")
def emulator_with_mfa(athlete):
    with Emulator(athlete, port=0, credentials=(EMAIL, PASSWORD), mfa_code=MFA_CODE) as emu:
        yield emu


def token_values(token_file: Path) -> set[str]:
    """The token strings and, for JWTs, their signature alone (a log could cut a token)."""
    stored = json.loads(token_file.read_text())
    values = {stored["di_token"], stored["di_refresh_token"]}
    return values | {value.rsplit(".", 1)[-1] for value in values if value.count(".") == 2}


def files_under(*roots: Path) -> list[Path]:
    return [path for root in roots if root.exists() for path in root.rglob("*") if path.is_file()]


def test_no_password_mfa_code_or_token_is_written_or_printed(emulator_with_mfa, athlete, tmp_path):
    emu = emulator_with_mfa
    env = pipeline_env(emu, tmp_path)
    token_file = Path(env["GARMIN_TOKENS"])
    token_file.unlink()  # the login below writes the store
    env.update(GARMIN_LOGIN_DELAY_S="0")
    outputs: list[str] = []
    secrets: set[str] = {PASSWORD, MFA_CODE}

    login = run_cli(env, "-v", "login", stdin=f"{EMAIL}\n{PASSWORD}\n{MFA_CODE}\n")
    assert login.returncode == 0, login.stderr
    outputs += [login.stdout, login.stderr]
    secrets |= token_values(token_file)

    # Credentials in the environment too, as an unattended set-up would have them.
    env.update(GARMIN_EMAIL=EMAIL, GARMIN_PASSWORD=PASSWORD)
    first = last = athlete.first_day
    emu.faults.clear()
    emu.faults.expire_tokens()  # the stored access token is refused: refresh and rotate
    synced = run_cli(env, "-v", "sync", "--start", str(first), "--end", str(last))
    assert synced.returncode == 0, synced.stderr[-3000:]
    outputs += [synced.stdout, synced.stderr]
    rotated = token_values(token_file)
    assert rotated - secrets, "the sync was meant to rotate the tokens"
    secrets |= rotated

    # Refresh refused and the account wants MFA: the sync fails, and says so in one line.
    emu.faults.expire_tokens()
    emu.tokens.revoke_refresh_tokens()
    failed = run_cli(env, "-v", "sync", "--start", str(first), "--end", str(last))
    assert failed.returncode == 1
    assert "garmin-pipeline login" in failed.stderr.strip().splitlines()[-1]
    outputs += [failed.stdout, failed.stderr]

    scanned = files_under(tmp_path / "data", tmp_path / "dagster_home")
    assert any(p.suffix == ".db" for p in scanned), "Dagster's storage was meant to be scanned"
    assert any(p.suffix == ".parquet" for p in scanned), "the lake was meant to be scanned"
    for secret in sorted(secrets):
        for text in outputs:
            assert secret not in text
        for path in scanned:
            assert secret.encode() not in path.read_bytes(), path
