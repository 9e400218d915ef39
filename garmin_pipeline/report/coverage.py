"""Which days are complete, provisional or missing: the report's data-coverage calendar.

The two halves of the answer live in different places, and each is read where it lives:

* *Whether a day holds data* is the warehouse's: `fct_daily_health` has a row for every day of
  an account's span (its date spine) and `has_daily_summary` says whether Garmin's daily summary
  exists for it. That is what an analyst querying the marts sees.
* *Whether a day is still provisional* is raw's alone: each raw day's manifest records when the
  day was last fetched in full (`checked_at`), and `Freshness.is_final` (raw/freshness.py) is
  the one rule the sync uses to decide whether Garmin may still change the day (fetched before
  its end plus the feed's provisional lag, in the account's time zone). The warehouse carries
  no fetch times, so it cannot say this; `int_account_days.is_covered` only says a day lies
  within the span. The same rule is applied here, with the same per-feed overrides
  (GARMIN_PROVISIONAL_DAYS), rather than a second definition of "final".

A day is *provisional* when any per-day feed's manifest for it is not final (a later sync may
still change it), *missing* when it is final (or was never fetched) and the warehouse has no
daily summary for it, and *complete* otherwise. Reading the manifests costs one small file per
feed and day; only days of the warehouse's spine are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime

import polars as pl

from garmin_pipeline.feeds import Feed
from garmin_pipeline.raw.freshness import Freshness
from garmin_pipeline.raw.store import RawStore
from garmin_pipeline.sources import profile_zone

COMPLETE, PROVISIONAL, MISSING = "complete", "provisional", "missing"
STATES = (COMPLETE, PROVISIONAL, MISSING)  # the calendar's legend, in this order
# A fixed instant: `is_final` does not read the clock, and the page must not depend on it.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _finality(
    raw: RawStore,
    feeds: Sequence[Feed],
    days: pl.DataFrame,
    zones: dict[str, str],
    provisional_overrides: Mapping[str, int],
) -> Iterator[tuple[str, date, bool]]:
    """(account, day, final) for every per-day feed's manifest on a day of `days`."""
    spine = days.group_by("account").agg(pl.col("calendar_date")).sort("account")
    for account, account_days in spine.iter_rows():
        freshness = Freshness(
            timezone=profile_zone(zones.get(account)),
            now=_EPOCH,
            last_upload=None,
            provisional_overrides=provisional_overrides,
        )
        wanted = set(account_days)
        for feed in feeds:
            for day in wanted.intersection(raw.days(feed.name, account)):
                checked_at = raw.day_manifest(feed.name, account, day).checked_at
                yield account, day, freshness.is_final(feed, day, checked_at)


def coverage(
    days: pl.DataFrame,
    raw: RawStore,
    feeds: Iterable[Feed],
    zones: dict[str, str],
    provisional_overrides: Mapping[str, int] | None = None,
) -> pl.DataFrame:
    """One row per account and day of `days` (account, calendar_date, has_daily_summary):
    its state, and the Monday of its week and its weekday for the calendar's grid."""
    per_day = [feed for feed in feeds if not feed.snapshot]
    finality = pl.DataFrame(
        list(_finality(raw, per_day, days, zones, provisional_overrides or {})),
        schema={"account": pl.String, "calendar_date": pl.Date, "final": pl.Boolean},
        orient="row",
    )
    provisional = finality.group_by("account", "calendar_date").agg(
        (~pl.col("final").all()).alias("provisional")
    )
    return (
        days.join(provisional, on=["account", "calendar_date"], how="left")
        .with_columns(
            state=pl.when(pl.col("provisional").fill_null(False))
            .then(pl.lit(PROVISIONAL))
            .when(pl.col("has_daily_summary"))
            .then(pl.lit(COMPLETE))
            .otherwise(pl.lit(MISSING)),
            week_start=pl.col("calendar_date").dt.truncate("1w"),
            weekday=pl.col("calendar_date").dt.strftime("%a"),
        )
        .select("account", "calendar_date", "week_start", "weekday", "state")
        .sort("account", "calendar_date")
    )
