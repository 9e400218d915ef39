"""Resources: where the data lives and how to reach Garmin. Secrets are not config here:
tokens stay in garminconnect's token store and the Personal API key in the environment, the
keyring or its file, which only the sources read."""

import logging
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import PrivateAttr

from garmin_pipeline.errors import PipelineError
from garmin_pipeline.feeds import CONNECT, PERSONAL_API, Feed
from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.raw.freshness import Freshness
from garmin_pipeline.raw.store import RawStore
from garmin_pipeline.settings import (
    DataLayout,
    Settings,
    parse_provisional_days,
    personal_api_url,
)
from garmin_pipeline.sources.connect import ConnectSource
from garmin_pipeline.sources.personal_api import PersonalApiSource
from garmin_pipeline.sources.selection import source_for

log = logging.getLogger(__name__)


class DataDir(dg.ConfigurableResource):
    """The data directory: raw/, lake/, quarantine/ and warehouse.duckdb, for one account."""

    path: str
    account: str

    @property
    def layout(self) -> DataLayout:
        return DataLayout(Path(self.path))

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

    The rest of the settings (the source mode, cooldowns, token warning, credentials for a
    re-login) come from the environment, never from config, so no secret can reach run config
    or the UI."""

    data_dir: DataDir  # where the 429 breaker's state lives, per account
    api_url: str | None = None
    token_store: str
    request_interval_s: float = 1.0
    provisional_days: str = ""  # per-feed overrides, e.g. "sleep=3,training_status=7"
    _sources: dict[str, ConnectSource | PersonalApiSource] = PrivateAttr(default_factory=dict)
    _freshness: Freshness | None = PrivateAttr(default=None)

    @property
    def settings(self) -> Settings:
        """The environment's settings with this resource's configuration on top."""
        return replace(
            Settings.from_env(),
            data_dir=Path(self.data_dir.path),
            account=self.data_dir.account,
            api_url=self.api_url,
            personal_api_url=personal_api_url(os.environ, self.api_url),
            token_store=Path(self.token_store).expanduser(),
            request_interval_s=self.request_interval_s,
        )

    def source(self, name: str = CONNECT) -> ConnectSource | PersonalApiSource:
        """One session per source and run, shared by every raw asset the run executes."""
        if name not in self._sources:
            kind = PersonalApiSource if name == PERSONAL_API else ConnectSource
            self._sources[name] = kind(self.settings)
        return self._sources[name]

    def source_name(self, feed: Feed) -> str | None:
        """Which source fetches `feed` (None: no source GARMIN_SOURCE allows covers it)."""
        return source_for(feed, self.settings)

    def freshness(self, refetch: bool = False) -> Freshness:
        """The account's clock, timezone and last upload, asked once per run."""
        if self._freshness is None:
            timezone, last_upload = self._account_facts()
            self._freshness = Freshness(
                timezone=timezone,
                now=datetime.now(UTC),
                last_upload=last_upload,
                refetch=refetch,
                provisional_overrides=parse_provisional_days(self.provisional_days),
            )
        return self._freshness

    def _account_facts(self) -> tuple[ZoneInfo, datetime | None]:
        """Timezone and last upload from Garmin Connect when the mode uses it (only it knows
        the last upload), else, or while Connect is cooling down or refusing the tokens, from
        the Personal API: one source's trouble must not stop the other's feeds."""
        names = [n for n in (CONNECT, PERSONAL_API) if n in self.settings.source_precedence]
        for name in names[:-1]:
            source = self.source(name)
            try:
                return source.timezone, source.last_upload
            except PipelineError as error:
                log.warning("%s cannot say the timezone (%s); asking %s", name, error, names[-1])
        last = self.source(names[-1])
        return last.timezone, last.last_upload


def resources_from_env(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    data_dir = DataDir(path=str(settings.data_dir), account=settings.account)
    return {
        "data_dir": data_dir,
        "garmin": GarminConnect(
            data_dir=data_dir,
            api_url=settings.api_url,
            token_store=str(settings.token_store),
            request_interval_s=settings.request_interval_s,
            provisional_days=",".join(f"{f}={d}" for f, d in settings.provisional_overrides),
        ),
    }
