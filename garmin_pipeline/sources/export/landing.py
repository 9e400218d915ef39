"""Land an export in raw: the archive itself, content-addressed, then its per-day payloads.

    <exports>/<sha256>.zip                  the archive as given (a directory: packed),
                                            copied in chunks
    <exports>/<sha256>.json                 its manifest: every member's path, SHA-256,
                                            size, kind and what it fed (feed/day), the
                                            FIT links, unlinked and quarantined members
    <exports>/<sha256>/unlinked/...         activity FIT files no activity claimed
    the payloads of each feed and day       through `RawStore`, like any source's, with
                                            source "export:<sha256>:<member path>"

(`<exports>` is the account's folder of `layout.exports_dir`, beside the feeds in raw; its
name starts with `_`: no feed is named so, and nothing reading raw takes it for one.)

Precedence, per (feed, day, payload):
  1. A payload a sync fetched from Garmin (Connect or the Personal API) is kept: the API is
     the fresher, finer source, and a later sync refreshes it by its own rules.
  2. Otherwise the export fills it; over a payload an earlier export landed, the export whose
     data reaches the later day (its `as_of`) wins, and an equal one replaces it (a re-cut of
     the same data); an older export never overwrites a newer one's day.
  3. Nothing is ever deleted: a day, or an activity, missing from a later export keeps what an
     earlier one landed. A day's activity list is merged by activity id (the export's entries
     replace earlier exports' ones; entries only the earlier export had stay), and an activity
     FIT file is added only when raw has none for that activity.

Days the export lands are *not* marked fetched: the export carries less than the API for
several feeds (no sleep stage intervals, no intraday Body Battery, a partial HRV summary), and a
day marked final would never be asked for again. So a later sync over those days still asks
Garmin, and its answer replaces the export's (rule 1); to spare requests, sync only the days
the export does not cover (`--start`). Manifest times are the archive's `as_of` (the next UTC
midnight), not the wall clock, so the same archive lands the same raw bytes however often,
wherever it is imported.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from garmin_pipeline.errors import UnsafeValueError
from garmin_pipeline.layout import exports_dir
from garmin_pipeline.raw.canonical import activity_zip_name, canonical_json
from garmin_pipeline.raw.store import RawStore, StoredPayload
from garmin_pipeline.sources.export.discovery import (
    Archive,
    ExportArchiveError,
    Member,
    copy_capped,
)
from garmin_pipeline.sources.export.fitlink import Links, link, wellness_days, wellness_zip
from garmin_pipeline.sources.export.mapping import DayPayload, Mapped, map_archive
from garmin_pipeline.storage import StoragePath, copy_atomically, inside, write_atomically
from garmin_pipeline.zips import stored_zip

log = logging.getLogger(__name__)

EXPORT = "export"
ACTIVITIES_FEED = "activities"
ACTIVITY_LIST = "activity_list.json"
WELLNESS_FEED = "wellness"
WELLNESS_ZIP = "wellness.zip"

KEPT_API = "kept_api"
KEPT_NEWER = "kept_newer_export"
LANDED = "landed"
UNCHANGED = "unchanged"


def source_tag(sha256: str, member: str) -> str:
    return f"{EXPORT}:{sha256}:{member}"


def export_sha(source: str | None) -> str | None:
    """The archive hash of an export's source tag; None for any other source."""
    if source is None or not source.startswith(f"{EXPORT}:"):
        return None
    return source.split(":", 2)[1]


@dataclass
class ImportReport:
    sha256: str
    as_of: date | None
    archive_path: str = ""
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)  # feed -> outcome -> days
    touched: set[date] = field(default_factory=set)  # days whose raw changed
    days: set[date] = field(default_factory=set)  # days the export holds
    links: Links = field(default_factory=Links)
    ignored: list[str] = field(default_factory=list)
    quarantined: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    members: int = 0

    def count(self, feed: str, outcome: str) -> None:
        self.outcomes.setdefault(feed, Counter())[outcome] += 1


def activity_zip(activity_id: int, fit: bytes) -> bytes:
    """The FIT file as Connect's ORIGINAL download wraps it (`<id>_ACTIVITY.fit`, stored, a
    fixed date: the same file gives the same bytes)."""
    return stored_zip([(f"{activity_id}_ACTIVITY.fit", fit)])


class Lander:
    """Puts one archive's payloads into raw under the precedence rules above."""

    def __init__(self, raw: RawStore, account: str, archive: Archive, as_of: date) -> None:
        self.raw, self.account, self.archive, self.as_of = raw, account, archive, as_of
        self.checkpoint = datetime.combine(as_of + timedelta(days=1), time(0), UTC)
        self.base = inside(raw.root, exports_dir(raw.root, account))
        self._as_of: dict[str, date | None] = {archive.sha256: as_of}

    def manifest_path(self, sha256: str) -> StoragePath:
        return self.base / f"{sha256}.json"

    def as_of_of(self, sha256: str) -> date | None:
        if sha256 not in self._as_of:
            path = self.manifest_path(sha256)
            try:
                value = json.loads(path.read_text(encoding="utf-8")).get("as_of")
            except (OSError, ValueError):
                value = None
            self._as_of[sha256] = date.fromisoformat(value) if value else None
        return self._as_of[sha256]

    def decide(self, existing: StoredPayload | None) -> str | None:
        """None: the export may write; else why the payload raw holds is kept."""
        if existing is None or existing.reason is not None:
            return None
        sha = export_sha(existing.source)
        if sha is None:
            return KEPT_API
        other = self.as_of_of(sha)
        return KEPT_NEWER if other is not None and other > self.as_of else None

    def put(self, feed: str, day: date, name: str, payload: bytes, member: str) -> bool:
        changed = self.raw.put(
            feed,
            self.account,
            day,
            name,
            payload,
            fetched_at=self.checkpoint,
            source=source_tag(self.archive.sha256, member),
        )
        return changed

    def land(self, item: DayPayload, report: ImportReport) -> None:
        existing = self.raw.manifest(item.feed, self.account, item.day).get(item.name)
        if item.fill and existing is not None:  # "nothing that day" never replaces anything
            report.count(item.feed, UNCHANGED)
            return
        kept = self.decide(existing)
        if kept is not None:
            report.count(item.feed, kept)
            return
        value = item.value() if callable(item.value) else item.value
        payload = value if isinstance(value, bytes) else canonical_json(value)
        if self.put(item.feed, item.day, item.name, payload, item.members[0]):
            report.count(item.feed, LANDED)
            report.touched.add(item.day)
        else:
            report.count(item.feed, UNCHANGED)

    def land_activities(
        self, mapped: Mapped, fits: dict[int, Member], report: ImportReport
    ) -> None:
        by_day: dict[date, list[tuple[dict[str, Any], str]]] = {}
        if mapped.activity_members and mapped.span:  # its days without activities too
            first, last = mapped.span
            for offset in range((last - first).days + 1):
                by_day[first + timedelta(days=offset)] = []
        for _, (day, entry, member) in sorted(mapped.activities.items()):
            by_day.setdefault(day, []).append((entry, member))
        for day in sorted(by_day):
            listed = by_day[day]
            list_member = listed[0][1] if listed else mapped.activity_members[0]
            changed = False
            for entry, _member in listed:  # the files first: once the list is in, all are
                activity_id = entry["activityId"]
                name = activity_zip_name(activity_id)
                if activity_id in fits and not self.raw.has(
                    ACTIVITIES_FEED, self.account, day, name
                ):
                    member = next(m for m, a in report.links.linked.items() if a == activity_id)
                    changed |= self.put(
                        ACTIVITIES_FEED,
                        day,
                        name,
                        activity_zip(activity_id, fits[activity_id].read()),
                        member,
                    )
            existing = self.raw.manifest(ACTIVITIES_FEED, self.account, day).get(ACTIVITY_LIST)
            kept = self.decide(existing)
            if kept == KEPT_API:
                report.count(ACTIVITIES_FEED, KEPT_API)
                report.touched.update([day] if changed else [])
                continue
            merged: dict[int, dict[str, Any]] = {}
            if existing is not None and existing.reason is None:
                try:
                    held = json.loads(
                        self.raw.get(ACTIVITIES_FEED, self.account, day, ACTIVITY_LIST)
                    )
                except (OSError, ValueError):
                    held = []
                merged = {
                    e["activityId"]: e for e in held if isinstance(e, dict) and "activityId" in e
                }
            ours = {entry["activityId"]: entry for entry, _ in listed}
            merged = {**ours, **merged} if kept == KEPT_NEWER else {**merged, **ours}
            entries = sorted(
                merged.values(), key=lambda e: (str(e.get("startTimeGMT")), e["activityId"])
            )
            body = canonical_json(entries)
            if existing is not None and existing.sha256 == hashlib.sha256(body).hexdigest():
                pass  # the list raw holds already says all this (and names its own source)
            elif self.put(ACTIVITIES_FEED, day, ACTIVITY_LIST, body, list_member):
                changed = True
            if kept == KEPT_NEWER and not changed:
                report.count(ACTIVITIES_FEED, KEPT_NEWER)
            else:
                report.count(ACTIVITIES_FEED, LANDED if changed else UNCHANGED)
            if changed:
                report.touched.add(day)


def wellness_payloads(fit_members: list[Member], links: Links) -> list[DayPayload]:
    """Each day's wellness FIT uploads as the day's `wellness.zip`, as Connect serves it; each
    zip is made when it is landed, so only one day's files are in memory at a time."""
    by_path = {m.path: m for m in fit_members}
    days: dict[date, list[str]] = {}
    for path, day in links.wellness_days.items():
        days.setdefault(day, []).append(path)
    payloads = []
    for day in sorted(days):
        paths = sorted(days[day])
        files = [(by_path[p], links.wellness_types.get(p)) for p in paths]

        def day_zip(files: list[tuple[Member, str | None]] = files) -> bytes:
            return wellness_zip([(m.name, file_type, m.read()) for m, file_type in files])

        payloads.append(DayPayload(WELLNESS_FEED, day, WELLNESS_ZIP, day_zip, tuple(paths)))
    return payloads


def archive_as_of(mapped: Mapped) -> date | None:
    days = [p.day for p in mapped.payloads] + [d for d, _, _ in mapped.activities.values()]
    return max(days, default=None)


def manifest_body(archive: Archive, report: ImportReport, mapped: Mapped) -> bytes:
    fed: dict[str, set[str]] = {}
    for item in mapped.payloads:
        for member in item.members:
            fed.setdefault(member, set()).add(f"{item.feed}/{item.day}")
    for day, _, member in mapped.activities.values():
        fed.setdefault(member, set()).add(f"{ACTIVITIES_FEED}/{day}")
    for member, activity_id in report.links.linked.items():
        day = mapped.activities[activity_id][0]
        fed.setdefault(member, set()).add(
            f"{ACTIVITIES_FEED}/{day}/{activity_zip_name(activity_id)}"
        )
    members = {
        m.path: {
            "sha256": m.sha256,
            "size": m.size,
            "kind": m.kind,
            **({"fed": sorted(fed[m.path])} if m.path in fed else {}),
        }
        for m in archive.members
    }
    body = {
        "sha256": archive.sha256,
        "size": archive.size,
        "as_of": report.as_of.isoformat() if report.as_of else None,
        "members": dict(sorted(members.items())),
        "fit_links": dict(sorted(report.links.linked.items())),
        "unlinked_fit": dict(sorted(report.links.unlinked.items())),
        "wellness_fit": {m: str(d) for m, d in sorted(report.links.wellness_days.items())},
        "ignored": sorted(report.ignored),
        "quarantined": dict(sorted(report.quarantined.items())),
        "entries_left_out": dict(sorted(report.skipped.items())),
    }
    return (json.dumps(body, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def keep_archive(archive: Archive, target: StoragePath) -> None:
    """The archive's bytes at `target` (named by their hash), copied in chunks. Already there
    with that hash: left alone. The copy is hashed on the way and must be the archive that was
    read: a file changed meanwhile is refused, not kept under a name it does not hash to."""
    if target.exists():
        with target.open("rb") as held:
            if copy_capped(held, None, float("inf"))[0] == archive.sha256:
                return
    if copy_atomically(archive.path, target) != archive.sha256:
        target.unlink()
        raise ExportArchiveError(f"{archive.path} changed while it was imported; import it again")


def land_archive(raw: RawStore, account: str, archive: Archive) -> ImportReport:
    """Keep the archive in raw and land every payload it maps to; return what happened."""
    mapped = map_archive(archive)
    fit_members = archive.of("fit")
    links = link(fit_members, {a: e for a, (_, e, _) in mapped.activities.items()})
    wellness_days(fit_members, links)
    mapped.payloads += wellness_payloads(fit_members, links)
    as_of = archive_as_of(mapped)
    report = ImportReport(sha256=archive.sha256, as_of=as_of, links=links)
    report.members = len(archive.members)
    report.ignored = archive.ignored
    report.quarantined = {**archive.quarantined, **mapped.quarantined, **links.quarantined}
    report.skipped = dict(mapped.skipped)
    report.days = {p.day for p in mapped.payloads} | {d for d, _, _ in mapped.activities.values()}
    lander = Lander(raw, account, archive, as_of or date(1970, 1, 1))
    report.archive_path = str(lander.base / f"{archive.sha256}.zip")
    # Provenance first: the archive is in raw before anything derived from it.
    keep_archive(archive, lander.base / f"{archive.sha256}.zip")
    by_path = {m.path: m for m in fit_members}
    for member in sorted(links.unlinked):
        flat = member.replace("/", "_").replace("!", "_")
        write_atomically(lander.base / archive.sha256 / "unlinked" / flat, by_path[member].read())
    for item in sorted(mapped.payloads, key=lambda p: (p.feed, p.day)):
        try:
            lander.land(item, report)
        except UnsafeValueError as error:
            report.skipped[f"{item.feed}/{item.day}"] = str(error)
    fits = {activity_id: by_path[m] for m, activity_id in links.linked.items()}
    lander.land_activities(mapped, fits, report)
    write_atomically(lander.manifest_path(archive.sha256), manifest_body(archive, report, mapped))
    return report


def summary_lines(report: ImportReport, limit: int = 10) -> list[str]:
    """What `garmin-pipeline import-export` prints: the archive, days per feed, FIT links,
    what was ignored, left out or quarantined (the first `limit` of each, and how many more)."""

    def listed(title: str, items: list[str]) -> list[str]:
        more = [f"    ... and {len(items) - limit} more"] if len(items) > limit else []
        return [f"{title}: {len(items)}", *(f"    {i}" for i in items[:limit]), *more]

    span = f"{min(report.days)}..{max(report.days)}" if report.days else "no days"
    lines = [
        f"archive sha256 {report.sha256} ({report.members} files, {span})",
        f"  kept in raw as {report.archive_path}",
        "  days per feed: landed / unchanged / kept (API) / kept (newer export)",
    ]
    width = max((len(f) for f in report.outcomes), default=0)
    for feed, counts in sorted(report.outcomes.items()):
        lines.append(
            f"    {feed:<{width}}  {counts[LANDED]} / {counts[UNCHANGED]} / "
            f"{counts[KEPT_API]} / {counts[KEPT_NEWER]}"
        )
    links = report.links
    lines.append(
        f"  activity FIT files: {len(links.linked)} linked, {len(links.unlinked)} unlinked; "
        f"wellness FIT files: {len(links.wellness_days)} filed under "
        f"{len(set(links.wellness_days.values()))} days"
    )
    if links.unlinked:
        unlinked = [f"{m}: {r}" for m, r in sorted(links.unlinked.items())]
        lines += ["  " + line for line in listed("unlinked (kept in raw)", unlinked)]
    lines += ["  " + line for line in listed("files ignored (no mapping)", report.ignored)]
    if report.skipped:
        entries = [f"{k}: {v}" for k, v in sorted(report.skipped.items())]
        lines += ["  " + line for line in listed("entries left out", entries)]
    if report.quarantined:
        bad = [f"{k}: {v}" for k, v in sorted(report.quarantined.items())]
        lines += ["  " + line for line in listed("quarantined", bad)]
    return lines
