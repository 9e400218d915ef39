"""Settings from the environment, resolved once per process.

Everything a user configures comes from environment variables (or a `.env` that the Dagster CLI
loads), so secrets never pass through run config, logs or metadata.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = "./data"
DEFAULT_ACCOUNT = "default"
DEFAULT_HISTORY_START = "2020-01-01"
DEFAULT_TOKEN_STORE = "~/.garminconnect"
DEFAULT_MAX_PAYLOAD_MB = 256.0
DEFAULT_COOLDOWN_HOURS = "2,24"  # first 429 cooldown, and the cap the doubling stops at
DEFAULT_RETRY_AFTER_WAIT_MAX_S = 60.0  # a shorter Retry-After is waited out once, in-run
DEFAULT_TOKEN_WARN_DAYS = 7.0  # warn this long before the refresh token lapses

_ACCOUNT_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class SettingsError(ValueError):
    """A setting has a value the pipeline cannot use; the message says which and how to fix it."""


@dataclass(frozen=True)
class DataLayout:
    """What lives where under the data directory; the one place that spells it out."""

    root: Path

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def lake_dir(self) -> Path:
        return self.root / "lake"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def state_dir(self) -> Path:
        """Small state that outlives runs and processes (the rate-limit breaker)."""
        return self.root / "state"

    @property
    def build_state_dir(self) -> Path:
        """What each lake day was built from; inside the lake, so deleting it forces rebuilds."""
        return self.lake_dir / "_built"


@dataclass(frozen=True)
class Settings:
    """Where data lives, which Garmin to talk to, and whose account this is."""

    data_dir: Path
    account: str
    api_url: str | None
    token_store: Path
    history_start: str
    request_interval_s: float
    # Per-feed override of how long a day stays provisional: GARMIN_PROVISIONAL_DAYS=sleep=3,...
    provisional_overrides: tuple[tuple[str, int], ...] = ()
    # After a 429: the first cooldown and the cap of its doubling (GARMIN_COOLDOWN_HOURS).
    cooldown_first_s: float = 2 * 3600.0
    cooldown_max_s: float = 24 * 3600.0
    retry_after_wait_max_s: float = DEFAULT_RETRY_AFTER_WAIT_MAX_S
    # A payload larger than this is refused on arrival (GARMIN_MAX_PAYLOAD_MB).
    max_payload_mb: float = DEFAULT_MAX_PAYLOAD_MB
    # Token health warns when the refresh token has fewer days left (GARMIN_TOKEN_WARN_DAYS).
    token_warn_days: float = DEFAULT_TOKEN_WARN_DAYS

    @property
    def layout(self) -> DataLayout:
        return DataLayout(self.data_dir)

    @property
    def breaker_path(self) -> Path:
        """The 429 breaker's state file: one per account, shared by every run and process."""
        return self.layout.state_dir / f"rate_limit-{self.account}.json"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        account = env.get("GARMIN_ACCOUNT", DEFAULT_ACCOUNT)
        if not _ACCOUNT_SLUG.match(account):
            raise SettingsError(
                f"GARMIN_ACCOUNT={account!r} is not a usable slug: use lower-case letters, "
                "digits, '-' or '_' (it names a lake partition)"
            )
        api_url = env.get("GARMIN_API_URL") or None
        if api_url is not None and not re.match(r"^https?://[^/\s]+", api_url):
            raise SettingsError(
                f"GARMIN_API_URL={api_url!r} is not an http(s) base URL, e.g. http://127.0.0.1:8765"
            )
        interval = env.get("GARMIN_REQUEST_INTERVAL_S")
        first_s, max_s = parse_cooldown_hours(env.get("GARMIN_COOLDOWN_HOURS", ""))
        return cls(
            data_dir=Path(env.get("GARMIN_DATA_DIR", DEFAULT_DATA_DIR)).expanduser().absolute(),
            account=account,
            api_url=api_url.rstrip("/") if api_url else None,
            token_store=Path(env.get("GARMIN_TOKENS", DEFAULT_TOKEN_STORE)).expanduser(),
            history_start=env.get("GARMIN_HISTORY_START", DEFAULT_HISTORY_START),
            # Real Garmin gets a polite pace; the loopback emulator needs none.
            request_interval_s=float(interval) if interval else (0.0 if api_url else 1.0),
            provisional_overrides=parse_provisional_days(env.get("GARMIN_PROVISIONAL_DAYS", "")),
            cooldown_first_s=first_s,
            cooldown_max_s=max_s,
            retry_after_wait_max_s=parse_retry_after_wait_max(
                env.get("GARMIN_RETRY_AFTER_WAIT_MAX_S", "")
            ),
            max_payload_mb=parse_max_payload_mb(env.get("GARMIN_MAX_PAYLOAD_MB", "")),
            token_warn_days=parse_token_warn_days(env.get("GARMIN_TOKEN_WARN_DAYS", "")),
        )


def parse_provisional_days(spec: str) -> tuple[tuple[str, int], ...]:
    overrides = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        feed, _, days = item.partition("=")
        if not days.strip().isdigit():
            raise SettingsError(
                f"GARMIN_PROVISIONAL_DAYS item {item!r} is not feed=days, e.g. sleep=3"
            )
        overrides.append((feed.strip(), int(days)))
    return tuple(overrides)


def parse_cooldown_hours(spec: str) -> tuple[float, float]:
    """GARMIN_COOLDOWN_HOURS="first,max" in hours, as seconds; empty means the default."""
    parts = [part.strip() for part in (spec.strip() or DEFAULT_COOLDOWN_HOURS).split(",")]
    try:
        first, cap = (float(part) for part in parts)
    except ValueError:
        first = cap = -1.0  # not two numbers: reported below
    if not 0 < first <= cap < float("inf"):
        raise SettingsError(
            f"GARMIN_COOLDOWN_HOURS={spec!r} is not first,max hours with 0 < first <= max, "
            f"e.g. {DEFAULT_COOLDOWN_HOURS}"
        )
    return first * 3600.0, cap * 3600.0


def parse_retry_after_wait_max(value: str) -> float:
    """GARMIN_RETRY_AFTER_WAIT_MAX_S: the longest Retry-After waited out in-run (0: never)."""
    try:
        seconds = float(value) if value.strip() else DEFAULT_RETRY_AFTER_WAIT_MAX_S
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise SettingsError(
            f"GARMIN_RETRY_AFTER_WAIT_MAX_S={value!r} is not seconds between 0 and 3600, e.g. 60"
        )
    return seconds


def parse_max_payload_mb(value: str) -> float:
    """GARMIN_MAX_PAYLOAD_MB: a positive number of megabytes; empty means the default."""
    if not value.strip():
        return DEFAULT_MAX_PAYLOAD_MB
    try:
        megabytes = float(value)
    except ValueError:
        megabytes = 0.0
    if not megabytes > 0:
        raise SettingsError(
            f"GARMIN_MAX_PAYLOAD_MB={value!r} is not a positive number of megabytes, e.g. 256"
        )
    return megabytes


def max_payload_bytes(environ: dict[str, str] | None = None) -> int:
    """The payload size limit from the environment, in bytes."""
    env = os.environ if environ is None else environ
    return int(parse_max_payload_mb(env.get("GARMIN_MAX_PAYLOAD_MB", "")) * 1024 * 1024)


def parse_token_warn_days(value: str) -> float:
    """GARMIN_TOKEN_WARN_DAYS: days before the refresh token lapses to warn (0..30)."""
    if not value.strip():
        return DEFAULT_TOKEN_WARN_DAYS
    try:
        days = float(value)
    except ValueError:
        days = -1.0
    if not 0 <= days <= 30:
        raise SettingsError(
            f"GARMIN_TOKEN_WARN_DAYS={value!r} is not a number of days between 0 and 30, e.g. 7"
        )
    return days
