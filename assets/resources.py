"""Resources: where the data lives and how to reach Garmin. Secrets are not config here:
tokens stay in garminconnect's token store, which only the source reads."""

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.raw.freshness import Freshness
from garmin_pipeline.raw.store import RawStore
from garmin_pipeline.settings import DataLayout, Settings, parse_provisional_days
from garmin_pipeline.sources.connect import ConnectSource


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
    """Garmin Connect through `garminconnect`, or anything speaking its API at `api_url`.

    The rest of the settings (cooldowns, token warning, credentials for a re-login) come from the
    environment, never from config, so no secret can reach run config or the UI."""

    data_dir: DataDir  # where the 429 breaker's state lives, per account
    api_url: str | None = None
    token_store: str
    request_interval_s: float = 1.0
    provisional_days: str = ""  # per-feed overrides, e.g. "sleep=3,training_status=7"
    _source: ConnectSource | None = PrivateAttr(default=None)
    _freshness: Freshness | None = PrivateAttr(default=None)

    @property
    def settings(self) -> Settings:
        """The environment's settings with this resource's configuration on top."""
        return replace(
            Settings.from_env(),
            data_dir=Path(self.data_dir.path),
            account=self.data_dir.account,
            api_url=self.api_url,
            token_store=Path(self.token_store).expanduser(),
            request_interval_s=self.request_interval_s,
        )

    @property
    def source(self) -> ConnectSource:
        """One logged-in session per run, shared by every raw asset the run executes."""
        if self._source is None:
            self._source = ConnectSource(self.settings)
        return self._source

    def freshness(self, refetch: bool = False) -> Freshness:
        """The account's clock, timezone and last upload, asked once per run."""
        if self._freshness is None:
            self._freshness = Freshness(
                timezone=self.source.timezone,
                now=datetime.now(UTC),
                last_upload=self.source.last_upload,
                refetch=refetch,
                provisional_overrides=parse_provisional_days(self.provisional_days),
            )
        return self._freshness


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
