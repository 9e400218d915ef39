"""Resources: where the data lives and how to reach Garmin, built from the code location's
settings (`location_settings`, resolved once per process). Secrets are not config here:
tokens stay in garminconnect's token store and the Personal API key in the environment, the
keyring or its file, which only the sources read."""

import functools
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import Field, PrivateAttr

from garmin_pipeline.errors import PipelineError, SourceAuthError
from garmin_pipeline.feeds import CONNECT, PERSONAL_API, Feed
from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.raw.freshness import Freshness
from garmin_pipeline.raw.store import RawStore
from garmin_pipeline.settings import DataLayout, Settings
from garmin_pipeline.sources.connect import ConnectSource
from garmin_pipeline.sources.personal_api import PersonalApiSource
from garmin_pipeline.sources.selection import source_for

log = logging.getLogger(__name__)


@functools.cache
def location_settings() -> Settings:
    """The code location's settings, from the environment and `.env`: resolved once in each
    process that loads it (the code server, a run's worker and step processes, `python -m
    assets.sync`) and passed to the partitions, the executor and the resources built here."""
    return Settings.from_env()


class DataDir(dg.ConfigurableResource):
    """The data directory: raw/, lake/, quarantine/ and warehouse.duckdb, every account's
    (their partitions are `account=<slug>`); raw and the lake (with its quarantine) elsewhere
    when given a path or filesystem URI."""

    path: str
    raw_uri: str | None = None  # GARMIN_RAW_URI
    lake_uri: str | None = None  # GARMIN_LAKE_URI
    lake_workers: int | None = None  # GARMIN_LAKE_WORKERS; None: the cores

    @property
    def layout(self) -> DataLayout:
        return DataLayout(Path(self.path), self.raw_uri, self.lake_uri)

    @property
    def workers(self) -> int:
        """Processes a long lake build may spread over."""
        return self.lake_workers or os.cpu_count() or 1

    @property
    def raw(self) -> RawStore:
        return RawStore(self.layout.raw_dir)

    @property
    def lake(self) -> PartitionStore:
        return PartitionStore(self.layout.lake_dir)

    @property
    def quarantine(self) -> PartitionStore:
        return PartitionStore(self.layout.quarantine_dir)


class GarminConnect(dg.ConfigurableResource):
    """Garmin: Connect through `garminconnect` (or anything speaking its API at `api_url`) and
    the official Personal API, each feed from the source GARMIN_SOURCE chooses for it.

    The rest of the settings (the source mode, cooldowns, token warning) are the code
    location's (`location_settings`), never config, and credentials for a re-login come from
    the environment, so no secret can reach run config or the UI."""

    data_dir: DataDir  # where each account's 429 breakers keep their state
    api_url: str | None = None  # GARMIN_API_URL
    token_store: str  # GARMIN_TOKENS; with several accounts, a folder per account inside
    request_interval_s: float = 1.0  # GARMIN_REQUEST_INTERVAL_S
    provisional_days: dict[str, int] = Field(default_factory=dict)  # GARMIN_PROVISIONAL_DAYS
    _settings: Settings | None = PrivateAttr(default=None)
    _sources: dict[tuple[str, str], ConnectSource | PersonalApiSource] = PrivateAttr(
        default_factory=dict
    )
    _freshness: dict[str, Freshness] = PrivateAttr(default_factory=dict)

    @property
    def settings(self) -> Settings:
        """The code location's settings with this resource's configuration on top, for the
        account GARMIN_ACCOUNT names (`settings_for` gives any other's); worked out once."""
        if self._settings is None:
            self._settings = location_settings().model_copy(
                update={
                    "data_dir": Path(self.data_dir.path),
                    "raw_uri": self.data_dir.raw_uri,
                    "lake_uri": self.data_dir.lake_uri,
                    "api_url": self.api_url,
                    "tokens": Path(self.token_store).expanduser(),
                    "request_interval_s": self.request_interval_s,
                    "provisional_days": dict(self.provisional_days),
                }
            )
        return self._settings

    def settings_for(self, account: str) -> Settings:
        """One account's settings: its own token store and 429 breakers."""
        return self.settings.for_account(account)

    def source(self, name: str, account: str) -> ConnectSource | PersonalApiSource:
        """One session per source, account and run, shared by every raw asset of the run;
        each account has its own tokens, governor and breaker."""
        if (name, account) not in self._sources:
            kind = PersonalApiSource if name == PERSONAL_API else ConnectSource
            self._sources[name, account] = kind(self.settings_for(account))
        return self._sources[name, account]

    def source_name(self, feed: Feed) -> str | None:
        """Which source fetches `feed` (None: no source GARMIN_SOURCE allows covers it)."""
        return source_for(feed, self.settings)

    def freshness(self, account: str, refetch: bool = False) -> Freshness:
        """The account's clock, timezone and last upload, asked once per run."""
        if account not in self._freshness:
            timezone, last_upload = self._account_facts(account)
            self._freshness[account] = Freshness(
                timezone=timezone,
                now=datetime.now(UTC),
                last_upload=last_upload,
                refetch=refetch,
                provisional_overrides=self.settings.provisional_days,
            )
        return self._freshness[account]

    def _account_facts(self, account: str) -> tuple[ZoneInfo, datetime | None]:
        """Timezone and last upload from Garmin Connect when the mode uses it (only it knows
        the last upload), else, or while Connect is cooling down or refusing the tokens, from
        the Personal API: one source's trouble must not stop the other's feeds."""
        names = [n for n in (CONNECT, PERSONAL_API) if n in self.settings.source_precedence]
        for name in names[:-1]:
            source = self.source(name, account)
            try:
                return source.timezone, source.last_upload
            except PipelineError as error:
                # A refused login is said once, by the sync; not again here by every feed.
                level = logging.INFO if isinstance(error, SourceAuthError) else logging.WARNING
                log.log(level, "%s cannot say the timezone (%s); asking %s", name, error, names[-1])
        last = self.source(names[-1], account)
        return last.timezone, last.last_upload


def resources_from_settings(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """The resources, configured from `settings` (shown in the UI; no secret among them)."""
    data_dir = DataDir(
        path=str(settings.data_dir),
        raw_uri=settings.raw_uri,
        lake_uri=settings.lake_uri,
        lake_workers=settings.lake_workers,
    )
    return {
        "data_dir": data_dir,
        "garmin": GarminConnect(
            data_dir=data_dir,
            api_url=settings.api_url,
            token_store=str(settings.tokens),
            request_interval_s=settings.request_interval_s,
            provisional_days=dict(settings.provisional_days),
        ),
    }
