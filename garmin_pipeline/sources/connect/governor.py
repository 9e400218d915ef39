"""The rate governor every Garmin request passes through.

It lives in a `requests` transport adapter mounted on garminconnect's own API session, so the
client's code path is untouched: the adapter paces requests, retries 5xx and network errors with
backoff (urllib3's `Retry`, not a hand-written loop), counts every request by endpoint, and,
when `GARMIN_API_URL` is set, sends the request to that base URL instead of Garmin's host.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

GARMIN_API_HOST = "connectapi.garmin.com"
_NUMBER_OR_DATE = re.compile(r"/(\d{4}-\d{2}-\d{2}|\d+)(?=/|$)")
_UUID = re.compile(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?=/|$)")


def endpoint_of(path: str, display_name: str | None = None) -> str:
    """A path with its dates, ids and the user's name folded, for counting by endpoint."""
    if display_name:
        path = path.replace(f"/{display_name}", "/{displayName}")
    path = _UUID.sub("/{uuid}", path)
    return _NUMBER_OR_DATE.sub(lambda m: "/{date}" if "-" in m.group(1) else "/{id}", path)


class RateGovernor:
    """Pacing between requests plus the request counter that ends up in Dagster metadata."""

    def __init__(self, min_interval_s: float = 1.0) -> None:
        self.min_interval_s = min_interval_s
        self.requests_by_endpoint: Counter[str] = Counter()
        self.rate_limited = False  # set on a 429: nothing more is sent by this governor
        self._lock = threading.Lock()
        self._next_allowed = 0.0

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
    ) -> None:
        super().__init__(max_retries=retries or retry_policy())
        self.governor = governor
        self.display_name = display_name
        self._base = urlsplit(base_url) if base_url else None

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        url = urlsplit(request.url)
        if self._base is not None and url.hostname == GARMIN_API_HOST:
            path = self._base.path.rstrip("/") + url.path
            request.url = urlunsplit(
                (self._base.scheme, self._base.netloc, path, url.query, url.fragment)
            )
        self.governor.wait_turn()
        self.governor.count(endpoint_of(url.path, self.display_name))
        return super().send(request, **kwargs)
