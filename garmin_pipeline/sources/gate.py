"""The gate every request of a source passes: its breaker first, then its in-run stop.

Each source (Garmin Connect, the Personal API) has its own budget: a `RateGovernor` for the run
and a `CircuitBreaker` shared by every run and process. `RequestGate.call` runs one request
(a token refresh and a login included) behind both, trips the breaker on a 429 the adapter saw
(cooldown at least its Retry-After) and hands other failures to the source to word.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from garmin_pipeline.errors import PipelineError, RateLimitedError
from garmin_pipeline.settings import Settings
from garmin_pipeline.sources.breaker import CircuitBreaker, format_utc
from garmin_pipeline.sources.governor import RateGovernor

log = logging.getLogger(__name__)
T = TypeVar("T")

# (what was being done, the failure) → our error saying what to do, or None to re-raise as is
Translate = Callable[[str, Exception], Exception | None]


class RequestGate:
    """One source's governor and breaker, and the one way its requests are sent."""

    def __init__(
        self,
        governor: RateGovernor,
        breaker: CircuitBreaker,
        service: str,
        advice: str = "",
    ) -> None:
        self.governor = governor
        self.breaker = breaker
        self.service = service  # who answers, for messages: "Garmin", "the Personal API"
        self.advice = advice  # appended to the 429 message, e.g. ", do not log in again"

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        source: str,
        service: str,
        governor: RateGovernor | None = None,
        breaker: CircuitBreaker | None = None,
        advice: str = "",
    ) -> RequestGate:
        return cls(
            governor
            or RateGovernor(
                settings.request_interval_s,
                retry_after_wait_max_s=settings.retry_after_wait_max_s,
            ),
            # Shared with every other run and process for this account: a 429 outlives the run.
            breaker or CircuitBreaker.for_source(settings, source),
            service,
            advice,
        )

    def call(
        self,
        what: str,
        call: Callable[[], T],
        translate: Translate,
        is_429: Callable[[Exception], bool] = lambda error: False,
    ) -> T:
        """Run `call` unless a cooldown or an earlier 429 of this run forbids it."""
        self.breaker.check(what)
        if self.governor.rate_limited:
            raise RateLimitedError(
                f"skipped {what}: {self.service} answered 429 earlier in this sync; "
                "wait a few hours"
            )
        seen_429 = len(self.governor.too_many_requests)
        try:
            result = call()
        except PipelineError:
            raise  # already ours, e.g. from a login nested in this call: tripped once there
        except Exception as error:
            # A client may turn a 429 into something else (a failed profile during login reads
            # as bad tokens); the adapter saw the status, so it decides.
            if is_429(error) or len(self.governor.too_many_requests) > seen_429:
                raise self.rate_limited(what, seen_429) from error
            ours = translate(what, error)
            if ours is None:
                raise
            raise ours from error
        if len(self.governor.too_many_requests) > seen_429:
            raise self.rate_limited(what, seen_429)
        self.breaker.record_success()
        return result

    def rate_limited(self, what: str, seen_429: int) -> RateLimitedError:
        """Trip the breaker (cooldown at least Retry-After) and say until when."""
        self.governor.rate_limited = True
        met = self.governor.too_many_requests[seen_429:]
        retry_after = max((m.retry_after_s or 0.0 for m in met), default=0.0) or None
        reason = f"{what} ({met[-1].endpoint})" if met else what
        try:
            state = self.breaker.trip(reason, retry_after)
            until = format_utc(state.until) if state.until else "later"
            trip = f"trip {state.trips}"
        except OSError as error:  # the in-run stop still holds; say so rather than hide the 429
            log.warning("could not record the 429 in %s: %s", self.breaker.path, error)
            until, trip = "a few hours from now", "not recorded"
        return RateLimitedError(
            f"{self.service} answered 429 Too Many Requests during {what}; nothing is sent until "
            f"{until} (cooling down, {trip}); run `garmin-pipeline status` to see it{self.advice}"
        )
