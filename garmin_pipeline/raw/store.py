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
from datetime import UTC, date, datetime
from pathlib import Path

from garmin_pipeline.lake.store import write_atomically

MANIFEST = "_manifest.json"


@dataclass(frozen=True)
class StoredPayload:
    name: str
    sha256: str
    size: int
    fetched_at: str


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
    """`<root>/<feed>/account=<a>/date=<YYYY-MM-DD>/<name>` plus `_manifest.json` per folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def day_dir(self, feed: str, account: str, day: date) -> Path:
        return self.root / feed / f"account={account}" / f"date={day.isoformat()}"

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
    ) -> bool:
        """Keep `payload`; return whether anything changed on disk."""
        if name == MANIFEST or "/" in name or name.startswith("."):
            raise ValueError(f"invalid raw payload name {name!r}")
        digest = hashlib.sha256(payload).hexdigest()
        current = self.day_manifest(feed, account, day)
        manifest = dict(current.payloads)
        directory = self.day_dir(feed, account, day)
        known = manifest.get(name)
        if known is not None and known.sha256 == digest and (directory / name).exists():
            return False
        write_atomically(directory / name, payload)
        manifest[name] = StoredPayload(
            name=name,
            sha256=digest,
            size=len(payload),
            fetched_at=(fetched_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        )
        self._write_manifest(directory, DayManifest(manifest, current.checked_at))
        return True

    def get(self, feed: str, account: str, day: date, name: str) -> bytes:
        return (self.day_dir(feed, account, day) / name).read_bytes()

    def has(self, feed: str, account: str, day: date, name: str) -> bool:
        return name in self.manifest(feed, account, day)

    def days(self, feed: str, account: str) -> list[date]:
        base = self.root / feed / f"account={account}"
        return sorted(
            date.fromisoformat(p.name.removeprefix("date="))
            for p in base.glob("date=*")
            if (p / MANIFEST).exists()
        )

    @staticmethod
    def _write_manifest(directory: Path, manifest: DayManifest) -> None:
        checked = manifest.checked_at
        body = {
            "checked_at": checked.isoformat(timespec="seconds") if checked else None,
            "payloads": {
                name: {"sha256": e.sha256, "size": e.size, "fetched_at": e.fetched_at}
                for name, e in sorted(manifest.payloads.items())
            },
        }
        write_atomically(directory / MANIFEST, (json.dumps(body, indent=1) + "\n").encode("utf-8"))
