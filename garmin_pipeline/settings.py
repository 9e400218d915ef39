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

    @property
    def layout(self) -> DataLayout:
        return DataLayout(self.data_dir)

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
        return cls(
            data_dir=Path(env.get("GARMIN_DATA_DIR", DEFAULT_DATA_DIR)).expanduser().absolute(),
            account=account,
            api_url=api_url.rstrip("/") if api_url else None,
            token_store=Path(env.get("GARMIN_TOKENS", DEFAULT_TOKEN_STORE)).expanduser(),
            history_start=env.get("GARMIN_HISTORY_START", DEFAULT_HISTORY_START),
            # Real Garmin gets a polite pace; the loopback emulator needs none.
            request_interval_s=float(interval) if interval else (0.0 if api_url else 1.0),
            provisional_overrides=parse_provisional_days(env.get("GARMIN_PROVISIONAL_DAYS", "")),
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
