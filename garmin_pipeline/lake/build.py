"""Raw → lake: parse each day's raw bundle, validate, and replace its lake partitions.

Offline by construction: it reads only raw, so deleting the lake and rebuilding gives the same
bytes. Rows failing validation and payloads that cannot be parsed go to quarantine with a reason;
the rest of the day, and every other day, still lands. A day whose raw content and dataset
schemas are those it was last built from is skipped (`BuildState`), so a sync over years of
unchanged history costs no parsing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from garmin_pipeline.errors import PayloadParseError
from garmin_pipeline.feeds import Dataset, Feed
from garmin_pipeline.files import write_atomically
from garmin_pipeline.lake.parsers import ParsedDay
from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.lake.validate import QUARANTINE_REASON, validate
from garmin_pipeline.raw.store import MANIFEST, RawStore

log = logging.getLogger(__name__)

# Pandera checks on the frame's shape rather than on a row's values: failing one condemns the
# whole frame of the day (schema drift), which is worse than a few implausible rows.
SCHEMA_LEVEL_CHECKS = ("column_in_", "dtype(")


@dataclass
class DatasetReport:
    dataset: str
    rows: int = 0
    quarantined_rows: int = 0
    partitions_written: int = 0
    partitions_unchanged: int = 0
    failures: list[pl.DataFrame] = field(default_factory=list)
    quarantined_days: dict[date, str] = field(default_factory=dict)  # day → its reasons
    # Days the whole frame failed the schema (a column missing or mistyped): nothing landed.
    schema_failed_days: list[date] = field(default_factory=list)

    @property
    def failure_summary(self) -> pl.DataFrame:
        """How many rows failed each check, over all days built."""
        if not self.failures:
            return pl.DataFrame(
                schema={"column": pl.String, "check": pl.String, "failing_rows": pl.UInt32}
            )
        return (
            pl.concat(self.failures)
            .group_by("column", "check")
            .agg(pl.col("failing_rows").sum())
            .sort("column", "check", nulls_last=True)
        )


@dataclass
class BuildReport:
    feed: str
    datasets: dict[str, DatasetReport]
    days_built: list[date] = field(default_factory=list)
    days_unchanged: list[date] = field(default_factory=list)  # built before from the same raw
    days_without_raw: list[date] = field(default_factory=list)
    rejected_payloads: dict[str, str] = field(default_factory=dict)  # "date/name" → reason


def schema_fingerprint(feed: Feed) -> str:
    """Changes whenever a dataset of the feed gains, loses or retypes a column."""
    spec = [
        [d.name, list(d.key), [[c.name, str(c.dtype), c.nullable] for c in d.columns]]
        for d in feed.datasets
    ]
    return hashlib.sha256(json.dumps(spec).encode("utf-8")).hexdigest()[:16]


class BuildState:
    """Per feed and account: the raw digest each day was last built from (one JSON file)."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        body = json.loads(path.read_text("utf-8")) if path.exists() else {}
        self.built: dict[str, str] = (
            body.get("days", {}) if body.get("schema") == fingerprint else {}
        )

    def is_current(self, day: date, digest: str) -> bool:
        return self.built.get(day.isoformat()) == digest

    def record(self, day: date, digest: str) -> None:
        self.built[day.isoformat()] = digest

    def save(self) -> None:
        body = {"schema": self.fingerprint, "days": dict(sorted(self.built.items()))}
        write_atomically(self.path, (json.dumps(body, indent=0) + "\n").encode("utf-8"))


def rejected_dataset_name(feed: Feed) -> str:
    return f"{feed.name}_payloads"


def _write_or_clear(
    store: PartitionStore,
    name: str,
    account: str,
    day: date,
    frame: pl.DataFrame,
    key: tuple[str, ...],
) -> None:
    if frame.height:
        store.write(name, account, day, frame, key)
    else:
        store.remove(name, account, day)


def build_day(
    feed: Feed,
    raw: RawStore,
    lake: PartitionStore,
    quarantine: PartitionStore,
    account: str,
    day: date,
    report: BuildReport,
    state: BuildState | None = None,
) -> None:
    directory = raw.day_dir(feed.name, account, day)
    if not (directory / MANIFEST).exists():
        report.days_without_raw.append(day)
        return
    manifest = raw.day_manifest(feed.name, account, day)
    if state is not None and state.is_current(day, manifest.digest):
        report.days_unchanged.append(day)
        return
    # A payload refused on arrival (not JSON, too large) is not parsed: its reason is the
    # quarantine's, and it stays in raw until a good copy replaces it.
    refused = {name: e.reason for name, e in manifest.payloads.items() if e.reason is not None}
    bundle = {
        name: raw.get(feed.name, account, day, name)
        for name in manifest.payloads
        if name not in refused
    }
    try:
        parsed = feed.parse(bundle, day)
    except PayloadParseError as error:
        # A parse that rejects the bundle as a whole: every payload is quarantined with the
        # reason, and the day's partitions are left as they were.
        reason = " ".join(str(error).split()) or type(error).__name__
        parsed = ParsedDay(rejected={name: f"cannot parse {name}: {reason}" for name in bundle})
    parsed.rejected.update(refused)
    for dataset in feed.datasets:
        frame = parsed.frames.get(dataset.name)
        if frame is None:
            continue  # the payload was rejected: leave the partition as it was
        _land(dataset, frame, lake, quarantine, account, day, report.datasets[dataset.name])
    rejected = pl.DataFrame(
        {"payload": list(parsed.rejected), "reason": list(parsed.rejected.values())},
        schema={"payload": pl.String, "reason": pl.String},
    )
    _write_or_clear(quarantine, rejected_dataset_name(feed), account, day, rejected, ("payload",))
    for name, reason in parsed.rejected.items():
        report.rejected_payloads[f"{day}/{name}"] = reason
        log.warning("%s %s: quarantined %s: %s", feed.name, day, name, reason)
    report.days_built.append(day)
    if state is not None:
        state.record(day, manifest.digest)


def _land(
    dataset: Dataset,
    frame: pl.DataFrame,
    lake: PartitionStore,
    quarantine: PartitionStore,
    account: str,
    day: date,
    report: DatasetReport,
) -> None:
    result = validate(frame, dataset.schema)
    changed = lake.write(dataset.name, account, day, result.valid, dataset.key)
    report.partitions_written += changed
    report.partitions_unchanged += not changed
    report.rows += result.valid.height
    report.quarantined_rows += result.quarantined.height
    if result.failures.height:
        report.failures.append(result.failures)
    if result.quarantined.height:
        reasons = result.quarantined[QUARANTINE_REASON].unique().sort().to_list()
        report.quarantined_days[day] = "; ".join(reasons[:3]) + (
            "; ..." if len(reasons) > 3 else ""
        )
        checks = result.failures["check"].cast(pl.String).to_list()
        if any(c.startswith(SCHEMA_LEVEL_CHECKS) for c in checks):
            report.schema_failed_days.append(day)
    _write_or_clear(quarantine, dataset.name, account, day, result.quarantined, dataset.key)


def build_lake(
    feed: Feed,
    raw: RawStore,
    lake: PartitionStore,
    quarantine: PartitionStore,
    account: str,
    days: list[date],
    state_dir: Path | None = None,
) -> BuildReport:
    """Build `days`; with `state_dir`, days already built from the same raw are skipped."""
    report = BuildReport(
        feed=feed.name, datasets={d.name: DatasetReport(d.name) for d in feed.datasets}
    )
    state = (
        BuildState(
            state_dir / "lake_built" / feed.name / f"account={account}.json",
            schema_fingerprint(feed),
        )
        if state_dir is not None
        else None
    )
    try:
        for day in days:
            build_day(feed, raw, lake, quarantine, account, day, report, state)
    finally:
        if state is not None:
            state.save()  # what was built stays recorded even if a later day fails
    return report
