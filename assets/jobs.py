"""The jobs over a range of days and the morning schedule.

`sync` runs raw → lake → warehouse; its two halves also run alone: `fetch` (raw only: the
only part that talks to Garmin, e.g. on a machine that only collects) and `rebuild` (lake and
warehouse from raw, offline: after a parser change, or on the machine that builds)."""

from collections.abc import Sequence
from datetime import timedelta

import dagster as dg

from assets.account import ACCOUNT_CHECKS
from assets.partitions import RANGE_END_TAG, RANGE_START_TAG, range_key
from assets.report import REPORT_GROUP
from assets.resources import GarminConnect
from garmin_pipeline.raw.freshness import latest_begun_day
from garmin_pipeline.status import breaker_for, describe_breaker

REFRESH_WINDOW_DAYS = 3

sync_job = dg.define_asset_job(
    "sync",
    # The account's checks ride along, so each sync refreshes token health and the cooldown.
    # Not the report: it is drawn on demand, and a sync must not wait for charts.
    selection=(dg.AssetSelection.all() - dg.AssetSelection.groups(REPORT_GROUP))
    | dg.AssetSelection.checks(*ACCOUNT_CHECKS),
    description="Fetch a range of days from Garmin, rebuild their lake partitions, build dbt.",
)


fetch_job = dg.define_asset_job(
    "fetch",
    selection=dg.AssetSelection.groups("source", "raw") | dg.AssetSelection.checks(*ACCOUNT_CHECKS),
    description="Fetch a range of days from Garmin into raw only.",
)

rebuild_job = dg.define_asset_job(
    "rebuild",
    # Offline: the lake from what raw holds, then the warehouse; no request reaches Garmin.
    selection=dg.AssetSelection.groups("lake").downstream()
    - dg.AssetSelection.groups(REPORT_GROUP),
    description="Rebuild a range of days' lake files from raw, then build dbt (offline).",
)


def range_tags(first: str, last: str, accounts: Sequence[str]) -> dict[str, str]:
    """A run over days `first`..`last` of every account in `accounts` (a rectangle of the
    account and day partitions; the accounts in their configured order)."""
    return {
        RANGE_START_TAG: range_key(accounts[0], first),
        RANGE_END_TAG: range_key(accounts[-1], last),
    }


@dg.schedule(job=sync_job, cron_schedule="30 6 * * *", execution_timezone="UTC")
def morning_refresh(
    context: dg.ScheduleEvaluationContext, garmin: GarminConnect
) -> dg.RunRequest | dg.SkipReason:
    """Sync the last few days every morning; only days with new uploads cost requests.

    While every source of every account cools down after a 429 the tick is skipped, and says
    until when, in the UI; with one still open, its feeds sync and the others skip requests."""
    settings = garmin.settings
    cooldowns = {
        (account, source): breaker_for(garmin.settings_for(account), source).state()
        for account in settings.accounts
        for source in settings.source_precedence
    }
    if all(cooldown.open for cooldown in cooldowns.values()):
        return dg.SkipReason(
            "Garmin rate limit: "
            + "; ".join(f"{a}: {describe_breaker(c)}" for (a, _), c in cooldowns.items())
        )
    today = latest_begun_day()  # the raw assets skip days not yet begun for the profile
    first = today - timedelta(days=REFRESH_WINDOW_DAYS)
    return dg.RunRequest(
        run_key=f"refresh-{today}",
        tags=range_tags(first.isoformat(), today.isoformat(), settings.accounts),
    )
