"""Partitions: one per account and calendar day of the history.

Two dimensions, so the UI shows the accounts as rows of the partition grid and a backfill can
pick accounts and days; a range over both is one run (a rectangle: every chosen account,
every chosen day), so range endpoints still serve each account's days in a few requests.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import dagster as dg

from assets.resources import location_settings
from garmin_pipeline.raw.forgotten import ForgottenDays

ACCOUNT = "account"
DATE = "date"
# How Dagster tags a run over a range of partitions, and a run of one partition.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"

_settings = location_settings()  # the accounts and the first day of the grid

# end_offset=2 keeps today selectable in every timezone up to UTC+14 (partitions are UTC days);
# the raw assets skip any day that has not begun in the profile's own timezone.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=_settings.history_start.isoformat(), end_offset=2
)
account_partitions = dg.StaticPartitionsDefinition(list(_settings.accounts))
account_days = dg.MultiPartitionsDefinition({ACCOUNT: account_partitions, DATE: daily_partitions})

# A backfill is one run over the whole range, so the activity list is walked once per range
# and dbt builds the warehouse once, not once per day.
one_run_per_backfill = dg.BackfillPolicy.single_run()


def days_by_account(context: dg.AssetExecutionContext, state_dir: Path) -> dict[str, list[date]]:
    """The run's partitions as each account's days, in order (without those the tombstones
    in `state_dir` forgot)."""
    return _by_account(context.partition_keys, state_dir)


def run_days_by_account(
    context: dg.AssetExecutionContext, state_dir: Path
) -> dict[str, list[date]]:
    """For an asset outside the partitions (the lake): the days of its run's partition range
    (a sync, a rebuild, a backfill) or partition, else every day of the history."""
    tags = context.run.tags
    first, last = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if first and last:
        keys = account_days.get_partition_keys_in_range(dg.PartitionKeyRange(first, last))
    elif PARTITION_TAG in tags:
        keys = [tags[PARTITION_TAG]]
    else:
        keys = account_days.get_partition_keys()
    return _by_account(keys, state_dir)


def _by_account(keys: Sequence[str], state_dir: Path) -> dict[str, list[date]]:
    """Each account's days among `keys`, without the days `forget` and retention removed
    (their tombstones): nothing fetches or builds those again, and an account forgotten
    whole is left out altogether."""
    days: dict[str, list[date]] = defaultdict(list)
    for key in keys:
        dimensions = account_days.get_partition_key_from_str(key).keys_by_dimension
        days[dimensions[ACCOUNT]].append(date.fromisoformat(dimensions[DATE]))
    forgotten = ForgottenDays(state_dir)
    kept = {account: forgotten.remaining(account, sorted(days[account])) for account in days}
    return {account: kept[account] for account in sorted(kept) if kept[account]}


def range_key(account: str, day: str) -> str:
    """A partition key as Dagster spells it (dimensions in name order: account|date)."""
    return str(dg.MultiPartitionKey({ACCOUNT: account, DATE: day}))
