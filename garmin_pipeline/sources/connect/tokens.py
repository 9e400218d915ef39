"""The token store: reading and writing it safely, recognising what is in it, and how long it
will last.

garminconnect keeps ``{"di_token", "di_refresh_token", "di_client_id"}`` in one JSON file (a
directory means ``<dir>/garmin_tokens.json``). We read and write that file ourselves, never
through garminconnect (whose writes chmod the folder): it is written 0600, a missing folder is
created 0700 and an existing one keeps its mode; it is read only when it is a plain file of ours
that no one else can read. Every process that logs in, refreshes or writes it holds its lock
(`store_lock`), because Garmin's refresh tokens rotate: two syncs refreshing the same store at
once would leave one of them with a spent token. Nothing here ever puts a token value in a
message or a log line.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from filelock import FileLock
from filelock import Timeout as LockTimeout
from garminconnect.client.tokens import _decode_jwt_payload, token_file_path

from garmin_pipeline.errors import SourceAuthError
from garmin_pipeline.files import write_atomically
from garmin_pipeline.settings import Settings
from garmin_pipeline.sources import CONNECT
from garmin_pipeline.sources.connect.refusal import Refusals

LOGIN_COMMAND = "`garmin-pipeline login`"
# Garmin's refresh tokens rotate on every refresh and last about 30 days.
REFRESH_TOKEN_LIFETIME = timedelta(days=30)
GARTH_FILES = ("oauth1_token.json", "oauth2_token.json")
TOKEN_KEYS = ("di_token", "di_refresh_token", "di_client_id")
# Non-secret facts about the account, kept beside the tokens (whether a login asks for MFA).
ACCOUNT_FILE_NAME = "garmin_pipeline_account.json"

# How long a process waits for another one to finish its login or refresh of the same store.
LOCK_WAIT_S = 120.0

TokenStatus = Literal["ok", "warn", "expired", "missing", "legacy", "unsafe", "refused"]


class TokenStoreError(SourceAuthError):
    """The token store cannot be used safely (another user could read it, it is a symbolic
    link, its folder cannot be created...). Like a refused login, every feed of the account
    needs the same fix, and nothing is sent to Garmin until then."""


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
    """Create the folder, and any missing parent, 0700. An existing folder is left as it is:
    its mode is its owner's choice (a shared parent may need its sticky bit), and the token
    file's own checks (`unsafe_token_file`) keep other users out of the tokens."""
    missing = []
    folder = Path(directory)
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)  # the umask can only make it stricter
        except FileExistsError:
            continue
        except OSError as error:
            raise TokenStoreError(
                f"cannot create {folder}: {error.strerror}; point GARMIN_TOKENS at a folder you own"
            ) from None


def open_to_others(directory: Path) -> bool:
    """Whether other users may delete or replace files in the folder: group- or
    world-writable without the sticky bit (a sticky folder, like /tmp, protects its files)."""
    try:
        mode = directory.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IWGRP | stat.S_IWOTH)) and not mode & stat.S_ISVTX


def unsafe_token_file(path: Path) -> str | None:
    """Why the token file must not be used (one line saying what to run), or None if it is a
    plain file of this user's that no one else can read. It is never followed through a
    symbolic link: garminconnect's own reads refuse one too, with a misleading message."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"cannot read the token file {path}: {error.strerror}"
    if stat.S_ISLNK(status.st_mode):
        return (
            f"the token file {path} is a symbolic link, which garmin-pipeline does not follow: "
            f"replace it with the file itself, or run {LOGIN_COMMAND} to store new tokens"
        )
    if not stat.S_ISREG(status.st_mode):
        return f"the token file {path} is not a regular file: remove it and run {LOGIN_COMMAND}"
    if status.st_uid != os.getuid():
        return (
            f"the token file {path} belongs to another user: remove it and run {LOGIN_COMMAND} "
            "to store your own"
        )
    if status.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"the token file {path} is readable by other users: run chmod 600 {path}"
    return None


def read_tokens(path: Path) -> dict[str, str] | None:
    """The three token values from the file (None when there is no file), after checking it is
    safe to use; `TokenStoreError` when it is not, or holds no usable tokens."""
    problem = unsafe_token_file(path)
    if problem is not None:
        raise TokenStoreError(problem)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as error:
        raise TokenStoreError(f"cannot read the token file {path}: {error.strerror}") from None
    try:
        with os.fdopen(fd, "rb") as handle:
            tokens = json.loads(handle.read())
    except (OSError, ValueError):
        tokens = None
    if not isinstance(tokens, dict) or not all(
        isinstance(tokens.get(key), str) and tokens.get(key) for key in TOKEN_KEYS
    ):
        raise TokenStoreError(
            f"the token file {path} holds no usable Garmin tokens: run {LOGIN_COMMAND}"
        )
    return {key: tokens[key] for key in TOKEN_KEYS}


class StoreLock:
    """The lock of one token file (a `.lock` file beside it, 0600), held to log in, refresh or
    write it; creates the token folder (0700) when missing. Reentrant for the same object."""

    def __init__(self, token_path: Path) -> None:
        private_dir(token_path.parent)
        self.path = self.path_of(token_path)
        self._lock = FileLock(self.path, timeout=LOCK_WAIT_S, mode=0o600)

    @staticmethod
    def path_of(token_path: Path) -> Path:
        return token_path.with_name(token_path.name + ".lock")

    def __enter__(self) -> StoreLock:
        try:
            self._lock.acquire()
        except LockTimeout:
            raise TokenStoreError(
                f"another garmin-pipeline process has held {self.path} for {LOCK_WAIT_S:.0f} s; "
                "let it finish (or end it), then try again"
            ) from None
        except OSError as error:
            raise TokenStoreError(
                f"cannot lock the token store ({self.path}): {error.strerror}; point "
                "GARMIN_TOKENS at a folder you own"
            ) from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()


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
    refusal = Refusals(settings, CONNECT).get()
    if refusal is not None:
        return TokenHealth("refused", None, None, refusal.message)
    problem = unsafe_token_file(path)
    if problem is not None:
        return TokenHealth("unsafe", None, None, problem)
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
    elif open_to_others(path.parent):
        status = "warn"
        message = (
            f"the token folder {path.parent} lets other users delete or replace the tokens: "
            f"run chmod go-w {path.parent}"
        )
    else:
        status = "ok"
        message = f"the Garmin refresh token is good for {days_left:.1f} more days (until {when})"
    return TokenHealth(status, expires, days_left, message)
