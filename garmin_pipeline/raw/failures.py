"""Feeds whose last fetch failed (an endpoint Garmin removed, a source down after retries).

A failed feed fails alone: the other feeds land, and the next sync fetches its due days again
(they were never marked fetched). What failed, since when and why is kept here, one small file
per account and feed, so `garmin-pipeline status` can show it between syncs; the feed's next
successful fetch deletes its file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from garmin_pipeline.files import write_atomically


@dataclass(frozen=True)
class FeedFailure:
    feed: str
    reason: str
    since: datetime  # the first failure in a row
    last: datetime  # the latest


class FeedFailures:
    """One account's failed feeds, under `<state_dir>/feed_failures/<account>/<feed>.json`."""

    def __init__(self, state_dir: Path, account: str) -> None:
        self.folder = state_dir / "feed_failures" / account

    def _path(self, feed: str) -> Path:
        return self.folder / f"{feed}.json"

    def record(self, feed: str, reason: str, now: datetime) -> FeedFailure:
        """Remember that `feed` failed now (keeping when its run of failures began)."""
        before = self.get(feed)
        failure = FeedFailure(feed, reason, before.since if before else now, now)
        body = {"reason": reason, "since": failure.since.isoformat(), "last": now.isoformat()}
        write_atomically(self._path(feed), (json.dumps(body, indent=1) + "\n").encode())
        return failure

    def clear(self, feed: str) -> None:
        """The feed was fetched: it is no longer failing."""
        self._path(feed).unlink(missing_ok=True)

    def get(self, feed: str) -> FeedFailure | None:
        try:
            body = json.loads(self._path(feed).read_text("utf-8"))
            return FeedFailure(
                feed,
                str(body["reason"]),
                datetime.fromisoformat(body["since"]),
                datetime.fromisoformat(body["last"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None  # none recorded, or unreadable: nothing to show

    def all(self) -> list[FeedFailure]:
        if not self.folder.is_dir():
            return []
        found = (self.get(path.stem) for path in sorted(self.folder.glob("*.json")))
        return [failure for failure in found if failure is not None]
