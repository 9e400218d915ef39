"""Source → raw: fetch a feed for a run of days and keep every payload as received."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from garmin_pipeline.feeds import Feed
from garmin_pipeline.raw.store import RawStore

log = logging.getLogger(__name__)


@dataclass
class ExtractReport:
    feed: str
    days: list[date]
    changed: int = 0  # payloads new or different from what raw held
    unchanged: int = 0  # payloads fetched again with identical bytes: nothing written
    days_done: list[date] = field(default_factory=list)

    @property
    def payloads(self) -> int:
        return self.changed + self.unchanged


def extract(
    feed: Feed, source: object, raw: RawStore, account: str, days: list[date]
) -> ExtractReport:
    """Fetch `days` (sorted, contiguous) of `feed`; each payload is stored the moment it arrives,
    so a failure part-way keeps everything fetched before it."""
    report = ExtractReport(feed=feed.name, days=days)
    per_day: Counter[date] = Counter()

    def stored(day: date, name: str) -> bytes | None:
        if not raw.has(feed.name, account, day, name):
            return None
        return raw.get(feed.name, account, day, name)

    for item in feed.fetch(source, days, stored):
        if raw.put(feed.name, account, item.day, item.name, item.payload):
            report.changed += 1
        else:
            report.unchanged += 1
        per_day[item.day] += 1
    report.days_done = sorted(per_day)
    log.info(
        "%s: %d payloads over %d days (%d changed)",
        feed.name,
        report.payloads,
        len(report.days_done),
        report.changed,
    )
    return report
