"""Settings: one typed object, resolved once per process and passed down.

Every `GARMIN_*` setting is a field below, with its default, its check and its help text (the
field's `description`, the one place it is written). Values come from the environment, then
from a `.env` in the working directory (the environment wins): the file `dagster dev` loads for
the UI, and `garmin-pipeline` loads for the CLI. A value the pipeline cannot use is one
`SettingsError` line naming the variable and what it expects.

Two sections: `InstallationSettings`, what one installation shares (where data lives, which
Garmin to talk to and how politely, which accounts it syncs), and `Settings`, which adds one
account's own (its slug, token store, rate-limit breakers and Personal API key file); see
`Settings.for_account`.

Secrets are not settings: GARMIN_EMAIL, GARMIN_PASSWORD and GARMIN_PERSONAL_API_KEY are read
where they are used, from the process environment, so no settings object, repr or log line can
carry one.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import fsspec
from fsspec.utils import get_protocol
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticUndefined
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from garmin_pipeline.layout import DataLayout
from garmin_pipeline.storage import LOCAL_PROTOCOLS, location

ENV_PREFIX = "GARMIN_"
DEFAULT_DATA_DIR = "./data"
DEFAULT_ACCOUNT = "default"
DEFAULT_HISTORY_START = date(2020, 1, 1)
DEFAULT_TOKEN_STORE = "~/.garminconnect"
DEFAULT_MAX_PAYLOAD_MB = 256.0
DEFAULT_COOLDOWN_HOURS = (2.0, 24.0)  # first 429 cooldown, and the cap the doubling stops at
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


# `Settings.from_env(mapping)` reads that mapping instead of the process environment and `.env`.
_GIVEN_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar(
    "garmin_settings_environment", default=None
)


class _GivenEnvironment(EnvSettingsSource):
    """The environment source, reading a given mapping instead of `os.environ`."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._given = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # As the environment source reads os.environ: names case-insensitive, empty is unset.
        return {name.lower(): value for name, value in self._given.items() if value != ""}


def variable(field: str) -> str:
    """The environment variable of a settings field."""
    return ENV_PREFIX + field.upper()


# Bounded numbers: (low, high, what the value must be, low inclusive, whole number).
_NUMBERS: dict[str, tuple[float, float, str, bool, bool]] = {
    "request_interval_s": (0, 3600, "seconds between 0 and 3600, e.g. 1", True, False),
    "retry_after_wait_max_s": (0, 3600, "seconds between 0 and 3600, e.g. 60", True, False),
    "request_timeout_s": (0, 600, "seconds above 0 and up to 600, e.g. 15", False, False),
    "max_payload_mb": (0, math.inf, "a positive number of megabytes, e.g. 256", False, False),
    "token_warn_days": (0, 30, "a number of days between 0 and 30, e.g. 7", True, False),
    "lake_workers": (1, 64, "a whole number of processes between 1 and 64, e.g. 4", True, True),
    "retention_days": (1, 36500, "a whole number of days, e.g. 365", True, True),
}


class InstallationSettings(BaseSettings):
    """What one installation shares, whichever account a run is for: where the data lives,
    which Garmin to talk to and how politely, how the lake is built and kept, and which
    accounts it syncs. Resolve the whole `Settings` (which adds the account's own section);
    functions that need only these may take this type."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    data_dir: Path = Field(
        Path(DEFAULT_DATA_DIR),
        description="Raw, lake, quarantine, the warehouse and the small state (a local folder).",
    )
    raw_uri: str | None = Field(
        None,
        description="Raw elsewhere than `<GARMIN_DATA_DIR>/raw`: a path, or a filesystem URI "
        "such as `s3://bucket/garmin/raw` (with its fsspec package installed).",
    )
    lake_uri: str | None = Field(
        None,
        description="The lake, with its quarantine and build state, elsewhere than "
        "`<GARMIN_DATA_DIR>/lake`: a path, or a filesystem URI such as `s3://bucket/garmin/lake`.",
    )
    api_url: str | None = Field(
        None,
        description="Send every Garmin request, token refresh included, to this base URL "
        "instead of Garmin's, e.g. the emulator; plain `http://` only on loopback.",
    )
    personal_api_base_url: str | None = Field(
        None,
        description="Where Personal API requests go; unset: Garmin's, or "
        "`<GARMIN_API_URL>/personal-api` when that is set (the emulator).",
    )
    history_start: date = Field(
        DEFAULT_HISTORY_START,
        description="The first day (YYYY-MM-DD) the Dagster partitions offer, and where `sync` "
        "and `rebuild` start by default.",
    )
    request_interval_s: float = Field(
        1.0,
        description="Pause between requests to Garmin, in seconds; `0` by default with a "
        "loopback `GARMIN_API_URL`.",
    )
    cooldown_hours: Annotated[tuple[float, float], NoDecode] = Field(
        DEFAULT_COOLDOWN_HOURS,
        description="After a 429: the first cooldown, and the cap of its doubling, in hours "
        "(`first,max`).",
    )
    retry_after_wait_max_s: float = Field(
        DEFAULT_RETRY_AFTER_WAIT_MAX_S,
        description="A `Retry-After` up to this many seconds is waited out and the request "
        "sent once more; a longer one opens the cooldown.",
    )
    request_timeout_s: float = Field(
        DEFAULT_REQUEST_TIMEOUT_S,
        description="A request slower than this many seconds is dropped and retried (bounded, "
        "with backoff).",
    )
    max_payload_mb: float = Field(
        DEFAULT_MAX_PAYLOAD_MB,
        description="A payload larger than this many megabytes is refused on arrival (its first "
        "4 KiB kept as `<name>.oversized`) and quarantined.",
    )
    token_warn_days: float = Field(
        DEFAULT_TOKEN_WARN_DAYS,
        description="The `token_health` and `personal_api_key` checks warn this many days before "
        "the refresh token or the key lapses.",
    )
    source: str | None = Field(
        None,
        description="Which source serves each feed: `connect`, `personal_api` or `hybrid`; unset: "
        "`hybrid` once a Personal API key is set up, else `connect`.",
    )
    feed_sources: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Pin feeds to a source, overriding `GARMIN_SOURCE`, e.g. "
        "`sleep=connect,weigh_ins=personal_api`.",
    )
    provisional_days: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=dict,
        description="Per-feed override of how many days a day stays provisional (each feed's "
        "own lag otherwise), e.g. `sleep=3,training_status=7`.",
    )
    lake_workers: int = Field(
        default_factory=lambda: min(os.cpu_count() or 1, 64),
        description="Processes a long lake build (a backfill, a rebuild) spreads its days over; "
        "default: the number of cores.",
    )
    retention_days: int | None = Field(
        None,
        description="At the end of every sync, forget every account's days older than this many "
        "days; unset: keep everything.",
    )
    accounts: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Every account this installation syncs, as slugs, e.g. `alex,sam`; each keeps "
        "its tokens in its own folder of `GARMIN_TOKENS`. Default: `GARMIN_ACCOUNT` alone.",
    )
    tokens: Path = Field(
        Path(DEFAULT_TOKEN_STORE),
        description="garminconnect's token store (a directory or a `.json` file), written by "
        "`login` and refreshed in place under its lock; with several accounts, a folder per "
        "account inside it.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Given values, then the environment, then `.env` (or only a given mapping)."""
        given = _GIVEN_ENVIRONMENT.get()
        if given is not None:
            return init_settings, _GivenEnvironment(settings_cls, given)
        return init_settings, env_settings, dotenv_settings

    @field_validator("data_dir", "tokens", mode="after")
    @classmethod
    def _local_path(cls, value: Path, info: Any) -> Path:
        path = value.expanduser()
        return path.absolute() if info.field_name == "data_dir" else path

    @field_validator("raw_uri", "lake_uri", mode="before")
    @classmethod
    def _storage(cls, value: object, info: Any) -> str | None:
        return storage_uri(variable(info.field_name), value)

    @field_validator("api_url", mode="before")
    @classmethod
    def _api_url(cls, value: object) -> str | None:
        return base_url("GARMIN_API_URL", value, "http://127.0.0.1:8765")

    @field_validator("personal_api_base_url", mode="before")
    @classmethod
    def _personal_api_url(cls, value: object) -> str | None:
        return base_url("GARMIN_PERSONAL_API_BASE_URL", value, DEFAULT_PERSONAL_API_URL)

    @field_validator("history_start", mode="before")
    @classmethod
    def _history_start(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise SettingsError(
                f"GARMIN_HISTORY_START={value!r} is not a day as YYYY-MM-DD, e.g. "
                f"{DEFAULT_HISTORY_START}"
            ) from None

    @field_validator(*_NUMBERS, mode="before")
    @classmethod
    def _bounded(cls, value: object, info: Any) -> object:
        if value is None:
            return None
        low, high, meaning, low_inclusive, whole = _NUMBERS[info.field_name]
        return bounded_number(
            variable(info.field_name),
            value,
            low,
            high,
            meaning,
            low_inclusive=low_inclusive,
            whole=whole,
        )

    @field_validator("cooldown_hours", mode="before")
    @classmethod
    def _cooldown(cls, value: object) -> tuple[float, float]:
        return parse_cooldown_hours(value)

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: object) -> str | None:
        mode = str(value or "").strip().lower()
        if mode and mode not in SOURCE_MODES:
            raise SettingsError(
                f"GARMIN_SOURCE={mode!r} is not one of {', '.join(SOURCE_MODES)}; hybrid is "
                "recommended once you have a Personal API key"
            )
        return mode or None

    @field_validator("feed_sources", mode="before")
    @classmethod
    def _feed_sources(cls, value: object) -> object:
        return parse_feed_sources(value) if isinstance(value, str) else value

    @field_validator("provisional_days", mode="before")
    @classmethod
    def _provisional_days(cls, value: object) -> object:
        return parse_provisional_days(value) if isinstance(value, str) else value

    @property
    def layout(self) -> DataLayout:
        return DataLayout(self.data_dir, self.raw_uri, self.lake_uri)

    @property
    def personal_api_url(self) -> str:
        """GARMIN_PERSONAL_API_BASE_URL; with only GARMIN_API_URL set (the emulator), its
        Personal API path, so nothing reaches Garmin."""
        if self.personal_api_base_url:
            return self.personal_api_base_url
        if self.api_url:
            return self.api_url + EMULATED_PERSONAL_API_PATH
        return DEFAULT_PERSONAL_API_URL

    @property
    def cooldown_first_s(self) -> float:
        return self.cooldown_hours[0] * 3600.0

    @property
    def cooldown_max_s(self) -> float:
        return self.cooldown_hours[1] * 3600.0

    @property
    def max_payload_bytes(self) -> int:
        return int(self.max_payload_mb * 1024 * 1024)


class Settings(InstallationSettings):
    """The installation's settings and one account's own section: its slug, its token store
    (a folder of GARMIN_TOKENS when there are several accounts), its rate-limit breakers and
    its Personal API key file. Resolved for GARMIN_ACCOUNT; `for_account` gives another's.

    Resolve it once per process with `from_env()` and pass it down."""

    account: str = Field(
        "",
        description="The account commands act on, a slug naming its lake partitions; default: the "
        "first of `GARMIN_ACCOUNTS`, or `default`.",
    )
    personal_api_key_file: Path = Field(
        Path(DEFAULT_PERSONAL_API_KEY_FILE),
        description="The 0600 Personal API key file (one account only: several keep "
        "their keys in the keyring); by default the one Garmin's own `gc-personal` reads.",
    )
    # The source mode GARMIN_SOURCE names or, unset, the one the account's key set-up implies.
    _source_mode: str = PrivateAttr("connect")

    @model_validator(mode="before")
    @classmethod
    def _account_defaults(cls, data: Any) -> Any:
        """GARMIN_ACCOUNTS defaults to GARMIN_ACCOUNT alone, GARMIN_ACCOUNT to the first of
        GARMIN_ACCOUNTS, the request interval to 0 on loopback (only the emulator needs none)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        given = data.get("accounts") or ()
        accounts = parse_accounts(given) if given else ()
        account = str(data.get("account") or "")  # as given: a newline is no slug
        if not accounts:
            check_account_slug(account or DEFAULT_ACCOUNT, "GARMIN_ACCOUNT")
            accounts = (account or DEFAULT_ACCOUNT,)
        data["accounts"] = accounts
        data["account"] = account or accounts[0]
        if data.get("request_interval_s") in (None, ""):
            try:
                url = base_url("GARMIN_API_URL", data.get("api_url"), "")
            except SettingsError:
                url = None  # reported by the field's own check
            data["request_interval_s"] = 0.0 if is_loopback(url) else 1.0
        return data

    @field_validator("personal_api_key_file", mode="after")
    @classmethod
    def _expanded(cls, value: Path) -> Path:
        return value.expanduser()

    @model_validator(mode="after")
    def _account_is_listed(self) -> Settings:
        if self.account not in self.accounts:
            raise SettingsError(
                f"GARMIN_ACCOUNT={self.account!r} is not one of "
                f"GARMIN_ACCOUNTS={','.join(self.accounts)}"
            )
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._source_mode = self.source or self._implied_source_mode()

    def _implied_source_mode(self) -> str:
        """Hybrid once a Personal API key is set up (in the environment, the key file, or the
        record `login --personal-api` keeps beside the tokens), else connect."""
        environ = _GIVEN_ENVIRONMENT.get()
        key = (os.environ if environ is None else environ).get(PERSONAL_API_KEY_ENV, "")
        # garminconnect's token store is a directory, or a .json file in one.
        store = self.token_store
        token_dir = store.parent if store.suffix == ".json" else store
        has_key = (
            bool(key.strip())
            or self.personal_api_key_file.exists()
            or (token_dir / PERSONAL_API_KEY_RECORD).exists()
        )
        return "hybrid" if has_key else "connect"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from the environment and `.env` (or only from `environ`); a value that
        cannot be used is one `SettingsError` line."""
        token = _GIVEN_ENVIRONMENT.set(environ)
        try:
            return cls()
        except ValidationError as error:
            raise SettingsError(one_line(error, cls)) from None
        finally:
            _GIVEN_ENVIRONMENT.reset(token)

    def for_account(self, account: str) -> Settings:
        """These settings for one of `accounts`: its name, and its own token store."""
        if account not in self.accounts:
            raise SettingsError(
                f"account {account!r} is not one of GARMIN_ACCOUNTS={','.join(self.accounts)}"
            )
        return self.model_copy(update={"account": account})

    @property
    def token_store(self) -> Path:
        return token_store_of(self.tokens, self.account, self.accounts)

    @property
    def source_mode(self) -> str:
        return self._source_mode

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


def one_line(error: ValidationError, model: type[BaseSettings]) -> str:
    """The first problem of a validation as one line: our own message where a check gave one,
    else the variable, its value, what was wrong and the setting's help text."""
    first = error.errors()[0]
    raised = first.get("ctx", {}).get("error")
    if isinstance(raised, SettingsError):
        return str(raised)
    field = str(first["loc"][0]) if first["loc"] else ""
    help_text = model.model_fields[field].description if field in model.model_fields else ""
    return f"{variable(field)}={first['input']!r}: {first['msg'].lower()}; {help_text}"


def storage_uri(name: str, given: object) -> str | None:
    """A store's root: unset or empty: None (under the data directory); a local path: made
    absolute, like GARMIN_DATA_DIR; a URI: its filesystem must be usable here (s3:// needs
    s3fs installed, gs:// gcsfs, az:// adlfs)."""
    value = str(given or "").strip()
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


def base_url(name: str, given: object, example: str) -> str | None:
    """An API base URL (None when unset), without its trailing slash.

    Plain http only to this machine (the emulator): the token store, the Personal API key and
    an unattended password are sent to this URL, and must not cross a network in clear text."""
    url = str(given or "")
    if not url:
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


def check_account_slug(name: str, variable_name: str = "GARMIN_ACCOUNT") -> str:
    """An account slug (it names lake and Dagster partitions), or a SettingsError."""
    if not _ACCOUNT_SLUG.fullmatch(name):
        raise SettingsError(
            f"{variable_name}: {name!r} is not a usable account slug: use lower-case letters, "
            "digits, '-' or '_' (it names a lake partition)"
        )
    return name


def parse_accounts(given: object) -> tuple[str, ...]:
    """GARMIN_ACCOUNTS="alice,bob" (or a sequence of slugs): each a slug, none twice."""
    spec = given if isinstance(given, str) else ",".join(map(str, given))  # type: ignore[call-overload]
    names = [n.strip() for n in spec.split(",")]
    for name in names:
        check_account_slug(name, "GARMIN_ACCOUNTS")
    if len(set(names)) != len(names):
        raise SettingsError(f"GARMIN_ACCOUNTS={spec!r} names an account twice")
    return tuple(names)


def token_store_of(root: Path, account: str, accounts: tuple[str, ...]) -> Path:
    """With several accounts, each account's token store is a folder of GARMIN_TOKENS."""
    return root / account if len(accounts) > 1 else root


def parse_feed_sources(spec: str) -> dict[str, str]:
    """GARMIN_FEED_SOURCES="sleep=connect,weigh_ins=personal_api": feed → the source serving it
    (checked against the catalog when the sources are chosen)."""
    choices = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        feed, _, source = (part.strip() for part in item.partition("="))
        if not feed or source not in SOURCE_MODES or source == "hybrid":
            raise SettingsError(
                f"GARMIN_FEED_SOURCES item {item!r} is not feed=source with source connect or "
                "personal_api, e.g. sleep=connect"
            )
        choices[feed] = source
    return choices


def parse_provisional_days(spec: str) -> dict[str, int]:
    """GARMIN_PROVISIONAL_DAYS="sleep=3,training_status=7": feed → days it stays provisional."""
    overrides = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        feed, _, days = item.partition("=")
        if not feed.strip() or not days.strip().isdigit():
            raise SettingsError(
                f"GARMIN_PROVISIONAL_DAYS item {item!r} is not feed=days, e.g. sleep=3"
            )
        overrides[feed.strip()] = int(days)
    return overrides


def parse_cooldown_hours(given: object) -> tuple[float, float]:
    """GARMIN_COOLDOWN_HOURS="first,max" in hours (or a pair); empty means the default."""
    if isinstance(given, str):
        spec = given.strip()
        parts = [part.strip() for part in spec.split(",")] if spec else DEFAULT_COOLDOWN_HOURS
    else:
        spec = str(given)
        parts = given if isinstance(given, tuple | list) else ()
    try:
        first, cap = (float(part) for part in parts)
    except (TypeError, ValueError):
        first = cap = -1.0  # not two numbers: reported below
    if not 0 < first <= cap < float("inf"):
        raise SettingsError(
            f"GARMIN_COOLDOWN_HOURS={spec!r} is not first,max hours with 0 < first <= max, "
            "e.g. 2,24"
        )
    return first, cap


def bounded_number(
    name: str,
    given: object,
    low: float,
    high: float,
    meaning: str,
    *,
    low_inclusive: bool = True,
    whole: bool = False,
) -> float:
    """A number within bounds, or a one-line SettingsError naming the variable and what it
    should be (`meaning`, with an example)."""
    try:
        number = float(given)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan  # fails every comparison below
    above_low = low <= number if low_inclusive else low < number
    if not (above_low and number <= high) or (whole and not number.is_integer()):
        raise SettingsError(f"{name}={given!r} is not {meaning}")
    return int(number) if whole else number


def max_payload_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The payload size limit, in bytes, for code that has no settings object at hand (the
    parsers of the lake's worker processes): GARMIN_MAX_PAYLOAD_MB of the environment."""
    env = os.environ if environ is None else environ
    value = env.get(variable("max_payload_mb"), "").strip()
    if not value:
        return int(DEFAULT_MAX_PAYLOAD_MB * 1024 * 1024)
    low, high, meaning, low_inclusive, _ = _NUMBERS["max_payload_mb"]
    megabytes = bounded_number(
        variable("max_payload_mb"), value, low, high, meaning, low_inclusive=low_inclusive
    )
    return int(megabytes * 1024 * 1024)


def settings_reference() -> str:
    """Every setting as a Markdown table (variable, default, meaning), from the fields: the
    README's table is this text, so the help text is written once, here."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        rows.append(
            f"| `{variable(name)}` | {_default_text(field.default)} | {field.description} |"
        )
    return "\n".join(rows) + "\n"


def _default_text(default: object) -> str:
    if default in (None, "", ()) or default is PydanticUndefined:
        return "unset"
    if isinstance(default, tuple):
        return "`" + ",".join(f"{part:g}" for part in default) + "`"
    if isinstance(default, float):
        return f"`{default:g}`"
    if isinstance(default, Path) and not str(default).startswith(("/", "~")):
        return f"`./{default}`"
    return f"`{default}`"
