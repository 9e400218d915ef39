"""The Garmin account in the UI: its token health and 429 cooldown, as checks on one asset.

`garmin/account` is not materialized; it stands upstream of every raw asset, so the lineage
graph starts at the account and its two checks sit where a user looks first. Both read local
files only (the token store and the breaker's state), so they cost no request to Garmin.
"""

from datetime import UTC, datetime

import dagster as dg

from assets.resources import GarminConnect
from garmin_pipeline.sources.connect.tokens import token_health
from garmin_pipeline.status import breaker_for, describe_breaker

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
    health = token_health(garmin.settings, datetime.now(UTC))
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
    name="rate_limit",
    description="Fails while a 429 cooldown is on: nothing is sent to Garmin until it ends.",
)
def rate_limit_check(garmin: GarminConnect) -> dg.AssetCheckResult:
    state = breaker_for(garmin.settings).state()
    return dg.AssetCheckResult(
        passed=not state.open,
        severity=dg.AssetCheckSeverity.ERROR,
        description=describe_breaker(state),
        metadata={
            "open": state.open,
            "until": state.until.isoformat() if state.until else None,
            "trips": state.trips,
            "reason": state.reason,
        },
    )


ACCOUNT_CHECKS = [token_health_check, rate_limit_check]
