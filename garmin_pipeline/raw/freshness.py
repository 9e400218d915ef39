"""Which days of a feed are worth asking Garmin about again.

A day is *final* once it was fetched in full after its end (in the account's own timezone)
plus the feed's provisional lag: Garmin finalises some values late (sleep scores, training
status), and "today" is partial until the day is over. Final days are never fetched again.
A provisional day is fetched again only when the account's devices uploaded something since
the day was last fetched, and a day that began after the last upload is not fetched yet:
without an upload Garmin has nothing new to say, which is what makes a no-change refresh cost
a handful of requests instead of one per day and endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from garmin_pipeline.raw.feed import RawFeed
from garmin_pipeline.raw.store import RawStore

SNAPSHOT_MAX_AGE = timedelta(days=1)
LATEST_TIMEZONE = timezone(timedelta(hours=14))  # Kiribati: where each calendar day begins first


def latest_begun_day() -> date:
    """The newest calendar day that has begun anywhere: a safe range end for any profile."""
    return datetime.now(UTC).astimezone(LATEST_TIMEZONE).date()


@dataclass(frozen=True)
class Freshness:
    """What the source told us this sync: its clock, timezone and last device upload."""

    timezone: ZoneInfo
    now: datetime  # aware
    last_upload: datetime | None  # aware; None when unknown (then provisional days are re-fetched)
    refetch: bool = False  # fetch every day again, final or not (to pick up old edits)
    # Per-feed days a day stays provisional, overriding the catalog (GARMIN_PROVISIONAL_DAYS).
    provisional_overrides: Mapping[str, int] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.timezone).date()

    def provisional_days(self, feed: RawFeed) -> int:
        return self.provisional_overrides.get(feed.name, feed.provisional_days)

    def start_of(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.timezone)

    def end_of(self, day: date) -> datetime:
        return self.start_of(day + timedelta(days=1))

    def is_final(self, feed: RawFeed, day: date, checked_at: datetime | None) -> bool:
        if checked_at is None:
            return False
        return checked_at >= self.end_of(day) + timedelta(days=self.provisional_days(feed))

    def begun_before_last_upload(self, day: date) -> bool:
        return self.last_upload is None or self.start_of(day) <= self.last_upload

    def uploaded_since(self, checked_at: datetime) -> bool:
        return self.last_upload is None or self.last_upload > checked_at

    def due(self, feed: RawFeed, raw: RawStore, account: str, days: Sequence[date]) -> list[date]:
        """The days of `days` (sorted) to fetch now; days that have not begun are never due."""
        started = [day for day in days if day <= self.today]
        if feed.snapshot:
            return started[-1:] if started and self._snapshot_due(feed, raw, account) else []
        due = []
        for day in started:
            checked_at = raw.day_manifest(feed.name, account, day).checked_at
            if checked_at is None and not self.begun_before_last_upload(day):
                continue  # no device has uploaded anything for it yet
            if (
                self.refetch
                or checked_at is None
                or (
                    not self.is_final(feed, day, checked_at)
                    and (feed.refresh == "always" or self.uploaded_since(checked_at))
                )
            ):
                due.append(day)
        return due

    def _snapshot_due(self, feed: RawFeed, raw: RawStore, account: str) -> bool:
        stored = raw.days(feed.name, account)
        if self.refetch or not stored:
            return True
        checked_at = raw.day_manifest(feed.name, account, stored[-1]).checked_at
        return (
            checked_at is None
            or self.now - checked_at > SNAPSHOT_MAX_AGE
            or self.uploaded_since(checked_at)
        )
