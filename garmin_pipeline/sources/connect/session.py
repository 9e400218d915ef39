"""A garminconnect client wired like every request of ours: our transport adapter on its API
session, SSO and the DI token endpoint sent to GARMIN_API_URL when set, every credential
login refused once this run met a 429, and token refreshes shared with other processes
through the token store. `ConnectSource` signs in and logs in with it; `login` adds the
interactive login (and its MFA code) on top.

Never a credential login after a 429: the client tries several strategies and TLS fingerprints
in turn, but once one of them met a 429 the others are refused before they send anything.

``GARMIN_LOGIN_DELAY_S`` (for tests and the demo) replaces garminconnect's 2-5 s pause between
loading the sign-in page and posting the credentials, only when GARMIN_API_URL is on loopback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import garminconnect.client.sso as garmin_sso
from garminconnect import (
    Garmin,
    GarminConnectAuthenticationError,
    GarminConnectTooManyRequestsError,
)

from garmin_pipeline.settings import Settings, is_loopback
from garmin_pipeline.sources.connect.tokens import (
    StoreLock,
    read_tokens,
    token_file,
    write_token_file,
)
from garmin_pipeline.sources.governor import GovernedAdapter, RateGovernor

log = logging.getLogger(__name__)

DI_TOKEN_PATH = "/di-oauth2-service/oauth/token"
LOGIN_DELAY_ENV = "GARMIN_LOGIN_DELAY_S"
# Only the mobile flow is served by GARMIN_API_URL (the emulator); the others would only wait.
NOT_SERVED_BY_API_URL = frozenset({"widget+cffi", "portal+cffi", "portal+requests"})
# The methods of garminconnect's client that each send one credential login attempt.
CREDENTIAL_SENDERS = ("_do_mobile_login", "_widget_web_login", "_do_portal_web_login")
# What the DI token endpoint answers a refresh token it will not exchange (spent, revoked).
REFRESH_REFUSED = (400, 401, 403)


@contextlib.contextmanager
def _mobile_delay(settings: Settings) -> Iterator[None]:
    """garminconnect's pause before posting credentials, shortened for a loopback emulator."""
    value = os.environ.get(LOGIN_DELAY_ENV, "").strip()
    if not value or not is_loopback(settings.api_url):
        yield
        return
    delay = max(0.0, float(value))
    saved = garmin_sso.MOBILE_DELAY_MIN_S, garmin_sso.MOBILE_DELAY_MAX_S
    garmin_sso.MOBILE_DELAY_MIN_S = garmin_sso.MOBILE_DELAY_MAX_S = delay
    try:
        yield
    finally:
        garmin_sso.MOBILE_DELAY_MIN_S, garmin_sso.MOBILE_DELAY_MAX_S = saved


def _guard_credential_sender(
    garmin: Garmin, name: str, governor: RateGovernor, settings: Settings
) -> None:
    """Wrap one credential-sending step: refused once this run met a 429, records its own."""
    send = getattr(garmin.client, name)

    def guarded(*args: Any, **kwargs: Any) -> None:
        if governor.rate_limited:
            raise GarminConnectTooManyRequestsError("login not sent: a 429 came first")
        try:
            with _mobile_delay(settings):
                send(*args, **kwargs)
        except GarminConnectTooManyRequestsError:
            governor.record_429("sso login", None)
            raise

    setattr(garmin.client, name, guarded)


@dataclass
class TokenEndpoint:
    """What the DI token endpoint last answered (its curl_cffi POST passes no adapter of ours)."""

    status: int | None = None


def _watch_token_endpoint(garmin: Garmin, governor: RateGovernor) -> TokenEndpoint:
    """Keep the DI token endpoint's last status. A 429 there is a 429 too: garminconnect
    swallows it in a refresh, and the refused tokens must not lead to a login."""
    post: Callable[..., Any] = garmin.client._di_token_post
    seen = TokenEndpoint()

    def recorded(*args: Any, **kwargs: Any) -> Any:
        if governor.rate_limited:
            raise GarminConnectTooManyRequestsError("token request not sent: a 429 came first")
        seen.status = None
        response = post(*args, **kwargs)
        seen.status = getattr(response, "status_code", None)
        if seen.status in (427, 429):
            governor.record_429(DI_TOKEN_PATH, None)
        return response

    # garminconnect has no hook for this: its client's method is wrapped on purpose.
    garmin.client._di_token_post = recorded  # type: ignore[method-assign]
    return seen


def _share_refreshes(
    garmin: Garmin,
    token_path: Path,
    lock: StoreLock,
    endpoint: TokenEndpoint,
    governor: RateGovernor,
) -> None:
    """Refresh under the token store's lock, from the newest stored tokens, and store the new
    ones before letting go.

    Garmin's refresh tokens rotate: once a process has refreshed, the refresh token any other
    holds is spent. So a refresh first reads the store, and when another process rotated the
    tokens meanwhile it takes theirs instead of sending a spent one. garminconnect swallows a
    failed refresh and retries the request with the old token (and retries loading the profile
    three times); after a 401 a refused refresh ends the call instead, and neither a refused
    refresh token nor the access token refused with it is ever sent again."""
    client = garmin.client
    refresh_session: Callable[[], None] = client._refresh_session
    run_request: Callable[..., Any] = client._run_request
    refused: set[str] = set()  # refresh tokens the DI token endpoint refused
    dead: set[str] = set()  # access tokens answered 401 whose refresh was refused

    def refused_now(after_401: bool) -> None:
        if after_401:
            if client.di_token:
                dead.add(client.di_token)
            raise GarminConnectAuthenticationError("Garmin refused the refresh token")

    def refresh() -> None:
        with lock:
            after_401 = governor.last_response()[0] == 401
            stored = read_tokens(token_path)
            if stored is not None and stored["di_refresh_token"] not in (
                client.di_refresh_token,
                *refused,
            ):
                client.loads(json.dumps(stored))
                log.info("using the Garmin tokens another process has just refreshed")
                if not client._token_expires_soon():
                    return
            if client.di_refresh_token in refused:
                refused_now(after_401)
                return
            before = client.di_token
            refresh_session()  # garminconnect's: swallows a failure
            if client.di_token != before:
                write_token_file(token_path, client.dumps())
            elif endpoint.status in REFRESH_REFUSED and client.di_refresh_token:
                refused.add(client.di_refresh_token)
                refused_now(after_401)

    def request(*args: Any, **kwargs: Any) -> Any:
        if client.di_token in dead:
            raise GarminConnectAuthenticationError("not sent: Garmin refused these tokens")
        return run_request(*args, **kwargs)

    # garminconnect has no hook for either: its client's methods are wrapped on purpose.
    client._refresh_session = refresh  # type: ignore[method-assign]
    client._run_request = request  # type: ignore[method-assign]


def connect_client(
    settings: Settings,
    governor: RateGovernor,
    email: str | None = None,
    password: str | None = None,
    lock: StoreLock | None = None,
) -> tuple[Garmin, GovernedAdapter]:
    """A garminconnect client wired to our adapter and GARMIN_API_URL, guarded against 429s.
    With the token store's `lock`, its refreshes are shared with other processes through the
    store (see `_share_refreshes`)."""
    # Retries belong to our adapter (counted, bounded); garminconnect's own would double them.
    garmin = Garmin(email, password, return_on_mfa=True, retry_attempts=0)
    adapter = GovernedAdapter(
        governor, base_url=settings.api_url, timeout_s=settings.request_timeout_s
    )
    garmin.client._api_session.mount("https://", adapter)
    garmin.client._api_session.mount("http://", adapter)
    if settings.api_url:
        # SSO and the DI token endpoint are curl_cffi requests that ignore the API session.
        garmin.client._sso = settings.api_url
        garmin.client._di_token_url = settings.api_url + DI_TOKEN_PATH
        garmin.client.skip_strategies = set(NOT_SERVED_BY_API_URL)
        # The CAS service URLs name where a ticket is consumed; were the DI exchange to fail,
        # garminconnect would GET the one it used: keep that on the same host, not the internet.
        garmin.client._ios_service_url = settings.api_url + "/gcm/ios"
        garmin.client._mobile_sso_service_url = settings.api_url + "/gcm/android"
        garmin.client._portal_service_url = settings.api_url + "/app"
    for name in CREDENTIAL_SENDERS:
        _guard_credential_sender(garmin, name, governor, settings)
    endpoint = _watch_token_endpoint(garmin, governor)
    if lock is not None:
        _share_refreshes(garmin, token_file(settings.token_store), lock, endpoint, governor)
    return garmin, adapter
