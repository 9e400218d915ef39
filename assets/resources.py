"""Resources: where the data lives and how to reach Garmin. Secrets are not config here:
tokens stay in garminconnect's token store, which only the source reads."""

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.raw.store import RawStore
from garmin_pipeline.settings import DataLayout, Settings
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
    """Garmin Connect through `garminconnect`, or anything speaking its API at `api_url`."""

    api_url: str | None = None
    token_store: str
    request_interval_s: float = 1.0
    _source: ConnectSource | None = PrivateAttr(default=None)

    @property
    def source(self) -> ConnectSource:
        """One logged-in session per run, shared by every raw asset the run executes."""
        if self._source is None:
            settings = Settings.from_env(
                {
                    "GARMIN_API_URL": self.api_url or "",
                    "GARMIN_TOKENS": self.token_store,
                    "GARMIN_REQUEST_INTERVAL_S": str(self.request_interval_s),
                }
            )
            self._source = ConnectSource(settings)
        return self._source


def resources_from_env(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return {
        "data_dir": DataDir(path=str(settings.data_dir), account=settings.account),
        "garmin": GarminConnect(
            api_url=settings.api_url,
            token_store=str(settings.token_store),
            request_interval_s=settings.request_interval_s,
        ),
    }
