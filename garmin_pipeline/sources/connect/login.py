"""Logging in with an e-mail and password (and an MFA code when Garmin asks for one).

`garminconnect` does the login: ``Garmin(email, password, return_on_mfa=True).login()`` either
finishes or returns ``("needs_mfa", client_state)``, and ``resume_login(client_state, code)``
finishes it, on the same or on another ``Garmin`` instance. We only wire the client like every
other one (our transport adapter on its API session; SSO, DI token endpoint and API sent to
``GARMIN_API_URL`` when set), run each step through `ConnectSource`'s call gate (the shared 429
breaker is checked first and tripped by a 429) and store the tokens ourselves, never the password.

Never a credential login after a 429: the client tries several strategies and TLS fingerprints
in turn, but once one of them met a 429 the others are refused before they send anything.

``GARMIN_LOGIN_DELAY_S`` (for tests and the demo) replaces garminconnect's 2-5 s pause between
loading the sign-in page and posting the credentials, only when GARMIN_API_URL is on loopback.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import garminconnect.client.sso as garmin_sso
from garminconnect import Garmin, GarminConnectTooManyRequestsError

from garmin_pipeline.errors import SourceAuthError
from garmin_pipeline.settings import Settings
from garmin_pipeline.sources.connect.tokens import remember_mfa, write_token_file
from garmin_pipeline.sources.governor import GovernedAdapter, RateGovernor

if TYPE_CHECKING:
    from garmin_pipeline.sources.connect.client import ConnectSource

log = logging.getLogger(__name__)

DI_TOKEN_PATH = "/di-oauth2-service/oauth/token"
LOGIN_DELAY_ENV = "GARMIN_LOGIN_DELAY_S"
# Only the mobile flow is served by GARMIN_API_URL (the emulator); the others would only wait.
NOT_SERVED_BY_API_URL = frozenset({"widget+cffi", "portal+cffi", "portal+requests"})
# The methods of garminconnect's client that each send one credential login attempt.
CREDENTIAL_SENDERS = ("_do_mobile_login", "_widget_web_login", "_do_portal_web_login")
BAD_CREDENTIALS = (
    "Garmin refused the e-mail or password; check them and run `garmin-pipeline login` again"
)
BAD_MFA_CODE = "Garmin did not accept the MFA code; check it (or wait for a new one) and try again"


class MfaCodeRejectedError(SourceAuthError):
    """The MFA code was wrong; the pending login stays usable for another code."""


@dataclass
class PendingMfa:
    """A login waiting for its MFA code. ``client_state`` holds the SSO session cookies: keep
    it in memory (or as securely as a password) until `resume_login` has used it."""

    settings: Settings
    client_state: dict[str, Any] = field(repr=False)
    source: ConnectSource | None = field(default=None, repr=False)
    garmin: Garmin | None = field(default=None, repr=False)


@dataclass(frozen=True)
class LoginResult:
    """A finished login (display name, token file) or one that needs an MFA code first."""

    display_name: str | None = None
    token_file: Path | None = None
    pending: PendingMfa | None = None

    @property
    def needs_mfa(self) -> bool:
        return self.pending is not None


def is_loopback(api_url: str | None) -> bool:
    host = urlsplit(api_url).hostname if api_url else None
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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


def _record_token_endpoint_429(garmin: Garmin, governor: RateGovernor) -> None:
    """A 429 from the DI token endpoint (a curl_cffi POST outside our adapter) is a 429 too:
    garminconnect swallows it in a refresh, and the refused tokens must not lead to a login."""
    post: Callable[..., Any] = garmin.client._di_token_post

    def recorded(*args: Any, **kwargs: Any) -> Any:
        if governor.rate_limited:
            raise GarminConnectTooManyRequestsError("token request not sent: a 429 came first")
        response = post(*args, **kwargs)
        if getattr(response, "status_code", None) in (427, 429):
            governor.record_429(DI_TOKEN_PATH, None)
        return response

    garmin.client._di_token_post = recorded


def connect_client(
    settings: Settings,
    governor: RateGovernor,
    email: str | None = None,
    password: str | None = None,
) -> tuple[Garmin, GovernedAdapter]:
    """A garminconnect client wired to our adapter and GARMIN_API_URL, guarded against 429s."""
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
    _record_token_endpoint_429(garmin, governor)
    return garmin, adapter


def sign_in(
    source: ConnectSource, email: str, password: str, what: str = "login"
) -> tuple[Garmin, dict[str, Any] | None]:
    """One credential login through the source's call gate: the client, and the MFA state
    when Garmin asks for a code (None when the login is complete)."""
    garmin, _ = connect_client(source.settings, source.governor, email, password)
    status, state = source._call(what, garmin.login)
    return garmin, (state if status == "needs_mfa" else None)


def _finish(source: ConnectSource, garmin: Garmin, mfa: bool) -> LoginResult:
    """Load the profile with the new tokens, then store them (0600 in a 0700 directory)."""
    serialized = garmin.client.dumps()
    if not garmin.display_name:  # resume_login loads the profile, a login without MFA does not
        # Loading the new tokens the way a sync does also fetches the display name.
        source._call("profile after login", lambda: garmin.login(tokenstore=serialized))
    path = write_token_file(source.settings.token_store, serialized)
    remember_mfa(source.settings.token_store, mfa)
    log.info("logged in to Garmin Connect as %s; tokens stored in %s", garmin.display_name, path)
    return LoginResult(display_name=str(garmin.display_name), token_file=path)


def start_login(settings: Settings, email: str, password: str) -> LoginResult:
    """Log in with an e-mail and password; the result either holds the stored token file or a
    `PendingMfa` to pass to `resume_login` with the code Garmin sent."""
    from garmin_pipeline.sources.connect.client import ConnectSource

    source = ConnectSource(settings)
    try:
        garmin, state = sign_in(source, email, password)
    except SourceAuthError as error:
        raise SourceAuthError(BAD_CREDENTIALS) from error
    if state is not None:
        return LoginResult(pending=PendingMfa(settings, state, source, garmin))
    return _finish(source, garmin, mfa=False)


def resume_login(pending: PendingMfa, code: str) -> LoginResult:
    """Finish an MFA login with the code; `MfaCodeRejectedError` leaves ``pending`` usable.

    A `PendingMfa` carrying only settings and ``client_state`` (another process, say) is
    resumed on a new ``Garmin`` instance rebuilt from that state.
    """
    from garmin_pipeline.sources.connect.client import ConnectSource

    if pending.source is None:
        pending.source = ConnectSource(pending.settings)
    if pending.garmin is None:
        pending.garmin, _ = connect_client(pending.settings, pending.source.governor)
    source, garmin = pending.source, pending.garmin
    try:
        source._call(
            "MFA verification", lambda: garmin.resume_login(pending.client_state, code.strip())
        )
    except MfaCodeRejectedError:
        raise
    except SourceAuthError as error:
        raise MfaCodeRejectedError(BAD_MFA_CODE) from error
    return _finish(source, garmin, mfa=True)
