"""Injected failures: rate limits, 5xx bursts, slow responses, cut downloads, revoked tokens.

A ``FaultPlan`` is shared with the running server and may be changed from any thread while it
serves: tests add a rule, make the call they want to break, and read the request log.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass


class _Unset:
    pass


_UNSET = _Unset()


@dataclass
class FaultRule:
    """Break the next ``times`` requests whose path matches (``None``: every one, until cleared).

    ``pattern`` is a path prefix (``str``) or a compiled regex searched in the path. The server
    first sleeps ``delay_s`` (a client timeout shorter than that sees a timeout), then answers
    ``status`` with a JSON ``{"message": ...}`` and ``Retry-After`` when set; with ``status=None``
    it serves the normal response, cut in half when ``truncate`` is set.
    """

    pattern: str | re.Pattern[str]
    status: int | None = 429
    retry_after: int | None = None
    times: int | None = 1
    delay_s: float = 0.0
    truncate: bool = False
    method: str | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if isinstance(self.pattern, re.Pattern):
            return self.pattern.search(path) is not None
        return path.startswith(self.pattern)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times


class FaultPlan:
    """The live set of fault rules plus the token-revocation epoch; thread-safe."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._token_epoch = 0

    def add(
        self,
        path_pattern: str | re.Pattern[str],
        status: int | _Unset | None = _UNSET,
        *,
        retry_after: int | None = None,
        times: int | None = 1,
        delay_s: float = 0.0,
        truncate: bool = False,
        method: str | None = None,
    ) -> FaultRule:
        """Add a rule. ``status`` defaults to 429, or to ``None`` (serve normally) when the rule
        only delays or truncates: ``add("/download-service", truncate=True)`` cuts a download."""
        if isinstance(status, _Unset):
            status = None if (truncate or delay_s) else 429
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 (or None for every request)")
        rule = FaultRule(path_pattern, status, retry_after, times, delay_s, truncate, method)
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, method: str, path: str) -> FaultRule | None:
        """The first live rule matching this request, counted as used (the server calls this)."""
        with self._lock:
            for rule in self._rules:
                if not rule.exhausted and rule.matches(method, path):
                    rule.hits += 1
                    if rule.exhausted:
                        self._rules.remove(rule)
                    return rule
        return None

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def expire_tokens(self) -> None:
        """Revoke every access token issued so far: the next API call gets 401, the client
        refreshes (refresh tokens stay valid) and retries."""
        with self._lock:
            self._token_epoch += 1

    @property
    def token_epoch(self) -> int:
        with self._lock:
            return self._token_epoch
