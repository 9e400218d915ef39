"""A feed as raw knows it: how each source fetches it, and how long a day of it stays
provisional. `garmin_pipeline.feeds.Feed` adds how the lake parses it; the catalog lists them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from garmin_pipeline.sources import CONNECT, PERSONAL_API


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


@dataclass(frozen=True, kw_only=True)
class RawFeed:
    """Something fetched from a source and kept raw.

    Every feed can be fetched through `garminconnect` (`fetch`); a feed the official Personal
    API covers also says how to fetch it there (`personal_api`). Both yield the same payload
    names in the same per-day shape, so one parser serves either."""

    name: str
    fetch: Fetch
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

    @property
    def fetchers(self) -> dict[str, Fetch]:
        """Each source that can fetch this feed, and how."""
        return {CONNECT: self.fetch} | (
            {PERSONAL_API: self.personal_api} if self.personal_api else {}
        )
