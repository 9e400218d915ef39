"""The Personal API key: where it comes from, where `login --personal-api` keeps it, and how
long it has left.

A key is created on Garmin Connect web with a validity chosen there (30 days to a year) that the
API never reports, so `login --personal-api` records the expiry date the user saw, beside the
Connect tokens and without the key: `personal_api_key.json` holds the date and a fingerprint
(a SHA-256 prefix) that tells whether the recorded date belongs to the key in use. The key itself
comes from ``GARMIN_PERSONAL_API_KEY``, the system keyring, or a 0600 file
(``GARMIN_PERSONAL_API_KEY_FILE``, by default the file Garmin's own ``gc-personal`` reads).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Literal

from garmin_pipeline.errors import SourceAuthError
from garmin_pipeline.files import write_atomically
from garmin_pipeline.settings import PERSONAL_API_KEY_ENV, PERSONAL_API_KEY_RECORD, Settings
from garmin_pipeline.sources import PERSONAL_API
from garmin_pipeline.sources.connect.credentials import KEYRING_SERVICE
from garmin_pipeline.sources.connect.refusal import Refusals
from garmin_pipeline.sources.connect.tokens import private_dir, token_file

log = logging.getLogger(__name__)

CREATE_KEY_URL = "https://connect.garmin.com/app/settings/personalApiToken"
HOW_TO_CREATE = (
    f"create a key on Garmin Connect web ({CREATE_KEY_URL}) and run "
    "`garmin-pipeline login --personal-api`"
)
KEY_RECORD_NAME = PERSONAL_API_KEY_RECORD  # the key's expiry and fingerprint; no secret
BEARER_CACHE_NAME = "personal_api_bearer.json"  # Garmin's client caches the bearer token here

KeyStatus = Literal["ok", "warn", "expired", "unknown", "missing", "refused"]


@dataclass(frozen=True)
class ApiKey:
    value: str = field(repr=False)
    origin: str  # for messages: "GARMIN_PERSONAL_API_KEY", "the system keyring", a file path

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.value)


def fingerprint(key: str) -> str:
    """Enough of the key's hash to tell keys apart, nothing that helps to guess one."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def keyring_entry(settings: Settings) -> str:
    return f"personal-api-key:{settings.account}"


def token_dir(settings: Settings) -> Path:
    """The directory of the Connect token store: the Personal API's files live beside it."""
    return token_file(settings.token_store).parent


def bearer_cache_path(settings: Settings) -> Path:
    return token_dir(settings) / BEARER_CACHE_NAME


def resolve_key(settings: Settings) -> ApiKey:
    """The key from the environment, else the keyring, else the key file. With several
    accounts only the keyring, which keeps a key per account: the others hold one key."""
    several = len(settings.accounts) > 1
    value: str | None = "" if several else os.environ.get(PERSONAL_API_KEY_ENV, "").strip()
    if value:
        return ApiKey(value, PERSONAL_API_KEY_ENV)
    value = _from_keyring(settings)
    if value:
        return ApiKey(value, "the system keyring")
    if several:
        raise SourceAuthError(
            f"no Garmin Personal API key for account {settings.account} in the system keyring "
            f"(with several accounts each keeps its own there): run GARMIN_ACCOUNT="
            f"{settings.account} garmin-pipeline login --personal-api"
        )
    path = settings.personal_api_key_file
    try:
        mode = path.stat().st_mode
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise SourceAuthError(
            f"no Garmin Personal API key (not in {PERSONAL_API_KEY_ENV}, the system keyring or "
            f"{path}): {HOW_TO_CREATE}"
        ) from None
    except OSError as error:
        raise SourceAuthError(
            f"cannot read the Personal API key file {path}: {error.strerror}"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SourceAuthError(
            f"the Personal API key file {path} is readable by other users: run chmod 600 {path}"
        )
    if not value:
        raise SourceAuthError(f"the Personal API key file {path} is empty: {HOW_TO_CREATE}")
    return ApiKey(value, str(path))


def _from_keyring(settings: Settings) -> str | None:
    try:
        import keyring

        return (keyring.get_password(KEYRING_SERVICE, keyring_entry(settings)) or "").strip()
    except Exception as error:  # no backend, a locked keyring, D-Bus down: look elsewhere
        log.debug("no Personal API key from the system keyring (%s)", type(error).__name__)
        return None


def save_key(settings: Settings, key: str) -> str:
    """Keep the key in the system keyring, or (when there is none) in the 0600 key file;
    returns where it went, for the message."""
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, keyring_entry(settings), key)
        return f"the system keyring ({type(keyring.get_keyring()).__name__})"
    except Exception as error:
        log.debug("the keyring cannot store the key (%s); using the file", type(error).__name__)
    path = settings.personal_api_key_file
    private_dir(path.parent)
    write_atomically(path, key.encode("utf-8") + b"\n")  # written 0600
    return str(path)


@dataclass(frozen=True)
class KeyRecord:
    expires_on: date  # the last day the key works, as chosen when it was created
    fingerprint: str
    recorded_at: str


def record_key(settings: Settings, key: str, expires_on: date) -> Path:
    """Remember the key's expiry (not the key) for the `personal_api_key` check."""
    path = token_dir(settings) / KEY_RECORD_NAME
    private_dir(path.parent)
    body = {
        "expires_on": expires_on.isoformat(),
        "fingerprint": fingerprint(key),
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_atomically(path, json.dumps(body, indent=1).encode("utf-8"))
    return path


def read_record(settings: Settings) -> KeyRecord | None:
    try:
        body = json.loads((token_dir(settings) / KEY_RECORD_NAME).read_text(encoding="utf-8"))
        return KeyRecord(
            date.fromisoformat(body["expires_on"]), str(body["fingerprint"]), body["recorded_at"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class KeyHealth:
    """How long the Personal API key has left; ``message`` is one line, never the key."""

    status: KeyStatus
    expires_on: date | None
    days_left: float | None
    message: str


def key_health(settings: Settings, now: datetime) -> KeyHealth:
    """The key's state as of ``now`` (aware), for the account check and `status`."""
    refusal = Refusals(settings, PERSONAL_API).get()
    if refusal is not None:
        return KeyHealth("refused", None, None, refusal.message)
    try:
        key = resolve_key(settings)
    except SourceAuthError as error:
        return KeyHealth("missing", None, None, str(error))
    record = read_record(settings)
    if record is None or record.fingerprint != key.fingerprint:
        return KeyHealth(
            "unknown",
            None,
            None,
            f"the expiry of the Personal API key from {key.origin} is not recorded: run "
            "`garmin-pipeline login --personal-api` and give the date Garmin showed",
        )
    # The key works through its last day, wherever the user is: count to the end of it in UTC.
    end = datetime.combine(record.expires_on, time.max, UTC)
    days_left = (end - now).total_seconds() / 86400
    if days_left <= 0:
        return KeyHealth(
            "expired",
            record.expires_on,
            days_left,
            f"the Personal API key expired on {record.expires_on}: {HOW_TO_CREATE}",
        )
    if days_left < settings.token_warn_days:
        return KeyHealth(
            "warn",
            record.expires_on,
            days_left,
            f"the Personal API key expires in {days_left:.1f} days (on {record.expires_on}): "
            f"before then, {HOW_TO_CREATE}",
        )
    return KeyHealth(
        "ok",
        record.expires_on,
        days_left,
        f"the Personal API key is good for {days_left:.1f} more days (until {record.expires_on})",
    )
