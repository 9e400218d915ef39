"""The Garmin accounts in the UI: token and key health and 429 cooldowns, as checks on one asset
(each check covers every account of GARMIN_ACCOUNTS, and names the failing ones).

`garmin/account` is not materialized; it stands upstream of every raw asset, so the lineage
graph starts at the account and its checks sit where a user looks first. All read local files
only (the token store, the key's recorded expiry, the breakers' state), so they cost no request.
"""

from datetime import UTC, datetime

import dagster as dg

from assets.resources import GarminConnect
from garmin_pipeline.feeds import PERSONAL_API
from garmin_pipeline.settings import Settings
from garmin_pipeline.sources.connect.tokens import token_health
from garmin_pipeline.status import breaker_for, describe_breaker, personal_api_key_health

SERVICE_NAMES = {"connect": "Garmin Connect", PERSONAL_API: "the Personal API"}

GARMIN_ACCOUNT = dg.AssetSpec(
    key=["garmin", "account"],
    group_name="source",
    description=(
        "Your Garmin Connect account: the tokens `garmin-pipeline login` stored and the shared "
        "request budget. Its checks warn before the refresh token lapses and show the 429 "
        "cooldown; nothing is fetched from here."
    ),
    kinds={"garmin"},
)


@dg.asset_check(
    asset=GARMIN_ACCOUNT.key,
    name="token_health",
    description="Warns days before the stored refresh token lapses (GARMIN_TOKEN_WARN_DAYS).",
)
def token_health_check(garmin: GarminConnect) -> dg.AssetCheckResult:
    return per_account({a: _token_health(garmin.settings_for(a)) for a in garmin.settings.accounts})


def _token_health(settings: Settings) -> dg.AssetCheckResult:
    health = token_health(settings, datetime.now(UTC))
    return dg.AssetCheckResult(
        passed=health.status == "ok",
        severity=dg.AssetCheckSeverity.WARN
        if health.status in ("ok", "warn")
        else dg.AssetCheckSeverity.ERROR,
        description=health.message,
        metadata={
            "status": health.status,
            "days_left": round(health.days_left, 2) if health.days_left is not None else None,
            "refresh_expires_at": health.refresh_expires_at.isoformat()
            if health.refresh_expires_at
            else None,
        },
    )


@dg.asset_check(
    asset=GARMIN_ACCOUNT.key,
    name="personal_api_key",
    description="Warns days before the Personal API key expires (GARMIN_TOKEN_WARN_DAYS); "
    "passes when GARMIN_SOURCE does not use the Personal API.",
)
def personal_api_key_check(garmin: GarminConnect) -> dg.AssetCheckResult:
    return per_account(
        {a: _personal_api_key(garmin.settings_for(a)) for a in garmin.settings.accounts}
    )


def _personal_api_key(settings: Settings) -> dg.AssetCheckResult:
    health = personal_api_key_health(settings)
    if health is None:
        return dg.AssetCheckResult(
            passed=True,
            description=f"not used: GARMIN_SOURCE={settings.source_mode}",
            metadata={"status": "unused"},
        )
    return dg.AssetCheckResult(
        passed=health.status == "ok",
        severity=dg.AssetCheckSeverity.WARN
        if health.status in ("ok", "warn", "unknown")
        else dg.AssetCheckSeverity.ERROR,
        description=health.message,
        metadata={
            "status": health.status,
            "days_left": round(health.days_left, 2) if health.days_left is not None else None,
            "expires_on": health.expires_on.isoformat() if health.expires_on else None,
        },
    )


@dg.asset_check(
    asset=GARMIN_ACCOUNT.key,
    name="rate_limit",
    description="Fails while a 429 cooldown is on: nothing is sent to that source until it ends.",
)
def rate_limit_check(garmin: GarminConnect) -> dg.AssetCheckResult:
    return per_account({a: _rate_limit(garmin.settings_for(a)) for a in garmin.settings.accounts})


def _rate_limit(settings: Settings) -> dg.AssetCheckResult:
    states = {
        source: breaker_for(settings, source).state() for source in settings.source_precedence
    }
    return dg.AssetCheckResult(
        passed=not any(state.open for state in states.values()),
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(
            f"{SERVICE_NAMES[source]}: {describe_breaker(state, SERVICE_NAMES[source])}"
            for source, state in states.items()
        ),
        metadata={
            f"{source}_{field}": value
            for source, state in states.items()
            for field, value in {
                "open": state.open,
                "until": state.until.isoformat() if state.until else None,
                "trips": state.trips,
                "reason": state.reason,
            }.items()
        },
    )


def per_account(results: dict[str, dg.AssetCheckResult]) -> dg.AssetCheckResult:
    """One check result over several accounts: failing if any account's fails, as
    severe as the worst, naming each failing account; metadata keys get the account."""
    if len(results) == 1:
        return next(iter(results.values()))
    first = next(iter(results.values()))
    failing = {account: r for account, r in results.items() if not r.passed}
    return dg.AssetCheckResult(
        check_name=first.check_name,
        asset_key=first.asset_key,
        passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR
        if any(r.severity == dg.AssetCheckSeverity.ERROR for r in failing.values())
        else dg.AssetCheckSeverity.WARN,
        description=" | ".join(
            f"{account}: {r.description}" for account, r in failing.items() if r.description
        )
        or None,
        metadata={
            f"{account}/{key}": value
            for account, r in results.items()
            for key, value in r.metadata.items()
        },
    )


ACCOUNT_CHECKS = [token_health_check, personal_api_key_check, rate_limit_check]
