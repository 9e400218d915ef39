"""Which source serves each feed: the mode's precedence, then per-feed choices.

`GARMIN_SOURCE` picks a mode: `connect` (garminconnect for everything), `personal_api` (the
official API alone: feeds it does not cover are not fetched) or `hybrid` (the Personal API for
every feed it covers, garminconnect for the rest; a feed the Personal API serves only a day at
a time, where Connect serves weeks per request, says so with `RawFeed.hybrid_source`).
`GARMIN_FEED_SOURCES=feed=source,...` pins single feeds to a source. The data dictionary's
"Sources" table is `precedence_table()`.
"""

from __future__ import annotations

from collections.abc import Iterable

from garmin_pipeline.raw.feed import RawFeed
from garmin_pipeline.settings import SOURCE_MODES, Settings, SettingsError


def source_for(feed: RawFeed, settings: Settings) -> str | None:
    """The source that fetches `feed`, or None when no configured source covers it."""
    pinned = settings.feed_sources.get(feed.name)
    if pinned is not None:
        if pinned not in feed.fetchers:
            raise SettingsError(
                f"GARMIN_FEED_SOURCES pins {feed.name} to {pinned}, which does not serve it; "
                f"it can come from: {', '.join(feed.fetchers)}"
            )
        return pinned
    return next(
        (name for name in precedence(feed, settings.source_mode) if name in feed.fetchers), None
    )


def precedence(feed: RawFeed, mode: str) -> tuple[str, ...]:
    """The sources `mode` allows for `feed`, in the order it tries them."""
    order = SOURCE_MODES[mode]
    if mode == "hybrid" and feed.hybrid_source in order:
        return (feed.hybrid_source, *(s for s in order if s != feed.hybrid_source))
    return order


def check_feed_sources(settings: Settings, feeds: Iterable[RawFeed]) -> None:
    """Refuse a GARMIN_FEED_SOURCES entry that names no feed or a source that cannot serve it."""
    by_name = {feed.name: feed for feed in feeds}
    for name in settings.feed_sources:
        if name not in by_name:
            raise SettingsError(
                f"GARMIN_FEED_SOURCES names {name!r}, which is not a feed; feeds: "
                f"{', '.join(by_name)}"
            )
        source_for(by_name[name], settings)


def sources_in_use(settings: Settings, feeds: Iterable[RawFeed]) -> set[str]:
    return {name for feed in feeds if (name := source_for(feed, settings)) is not None}


def precedence_table(feeds: Iterable[RawFeed]) -> str:
    """A markdown table: which source each mode uses for each feed (for the docs)."""
    modes = [mode for mode in SOURCE_MODES]
    lines = [
        "| feed | " + " | ".join(f"`GARMIN_SOURCE={m}`" for m in modes) + " |",
        "|---|" + "---|" * len(modes),
    ]
    for feed in feeds:
        cells = []
        for mode in modes:
            chosen = next((s for s in precedence(feed, mode) if s in feed.fetchers), None)
            cells.append(chosen or "not fetched")
        lines.append(f"| {feed.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
