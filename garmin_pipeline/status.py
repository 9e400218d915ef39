"""What the pipeline knows about itself, without a single request to Garmin.

`garmin-pipeline status` prints it and the Dagster UI can show it: the data directory, the 429
breaker (is anything allowed to be sent, and until when not), the token store's health, and how
far each lake dataset reaches. Everything here is read from local files, so it is cheap and safe
to call anytime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from garmin_pipeline.feeds import PERSONAL_API
from garmin_pipeline.raw.failures import FeedFailure, FeedFailures
from garmin_pipeline.settings import Settings
from garmin_pipeline.sources.breaker import BreakerState, CircuitBreaker, format_utc
from garmin_pipeline.sources.connect.tokens import TokenHealth, token_health
from garmin_pipeline.sources.personal_api.keys import KeyHealth, key_health
from garmin_pipeline.storage import StoragePath
from garmin_pipeline.warehouse.dbt_project import unfinished_build_started

_DATE_DIR = "date="


@dataclass(frozen=True)
class DatasetStatus:
    """One lake dataset for one account: how many days it holds and the latest."""

    name: str
    days: int
    last_day: date | None


@dataclass(frozen=True)
class PipelineStatus:
    data_dir: Path
    account: str
    breaker_path: Path
    breaker: BreakerState
    tokens: TokenHealth
    datasets: tuple[DatasetStatus, ...]
    source_mode: str
    personal_api_breaker: BreakerState
    personal_api_key: KeyHealth | None  # None: the mode does not use the Personal API
    failing_feeds: tuple[FeedFailure, ...] = ()  # feeds whose last fetch failed, and why
    warehouse: str = ""  # one line: built, not yet, or a build that did not finish


def breaker_for(settings: Settings, source: str = "connect") -> CircuitBreaker:
    """The account's breaker for a source, configured as that source configures it."""
    return CircuitBreaker.for_source(settings, source)


def personal_api_key_health(settings: Settings) -> KeyHealth | None:
    """The key's health when the mode uses the Personal API (else None: nothing to check)."""
    if PERSONAL_API not in settings.source_precedence and not any(
        source == PERSONAL_API for _, source in settings.feed_sources
    ):
        return None
    return key_health(settings, datetime.now(UTC))


def pipeline_status(settings: Settings, breaker: CircuitBreaker | None = None) -> PipelineStatus:
    return PipelineStatus(
        data_dir=settings.data_dir,
        account=settings.account,
        breaker_path=settings.breaker_path,
        breaker=(breaker or breaker_for(settings)).state(),
        tokens=token_health(settings, datetime.now(UTC)),
        datasets=lake_datasets(settings.layout.lake_dir, settings.account),
        source_mode=settings.source_mode,
        personal_api_breaker=breaker_for(settings, PERSONAL_API).state(),
        personal_api_key=personal_api_key_health(settings),
        failing_feeds=tuple(FeedFailures(settings.layout.state_dir, settings.account).all()),
        warehouse=warehouse_status(settings),
    )


def warehouse_status(settings: Settings) -> str:
    """The warehouse in one line: complete, not built yet, or left incomplete by a build that
    was killed or failed (then some marts may be missing or older than the lake)."""
    if not settings.layout.warehouse_path.exists():
        return "not built yet (`garmin-pipeline sync` builds it)"
    started = unfinished_build_started(settings.data_dir)
    if started is None:
        return "complete"
    return (
        f"INCOMPLETE: the build started {format_utc(started)} did not finish (killed or "
        "failed), so some marts may be missing or out of date; run `garmin-pipeline rebuild` "
        "(offline) or the next sync to build it whole"
    )


def lake_datasets(lake_dir: StoragePath, account: str) -> tuple[DatasetStatus, ...]:
    """Each dataset's `date=` partitions for the account, from directory names alone."""
    if not lake_dir.is_dir():
        return ()
    found = []
    for dataset in sorted(p for p in lake_dir.iterdir() if p.is_dir()):
        if dataset.name.startswith(("_", ".")):
            continue  # build state and temp files, not datasets
        account_dir = dataset / f"account={account}"
        days = sorted(_partition_days(account_dir)) if account_dir.is_dir() else []
        found.append(DatasetStatus(dataset.name, len(days), days[-1] if days else None))
    return tuple(found)


def _partition_days(account_dir: StoragePath) -> list[date]:
    days = []
    for entry in account_dir.iterdir():
        if entry.is_dir() and entry.name.startswith(_DATE_DIR):
            try:
                days.append(date.fromisoformat(entry.name.removeprefix(_DATE_DIR)))
            except ValueError:
                continue  # not a partition of ours
    return days


def describe_breaker(state: BreakerState, service: str = "Garmin") -> str:
    """The breaker in one line, e.g. for the CLI or a Dagster metadata value."""
    if state.open and state.until is not None:
        met = f" at {format_utc(state.opened_at)}" if state.opened_at else ""
        return (
            f"open until {format_utc(state.until)} ({_duration(state.remaining)} left, "
            f"trip {state.trips}): {service} answered 429{met} during "
            f"{state.reason or 'a request'}; nothing is sent to {service} until then"
        )
    if state.trips:
        return (
            f"closed, cooldown over (trip {state.trips} after a 429 during "
            f"{state.reason or 'a request'}); the next successful request resets it, "
            "another 429 doubles the cooldown"
        )
    return "closed (no 429 since the last successful request)"


def _duration(span: timedelta) -> str:
    minutes = max(1, round(span.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
