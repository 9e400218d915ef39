"""`python -m assets.forget`: what `garmin-pipeline forget` runs (after asking), in a process
that may import Dagster.

It refuses while a run is going, forgets the account's data through the library
(`garmin_pipeline.forget`), then, for a whole account, removes what DAGSTER_HOME holds of it:
every run whose tags, config or events name it (`DagsterInstance.delete_run`, which also
deletes the run's events; a household sync covering several accounts in one run goes whole,
so the other accounts lose that run's history, never their data), the run's captured logs,
the schedule ticks and backfills naming it, its dynamic partitions, and the asset records
that pointed at a deleted run's materialization. SQLite keeps deleted rows in free pages, so
every SQLite database of the instance is then VACUUMed. (A PostgreSQL instance gets the same
deletions; reclaiming its dead tuples is that database's own VACUUM.)

It prints one line with what was removed and writes the `forget` line of the audit log, with
the account pseudonymised there like every earlier line of it.
"""

import argparse
import re
import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import dagster as dg
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, AssetKeyTable
from dagster._core.storage.runs.schema import BackfillTagsTable, BulkActionsTable
from dagster._serdes import serialize_value

from assets.instance import prepare_dagster_home
from assets.supervision import UNFINISHED, worker_gone
from garmin_pipeline import audit
from garmin_pipeline.errors import PipelineError
from garmin_pipeline.forget import forget_account, summary_line
from garmin_pipeline.run_lock import DataDirBusyError, data_dir_lock
from garmin_pipeline.settings import Settings


def naming(account: str) -> Callable[[str], bool]:
    """Whether a text names the account: its slug not inside a longer word (a partition key
    `alice|2024-06-30`, `account=alice`, a log line `alice: ...`)."""
    pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(account)}(?![A-Za-z0-9])")
    return lambda text: pattern.search(text) is not None


def runs_going(instance: dg.DagsterInstance) -> list[str]:
    """Unfinished runs whose process is not provably gone: forgetting under them would race
    their writes (and they would write the account back)."""
    return [
        record.dagster_run.run_id
        for record in instance.get_run_records(dg.RunsFilter(statuses=UNFINISHED))
        if not worker_gone(record.dagster_run)
    ]


def runs_naming(instance: dg.DagsterInstance, names: Callable[[str], bool]) -> list[str]:
    """Every run whose tags or config name the account, or, failing those, one of its events
    (a run over a range of accounts names only the first and last in its tags)."""
    found = []
    for record in instance.get_run_records():
        run = record.dagster_run
        header = serialize_value(run.tags) + serialize_value(run.run_config)
        if names(header) or any(
            names(serialize_value(entry)) for entry in instance.all_logs(run.run_id)
        ):
            found.append(run.run_id)
    return found


def repair_asset_records(instance: dg.DagsterInstance, deleted: set[str]) -> int:
    """Point each asset record whose last materialization came from a deleted run at the
    latest one left (or none), and drop every cached partition status (it lists the
    account's partitions); Dagster has no call for this, so it updates its asset table."""
    storage = instance.event_log_storage
    keys = list(instance.all_asset_keys())
    repaired = 0
    for record in storage.get_asset_records(keys):
        entry = record.asset_entry
        if entry.last_run_id not in deleted and (
            entry.last_materialization_record is None
            or entry.last_materialization_record.run_id not in deleted
        ):
            continue
        latest = instance.fetch_materializations(entry.asset_key, limit=1).records
        values = {
            "last_materialization": serialize_value(latest[0]) if latest else None,
            "last_run_id": latest[0].run_id if latest else None,
        }
        with storage.index_connection() as conn:
            conn.execute(
                AssetKeyTable.update()
                .values(**values)
                .where(AssetKeyTable.c.asset_key == entry.asset_key.to_string())
            )
        repaired += 1
    instance.wipe_asset_cached_status(keys)
    if deleted:
        with storage.index_connection() as conn:
            conn.execute(
                AssetCheckExecutionsTable.delete().where(
                    AssetCheckExecutionsTable.c.run_id.in_(sorted(deleted))
                )
            )
    return repaired


def forget_ticks(instance: dg.DagsterInstance, names: Callable[[str], bool]) -> int:
    """Purge the ticks of each schedule or sensor that has a tick naming the account."""
    purged = 0
    for state in instance.all_instigator_state():
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
        if any(names(serialize_value(tick.tick_data)) for tick in ticks):
            instance.schedule_storage.purge_ticks(  # type: ignore[union-attr]
                state.instigator_origin_id, state.selector_id, before=time.time() + 1
            )
            purged += len(ticks)
    return purged


def forget_backfills(instance: dg.DagsterInstance, names: Callable[[str], bool]) -> int:
    """Delete the backfills naming the account (Dagster has no call to delete one)."""
    ids = [b.backfill_id for b in instance.get_backfills() if names(serialize_value(b))]
    if ids:
        with instance.run_storage.connect() as conn:  # type: ignore[attr-defined]
            conn.execute(BackfillTagsTable.delete().where(BackfillTagsTable.c.backfill_id.in_(ids)))
            conn.execute(BulkActionsTable.delete().where(BulkActionsTable.c.key.in_(ids)))
    return len(ids)


def dynamic_partitions_of(instance: dg.DagsterInstance, account: str) -> int:
    """Delete the account where it is a dynamic partition of any definition."""
    from assets.definitions import defs  # late: loading the definitions parses dbt

    names = set()
    for node in defs.resolve_asset_graph().asset_nodes:
        partitions = node.partitions_def
        dimensions = (
            [d.partitions_def for d in partitions.partitions_defs]
            if isinstance(partitions, dg.MultiPartitionsDefinition)
            else [partitions]
        )
        names |= {
            d.name for d in dimensions if isinstance(d, dg.DynamicPartitionsDefinition) and d.name
        }
    removed = 0
    for name in sorted(names):
        if account in instance.get_dynamic_partitions(name):
            instance.delete_dynamic_partition(name, account)
            removed += 1
    return removed


def forget_in_dagster(
    instance: dg.DagsterInstance, account: str
) -> tuple[dict[str, int], list[str]]:
    """Remove what the instance holds of the account; returns counts and the deleted runs."""
    names = naming(account)
    deleted = runs_naming(instance, names)
    for run_id in deleted:
        instance.delete_run(run_id)
        instance.compute_log_manager.delete_logs(prefix=[run_id])
    repair_asset_records(instance, set(deleted))
    counts = {
        "dagster_runs": len(deleted),
        "dagster_ticks": forget_ticks(instance, names),
        "dagster_backfills": forget_backfills(instance, names),
        "dynamic_partitions": dynamic_partitions_of(instance, account),
    }
    return counts, deleted


def drop_run_shards(instance: dg.DagsterInstance, run_ids: list[str]) -> None:
    """SQLite keeps each run's events in a file of its own: a deleted run's file goes too."""
    storage = instance.event_log_storage
    if not hasattr(storage, "path_for_shard"):
        return
    for run_id in run_ids:
        shard = Path(storage.path_for_shard(run_id))
        for path in (shard, Path(f"{shard}-wal"), Path(f"{shard}-shm")):
            path.unlink(missing_ok=True)


def vacuum_sqlite(dagster_home: Path) -> int:
    """VACUUM every SQLite database under DAGSTER_HOME, so deleted rows leave no bytes in
    free pages or the write-ahead log; returns how many were rewritten."""
    done = 0
    for path in sorted(dagster_home.rglob("*.db")):
        with path.open("rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                continue
        connection = sqlite3.connect(path)
        try:
            connection.execute("VACUUM")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
        done += 1
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assets.forget")
    parser.add_argument("--account", required=True)
    parser.add_argument("--before", type=date.fromisoformat)
    parser.add_argument("--refetch", action="store_true")
    args = parser.parse_args(argv)
    # Resolved when called, from the environment as it is then: the entry point of its own
    # process (`python -m assets.forget`, which the CLI becomes).
    settings = Settings.from_env()
    try:
        # Named without the account: the lock file keeps its last holder's description.
        with data_dir_lock(settings.data_dir, "forget"):
            return forget_locked(settings, args)
    except DataDirBusyError as error:
        print(f"forget refused: {error}; nothing was removed", file=sys.stderr)
        return 1


def forget_locked(settings: Settings, args: argparse.Namespace) -> int:
    """The forget, once it holds the data directory (no sync, rebuild or import running)."""
    prepare_dagster_home()
    with dg.DagsterInstance.get() as instance:
        going = runs_going(instance)
        if going:
            print(
                f"forget refused: run {going[0]} is going; wait for it to end (or mark it "
                "failed in the Dagster UI), then forget again; nothing was removed",
                file=sys.stderr,
            )
            audit.record(settings.data_dir, args.account, "forget", "refused")
            return 1
        try:
            forgotten = forget_account(settings, args.account, args.before, args.refetch)
        except PipelineError as error:
            print(f"forget failed: {error}", file=sys.stderr)
            audit.record(settings.data_dir, args.account, "forget", "failed")
            return 1
        counts: dict[str, int] = dict(forgotten.removed.counts())
        deleted: list[str] = []
        if args.before is None:
            found, deleted = forget_in_dagster(instance, args.account)
            counts.update(found)
        home = Path(instance.root_directory)
    if args.before is None:
        with dg.DagsterInstance.get() as instance:
            drop_run_shards(instance, deleted)
        vacuum_sqlite(home)
    line = summary_line(args.account, forgotten, args.before)
    if args.before is None:
        line += f"; {counts['dagster_runs']} Dagster runs deleted"
    labels = {"before": args.before.isoformat()} if args.before else {}
    outcome = "partial" if forgotten.problems else "ok"
    audit.record(settings.data_dir, args.account, "forget", outcome, {**counts, **labels})
    if args.before is None:
        audit.pseudonymise(settings.data_dir, args.account)
    print(line)
    for problem in forgotten.problems:
        print(f"forget partial: {problem}", file=sys.stderr)
    return 1 if forgotten.problems else 0


if __name__ == "__main__":
    sys.exit(main())
