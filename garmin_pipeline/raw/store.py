"""Payloads as received, one folder per feed, account and day, with a SHA-256 manifest.

Raw is the only layer that needs the network: lake and warehouse are rebuilt from it offline.
Storing an unchanged payload again writes nothing (same hash), so downstream sees no change.
The manifest also records when the day was last fetched in full (`checked_at`): that is what
decides whether a day is still provisional and worth asking Garmin about again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from garmin_pipeline.errors import UnsafeValueError
from garmin_pipeline.layout import account_dir, partition_days, partition_dir
from garmin_pipeline.storage import (
    StoragePath,
    StorageRoot,
    inside,
    location,
    write_atomically,
)

MANIFEST = "_manifest.json"
# Days a payload may be filed under: nothing before the Unix epoch, nothing past tomorrow
# anywhere on Earth (plus a day of slack).
EARLIEST_DAY = date(1970, 1, 1)
FUTURE_SLACK = timedelta(days=2)


def check_day(day: date) -> date:
    """A day raw may file payloads under; anything else is a hostile or broken value."""
    latest = datetime.now(UTC).date() + FUTURE_SLACK
    if not EARLIEST_DAY <= day <= latest:
        raise UnsafeValueError(
            f"refusing to file a payload under {day}: raw days must lie within "
            f"{EARLIEST_DAY}..{latest}; check the sync range and the source's dates"
        )
    return day


def check_payload_name(name: str) -> str:
    """One plain file name: no separators, no `..`, no NUL, not hidden, not the manifest."""
    if (
        not name
        or name == MANIFEST
        or name.startswith(".")
        or any(c in name for c in "/\\\0")
        or len(name.encode("utf-8")) > 200
    ):
        raise UnsafeValueError(
            f"invalid raw payload name {name!r}: it must be one plain file name; "
            "this is a bug in the feed that produced it"
        )
    return name


@dataclass(frozen=True)
class StoredPayload:
    name: str
    sha256: str
    size: int
    fetched_at: str
    # Set when the payload was refused on arrival (not JSON, too large): why, for quarantine.
    reason: str | None = None
    source: str | None = None  # which source sent it (provenance); None: before it was kept


@dataclass(frozen=True)
class DayManifest:
    payloads: dict[str, StoredPayload]
    checked_at: datetime | None  # when every payload of the day was last fetched; None: never

    @property
    def digest(self) -> str:
        """One hash for the day's content: equal digests, equal raw."""
        joined = "\n".join(f"{n}:{e.sha256}" for n, e in sorted(self.payloads.items()))
        return hashlib.sha256(joined.encode("utf-8")).hexdigest()


class RawStore:
    """Each payload in its feed, account and day's partition folder (`layout.partition_dir`),
    plus `_manifest.json` per folder; `root` is a local folder or a filesystem URI
    (`storage.location`)."""

    def __init__(self, root: StorageRoot) -> None:
        self.root = location(root)

    def day_dir(self, feed: str, account: str, day: date) -> StoragePath:
        """The day's folder; refuses (`UnsafeValueError`) anything resolving outside the root."""
        return inside(self.root, partition_dir(self.root, feed, account, day))

    def payload_path(self, feed: str, account: str, day: date, name: str) -> StoragePath:
        return inside(self.root, self.day_dir(feed, account, day) / check_payload_name(name))

    def day_manifest(self, feed: str, account: str, day: date) -> DayManifest:
        path = self.day_dir(feed, account, day) / MANIFEST
        if not path.exists():
            return DayManifest({}, None)
        body = json.loads(path.read_text(encoding="utf-8"))
        payloads = {
            name: StoredPayload(name=name, **entry) for name, entry in body["payloads"].items()
        }
        checked = body.get("checked_at")
        return DayManifest(payloads, datetime.fromisoformat(checked) if checked else None)

    def manifest(self, feed: str, account: str, day: date) -> dict[str, StoredPayload]:
        return self.day_manifest(feed, account, day).payloads

    def mark_checked(self, feed: str, account: str, day: date, at: datetime) -> None:
        """Record that every payload of `day` was just fetched (changed or not)."""
        check_day(day)
        current = self.day_manifest(feed, account, day)
        self._write_manifest(self.day_dir(feed, account, day), DayManifest(current.payloads, at))

    def put(
        self,
        feed: str,
        account: str,
        day: date,
        name: str,
        payload: bytes,
        fetched_at: datetime | None = None,
        reason: str | None = None,
        source: str | None = None,
    ) -> bool:
        """Keep `payload`; return whether anything changed on disk.

        `reason` marks a payload refused on arrival: it is kept and recorded, and the lake
        quarantines it with that reason instead of parsing it. `source` names who sent it."""
        path = self.payload_path(feed, account, check_day(day), name)
        digest = hashlib.sha256(payload).hexdigest()
        current = self.day_manifest(feed, account, day)
        manifest = dict(current.payloads)
        directory = self.day_dir(feed, account, day)
        known = manifest.get(name)
        if (
            known is not None
            and known.sha256 == digest
            and known.reason == reason
            and known.source == source
            and path.exists()
        ):
            return False
        if known is not None and known.sha256 != digest:
            # The manifest must never vouch for bytes the file no longer has: withdraw the entry
            # (and the day's check, so the day is fetched again) before replacing the file.
            withdrawn = {n: e for n, e in manifest.items() if n != name}
            self._write_manifest(directory, DayManifest(withdrawn, None))
        write_atomically(path, payload)
        manifest[name] = StoredPayload(
            name=name,
            sha256=digest,
            size=len(payload),
            fetched_at=(fetched_at or datetime.now(UTC)).isoformat(timespec="seconds"),
            reason=reason,
            source=source,
        )
        self._write_manifest(directory, DayManifest(manifest, current.checked_at))
        return True

    def discard(self, feed: str, account: str, day: date, name: str) -> bool:
        """Drop a payload from the day (a refused one, once a good fetch has replaced it)."""
        current = self.day_manifest(feed, account, day)
        if name not in current.payloads:
            return False
        manifest = {n: e for n, e in current.payloads.items() if n != name}
        self._write_manifest(
            self.day_dir(feed, account, day), DayManifest(manifest, current.checked_at)
        )
        self.payload_path(feed, account, day, name).unlink(missing_ok=True)
        return True

    def get(self, feed: str, account: str, day: date, name: str) -> bytes:
        return self.payload_path(feed, account, day, name).read_bytes()

    def has(self, feed: str, account: str, day: date, name: str) -> bool:
        return name in self.manifest(feed, account, day)

    def days(self, feed: str, account: str) -> list[date]:
        base = account_dir(self.root, feed, account)
        return [
            day
            for day in partition_days(base)
            if (partition_dir(self.root, feed, account, day) / MANIFEST).exists()
        ]

    @staticmethod
    def _write_manifest(directory: StoragePath, manifest: DayManifest) -> None:
        checked = manifest.checked_at
        body = {
            "checked_at": checked.isoformat(timespec="seconds") if checked else None,
            "payloads": {
                name: {
                    "sha256": e.sha256,
                    "size": e.size,
                    "fetched_at": e.fetched_at,
                    **({"reason": e.reason} if e.reason is not None else {}),
                    **({"source": e.source} if e.source is not None else {}),
                }
                for name, e in sorted(manifest.payloads.items())
            },
        }
        write_atomically(directory / MANIFEST, (json.dumps(body, indent=1) + "\n").encode("utf-8"))
