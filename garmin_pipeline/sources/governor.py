"""The rate governor every Garmin request passes through.

It lives in a `requests` transport adapter mounted on garminconnect's own API session, so the
client's code path is untouched: the adapter paces requests, retries 5xx and network errors with
backoff (urllib3's `Retry`, not a hand-written loop), counts every request by endpoint, and,
when `GARMIN_API_URL` is set, sends the request to that base URL instead of Garmin's host.

A 429 is never retried by that policy. The adapter reads its `Retry-After` instead: a short one
is waited out and the request sent once more; anything else reaches garminconnect as a 429, the
governor remembers it (so nothing more is sent this run) and the client trips the breaker.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from requests.exceptions import RequestException
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

GARMIN_API_HOST = "connectapi.garmin.com"
KEEP_BODY_MAX_BYTES = 50 * 1024 * 1024  # the last body per thread, kept for quarantine
_NUMBER_OR_DATE = re.compile(r"/(\d{4}-\d{2}-\d{2}|\d+)(?=/|$)")
_UUID = re.compile(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?=/|$)")


def endpoint_of(path: str, display_name: str | None = None) -> str:
    """A path with its dates, ids and the user's name folded, for counting by endpoint."""
    if display_name:
        path = path.replace(f"/{display_name}", "/{displayName}")
    path = _UUID.sub("/{uuid}", path)
    return _NUMBER_OR_DATE.sub(lambda m: "/{date}" if "-" in m.group(1) else "/{id}", path)


@dataclass(frozen=True)
class TooManyRequests:
    """A 429 that went through to the client: where, and what its Retry-After asked for."""

    endpoint: str
    retry_after_s: float | None


class RateLimitedInRun(RequestException):
    """Raised by the adapter instead of sending once this run has met a 429."""


class RateGovernor:
    """Pacing between requests plus the request counter that ends up in Dagster metadata."""

    def __init__(self, min_interval_s: float = 1.0, retry_after_wait_max_s: float = 60.0) -> None:
        self.min_interval_s = min_interval_s
        self.retry_after_wait_max_s = retry_after_wait_max_s
        self.requests_by_endpoint: Counter[str] = Counter()
        self.rate_limited = False  # set on a 429: nothing more is sent by this governor
        self.too_many_requests: list[TooManyRequests] = []  # every 429 passed to the client
        self._lock = threading.Lock()
        self._next_allowed = 0.0
        self._last = threading.local()

    def record_429(self, endpoint: str, retry_after_s: float | None) -> None:
        """A 429 is going through to the client: stop sending for the rest of the run."""
        with self._lock:
            self.rate_limited = True
            self.too_many_requests.append(TooManyRequests(endpoint, retry_after_s))

    def keep_response(self, status: int, body: bytes | None, endpoint: str | None = None) -> None:
        """Remember this thread's last response (body only up to a bound) for diagnosis."""
        self._last.status = status
        self._last.body = body
        self._last.endpoint = endpoint

    def last_response(self) -> tuple[int | None, bytes | None]:
        """This thread's last response status and body (None when unknown or too large)."""
        return getattr(self._last, "status", None), getattr(self._last, "body", None)

    def last_endpoint(self) -> str | None:
        """The endpoint (ids and dates folded) this thread's last response came from."""
        return getattr(self._last, "endpoint", None)

    @property
    def request_count(self) -> int:
        return sum(self.requests_by_endpoint.values())

    def wait_turn(self) -> None:
        with self._lock:
            now = time.monotonic()
            delay = self._next_allowed - now
            self._next_allowed = max(now, self._next_allowed) + self.min_interval_s
        if delay > 0:
            time.sleep(delay)

    def count(self, endpoint: str) -> None:
        with self._lock:
            self.requests_by_endpoint[endpoint] += 1


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` in seconds, from a number or an HTTP-date (None if absent or unreadable)."""
    if not value:
        return None
    try:
        return max(0.0, Retry().parse_retry_after(value))
    except InvalidHeader:
        log.warning("ignoring an unreadable Retry-After header %r", value)
        return None


def retry_policy(total: int = 4, backoff_s: float = 0.5) -> Retry:
    """Bounded retries for 5xx and network errors; a 429 is never retried here."""
    return Retry(
        total=total,
        connect=total,
        read=total,
        status=total,
        backoff_factor=backoff_s,
        backoff_max=30,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=False,
        raise_on_status=False,
    )


class GovernedAdapter(HTTPAdapter):
    """Transport adapter: redirect (optional), pace, retry and count each API request."""

    def __init__(
        self,
        governor: RateGovernor,
        base_url: str | None = None,
        retries: Retry | None = None,
        display_name: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        super().__init__(max_retries=retries or retry_policy())
        self.governor = governor
        self.display_name = display_name
        self.timeout_s = timeout_s  # None: the client's own (garminconnect sends 15 s)
        self._base = urlsplit(base_url) if base_url else None

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        url = urlsplit(request.url or "")
        endpoint = endpoint_of(url.path, self.display_name)
        if self.governor.rate_limited:
            raise RateLimitedInRun(f"not sent after a 429 earlier in this run: {endpoint}")
        if self._base is not None and url.hostname == GARMIN_API_HOST:
            path = self._base.path.rstrip("/") + url.path
            request.url = urlunsplit(
                (self._base.scheme, self._base.netloc, path, url.query, url.fragment)
            )
        if self.timeout_s is not None:
            timeout = self.timeout_s  # a timed-out GET is retried like a reset
        kwargs: dict[str, Any] = {
            "stream": stream,
            "timeout": timeout,
            "verify": verify,
            "cert": cert,
            "proxies": proxies,
        }
        response = self._send_counted(endpoint, request, **kwargs)
        if response.status_code == 429:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after is not None and retry_after <= self.governor.retry_after_wait_max_s:
                log.warning(
                    "429 on %s; waiting %.0f s (Retry-After), then once more", endpoint, retry_after
                )
                response.close()
                time.sleep(retry_after)
                response = self._send_counted(endpoint, request, **kwargs)
                if response.status_code == 429:
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if response.status_code == 429:
                self.governor.record_429(endpoint, retry_after)
        self._keep(response, endpoint, streamed=bool(stream))
        return response

    def _send_counted(self, endpoint: str, request: PreparedRequest, **kwargs: Any) -> Response:
        self.governor.wait_turn()
        self.governor.count(endpoint)
        return super().send(request, **kwargs)

    def _keep(self, response: Response, endpoint: str, streamed: bool) -> None:
        """Read the body now (requests would anyway) and keep it, bounded, for quarantine."""
        body = None
        if not streamed:
            length = response.headers.get("Content-Length", "")
            if not (length.isdigit() and int(length) > KEEP_BODY_MAX_BYTES):
                content = response.content
                body = content if len(content) <= KEEP_BODY_MAX_BYTES else None
        self.governor.keep_response(response.status_code, body, endpoint)
