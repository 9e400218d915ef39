"""What a feed is: `RawFeed` (what raw fetches and keeps) and `LakeFeed` (what the lake parses
it into), with what the data dictionary says of it. The catalog (`garmin_pipeline.catalog`)
lists the real ones; each layer below takes only its own part."""

from __future__ import annotations

from dataclasses import dataclass

from garmin_pipeline.lake.parsers import LakeFeed, Parse
from garmin_pipeline.lake.schema import Dataset
from garmin_pipeline.raw.feed import Fetch, RawFeed, RawPayload, Stored
from garmin_pipeline.sources import CONNECT, PERSONAL_API

# Defined in the layers below, and named here too: a feed's declaration needs all of them.
__all__ = [
    "CONNECT",
    "PERSONAL_API",
    "RECORDINGS",
    "SAME_AS_CONNECT",
    "Dataset",
    "Feed",
    "Fetch",
    "LakeFeed",
    "Parse",
    "RawFeed",
    "RawPayload",
    "Shape",
    "Stored",
]

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


@dataclass(frozen=True, kw_only=True)
class Feed(LakeFeed):
    """Something fetched from a source and kept raw (`RawFeed`), parsed into one or more
    datasets (`LakeFeed`), and described for the data dictionary."""

    description: str
    shape: Shape = Shape()
