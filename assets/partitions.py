"""One daily partition per calendar day of the account's history."""

import dagster as dg

from garmin_pipeline.settings import Settings

# end_offset=2 keeps today selectable in every timezone up to UTC+14 (partitions are UTC days);
# the raw assets skip any day that has not begun in the profile's own timezone.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=Settings.from_env().history_start, end_offset=2
)

# A backfill is one run over the whole range, so the activity list is walked once per range
# and dbt builds the warehouse once, not once per day.
one_run_per_backfill = dg.BackfillPolicy.single_run()
