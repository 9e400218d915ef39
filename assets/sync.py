"""Run the sync job in-process against the DAGSTER_HOME instance, for `garmin-pipeline sync`.

Runs are recorded in DAGSTER_HOME like any other, so they show up in the UI. It ends one of
three ways, each its own exit status:
- 0, done: every due day of every feed was fetched and built. Warnings (implausible values
  nulled, rows or payloads quarantined, dbt tests that warned) are summed up in a few lines.
- 3, partial: some feeds did not fetch (a 429 cooldown, an endpoint Garmin removed, a source
  down after retries), one line each saying what to do; everything that did arrive was built
  into the lake and the warehouse, and the next sync fetches only what is missing.
- 1, failed: one line saying why (the pipeline's own error message where there is one), e.g.
  Garmin refused the account's login: one line per account and source saying which login to
  run (every feed stopped without sending anything for it).

A sync killed outright (SIGKILL, OOM, power cut) cannot record its own end: before starting, a
sync marks failed every unfinished sync run whose process is provably gone, frees the pool slots
of finished runs (`assets.supervision`), and deletes the temp files that killed writers left in
the data directory.
"""

import argparse
import logging
import os
import sqlite3
import sys
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date

import dagster as dg
import sqlalchemy

from assets.instance import prepare_dagster_home
from assets.jobs import range_tags
from assets.lake import COMPLETE_DAYS_CHECK, PLAUSIBLE_CHECK, VALID_ROWS_CHECK
from assets.raw import AUTH_FAILED, FEED_FAILED, RATE_LIMITED, REFETCH_TAG
from assets.resources import location_settings
from assets.supervision import PROCESS_TAG, KilledRunStillBusy, recover_killed_runs
from garmin_pipeline import audit
from garmin_pipeline.errors import PipelineError
from garmin_pipeline.files import remove_stale_temp_files
from garmin_pipeline.forget import apply_retention
from garmin_pipeline.raw.forgotten import WHOLE_ACCOUNT, ForgottenDays
from garmin_pipeline.run_lock import DataDirBusyError, data_dir_lock
from garmin_pipeline.settings import Settings, SettingsError
from garmin_pipeline.supervision import RUN_ID_ENV, process_identity

EXIT_FAILED = 1
EXIT_PARTIAL = 3  # 2 is a usage error (click)
# The console shows errors only: what a run warns about is summed up at its end, in a few
# lines (`report`), and every log line stays in the run's log in DAGSTER_HOME.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
VERBOSE_LOGS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _error_names(cls: type[Exception]) -> set[str]:
    """The class and all its subclasses, at any depth, by name (Dagster keeps only the name)."""
    return {cls.__name__}.union(*(_error_names(sub) for sub in cls.__subclasses__()))


JOB_NAME = "sync"
# What `garmin-pipeline sync`, `sync --fetch-only` and `rebuild` run (assets/jobs.py).
JOB_NAMES = (JOB_NAME, "fetch", "rebuild")


def failure_reason(result: dg.ExecuteInProcessResult) -> str:
    """The most specific message behind the first failed step."""
    for event in result.all_events:
        if not event.is_step_failure or event.step_failure_data is None:
            continue
        error = event.step_failure_data.error
        chain = []
        while error is not None:
            chain.append(error)
            error = error.cause or error.context
        ours = [e for e in chain if e.cls_name in _error_names(PipelineError)]
        deepest = ours[0] if ours else chain[-1]
        message = deepest.message.strip().splitlines()[-1]
        asset = (event.step_key or "").replace("__", "/")  # the step of asset raw/x is raw__x
        return f"{asset}: {message.split(': ', 1)[-1] if ours else message}"
    return "the run failed before any step ran; see the run in the Dagster UI (make dev)"


def rate_limited_accounts(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """Each account a 429 cooldown stopped, with the first reason its raw assets gave (the
    feed, and until when nothing is sent)."""
    found: dict[str, str] = {}
    for event in result.get_asset_materialization_events():
        value = event.materialization.metadata.get(RATE_LIMITED)
        for account, reason in (value.value if value is not None else {}).items():
            found.setdefault(account, reason)
    return found


def failed_feeds(result: dg.ExecuteInProcessResult) -> list[tuple[str, str]]:
    """(account, reason) for each feed that failed for an account, in the order they ran
    (a raw asset records it with each day it materializes: once here)."""
    found: dict[tuple[str, str], None] = {}
    for event in result.get_asset_materialization_events():
        value = event.materialization.metadata.get(FEED_FAILED)
        found.update(dict.fromkeys((value.value if value is not None else {}).items()))
    return list(found)


def auth_failures(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], str]:
    """(account, source) → why its feeds sent nothing (a refused login, no tokens...): the
    first reason a raw asset gave, in the order they ran (the first is the one that met the
    refusal; the others only read it)."""
    found: dict[tuple[str, str], str] = {}
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        value, source = metadata.get(AUTH_FAILED), metadata.get("source")
        for account, reason in (value.value if value is not None else {}).items():
            found.setdefault((account, str(source.value if source else "")), reason)
    return found


WARNINGS_SHOWN = 3  # examples per line of the summary


def _summed(evaluation: dg.AssetCheckEvaluation, key: str) -> int:
    """A count from a check's metadata, summed over accounts (`<account>/<key>` when several)."""
    return sum(
        int(value.value)
        for name, value in evaluation.metadata.items()
        if name == key or name.endswith(f"/{key}")
    )


def _listed(counts: dict[str, int], unit: str) -> str:
    shown = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    text = ", ".join(f"{name} {count:,}" for name, count in shown[:WARNINGS_SHOWN])
    more = f", and {len(shown) - WARNINGS_SHOWN} more" if len(shown) > WARNINGS_SHOWN else ""
    return f"{sum(counts.values()):,} {unit} ({text}{more})"


def _payload_line(check: dg.AssetCheckEvaluation) -> str:
    """'N payloads quarantined, e.g. <day/name>: <reason>' from a complete_days check."""
    text = f"{_summed(check, 'payloads_quarantined'):,} payloads quarantined"
    examples = [
        str(value.value)
        for name, value in sorted(check.metadata.items())
        if name.endswith("first_quarantined") and value.value
    ]
    if examples:
        reason = examples[0]
        text += f", e.g. {reason[:117] + '...' if len(reason) > 120 else reason}"
    return text + "; see quarantine/"


def warning_lines(result: dg.ExecuteInProcessResult) -> list[str]:
    """A few lines summing up what landed with a warning: implausible values nulled, rows and
    payloads quarantined, dbt tests that warned. Each points at where the details are."""
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    nulled, quarantined, tests = {}, {}, {}
    payloads: set[str] = set()
    for check in failed:
        asset = "/".join(check.asset_key.path)
        if check.check_name == PLAUSIBLE_CHECK:
            nulled[asset.removeprefix("lake/")] = _summed(check, "nulled_values")
        elif check.check_name == VALID_ROWS_CHECK:
            quarantined[asset.removeprefix("lake/")] = _summed(check, "quarantined_rows")
        elif check.check_name == COMPLETE_DAYS_CHECK and _summed(check, "failed_count"):
            # Every dataset of a feed names the same payloads: keep one line of them.
            payloads.add(_payload_line(check))
        elif "dagster_dbt/failed_row_count" in check.metadata:
            tests[f"{asset} {check.check_name}"] = _summed(check, "dagster_dbt/failed_row_count")
    lines = []
    if nulled:
        lines.append(
            f"lake: {_listed(nulled, 'implausible values nulled')}, rows kept: the "
            "plausible_values checks name each column"
        )
    if quarantined:
        lines.append(
            f"lake: {_listed(quarantined, 'rows quarantined')}, see quarantine/ and the "
            "valid_rows checks"
        )
    lines += [f"lake: {text}" for text in sorted(payloads)[:WARNINGS_SHOWN]]
    if tests:
        lines.append(f"warehouse: dbt tests warned: {_listed(tests, 'rows')}"[:300])
    return lines


def only_feeds(job: dg.JobDefinition, feeds: Sequence[str]) -> list[dg.AssetKey]:
    """The job's assets without the raw and lake assets of every feed but `feeds`."""
    from garmin_pipeline.catalog import FEEDS

    left_out = {dg.AssetKey(["raw", f.name]) for f in FEEDS if f.name not in feeds} | {
        dg.AssetKey(["lake", d.name]) for f in FEEDS if f.name not in feeds for d in f.datasets
    }
    return sorted(job.asset_layer.selected_asset_keys - left_out)


def run_sync(
    first: date,
    last: date,
    instance: dg.DagsterInstance,
    refetch: bool = False,
    run_id: str | None = None,
    verbose: bool = False,
    job_name: str = JOB_NAME,
    feeds: Sequence[str] = (),
) -> dg.ExecuteInProcessResult:
    """The job over `first`..`last`; with `feeds`, only those feeds' raw and lake assets (and
    whatever else the job holds: the account's checks, the warehouse)."""
    from assets.definitions import defs  # import late: loading the definitions parses dbt

    job = defs.resolve_job_def(job_name)
    run_id = run_id or str(uuid.uuid4())
    accounts = location_settings().accounts
    tags = {
        **range_tags(first.isoformat(), last.isoformat(), accounts),
        PROCESS_TAG: process_identity(run_id),
    }
    if refetch:
        tags[REFETCH_TAG] = "true"
    os.environ[RUN_ID_ENV] = run_id  # inherited by dbt
    return job.execute_in_process(
        instance=instance,
        tags=tags,
        run_config=VERBOSE_LOGS if verbose else QUIET_LOGS,
        raise_on_error=False,
        run_id=run_id,
        asset_selection=only_feeds(job, feeds) if feeds else None,
    )


def wal_commits_without_fsync() -> None:
    """SQLite's recommended durability for WAL databases (synchronous=NORMAL), for Dagster's
    run and event storage in this process: its SQLite storage is in WAL mode but keeps the
    default FULL, an fsync per commit and it commits every event, which was a third of a
    backfill's bookkeeping. A commit lost to a power cut can leave the run log a few events
    short; it cannot corrupt it (https://www.sqlite.org/pragma.html#pragma_synchronous)."""

    @sqlalchemy.event.listens_for(sqlalchemy.Engine, "connect")
    def _normal_synchronous(connection: object, _record: object) -> None:
        if isinstance(connection, sqlite3.Connection):
            connection.execute("PRAGMA synchronous=NORMAL")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assets.sync")
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument("--refetch", action="store_true")
    parser.add_argument("--job", choices=JOB_NAMES, default=JOB_NAME)
    parser.add_argument("--verbose", action="store_true", help="log what the run is doing")
    parser.add_argument("--feed", action="append", default=[], help="only this feed (repeatable)")
    args = parser.parse_args(argv)
    if args.verbose:  # `garmin-pipeline -v sync`: the library's own log lines too
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    else:
        # garminconnect logs each failed request with its traceback before raising; the sync
        # tells that failure in one line of its own (a feed that failed), so only -v shows it.
        logging.getLogger("garminconnect").setLevel(logging.CRITICAL)
    try:
        settings = location_settings()  # checked before the run (retention too), not after it
    except SettingsError as error:
        print(f"sync failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    run_id = str(uuid.uuid4())
    try:
        # Before anything else (DAGSTER_HOME, the data dir, Garmin): a second run stops here.
        with data_dir_lock(settings.data_dir, f"{args.job} run {run_id}"):
            return run_locked(args, run_id, settings)
    except DataDirBusyError as error:
        print(f"{args.job} failed: {error}", file=sys.stderr)
        return EXIT_FAILED


def run_locked(args: argparse.Namespace, run_id: str, settings: Settings) -> int:
    """The run, once it holds the data directory: recover what killed runs left, then run."""
    wal_commits_without_fsync()
    prepare_dagster_home()
    with dg.DagsterInstance.get() as instance:
        try:
            recovered = recover_killed_runs(instance, superseded_by=run_id, job_names=JOB_NAMES)
        except KilledRunStillBusy as error:
            print(f"sync failed: {error}", file=sys.stderr)
            return EXIT_FAILED
        for killed in recovered:
            print(f"run {killed} was killed before it finished: marked failed, pool slots freed")
        remove_stale_temp_files(settings.data_dir)
        result = run_sync(
            args.start,
            args.end,
            instance,
            refetch=args.refetch,
            run_id=run_id,
            verbose=args.verbose,
            job_name=args.job,
            feeds=args.feed,
        )
    status = report(result, args.job, args.start, args.end, named=len(settings.accounts) > 1)
    if args.job in SYNC_JOBS:
        record_sync(settings, result, args.job, args.start, args.end)
        retention_status = retain(settings)
        status = status or retention_status
    return status


# The jobs that talk to Garmin: each writes a `sync` line to the audit log, then applies
# GARMIN_RETENTION_DAYS. (`rebuild` only rebuilds what raw holds.)
SYNC_JOBS = (JOB_NAME, "fetch")


def requests_by_account(result: dg.ExecuteInProcessResult) -> Counter[str]:
    """Requests each account's raw assets sent in the run. A raw asset's metadata comes with
    every day it materializes: it is counted once per asset."""
    sent: Counter[str] = Counter()
    counted: set[dg.AssetKey] = set()
    for event in result.get_asset_materialization_events():
        value = event.materialization.metadata.get("requests_by_account")
        if value is None or event.asset_key in counted:
            continue
        counted.add(event.asset_key)
        sent.update(value.value or {})  # type: ignore[arg-type]
    return sent


def record_sync(
    settings: Settings, result: dg.ExecuteInProcessResult, job: str, first: date, last: date
) -> None:
    """One audit line per account: how its sync ended, and counts (never a value of its data).
    An account forgotten whole is skipped by syncs, and no new line may name it."""
    forgotten = ForgottenDays(settings.layout.state_dir)
    cooling = rate_limited_accounts(result) if result.success else {}
    failed = Counter(account for account, _ in failed_feeds(result)) if result.success else {}
    sent = requests_by_account(result)
    refused = {account for account, _source in auth_failures(result)}
    for account in settings.accounts:
        if forgotten.forgotten_before(account) == WHOLE_ACCOUNT:
            continue
        if not result.success or account in refused:
            outcome = "failed"
        elif account in cooling or failed.get(account):
            outcome = "partial"
        else:
            outcome = "ok"
        audit.record(
            settings.data_dir,
            account,
            "sync",
            outcome,  # type: ignore[arg-type]
            {
                "job": job,
                "first_day": first.isoformat(),
                "last_day": last.isoformat(),
                "days": (last - first).days + 1,
                "feeds_failed": failed.get(account, 0),
                "rate_limited": int(account in cooling),
                "requests": sent.get(account, 0),
            },
        )


def retain(settings: Settings) -> int:
    """Apply GARMIN_RETENTION_DAYS: forget every account's older days (one audit line each,
    with counts); returns the exit status it adds (failed when it could not finish)."""
    keep = settings.retention_days
    if keep is None:
        return 0
    try:
        removed = apply_retention(settings, keep)
    except PipelineError as error:
        print(f"retention failed: {error}", file=sys.stderr)
        for account in settings.accounts:
            audit.record(settings.data_dir, account, "retention", "failed", {"keep_days": keep})
        return EXIT_FAILED
    for account, counts in removed.items():
        audit.record(
            settings.data_dir,
            account,
            "retention",
            "ok",
            {"keep_days": keep, **counts.counts()},
        )
    gone = sum(r.raw_days for r in removed.values())
    if gone:
        print(f"retention: forgot {gone} raw days older than {keep} days (GARMIN_RETENTION_DAYS)")
    return 0


def report(
    result: dg.ExecuteInProcessResult, job: str, first: date, last: date, named: bool = False
) -> int:
    """Print how the run ended, and return its exit status (see the module's docstring);
    `named`: several accounts, each line names its own (with one, its name says nothing)."""
    if not result.success:
        print(f"{job} failed: {failure_reason(result)} (run {result.run_id})", file=sys.stderr)
        return EXIT_FAILED
    # A 429 cooldown or a failed feed does not fail the run (the lake and the warehouse are
    # built from what did arrive), but the sync is partial: one line per account cooling down
    # (naming the feed and until when) and per feed that failed (what Garmin answered).
    # A refused login stops every feed of the account: one line each, and the sync failed.
    refused = auth_failures(result)
    for (account, _source), reason in refused.items():
        who = f"{account}: " if named else ""
        print(f"{job} failed: {who}{reason} (run {result.run_id})", file=sys.stderr)
    missing = sorted(rate_limited_accounts(result).items()) + failed_feeds(result)
    for account, reason in missing:
        print(f"{job} partial: {f'{account}: ' if named else ''}{reason}", file=sys.stderr)
    if refused:
        return EXIT_FAILED
    warnings = warning_lines(result)
    if missing:
        print(
            f"{job}: everything else landed for {first}..{last} (run {result.run_id}); the next "
            "sync fetches only what is missing",
            file=sys.stderr,
        )
    else:
        noted = "; with warnings:" if warnings else ""
        print(f"{job}: done for {first}..{last} (run {result.run_id}){noted}")
    for line in warnings:
        print(f"  {line}")
    return EXIT_PARTIAL if missing else 0


if __name__ == "__main__":
    sys.exit(main())
