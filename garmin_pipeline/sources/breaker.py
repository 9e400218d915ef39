"""The 429 circuit breaker: once Garmin says "too many requests", nothing is sent for a while.

Garmin's rate limit outlives a run (and a lock-out follows hammering it), so the cooldown is
kept in a small JSON file in the data directory that every run and process reads before it
sends anything. Each consecutive trip doubles the cooldown (2 h, 4 h, 8 h, ... capped at 24 h
by default), a longer `Retry-After` wins, and the first successful request after a cooldown
closes the breaker again. Reads are lock-free (the file is replaced atomically); trips take an
exclusive `flock` on a sibling lock file, so two processes tripping at once both count.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from garmin_pipeline.errors import RateLimitedError
from garmin_pipeline.files import write_atomically
from garmin_pipeline.settings import Settings

DEFAULT_FIRST_COOLDOWN_S = 2 * 3600.0
DEFAULT_MAX_COOLDOWN_S = 24 * 3600.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_utc(moment: datetime) -> str:
    """A timestamp for humans: minutes are precise enough for a cooldown of hours."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class BreakerState:
    """The breaker as last written; `open` and `remaining` are as of the breaker's clock."""

    open: bool
    trips: int  # consecutive trips since the breaker last closed
    until: datetime | None
    opened_at: datetime | None
    reason: str | None  # what met the 429
    retry_after_s: float | None
    remaining: timedelta


class CircuitBreaker:
    """A cooldown shared by every process that uses the same state file."""

    def __init__(
        self,
        path: Path,
        first_cooldown_s: float = DEFAULT_FIRST_COOLDOWN_S,
        max_cooldown_s: float = DEFAULT_MAX_COOLDOWN_S,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.path = Path(path)
        self.first_cooldown_s = first_cooldown_s
        self.max_cooldown_s = max_cooldown_s
        self.clock = clock

    @classmethod
    def for_source(cls, settings: Settings, source: str = "connect") -> CircuitBreaker:
        """The account's breaker for `source` (each source has its own rate limit)."""
        path = (
            settings.personal_api_breaker_path
            if source == "personal_api"
            else settings.breaker_path
        )
        return cls(path, settings.cooldown_first_s, settings.cooldown_max_s)

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def state(self) -> BreakerState:
        """The current state, read without a lock (writers replace the file atomically)."""
        return self._state_of(self._read())

    def check(self, what: str) -> None:
        """Raise `RateLimitedError` instead of letting `what` be sent while cooling down."""
        state = self.state()
        if not state.open or state.until is None:
            return
        met = f" at {format_utc(state.opened_at)}" if state.opened_at else ""
        raise RateLimitedError(
            f"skipped {what}: Garmin answered 429{met}; cooling down until "
            f"{format_utc(state.until)} (trip {state.trips}); run `garmin-pipeline status` "
            "to see it, do not log in again"
        )

    def cooldown_s(self, trips_before: int, retry_after_s: float | None = None) -> float:
        """Doubling per consecutive trip, at least `Retry-After`, capped at the maximum."""
        doubled = self.first_cooldown_s * 2.0 ** min(trips_before, 64)
        return min(self.max_cooldown_s, max(doubled, retry_after_s or 0.0))

    def trip(self, what: str, retry_after_s: float | None = None) -> BreakerState:
        """Open the breaker after a 429 met by `what`; returns the state written."""
        with self._locked():
            before = self._state_of(self._read())
            now = self.clock()
            until = now + timedelta(seconds=self.cooldown_s(before.trips, retry_after_s))
            if before.until is not None:
                until = max(until, before.until)  # another trip never shortens a cooldown
            record = {
                "trips": before.trips + 1,
                "opened_at": now.isoformat(),
                "until": until.isoformat(),
                "reason": what,
                "retry_after_s": retry_after_s,
            }
            self._write(record)
        return self._state_of(record)

    def record_success(self) -> None:
        """A request succeeded: past a cooldown, that closes the breaker and forgets the trips."""
        if not int(self._read().get("trips") or 0):
            return  # the common case stays a single lock-free read
        with self._locked():
            record = self._read()
            state = self._state_of(record)
            if state.trips and not state.open:
                self._write({**record, "trips": 0})

    def end_cooldown(self) -> BreakerState:
        """End the current cooldown now but keep the trip count, so a new 429 still doubles."""
        with self._locked():
            record = self._read()
            if record.get("until"):
                record = {**record, "until": self.clock().isoformat()}
                self._write(record)
        return self._state_of(record)

    def reset(self) -> None:
        """Manual override: forget every trip and cooldown."""
        with self._locked():
            self.path.unlink(missing_ok=True)

    def _state_of(self, record: dict[str, Any]) -> BreakerState:
        now = self.clock()
        until = _parse_time(record.get("until"))
        remaining = max(until - now, timedelta(0)) if until else timedelta(0)
        retry_after = record.get("retry_after_s")
        return BreakerState(
            open=remaining > timedelta(0),
            trips=int(record.get("trips") or 0),
            until=until,
            opened_at=_parse_time(record.get("opened_at")),
            reason=record.get("reason"),
            retry_after_s=float(retry_after) if retry_after is not None else None,
            remaining=remaining,
        )

    def _read(self) -> dict[str, Any]:
        try:
            record = json.loads(self.path.read_bytes())
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            int(record.get("trips") or 0)
            _parse_time(record.get("until")), _parse_time(record.get("opened_at"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise RateLimitedError(
                f"the rate-limit state {self.path} is unreadable ({type(error).__name__}); "
                "delete it only if you are sure Garmin is not rate limiting this account"
            ) from error
        return record

    def _write(self, record: dict[str, Any]) -> None:
        write_atomically(self.path, json.dumps(record, sort_keys=True).encode())

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
