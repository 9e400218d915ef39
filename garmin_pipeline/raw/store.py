"""Payloads as received, one folder per feed, account and day, with a SHA-256 manifest.

Raw is the only layer that needs the network: lake and warehouse are rebuilt from it offline.
Storing an unchanged payload again writes nothing (same hash), so downstream sees no change.
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


class RawStore:
    """`<root>/<feed>/account=<a>/date=<YYYY-MM-DD>/<name>` plus `_manifest.json` per folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def day_dir(self, feed: str, account: str, day: date) -> Path:
        return self.root / feed / f"account={account}" / f"date={day.isoformat()}"

    def manifest(self, feed: str, account: str, day: date) -> dict[str, StoredPayload]:
        path = self.day_dir(feed, account, day) / MANIFEST
        if not path.exists():
            return {}
        entries = json.loads(path.read_text(encoding="utf-8"))
        return {name: StoredPayload(name=name, **entry) for name, entry in entries.items()}

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
        manifest = self.manifest(feed, account, day)
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
        self._write_manifest(directory, manifest)
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
    def _write_manifest(directory: Path, manifest: dict[str, StoredPayload]) -> None:
        body = {
            name: {"sha256": e.sha256, "size": e.size, "fetched_at": e.fetched_at}
            for name, e in sorted(manifest.items())
        }
        write_atomically(directory / MANIFEST, (json.dumps(body, indent=1) + "\n").encode("utf-8"))
