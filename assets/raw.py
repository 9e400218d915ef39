"""Raw assets: one per feed, fetching the due days of a run's range into the raw zone."""

import hashlib
import warnings
from collections import Counter
from datetime import UTC, date, datetime

import dagster as dg

from assets.account import GARMIN_ACCOUNT
from assets.partitions import account_days, days_by_account, one_run_per_backfill
from assets.resources import DataDir, GarminConnect
from garmin_pipeline.catalog import FEEDS
from garmin_pipeline.errors import PipelineError, RateLimitedError, SourceAuthError
from garmin_pipeline.feeds import Feed
from garmin_pipeline.raw.extract import ExtractReport, extract
from garmin_pipeline.raw.failures import FeedFailures
from garmin_pipeline.raw.store import RawStore

# Raw metadata: the accounts whose requests a 429 cooldown stopped, with why.
RATE_LIMITED = "rate_limited_accounts"
# Raw metadata: the accounts for which this feed failed (404, 5xx after retries...), with why.
FEED_FAILED = "failed_accounts"
# Raw metadata: the accounts whose credentials the feed's source refused (or could not use:
# no tokens, an unsafe token store), with why. Every feed of the account needs the same fix,
# a login, which `garmin-pipeline sync` says once, failing; nothing was sent for it again.
AUTH_FAILED = "auth_failed_accounts"
# Each raw asset's check that every account's due days were fetched: red (an error) while a
# 429 cooldown keeps an account's requests unsent or the feed failed. The step itself
# succeeds, so the lake is still built from what the other feeds and accounts fetched
# (Dagster skips a step whose upstream step failed): a feed fails alone.
FETCHED_CHECK = "due_days_fetched"
REFETCH_TAG = "garmin/refetch"  # "true": fetch final days again too (old edits, deletions)


def raw_version(raw: RawStore, feed: str, days: dict[str, list[date]]) -> dg.DataVersion:
    """Equal raw content over the range, equal version: Dagster then sees nothing new."""
    digests = "".join(
        raw.day_manifest(feed, account, day).digest
        for account, wanted in days.items()
        for day in wanted
    )
    return dg.DataVersion(hashlib.sha256(digests.encode("ascii")).hexdigest()[:20])


def fetched_check(
    feed: Feed, cooling: dict[str, str], failed: dict[str, str] | None = None
) -> dg.AssetCheckResult:
    """Red, naming the accounts and why: a 429 cooldown kept requests unsent (until when), or
    the feed failed (what Garmin answered)."""
    failed = failed or {}
    problems = {**cooling, **failed}
    return dg.AssetCheckResult(
        check_name=FETCHED_CHECK,
        asset_key=["raw", feed.name],
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(f"{a}: {why}" for a, why in sorted(problems.items())) or None,
        metadata={
            "accounts_cooling_down": ", ".join(sorted(cooling)) or "none",
            "accounts_failed": ", ".join(sorted(failed)) or "none",
        },
    )


def refused_reason(feed: Feed, refused: dict[str, str]) -> str:
    """One line for the payloads a feed received but could not use (a body that is not JSON,
    one over the size limit): what, and that the next sync asks for them again."""
    first, why = next(iter(sorted(refused.items())))
    more = f" and {len(refused) - 1} more" if len(refused) > 1 else ""
    return f"raw/{feed.name}: kept aside {first}{more}: {why}"


def failure_reason(feed: Feed, error: Exception) -> str:
    """One line: the feed and what went wrong (ours says what to do; anything else is a bug)."""
    if isinstance(error, PipelineError):
        return f"raw/{feed.name}: {error}"
    detail = " ".join(str(error).split()) or "(no detail)"
    return (
        f"raw/{feed.name}: fetching failed with {type(error).__name__}: {detail}; the other "
        "feeds still synced; run `garmin-pipeline -v sync` and report it if it happens again"
    )


def raw_asset(feed: Feed) -> dg.AssetsDefinition:
    with warnings.catch_warnings():
        # backfill_policy is beta in Dagster 1.13: one warning per raw asset would open every
        # CLI run's output with 25 identical lines. The policy is chosen knowingly (partitions.py).
        warnings.filterwarnings("ignore", "Parameter `backfill_policy`", dg.BetaWarning)
        return _raw_asset(feed)


def _raw_asset(feed: Feed) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", feed.name],
        description=f"Payloads as received from Garmin. {feed.description}",
        group_name="raw",
        kinds={"python", "json"},
        partitions_def=account_days,
        backfill_policy=one_run_per_backfill,
        pool="garmin_api",
        deps=[GARMIN_ACCOUNT.key],
        check_specs=[
            dg.AssetCheckSpec(
                FETCHED_CHECK,
                asset=["raw", feed.name],
                description="Every account's due days were fetched (no 429 cooldown held one).",
            )
        ],
    )
    def _raw(
        context: dg.AssetExecutionContext, garmin: GarminConnect, data_dir: DataDir
    ) -> dg.MaterializeResult:
        days = days_by_account(context, data_dir.layout.state_dir)
        via = garmin.source_name(feed)
        if via is None:
            mode = garmin.settings.source_mode
            context.log.info(f"{feed.name}: not fetched, GARMIN_SOURCE={mode} does not cover it")
            return dg.MaterializeResult(
                data_version=raw_version(data_dir.raw, feed.name, days),
                metadata={"source": f"none (GARMIN_SOURCE={mode} does not cover this feed)"},
                check_results=[fetched_check(feed, {})],
            )
        refetch = context.run.tags.get(REFETCH_TAG) == "true"
        reports: dict[str, ExtractReport] = {}
        requests: dict[str, Counter[str]] = {}
        timezones: dict[str, str] = {}
        cooling: dict[str, str] = {}
        failed: dict[str, str] = {}
        auth_failed: dict[str, str] = {}
        # Each account with its own tokens and request budget, one after the other; one
        # account's 429 cooldown must not keep the others' days from the lake. A feed that
        # fails (an endpoint Garmin removed, a source down after retries) fails alone: what
        # it fetched before stays in raw, its unfetched days stay due for the next sync.
        for account, wanted in days.items():
            source = garmin.source(via, account)
            before = source.governor.requests_by_endpoint.copy()
            failures = FeedFailures(data_dir.layout.state_dir, account)
            try:
                freshness = garmin.freshness(account, refetch=refetch)
                reports[account] = extract(
                    feed, source, data_dir.raw, account, wanted, freshness, via=via
                )
            except RateLimitedError as error:
                cooling[account] = f"raw/{feed.name}: {error}"
                context.log.warning(f"{account}: {error}")
                continue
            except SourceAuthError as error:
                # Every feed of the account needs the same fix, said once by the sync: not a
                # step failure each (a traceback each on the console), and nothing recorded
                # as this feed's own failure.
                auth_failed[account] = str(error)
                context.log.warning(f"{account}: {error}")
                continue
            except Exception as error:
                failed[account] = failure_reason(feed, error)
                failures.record(feed.name, failed[account], datetime.now(UTC))
                context.log.warning(f"{account}: {failed[account]}")
                continue
            finally:
                requests[account] = source.governor.requests_by_endpoint - before
            timezones[account] = str(freshness.timezone)
            refused = reports[account].refused
            if refused:  # fetched, but not usable: kept aside, asked for again next sync
                failed[account] = refused_reason(feed, refused)
                failures.record(feed.name, failed[account], datetime.now(UTC))
            else:
                failures.clear(feed.name)
        every_day = sorted({day for wanted in days.values() for day in wanted})
        by_endpoint = sum(requests.values(), Counter())
        return dg.MaterializeResult(
            data_version=raw_version(data_dir.raw, feed.name, days),
            metadata={
                "source": via,
                "accounts": ", ".join(days),
                # None when every day of the range was forgotten (`garmin-pipeline forget`).
                "first_day": str(every_day[0]) if every_day else "none",
                "last_day": str(every_day[-1]) if every_day else "none",
                "days_fetched": sum(len(r.days_due) for r in reports.values()),
                "days_skipped_final_or_unchanged": sum(r.days_skipped for r in reports.values()),
                "payloads_changed": sum(r.changed for r in reports.values()),
                "payloads_unchanged": sum(r.unchanged for r in reports.values()),
                # Kept aside in raw (malformed, oversized) and quarantined: "day/name" → why.
                "payloads_refused": dg.MetadataValue.json(
                    {
                        (f"{a}/{k}" if len(days) > 1 else k): v
                        for a, r in reports.items()
                        for k, v in r.refused.items()
                    }
                ),
                "requests": by_endpoint.total(),
                "requests_by_endpoint": dg.MetadataValue.json(dict(sorted(by_endpoint.items()))),
                "requests_by_account": dg.MetadataValue.json(
                    {account: counts.total() for account, counts in requests.items()}
                ),
                "profile_timezone": ", ".join(sorted(set(timezones.values()))),
                # Accounts skipped after a 429, and those the feed failed for: `garmin-pipeline
                # sync` reports them and ends "partial".
                RATE_LIMITED: dg.MetadataValue.json(cooling),
                FEED_FAILED: dg.MetadataValue.json(failed),
                AUTH_FAILED: dg.MetadataValue.json(auth_failed),
            },
            check_results=[fetched_check(feed, cooling, {**failed, **auth_failed})],
        )

    return _raw


RAW_ASSETS = [raw_asset(feed) for feed in FEEDS]
