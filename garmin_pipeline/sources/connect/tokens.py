"""The token store: writing it safely, recognising what is in it, and how long it will last.

garminconnect keeps ``{"di_token", "di_refresh_token", "di_client_id"}`` in one JSON file (a
directory means ``<dir>/garmin_tokens.json``). We write that file ourselves (0600, in a directory
tightened to 0700) so its permissions do not depend on the umask or on a chmod that garminconnect
allows to fail. Nothing here ever puts a token value in a message or a log line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from garminconnect.client.tokens import _decode_jwt_payload, token_file_path

from garmin_pipeline.errors import PipelineError, SourceAuthError
from garmin_pipeline.files import write_atomically
from garmin_pipeline.settings import Settings

LOGIN_COMMAND = "`garmin-pipeline login`"
# Garmin's refresh tokens rotate on every refresh and last about 30 days.
REFRESH_TOKEN_LIFETIME = timedelta(days=30)
GARTH_FILES = ("oauth1_token.json", "oauth2_token.json")
TOKEN_KEYS = ("di_token", "di_refresh_token", "di_client_id")
# Non-secret facts about the account, kept beside the tokens (whether a login asks for MFA).
ACCOUNT_FILE_NAME = "garmin_pipeline_account.json"

TokenStatus = Literal["ok", "warn", "expired", "missing", "legacy"]


class TokenStoreError(PipelineError):
    """The token store cannot be written safely (e.g. its directory cannot be made 0700)."""


def token_file(token_store: Path) -> Path:
    """The file garminconnect reads for GARMIN_TOKENS (a directory, or a ``.json`` file)."""
    try:
        return token_file_path(str(token_store))
    except ValueError as error:  # a symlinked or another user's path: garminconnect refuses it
        raise TokenStoreError(f"GARMIN_TOKENS={token_store}: {error}; use a plain path") from None


def legacy_garth_dir(token_store: Path) -> Path | None:
    """The directory, if GARMIN_TOKENS is a directory of old garth tokens and nothing newer."""
    directory = Path(token_store).expanduser()
    try:
        if not directory.is_dir() or (directory / "garmin_tokens.json").exists():
            return None
        return directory if any((directory / name).exists() for name in GARTH_FILES) else None
    except OSError:
        return None


def legacy_message(directory: Path) -> str:
    return (
        f"found a legacy garth token directory at {directory}; garth can no longer log in to "
        f"Garmin: run {LOGIN_COMMAND} to create new tokens"
    )


def refuse_legacy_store(token_store: Path) -> None:
    """Raise the one-line 'log in again' error for a legacy garth token directory."""
    directory = legacy_garth_dir(token_store)
    if directory is not None:
        raise SourceAuthError(legacy_message(directory))


def private_dir(directory: Path) -> None:
    """Create the directory 0700, or tighten an existing one to 0700."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.chmod(directory, 0o700)
    except OSError as error:
        raise TokenStoreError(
            f"cannot make {directory} private (0700): {error.strerror}; "
            "point GARMIN_TOKENS at a directory you own"
        ) from None


def write_token_file(token_store: Path, serialized: str) -> Path:
    """Store garminconnect's ``client.dumps()`` as the token file; returns its path.

    Only the three token keys are written, so nothing else (never a password) can reach the file.
    """
    tokens = json.loads(serialized)
    if not isinstance(tokens, dict) or not tokens.get("di_refresh_token"):
        raise TokenStoreError("the login returned no refresh token; nothing was stored")
    target = token_file(token_store)
    private_dir(target.parent)
    write_atomically(target, json.dumps({key: tokens.get(key) for key in TOKEN_KEYS}).encode())
    return target


def _account_file(token_store: Path) -> Path:
    return token_file(token_store).parent / ACCOUNT_FILE_NAME


def mfa_required(token_store: Path) -> bool:
    """Whether the last login of this token store was asked for an MFA code."""
    try:
        return bool(json.loads(_account_file(token_store).read_text()).get("mfa_required"))
    except (OSError, ValueError, AttributeError):
        return False


def remember_mfa(token_store: Path, required: bool) -> None:
    """Record (not a secret) whether Garmin asks this account for MFA, so an unattended
    re-login is not tried, and another code e-mailed, on every sync."""
    target = _account_file(token_store)
    private_dir(target.parent)
    write_atomically(target, json.dumps({"mfa_required": required}).encode())


@dataclass(frozen=True)
class TokenHealth:
    """How long the stored refresh token has left; ``message`` is one line, no token values."""

    status: TokenStatus
    refresh_expires_at: datetime | None
    days_left: float | None
    message: str


def refresh_token_expiry(path: Path) -> datetime | None:
    """When the refresh token in this file lapses: its JWT ``exp`` if it is a JWT, else the
    file's mtime plus 30 days (the file is rewritten on every refresh). None if unreadable."""
    try:
        tokens = json.loads(path.read_text(encoding="utf-8"))
        refresh = tokens.get("di_refresh_token") if isinstance(tokens, dict) else None
        if not isinstance(refresh, str) or not refresh:
            return None
        payload = _decode_jwt_payload(refresh)
        exp = payload.get("exp") if isinstance(payload, dict) else None
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            return datetime.fromtimestamp(exp, UTC)
        return datetime.fromtimestamp(path.stat().st_mtime, UTC) + REFRESH_TOKEN_LIFETIME
    except (OSError, ValueError, OverflowError):
        return None


def token_health(settings: Settings, now: datetime) -> TokenHealth:
    """The state of GARMIN_TOKENS as of ``now`` (timezone-aware), for checks and `status`."""
    directory = legacy_garth_dir(settings.token_store)
    if directory is not None:
        return TokenHealth("legacy", None, None, legacy_message(directory))
    try:
        path = token_file(settings.token_store)
    except TokenStoreError as error:
        return TokenHealth("missing", None, None, str(error))
    if not path.exists():
        return TokenHealth(
            "missing", None, None, f"no Garmin tokens at {path}: run {LOGIN_COMMAND}"
        )
    expires = refresh_token_expiry(path)
    if expires is None:
        return TokenHealth(
            "missing",
            None,
            None,
            f"the token file {path} holds no readable refresh token: run {LOGIN_COMMAND}",
        )
    days_left = (expires - now).total_seconds() / 86400
    when = expires.strftime("%Y-%m-%d %H:%M UTC")
    if days_left <= 0:
        status: TokenStatus = "expired"
        message = f"the Garmin refresh token expired at {when}: run {LOGIN_COMMAND}"
    elif days_left < settings.token_warn_days:
        status = "warn"
        message = (
            f"the Garmin refresh token lapses in {days_left:.1f} days (at {when}): "
            f"run {LOGIN_COMMAND} before then"
        )
    else:
        status = "ok"
        message = f"the Garmin refresh token is good for {days_left:.1f} more days (until {when})"
    return TokenHealth(status, expires, days_left, message)
