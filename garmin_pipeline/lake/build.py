"""Raw → lake: parse each day's raw bundle, validate, and replace its lake partitions.

Offline by construction: it reads only raw, so deleting the lake and rebuilding gives the same
bytes. Rows failing validation and payloads that cannot be parsed go to quarantine with a reason;
the rest of the day, and every other day, still lands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from garmin_pipeline.feeds import Dataset, Feed
from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.lake.validate import validate
from garmin_pipeline.raw.store import MANIFEST, RawStore

log = logging.getLogger(__name__)


@dataclass
class DatasetReport:
    dataset: str
    rows: int = 0
    quarantined_rows: int = 0
    partitions_written: int = 0
    partitions_unchanged: int = 0
    failures: list[pl.DataFrame] = field(default_factory=list)

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
    days_without_raw: list[date] = field(default_factory=list)
    rejected_payloads: dict[str, str] = field(default_factory=dict)  # "date/name" → reason


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
) -> None:
    directory = raw.day_dir(feed.name, account, day)
    if not (directory / MANIFEST).exists():
        report.days_without_raw.append(day)
        return
    bundle = {
        name: raw.get(feed.name, account, day, name)
        for name in raw.manifest(feed.name, account, day)
    }
    parsed = feed.parse(bundle, day)
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
    _write_or_clear(quarantine, dataset.name, account, day, result.quarantined, dataset.key)


def build_lake(
    feed: Feed,
    raw: RawStore,
    lake: PartitionStore,
    quarantine: PartitionStore,
    account: str,
    days: list[date],
) -> BuildReport:
    report = BuildReport(
        feed=feed.name, datasets={d.name: DatasetReport(d.name) for d in feed.datasets}
    )
    for day in days:
        build_day(feed, raw, lake, quarantine, account, day, report)
    return report
