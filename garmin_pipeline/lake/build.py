"""Raw → lake: parse each day's raw bundle, validate, and replace its lake partitions.

Offline by construction: it reads only raw, so deleting the lake and rebuilding gives the same
bytes. Rows failing validation and payloads that cannot be parsed go to quarantine with a reason;
the rest of the day, and every other day, still lands. A day whose raw content and dataset
schemas are those it was last built from is skipped (`BuildState`), so a sync over years of
unchanged history costs no parsing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import date
from multiprocessing import get_context

import polars as pl

from garmin_pipeline.errors import PayloadParseError
from garmin_pipeline.files import flush_to_disk
from garmin_pipeline.lake.parsers import LakeFeed, ParsedDay
from garmin_pipeline.lake.schema import Dataset
from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.lake.validate import QUARANTINE_REASON, ValidationResult, validate_days
from garmin_pipeline.layout import build_state_file
from garmin_pipeline.raw.store import MANIFEST, RawStore
from garmin_pipeline.storage import (
    StoragePath,
    StorageRoot,
    location,
    shared_across_processes,
    write_atomically,
)

log = logging.getLogger(__name__)

# Pandera checks on the frame's shape rather than on a row's values: failing one condemns the
# whole frame of the day (schema drift), which is worse than a few implausible rows.
SCHEMA_LEVEL_CHECKS = ("column_in_", "dtype(")
# Days validated together: Pandera costs per call, not per row; a batch bounds the memory.
BATCH_DAYS = 31
# Work that would take less than this in one process stays there: a worker process takes a
# couple of seconds to start (it imports polars, Pandera and the catalog).
POOL_WORTH_S = 10.0


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
    # Implausible measurements nulled (the rows stayed): day → column → values.
    nulled: dict[date, dict[str, int]] = field(default_factory=dict)

    def merge(self, other: DatasetReport) -> None:
        self.rows += other.rows
        self.quarantined_rows += other.quarantined_rows
        self.partitions_written += other.partitions_written
        self.partitions_unchanged += other.partitions_unchanged
        self.failures += other.failures
        self.quarantined_days.update(other.quarantined_days)
        self.schema_failed_days += other.schema_failed_days
        self.nulled.update(other.nulled)

    @property
    def nulled_values(self) -> int:
        return sum(sum(columns.values()) for columns in self.nulled.values())

    @property
    def nulled_summary(self) -> pl.DataFrame:
        """Per column: how many implausible values were nulled, on how many days, first day."""
        frame = pl.DataFrame(
            [
                {"column": column, "day": day, "values": count}
                for day, columns in self.nulled.items()
                for column, count in columns.items()
            ],
            schema={"column": pl.String, "day": pl.Date, "values": pl.Int64},
        )
        return (
            frame.group_by("column")
            .agg(
                pl.col("values").sum(),
                pl.col("day").n_unique().alias("days"),
                pl.col("day").min().alias("first_day"),
            )
            .sort("values", "column", descending=[True, False])
        )

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
    digests: dict[date, str] = field(default_factory=dict)  # built day → its raw's digest

    @classmethod
    def empty(cls, feed: LakeFeed) -> BuildReport:
        return cls(feed=feed.name, datasets={d.name: DatasetReport(d.name) for d in feed.datasets})

    def merge(self, other: BuildReport) -> None:
        """Add a batch's report."""
        for name, dataset in other.datasets.items():
            self.datasets[name].merge(dataset)
        self.days_built += other.days_built
        self.days_unchanged += other.days_unchanged
        self.days_without_raw += other.days_without_raw
        self.rejected_payloads.update(other.rejected_payloads)
        self.digests.update(other.digests)

    def sort_days(self) -> None:
        """Days in calendar order (batches may finish in any order)."""
        for days in (self.days_built, self.days_unchanged, self.days_without_raw):
            days.sort()
        for dataset in self.datasets.values():
            dataset.schema_failed_days.sort()


def schema_fingerprint(feed: LakeFeed) -> str:
    """Changes whenever a dataset of the feed gains, loses or retypes a column."""
    spec = [
        [d.name, list(d.key), [[c.name, str(c.dtype), c.nullable] for c in d.columns]]
        for d in feed.datasets
    ]
    return hashlib.sha256(json.dumps(spec).encode("utf-8")).hexdigest()[:16]


class BuildState:
    """Per feed and account: the raw digest each day was last built from (one JSON file)."""

    def __init__(self, path: StoragePath, fingerprint: str) -> None:
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


def rejected_dataset_name(feed: LakeFeed) -> str:
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


def _parse_day(feed: LakeFeed, raw: RawStore, account: str, day: date) -> tuple[ParsedDay, str]:
    """The day's frames and rejections, and the digest of the raw they came from."""
    manifest = raw.day_manifest(feed.name, account, day)
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
    return parsed, manifest.digest


def build_days(
    feed: LakeFeed,
    raw: RawStore,
    lake: PartitionStore,
    quarantine: PartitionStore,
    account: str,
    days: Sequence[date],
) -> BuildReport:
    """Parse, validate and land `days` (all holding raw); each dataset is validated once for
    all of them. The report's `digests` say which raw each day was built from."""
    report = BuildReport.empty(feed)
    parsed_days = {day: _parse_day(feed, raw, account, day) for day in days}
    results: dict[str, dict[date, ValidationResult]] = {}
    for dataset in feed.datasets:
        frames = {
            day: parsed.frames.pop(dataset.name)  # validated, the parsed frame is done with
            for day, (parsed, _) in parsed_days.items()
            if dataset.name in parsed.frames  # absent: its payload was rejected, keep the old
        }
        results[dataset.name] = validate_days(frames, dataset)
        if feed.entity is None:  # each dataset stands alone: land it now, memory stays flat
            _land_days(dataset, results.pop(dataset.name), lake, quarantine, account, report)
    if feed.entity is not None:
        for day, (parsed, _) in parsed_days.items():
            _withhold_whole(feed, feed.entity, parsed.withheld, results, day)
        for dataset in feed.datasets:
            _land_days(dataset, results.pop(dataset.name), lake, quarantine, account, report)
    for day, (parsed, digest) in parsed_days.items():
        rejected = pl.DataFrame(
            {"payload": list(parsed.rejected), "reason": list(parsed.rejected.values())},
            schema={"payload": pl.String, "reason": pl.String},
        )
        _write_or_clear(
            quarantine, rejected_dataset_name(feed), account, day, rejected, ("payload",)
        )
        for name, reason in parsed.rejected.items():
            report.rejected_payloads[f"{day}/{name}"] = reason
            log.info("%s %s: quarantined %s: %s", feed.name, day, name, reason)
        report.days_built.append(day)
        report.digests[day] = digest
    return report


def _withhold_whole(
    feed: LakeFeed,
    entity: str,
    withheld: Mapping[object, str],
    results: dict[str, dict[date, ValidationResult]],
    day: date,
) -> None:
    """Quarantine from every dataset of the feed, with one reason, each thing (an activity)
    that could not be read or has a row quarantined in any of them: never half of it."""
    dtype = feed.datasets[0].polars_schema[entity]

    def keyed(frame: pl.DataFrame) -> bool:  # not so after schema drift
        return frame.schema.get(entity) == dtype

    reasons = dict(withheld)
    for dataset in feed.datasets:
        result = results[dataset.name].get(day)
        if result is None or result.quarantined.is_empty() or not keyed(result.quarantined):
            continue
        placed = result.quarantined.filter(pl.col(entity).is_not_null())
        for value, reason in placed.select(entity, QUARANTINE_REASON).iter_rows():
            reasons.setdefault(value, f"{dataset.name}: {reason}")
    if not reasons:
        return
    whole = pl.DataFrame(
        {entity: list(reasons), "__whole": [f"{entity} {v}: {r}" for v, r in reasons.items()]},
        schema_overrides={entity: dtype},
    )
    for dataset in feed.datasets:
        result = results[dataset.name].get(day)
        if result is None or not keyed(result.valid) or not keyed(result.quarantined):
            continue
        moved = result.valid.join(whole, on=entity, how="inner").rename(
            {"__whole": QUARANTINE_REASON}
        )
        held = (
            result.quarantined.join(whole, on=entity, how="left")
            .with_columns(pl.coalesce("__whole", QUARANTINE_REASON).alias(QUARANTINE_REASON))
            .drop("__whole")
        )
        results[dataset.name][day] = replace(
            result,
            valid=result.valid.join(whole, on=entity, how="anti"),
            quarantined=pl.concat([held, moved]),
        )


def _land_days(
    dataset: Dataset,
    results: Mapping[date, ValidationResult],
    lake: PartitionStore,
    quarantine: PartitionStore,
    account: str,
    report: BuildReport,
) -> None:
    for day, result in results.items():
        _land(dataset, result, lake, quarantine, account, day, report.datasets[dataset.name])


def _land(
    dataset: Dataset,
    result: ValidationResult,
    lake: PartitionStore,
    quarantine: PartitionStore,
    account: str,
    day: date,
    report: DatasetReport,
) -> None:
    changed = lake.write(dataset.name, account, day, result.valid, dataset.key)
    report.partitions_written += changed
    report.partitions_unchanged += not changed
    report.rows += result.valid.height
    report.quarantined_rows += result.quarantined.height
    if result.nulled:
        report.nulled[day] = result.nulled
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


def batches(days: Sequence[date], workers: int) -> list[list[date]]:
    """Runs of at most BATCH_DAYS days; with several workers, small enough that each gets a
    few (one process validates the fewest, largest batches)."""
    if workers < 2:
        return [list(days[n : n + BATCH_DAYS]) for n in range(0, len(days), BATCH_DAYS)]
    size = max(1, min(BATCH_DAYS, math.ceil(len(days) / (workers * 4))))
    return [list(days[n : n + size]) for n in range(0, len(days), size)]


@dataclass(frozen=True)
class _Batch:
    feed: LakeFeed
    account: str
    days: list[date]


@dataclass
class LakeBuild:
    """What `build_feeds` did: each feed's report per account, and the feeds that failed
    (an unexpected error, not bad input: that is quarantined) with why."""

    reports: dict[str, dict[str, BuildReport]]
    failed: dict[str, BaseException] = field(default_factory=dict)

    def raise_first_failure(self) -> None:
        for error in self.failed.values():
            raise error


Progress = Callable[[int, int], None]  # (days built so far, days due), feed-days both


# How a worker process finds a feed by name (parsers are closures, which cannot be pickled): a
# module-level function, which pickles by its name, such as `garmin_pipeline.catalog.feed`.
FindFeed = Callable[[str], LakeFeed]


def _build_batch_found_by_name(
    find_feed: FindFeed,
    feed_name: str,
    raw_root: StoragePath,
    lake_root: StoragePath,
    quarantine_root: StoragePath,
    account: str,
    days: list[date],
) -> BuildReport:
    """`build_days` in a worker process, which finds the feed with `find_feed`."""
    return build_days(
        find_feed(feed_name),
        RawStore(raw_root),
        PartitionStore(lake_root),
        PartitionStore(quarantine_root),
        account,
        days,
    )


def _found_by_name(feed: LakeFeed, find_feed: FindFeed) -> bool:
    try:
        return find_feed(feed.name) is feed
    except KeyError:
        return False


def _poolable(
    feeds: Sequence[LakeFeed],
    stores: Sequence[RawStore | PartitionStore],
    find_feed: FindFeed | None,
) -> bool:
    """Whether workers can build these feeds: they find each feed by name with `find_feed`,
    and must see the stores (not `memory://`, which lives in this process's memory)."""
    return (
        find_feed is not None
        and all(_found_by_name(feed, find_feed) for feed in feeds)
        and all(shared_across_processes(store.root) for store in stores)
    )


def _build_here(
    batch: _Batch, raw: RawStore, lake: PartitionStore, quarantine: PartitionStore
) -> BuildReport | Exception:
    try:
        return build_days(batch.feed, raw, lake, quarantine, batch.account, batch.days)
    except Exception as error:  # the feed fails; the other feeds go on
        return error


def _built_batches(
    batches_due: list[_Batch],
    raw: RawStore,
    lake: PartitionStore,
    quarantine: PartitionStore,
    workers: int,
    find_feed: FindFeed | None,
) -> Iterator[tuple[_Batch, BuildReport | BaseException]]:
    """Each batch with its report (or the error that stopped it), as it is done.

    Batches are built here, one after the other, while the time they take says the rest would
    take less than starting worker processes is worth (a few days of daily summaries); the
    first day is built alone, so a long build learns that after one day's work. Past that
    point the rest is spread over `workers` processes, heaviest feeds first, so no core idles
    at the end while one long feed finishes. This process only waits: what a build leaves in
    its memory would stay there through the dbt build that follows, the run's peak."""
    pending = list(batches_due)
    spent_s, days_done = 0.0, 0
    days_left = sum(len(b.days) for b in pending)
    feeds = [b.feed for b in pending]
    # How workers find a batch's feed; None: every batch is built here.
    pool_finder = (
        find_feed if workers > 1 and _poolable(feeds, (raw, lake, quarantine), find_feed) else None
    )
    poolable = pool_finder is not None
    if poolable and pending and len(pending[0].days) > 1:
        first = pending.pop(0)
        pending[:0] = [
            _Batch(first.feed, first.account, first.days[:1]),
            _Batch(first.feed, first.account, first.days[1:]),
        ]
    while pending:
        if poolable and days_done and spent_s / days_done * days_left > POOL_WORTH_S:
            break
        batch = pending.pop(0)
        started = time.perf_counter()
        yield batch, _build_here(batch, raw, lake, quarantine)
        spent_s += time.perf_counter() - started
        days_done += len(batch.days)
        days_left -= len(batch.days)
    if not pending or pool_finder is None:
        return
    # spawn, not fork: a Dagster step process has threads, which fork does not carry over.
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        with _main_module_hidden():
            futures = {
                pool.submit(
                    _build_batch_found_by_name,
                    pool_finder,
                    batch.feed.name,
                    raw.root,
                    lake.root,
                    quarantine.root,
                    batch.account,
                    batch.days,
                ): batch
                for batch in pending
            }
        for future in as_completed(futures):
            error = future.exception()
            yield futures[future], error if error is not None else future.result()


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """While workers start: a spawned worker imports its parent's `__main__`, which under
    Dagster is the run's own entry point (seconds of imports and a hundred MB per worker) and
    is of no use to `_build_batch_found_by_name`, which lives here."""
    main = sys.modules["__main__"]
    saved = {
        name: main.__dict__[name] for name in ("__spec__", "__file__") if name in main.__dict__
    }
    main.__spec__ = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.update(saved)


def build_feeds(
    feeds: Sequence[LakeFeed],
    raw: RawStore,
    lake: PartitionStore,
    quarantine: PartitionStore,
    days: Mapping[str, Sequence[date]],
    state_dir: StorageRoot | None = None,
    workers: int = 1,
    progress: Progress | None = None,
    find_feed: FindFeed | None = None,
) -> LakeBuild:
    """Build `feeds` for each account's `days`; with `state_dir` (a folder or a filesystem
    URI), days already built from the same raw are skipped.

    Days are built in batches (one validation per dataset and batch). With `workers` > 1 and
    `find_feed` (how a worker finds a feed by name: `garmin_pipeline.catalog.feed`) the
    batches of every feed share one pool of that many processes, so a rebuild of years keeps
    every core busy from the first feed to the last. Memory is bounded by a batch per worker,
    whatever the length of the history. A feed that fails with an unexpected error is
    reported in `failed`; the other feeds are still built."""
    reports = {feed.name: {a: BuildReport.empty(feed) for a in days} for feed in feeds}
    states: dict[tuple[str, str], BuildState] = {}
    due: list[_Batch] = []
    for feed in feeds:
        for account, wanted in days.items():
            report = reports[feed.name][account]
            state = (
                BuildState(
                    build_state_file(location(state_dir), feed.name, account),
                    schema_fingerprint(feed),
                )
                if state_dir is not None
                else None
            )
            if state is not None:
                states[feed.name, account] = state
            fresh = []
            for day in wanted:
                if not (raw.day_dir(feed.name, account, day) / MANIFEST).exists():
                    report.days_without_raw.append(day)
                elif state is not None and state.is_current(
                    day, raw.day_manifest(feed.name, account, day).digest
                ):
                    report.days_unchanged.append(day)
                else:
                    fresh.append(day)
            due += [_Batch(feed, account, run) for run in batches(fresh, workers)]
    # Heaviest first (the FIT feeds have the most datasets), so the pool's tail is short work.
    due.sort(key=lambda batch: -len(batch.feed.datasets))
    total, done = sum(len(batch.days) for batch in due), 0
    failed: dict[str, BaseException] = {}
    try:
        for batch, built in _built_batches(due, raw, lake, quarantine, workers, find_feed):
            if isinstance(built, BaseException):
                failed.setdefault(batch.feed.name, built)
                log.error("%s: building %s failed: %s", batch.feed.name, batch.days[0], built)
                continue
            reports[batch.feed.name][batch.account].merge(built)
            state = states.get((batch.feed.name, batch.account))
            if state is not None:
                for day, digest in built.digests.items():
                    state.record(day, digest)
            done += len(batch.days)
            if progress is not None:
                progress(done, total)
    finally:
        if done:  # the state must not vouch for partitions still in memory
            flush_to_disk()
        for state in states.values():
            state.save()  # what was built stays recorded even if a later batch fails
    for feed_reports in reports.values():
        for report in feed_reports.values():
            report.sort_days()
    return LakeBuild(reports, failed)


def build_lake(
    feed: LakeFeed,
    raw: RawStore,
    lake: PartitionStore,
    quarantine: PartitionStore,
    account: str,
    days: list[date],
    state_dir: StorageRoot | None = None,
    workers: int = 1,
    find_feed: FindFeed | None = None,
) -> BuildReport:
    """`build_feeds` of one feed and account; an unexpected error is raised."""
    built = build_feeds(
        [feed], raw, lake, quarantine, {account: days}, state_dir, workers, find_feed=find_feed
    )
    built.raise_first_failure()
    return built.reports[feed.name][account]
