"""What a feed and a dataset are; the catalog (`garmin_pipeline.catalog`) lists the real ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Literal

import pandera.polars as pa
import polars as pl

from garmin_pipeline.lake.parsers import ParsedDay, RawDay
from garmin_pipeline.lake.schema import (
    BATCH_DAY,
    Column,
    Plausible,
    pandera_schema,
    polars_schema,
)


@dataclass(frozen=True)
class Dataset:
    """One lake table: a Parquet file per account and day (`layout.partition_dir`)."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # unique per partition; also the sort order that makes files deterministic

    @cached_property
    def schema(self) -> pa.DataFrameSchema:
        return pandera_schema(self.name, self.columns, self.key)

    @cached_property
    def batch_schema(self) -> pa.DataFrameSchema:
        """`schema` for several days stacked with a `BATCH_DAY` column: keys unique per day."""
        key = (*self.key, BATCH_DAY.name) if self.key else ()
        return pandera_schema(self.name, (*self.columns, BATCH_DAY), key)

    @cached_property
    def polars_schema(self) -> pl.Schema:
        return polars_schema(self.columns)

    @cached_property
    def plausible(self) -> dict[str, Plausible]:
        """The measurements and their plausible ranges: outside them, nulled and counted."""
        return {c.name: c.plausible for c in self.columns if c.plausible is not None}


@dataclass(frozen=True)
class RawPayload:
    day: date
    name: str
    payload: bytes
    # Set when the source sent something unusable (a body that is not JSON): raw keeps it as
    # `<name>.malformed` with this reason, the lake quarantines it, the day is fetched again.
    reason: str | None = None


# What raw already holds for a (day, payload name), or None.
Stored = Callable[[date, str], bytes | None]
# (source, days in order, what raw holds) → payloads, yielded as they arrive
Fetch = Callable[[object, Sequence[date], Stored], Iterator[RawPayload]]
Parse = Callable[[RawDay, date], ParsedDay]


CONNECT = "connect"
PERSONAL_API = "personal_api"
RECORDINGS = "tests/data/garmin_connect"


@dataclass(frozen=True)
class Shape:
    """Where the answer shape a feed's parser reads comes from, as the data dictionary says.

    `recorded`: real answers (in `RECORDINGS`, their origins in its SOURCES.md) that the feed's
    fetch, parse and lake validation are tested on. `assumed`: what no recording shows and what
    is read instead. `personal_api`: what the Personal API answers are taken to be; none of them
    is recorded, so a feed the Personal API serves always says it."""

    recorded: tuple[str, ...] = ()
    assumed: str = ""
    personal_api: str = ""

    @property
    def text(self) -> str:
        """The data dictionary's sentence on it."""
        if self.recorded:
            names = ", ".join(f"`{name}`" for name in self.recorded)
            text = f"Answer shape: recorded ({names} in {RECORDINGS})."
            text += f" Assumed: {self.assumed}." if self.assumed else ""
        else:
            text = f"Answer shape: assumed, none recorded: {self.assumed}."
        if self.personal_api:
            text += f" Personal API: assumed, none recorded: {self.personal_api}."
        return text


# A Personal API path Garmin Connect serves too.
SAME_AS_CONNECT = "the same path as Connect's, taken to answer the same body"


@dataclass(frozen=True)
class Feed:
    """Something fetched from a source and kept raw, parsed into one or more datasets.

    Every feed can be fetched through `garminconnect` (`fetch`); a feed the official Personal
    API covers also says how to fetch it there (`personal_api`). Both yield the same payload
    names in the same per-day shape, so one `parse` serves either."""

    name: str
    description: str
    fetch: Fetch
    parse: Parse
    datasets: tuple[Dataset, ...]
    provisional_days: int = 2  # Garmin finalises some days late; refreshed until this old
    # "on_upload": a provisional day is fetched again only after a new device upload;
    # "always": on every sync (the activity list, where edits and deletions need no upload).
    refresh: Literal["on_upload", "always"] = "on_upload"
    snapshot: bool = False  # state without history (devices, gear): kept once per sync
    # Whether a payload arrived whole; a day holding one that did not is fetched again.
    intact: Callable[[str, bytes], bool] = lambda name, payload: True
    personal_api: Fetch | None = None
    # The source hybrid mode takes first: the Personal API, unless it costs far more requests.
    hybrid_source: str = PERSONAL_API
    shape: Shape = Shape()
    # A column every dataset of the feed has, naming one thing they describe together (an
    # activity): its rows land in all of them or are quarantined from all, with one reason.
    entity: str | None = None

    @property
    def fetchers(self) -> dict[str, Fetch]:
        """Each source that can fetch this feed, and how."""
        return {CONNECT: self.fetch} | (
            {PERSONAL_API: self.personal_api} if self.personal_api else {}
        )
