"""Source → raw: fetch the days of a feed that are due and keep every payload as received.

Bad input never stops the other days or feeds. A payload the source flags as unusable (a 200
whose body is not JSON) or that exceeds GARMIN_MAX_PAYLOAD_MB is *refused*: it is kept as
`<name>.malformed` (the body as received) or `<name>.oversized` (its first bytes only), recorded
in the day's manifest with the reason, so the lake quarantines it with that reason; the good
copy from an earlier fetch, if any, is left alone. The day is not marked checked, and a day
holding a refused payload is due again on every sync until a good copy replaces the refused one
(which is then dropped, and its quarantine entry with it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from garmin_pipeline.raw.feed import RawFeed
from garmin_pipeline.raw.freshness import Freshness
from garmin_pipeline.raw.store import RawStore
from garmin_pipeline.settings import max_payload_bytes
from garmin_pipeline.sources import CONNECT

log = logging.getLogger(__name__)

MALFORMED_SUFFIX = ".malformed"  # a body the source sent that cannot be parsed at all
OVERSIZED_SUFFIX = ".oversized"  # the first bytes of a payload over the size limit
REFUSED_SUFFIXES = (MALFORMED_SUFFIX, OVERSIZED_SUFFIX)
OVERSIZED_SAMPLE_BYTES = 4096


def holds_refused(raw: RawStore, feed: str, account: str, day: date) -> bool:
    """Whether the day keeps a payload refused on arrival (so it must be fetched again)."""
    manifest = raw.day_manifest(feed, account, day)
    return any(entry.reason is not None for entry in manifest.payloads.values())


@dataclass
class ExtractReport:
    feed: str
    days: list[date]  # the days asked for
    days_due: list[date] = field(default_factory=list)  # the days actually fetched
    changed: int = 0  # payloads new or different from what raw held
    unchanged: int = 0  # payloads fetched again with identical bytes: nothing written
    refused: dict[str, str] = field(default_factory=dict)  # "date/name" kept aside → reason

    @property
    def payloads(self) -> int:
        return self.changed + self.unchanged

    @property
    def days_skipped(self) -> int:
        return len(self.days) - len(self.days_due)


def extract(
    feed: RawFeed,
    source: object,
    raw: RawStore,
    account: str,
    days: list[date],
    freshness: Freshness | None = None,
    max_bytes: int | None = None,
    via: str = CONNECT,
) -> ExtractReport:
    """Fetch the due days of `days` (sorted) from `source`, the source named `via` (which of
    the feed's fetchers to use, and the provenance raw records); without `freshness` every
    day is due.

    Each payload is stored the moment it arrives, so a failure part-way keeps everything
    fetched before it; a day counts as checked only once all its payloads have arrived whole.
    `max_bytes` (default: GARMIN_MAX_PAYLOAD_MB) caps what one payload may weigh.
    """
    limit = max_payload_bytes() if max_bytes is None else max_bytes
    if freshness and not feed.snapshot:
        due = freshness.due(feed, raw, account, days)
        retry = [d for d in days if d not in due and holds_refused(raw, feed.name, account, d)]
        due = sorted({*due, *retry})
    else:
        due = freshness.due(feed, raw, account, days) if freshness else list(days)
    report = ExtractReport(feed=feed.name, days=days, days_due=due)
    pending = list(due)  # due days not yet known to be complete, in order
    broken: set[date] = set()  # days with a payload that arrived damaged: not checked

    def stored(day: date, name: str) -> bytes | None:
        if not raw.has(feed.name, account, day, name):
            return None
        return raw.get(feed.name, account, day, name)

    def mark_checked_before(day: date | None) -> None:
        now = datetime.now(UTC)
        while pending and (day is None or pending[0] < day):
            done = pending.pop(0)
            if done not in broken:
                raw.mark_checked(feed.name, account, done, now)

    for item in feed.fetchers[via](source, due, stored):
        mark_checked_before(item.day)
        name, payload, reason = item.name, item.payload, item.reason
        if reason is not None:
            name += MALFORMED_SUFFIX
        elif len(payload) > limit:
            name += OVERSIZED_SUFFIX
            reason = (
                f"{item.name} is {len(payload) / 2**20:.1f} MB, over GARMIN_MAX_PAYLOAD_MB="
                f"{limit / 2**20:g}; only its first {OVERSIZED_SAMPLE_BYTES} bytes are kept: "
                "raise the limit and sync again"
            )
            payload = payload[:OVERSIZED_SAMPLE_BYTES]
        if reason is not None:
            broken.add(item.day)
            report.refused[f"{item.day}/{name}"] = reason
            log.warning("%s %s: kept %s aside: %s", feed.name, item.day, name, reason)
        elif not feed.intact(name, payload):
            broken.add(item.day)
        if raw.put(feed.name, account, item.day, name, payload, reason=reason, source=via):
            report.changed += 1
        else:
            report.unchanged += 1
        if reason is None:  # a good copy replaces any refused one kept before
            # A snapshot lands on the sync's last day, so its refused copy may sit on another.
            for day in raw.days(feed.name, account) if feed.snapshot else [item.day]:
                for suffix in REFUSED_SUFFIXES:
                    raw.discard(feed.name, account, day, name + suffix)
    mark_checked_before(None)
    log.info(
        "%s: %d of %d days due, %d payloads (%d changed)",
        feed.name,
        len(due),
        len(days),
        report.payloads,
        report.changed,
    )
    return report
