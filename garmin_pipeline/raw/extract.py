"""Source → raw: fetch the days of a feed that are due and keep every payload as received."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from garmin_pipeline.feeds import Feed
from garmin_pipeline.raw.freshness import Freshness
from garmin_pipeline.raw.store import RawStore

log = logging.getLogger(__name__)


@dataclass
class ExtractReport:
    feed: str
    days: list[date]  # the days asked for
    days_due: list[date] = field(default_factory=list)  # the days actually fetched
    changed: int = 0  # payloads new or different from what raw held
    unchanged: int = 0  # payloads fetched again with identical bytes: nothing written

    @property
    def payloads(self) -> int:
        return self.changed + self.unchanged

    @property
    def days_skipped(self) -> int:
        return len(self.days) - len(self.days_due)


def extract(
    feed: Feed,
    source: object,
    raw: RawStore,
    account: str,
    days: list[date],
    freshness: Freshness | None = None,
) -> ExtractReport:
    """Fetch the due days of `days` (sorted); without `freshness` every day is due.

    Each payload is stored the moment it arrives, so a failure part-way keeps everything
    fetched before it; a day counts as checked only once all its payloads have arrived.
    """
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

    for item in feed.fetch(source, due, stored):
        mark_checked_before(item.day)
        if not feed.intact(item.name, item.payload):
            broken.add(item.day)
        if raw.put(feed.name, account, item.day, item.name, item.payload):
            report.changed += 1
        else:
            report.unchanged += 1
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
