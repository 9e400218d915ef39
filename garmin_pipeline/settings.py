"""Settings from the environment, resolved once per process.

Everything a user configures comes from environment variables (or a `.env` that the Dagster CLI
loads), so secrets never pass through run config, logs or metadata.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import fsspec
from fsspec.utils import get_protocol

from garmin_pipeline.storage import LOCAL_PROTOCOLS, StoragePath, location

DEFAULT_DATA_DIR = "./data"
DEFAULT_ACCOUNT = "default"
DEFAULT_HISTORY_START = "2020-01-01"
DEFAULT_TOKEN_STORE = "~/.garminconnect"
DEFAULT_MAX_PAYLOAD_MB = 256.0
DEFAULT_COOLDOWN_HOURS = "2,24"  # first 429 cooldown, and the cap the doubling stops at
DEFAULT_REQUEST_TIMEOUT_S = 15.0  # garminconnect's own per-request timeout
DEFAULT_RETRY_AFTER_WAIT_MAX_S = 60.0  # a shorter Retry-After is waited out once, in-run
DEFAULT_TOKEN_WARN_DAYS = 7.0  # warn this long before the refresh token lapses
DEFAULT_PERSONAL_API_URL = "https://personal.connectapi.garmin.com"
# Where Garmin's own `gc-personal` CLI keeps the key, so a key set up for it works here too.
DEFAULT_PERSONAL_API_KEY_FILE = "~/.config/garmin/connect-personal-api-key"
PERSONAL_API_KEY_ENV = "GARMIN_PERSONAL_API_KEY"
# Beside the Connect tokens, `login --personal-api` records the key's expiry (never the key).
PERSONAL_API_KEY_RECORD = "personal_api_key.json"
# The emulator serves the Personal API under this path of GARMIN_API_URL.
EMULATED_PERSONAL_API_PATH = "/personal-api"
# Which source serves each feed, in order of preference (GARMIN_SOURCE).
SOURCE_MODES: dict[str, tuple[str, ...]] = {
    "connect": ("connect",),
    "personal_api": ("personal_api",),
    "hybrid": ("personal_api", "connect"),
}

_ACCOUNT_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")  # the whole value: fullmatch
_BASE_URL = re.compile(r"https?://[^/\s]+")


class SettingsError(ValueError):
    """A setting has a value the pipeline cannot use; the message says which and how to fix it."""


@dataclass(frozen=True)
class DataLayout:
    """What lives where under the data directory; the one place that spells it out.

    Raw and the lake may live elsewhere, on any fsspec filesystem (GARMIN_RAW_URI,
    GARMIN_LAKE_URI, e.g. s3://bucket/garmin/lake): then the lake's quarantine and build
    state go inside it, as `_quarantine/` and `_built/` (a name starting with `_` is no
    dataset: hive readers and `status` skip it), so one URI holds all that is derived from
    raw. The warehouse and the small state stay local, under the data directory."""

    root: Path
    raw_uri: str | None = None
    lake_uri: str | None = None

    @property
    def raw_dir(self) -> StoragePath:
        return location(self.raw_uri) if self.raw_uri else self.root / "raw"

    @property
    def lake_dir(self) -> StoragePath:
        return location(self.lake_uri) if self.lake_uri else self.root / "lake"

    @property
    def quarantine_dir(self) -> StoragePath:
        return self.lake_dir / "_quarantine" if self.lake_uri else self.root / "quarantine"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def state_dir(self) -> Path:
        """Small state that outlives runs and processes (the rate-limit breaker)."""
        return self.root / "state"

    @property
    def build_state_dir(self) -> StoragePath:
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
    # How long one request may take before it counts as failed and is retried.
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    # A payload larger than this is refused on arrival (GARMIN_MAX_PAYLOAD_MB).
    max_payload_mb: float = DEFAULT_MAX_PAYLOAD_MB
    # Token health warns when the refresh token has fewer days left (GARMIN_TOKEN_WARN_DAYS).
    token_warn_days: float = DEFAULT_TOKEN_WARN_DAYS
    # connect, personal_api or hybrid (GARMIN_SOURCE); see `sources.selection`.
    source_mode: str = "connect"
    # Per-feed choice of source, overriding the mode: GARMIN_FEED_SOURCES=sleep=connect,...
    feed_sources: tuple[tuple[str, str], ...] = ()
    personal_api_url: str = DEFAULT_PERSONAL_API_URL
    personal_api_key_file: Path = Path(DEFAULT_PERSONAL_API_KEY_FILE)  # expanded by from_env
    # Processes a long lake build may spread over (GARMIN_LAKE_WORKERS; default: the cores).
    lake_workers: int = 1
    # Raw and the lake elsewhere than under data_dir (GARMIN_RAW_URI, GARMIN_LAKE_URI): a
    # path or a filesystem URI; see `DataLayout`.
    raw_uri: str | None = None
    lake_uri: str | None = None
    # Every account this installation syncs (GARMIN_ACCOUNTS; default: GARMIN_ACCOUNT alone).
    accounts: tuple[str, ...] = (DEFAULT_ACCOUNT,)
    # GARMIN_TOKENS as given: with several accounts, each has a token store folder inside it.
    token_root: Path | None = None

    def for_account(self, account: str) -> Settings:
        """These settings for one of `accounts`: its name, and its own token store."""
        if account not in self.accounts:
            raise SettingsError(
                f"account {account!r} is not one of GARMIN_ACCOUNTS={','.join(self.accounts)}"
            )
        root = self.token_root or self.token_store
        return replace(
            self, account=account, token_store=token_store_of(root, account, self.accounts)
        )

    @property
    def layout(self) -> DataLayout:
        return DataLayout(self.data_dir, self.raw_uri, self.lake_uri)

    @property
    def breaker_path(self) -> Path:
        """The 429 breaker's state file: one per account, shared by every run and process."""
        return self.layout.state_dir / f"rate_limit-{self.account}.json"

    @property
    def personal_api_breaker_path(self) -> Path:
        """The Personal API's own breaker: its rate limit is not Garmin Connect's."""
        return self.layout.state_dir / f"rate_limit-{self.account}-personal_api.json"

    @property
    def source_precedence(self) -> tuple[str, ...]:
        return SOURCE_MODES[self.source_mode]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        accounts = parse_accounts(env)
        account = env.get("GARMIN_ACCOUNT") or accounts[0]
        if account not in accounts:
            raise SettingsError(
                f"GARMIN_ACCOUNT={account!r} is not one of GARMIN_ACCOUNTS={','.join(accounts)}"
            )
        api_url = base_url(env, "GARMIN_API_URL", "http://127.0.0.1:8765")
        interval = env.get("GARMIN_REQUEST_INTERVAL_S")
        first_s, max_s = parse_cooldown_hours(env.get("GARMIN_COOLDOWN_HOURS", ""))
        key_file = Path(
            env.get("GARMIN_PERSONAL_API_KEY_FILE") or DEFAULT_PERSONAL_API_KEY_FILE
        ).expanduser()
        token_root = Path(env.get("GARMIN_TOKENS", DEFAULT_TOKEN_STORE)).expanduser()
        token_store = token_store_of(token_root, account, accounts)
        return cls(
            data_dir=Path(env.get("GARMIN_DATA_DIR", DEFAULT_DATA_DIR)).expanduser().absolute(),
            account=account,
            accounts=accounts,
            token_root=token_root,
            api_url=api_url.rstrip("/") if api_url else None,
            token_store=token_store,
            history_start=env.get("GARMIN_HISTORY_START", DEFAULT_HISTORY_START),
            # Real Garmin gets a polite pace, and so does any other host; only the loopback
            # emulator needs none.
            request_interval_s=float(interval)
            if interval
            else (0.0 if is_loopback(api_url) else 1.0),
            provisional_overrides=parse_provisional_days(env.get("GARMIN_PROVISIONAL_DAYS", "")),
            cooldown_first_s=first_s,
            cooldown_max_s=max_s,
            retry_after_wait_max_s=env_number(
                env,
                "GARMIN_RETRY_AFTER_WAIT_MAX_S",
                DEFAULT_RETRY_AFTER_WAIT_MAX_S,
                0,
                3600,
                "seconds between 0 and 3600",
            ),
            request_timeout_s=env_number(
                env,
                "GARMIN_REQUEST_TIMEOUT_S",
                DEFAULT_REQUEST_TIMEOUT_S,
                0,
                600,
                "seconds above 0 and up to 600",
                low_inclusive=False,
            ),
            max_payload_mb=_max_payload_mb(env),
            token_warn_days=env_number(
                env,
                "GARMIN_TOKEN_WARN_DAYS",
                DEFAULT_TOKEN_WARN_DAYS,
                0,
                30,
                "a number of days between 0 and 30",
            ),
            source_mode=_source_mode(env, key_file, token_store),
            feed_sources=parse_feed_sources(env.get("GARMIN_FEED_SOURCES", "")),
            personal_api_url=personal_api_url(env, api_url),
            personal_api_key_file=key_file,
            lake_workers=int(
                env_number(
                    env,
                    "GARMIN_LAKE_WORKERS",
                    os.cpu_count() or 1,
                    1,
                    64,
                    "a whole number of processes between 1 and 64",
                    whole=True,
                )
            ),
            raw_uri=storage_uri(env, "GARMIN_RAW_URI"),
            lake_uri=storage_uri(env, "GARMIN_LAKE_URI"),
        )


def storage_uri(env: Mapping[str, str], name: str) -> str | None:
    """A store's root from the environment: unset or empty: None (under the data directory);
    a local path: made absolute, like GARMIN_DATA_DIR; a URI: its filesystem must be usable
    here (s3:// needs s3fs installed, gs:// gcsfs, az:// adlfs)."""
    value = env.get(name, "").strip()
    if not value:
        return None
    protocol = get_protocol(value)
    if protocol in LOCAL_PROTOCOLS:
        local = location(value)
        assert isinstance(local, Path)  # what `location` gives for a local protocol
        return str(local.expanduser().absolute())
    try:
        fsspec.get_filesystem_class(protocol)
    except (ImportError, ValueError) as error:
        raise SettingsError(
            f"{name}={value!r} names a filesystem this install cannot use ({error}); give a "
            "local path or a URI such as s3://bucket/garmin/lake with its fsspec package"
        ) from None
    return value


def _source_mode(env: Mapping[str, str], key_file: Path, token_store: Path) -> str:
    """GARMIN_SOURCE, or by default hybrid once a Personal API key is set up (in the
    environment, the key file, or the keyring `login --personal-api` recorded), else connect."""
    mode = env.get("GARMIN_SOURCE", "").strip().lower()
    if not mode:
        # garminconnect's token store is a directory, or a .json file in one.
        token_dir = token_store.parent if token_store.suffix == ".json" else token_store
        has_key = (
            bool(env.get(PERSONAL_API_KEY_ENV, "").strip())
            or key_file.exists()
            or (token_dir / PERSONAL_API_KEY_RECORD).exists()
        )
        return "hybrid" if has_key else "connect"
    if mode not in SOURCE_MODES:
        raise SettingsError(
            f"GARMIN_SOURCE={mode!r} is not one of {', '.join(SOURCE_MODES)}; hybrid is "
            "recommended once you have a Personal API key"
        )
    return mode


def personal_api_url(env: Mapping[str, str], api_url: str | None) -> str:
    """GARMIN_PERSONAL_API_BASE_URL (the variable Garmin's client reads); with only
    GARMIN_API_URL set (the emulator), its Personal API path, so nothing reaches Garmin."""
    url = base_url(env, "GARMIN_PERSONAL_API_BASE_URL", DEFAULT_PERSONAL_API_URL)
    if url is None:
        return (
            api_url.rstrip("/") + EMULATED_PERSONAL_API_PATH
            if api_url
            else DEFAULT_PERSONAL_API_URL
        )
    return url


def is_loopback(url: str | None) -> bool:
    """Whether the URL's host is this machine (localhost, 127.0.0.0/8, ::1)."""
    try:
        host = urlsplit(url).hostname if url else None
    except ValueError:
        return False
    return host is not None and is_loopback_host(host)


def is_loopback_host(host: str) -> bool:
    """Whether `host` (an address, `[::1]` included, or a name) is this machine's loopback;
    any other name may resolve anywhere, the machine's own addresses included."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def base_url(env: Mapping[str, str], name: str, example: str) -> str | None:
    """An API base URL from the environment (None when unset), without its trailing slash.

    Plain http only to this machine (the emulator): the token store, the Personal API key and
    an unattended password are sent to this URL, and must not cross a network in clear text."""
    url = env.get(name) or None
    if url is None:
        return None
    if not _BASE_URL.match(url):
        raise SettingsError(f"{name}={url!r} is not an http(s) base URL, e.g. {example}")
    if url.lower().startswith("http://") and not is_loopback(url):
        raise SettingsError(
            f"{name}={url!r} is plain http to another machine, which would send tokens, keys "
            "and passwords in clear text: use https://, or http:// only on loopback "
            "(127.0.0.1, localhost)"
        )
    return url.rstrip("/")


def parse_accounts(env: Mapping[str, str]) -> tuple[str, ...]:
    """GARMIN_ACCOUNTS="alice,bob", or GARMIN_ACCOUNT alone; each a slug (it names lake
    partitions and Dagster partitions)."""
    spec = env.get("GARMIN_ACCOUNTS", "").strip()
    variable = "GARMIN_ACCOUNTS" if spec else "GARMIN_ACCOUNT"
    names = (
        [n.strip() for n in spec.split(",")]
        if spec
        else [env.get("GARMIN_ACCOUNT") or DEFAULT_ACCOUNT]
    )
    for name in names:
        if not _ACCOUNT_SLUG.fullmatch(name):
            raise SettingsError(
                f"{variable}: {name!r} is not a usable account slug: use lower-case letters, "
                "digits, '-' or '_' (it names a lake partition)"
            )
    if len(set(names)) != len(names):
        raise SettingsError(f"GARMIN_ACCOUNTS={spec!r} names an account twice")
    return tuple(names)


def token_store_of(root: Path, account: str, accounts: tuple[str, ...]) -> Path:
    """With several accounts, each account's token store is a folder of GARMIN_TOKENS."""
    return root / account if len(accounts) > 1 else root


def parse_feed_sources(spec: str) -> tuple[tuple[str, str], ...]:
    """GARMIN_FEED_SOURCES="sleep=connect,weigh_ins=personal_api": feed → the source serving it
    (checked against the catalog when the sources are chosen)."""
    choices = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        feed, _, source = (part.strip() for part in item.partition("="))
        if not feed or source not in SOURCE_MODES or source == "hybrid":
            raise SettingsError(
                f"GARMIN_FEED_SOURCES item {item!r} is not feed=source with source connect or "
                "personal_api, e.g. sleep=connect"
            )
        choices.append((feed, source))
    return tuple(choices)


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


def env_number(
    env: Mapping[str, str],
    name: str,
    default: float,
    low: float,
    high: float,
    meaning: str,
    *,
    low_inclusive: bool = True,
    whole: bool = False,
) -> float:
    """A bounded number from the environment (unset or empty: `default`); anything else is a
    one-line SettingsError naming the variable, what it should be, and an example."""
    value = env.get(name, "")
    if not value.strip():
        return default
    try:
        number = float(value)
    except ValueError:
        number = math.nan  # fails every comparison below
    above_low = low <= number if low_inclusive else low < number
    if not (above_low and number <= high) or (whole and not number.is_integer()):
        raise SettingsError(f"{name}={value!r} is not {meaning}, e.g. {default:g}")
    return number


def max_payload_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The payload size limit from the environment, in bytes."""
    env = os.environ if environ is None else environ
    return int(_max_payload_mb(env) * 1024 * 1024)


def _max_payload_mb(env: Mapping[str, str]) -> float:
    return env_number(
        env,
        "GARMIN_MAX_PAYLOAD_MB",
        DEFAULT_MAX_PAYLOAD_MB,
        0,
        math.inf,
        "a positive number of megabytes",
        low_inclusive=False,
    )
