"""Garmin SSO's mobile sign-in, as garminconnect 0.3.20's mobile strategy drives it.

With ``client._sso`` pointed at the emulator, the client:

1. GETs ``/mobile/sso/en_US/sign-in``, which sets a ``SESSION`` cookie (a credential POST
   without it is answered 429, as Garmin's is);
2. POSTs ``{"username", "password", ...}`` to ``/mobile/api/login``, answered with a
   ``responseStatus.type`` of ``SUCCESSFUL`` (plus a CAS ``serviceTicketId``), ``MFA_REQUIRED``
   (plus ``customerMfaInfo.mfaLastMethodUsed``) or ``INVALID_USERNAME_PASSWORD``;
3. after ``MFA_REQUIRED``, POSTs ``mfaVerificationCode`` to ``/mobile/api/mfa/verifyCode``
   (falling back to ``/portal/api/mfa/verifyCode``) in the same SSO session;
4. exchanges the service ticket at the DI token endpoint (``grant_type`` = ``DI_GRANT_TYPE``,
   handled in ``server.di_token``) for a token pair from the ``TokenAuthority``.

Tickets are single use, expire after ``TICKET_TTL_S`` and are bound to the service URL they were
issued for and to the account whose credentials the login matched: the ticket's token pair is
that account's. Passwords and codes are compared in constant time and never logged or echoed.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from garmin_emulator.http import error_response, json_response, set_account
from garmin_pipeline.settings import DEFAULT_ACCOUNT

DEFAULT_CREDENTIALS = ("athlete@example.com", "emulator-password")
DI_GRANT_TYPE = "https://connectapi.garmin.com/di-oauth2-service/oauth/grant/service_ticket"
SESSION_COOKIE = "SESSION"
TICKET_TTL_S = 300
# Paths the SSO serves without a bearer token (the gate authenticates everything else).
PUBLIC_PREFIXES = ("/mobile/sso/", "/mobile/api/", "/portal/api/mfa/")

SIGN_IN_PAGE = (
    b"<!DOCTYPE html><html><head><title>GARMIN Authentication Application</title></head>"
    b"<body><div id='root'></div></body></html>"
)


def is_public(path: str) -> bool:
    """Whether the gate lets this path through without a bearer token."""
    return path.startswith(PUBLIC_PREFIXES)


@dataclass
class _SsoSession:
    awaiting_mfa: bool = False
    service: str = ""
    account: str | None = None  # whose password the session passed


@dataclass
class SsoAuthority:
    """The accounts' credentials, the MFA setting, open SSO sessions and issued tickets.

    ``credentials`` are the primary account's (``account``), ``others`` the further accounts'
    (name: e-mail and password; None refuses that account's logins). ``mfa_code`` None means
    no MFA; MFA guards the primary account only. Counters let tests assert what was tried.
    """

    credentials: tuple[str, str] | None = DEFAULT_CREDENTIALS
    mfa_code: str | None = None
    mfa_method: str = "email"
    clock: Callable[[], float] = time.time
    credential_posts: int = 0  # POST /mobile/api/login requests that reached the check
    mfa_attempts: int = 0
    account: str = DEFAULT_ACCOUNT
    others: dict[str, tuple[str, str] | None] = field(default_factory=dict)
    _sessions: dict[str, _SsoSession] = field(default_factory=dict, repr=False)
    _tickets: dict[str, tuple[str, float, str]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def credentials_of(self, account: str) -> tuple[str, str] | None:
        """The e-mail and password that sign in to ``account`` (KeyError: no such account)."""
        return self.credentials if account == self.account else self.others[account]

    def open_session(self) -> str:
        session_id = secrets.token_hex(16)
        with self._lock:
            self._sessions[session_id] = _SsoSession()
        return session_id

    def sign_in(self, session_id: str | None, username: Any, password: Any, service: str) -> str:
        """The ``responseStatus.type`` for a credential POST in this SSO session."""
        with self._lock:
            self.credential_posts += 1
            session = self._sessions.get(session_id or "")
            if session is None:
                return "NO_SESSION"
            account = self._account_for(username, password)
            if account is None:
                session.awaiting_mfa, session.account = False, None
                return "INVALID_USERNAME_PASSWORD"
            session.service, session.account = service, account
            if account == self.account and self.mfa_code is not None:
                session.awaiting_mfa = True
                return "MFA_REQUIRED"
            return "SUCCESSFUL"

    def verify_code(self, session_id: str | None, code: Any) -> str:
        """The ``responseStatus.type`` for an MFA code in a session that passed the password."""
        with self._lock:
            self.mfa_attempts += 1
            session = self._sessions.get(session_id or "")
            if session is None or not session.awaiting_mfa or self.mfa_code is None:
                return "INVALID_SESSION"
            if not isinstance(code, str) or not hmac.compare_digest(
                code.strip().encode(), self.mfa_code.encode()
            ):
                return "INVALID_MFA_CODE"
            session.awaiting_mfa = False
            return "SUCCESSFUL"

    def service_of(self, session_id: str | None) -> str:
        with self._lock:
            session = self._sessions.get(session_id or "")
            return session.service if session else ""

    def account_of(self, session_id: str | None) -> str | None:
        """The account whose password the session passed (None before that)."""
        with self._lock:
            session = self._sessions.get(session_id or "")
            return session.account if session else None

    def issue_ticket(self, service: str, account: str | None = None) -> str:
        """A CAS ticket for ``account``'s tokens (default: the primary account)."""
        ticket = f"ST-{secrets.randbelow(10**7):07d}-{secrets.token_urlsafe(15)}-cas"
        with self._lock:
            self._tickets[ticket] = (service, self.clock(), account or self.account)
        return ticket

    def redeem_ticket(self, ticket: str, service: str) -> str | None:
        """Spend a ticket: its account once, for the service it was issued to, within its
        TTL; None otherwise."""
        with self._lock:
            issued = self._tickets.pop(ticket, None)
        if issued is None:
            return None
        issued_service, issued_at, account = issued
        if issued_service != service or self.clock() - issued_at > TICKET_TTL_S:
            return None
        return account

    def _account_for(self, username: Any, password: Any) -> str | None:
        """The account these credentials sign in to; every account is compared, in constant
        time, so timing tells nothing about which e-mail exists."""
        if not isinstance(username, str) or not isinstance(password, str):
            return None
        matched = None
        for account, credentials in [(self.account, self.credentials), *self.others.items()]:
            if credentials is None:
                continue
            email, secret = credentials
            same_user = hmac.compare_digest(
                username.strip().casefold().encode(), email.casefold().encode()
            )
            same_secret = hmac.compare_digest(password.encode(), secret.encode())
            if same_user and same_secret and matched is None:
                matched = account
        return matched


def _sso(request: Request) -> SsoAuthority:
    return request.app.state.emulator.sso


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _status(kind: str, **extra: Any) -> Response:
    return json_response({"responseStatus": {"type": kind}, **extra})


async def sign_in_page(request: Request) -> Response:
    """GET /mobile/sso/en_US/sign-in: the page the app's web view loads, setting SESSION."""
    response = Response(SIGN_IN_PAGE, media_type="text/html;charset=UTF-8")
    response.set_cookie(SESSION_COOKIE, _sso(request).open_session(), path="/", httponly=True)
    return response


async def mobile_login(request: Request) -> Response:
    """POST /mobile/api/login: check the credentials of an SSO session."""
    sso = _sso(request)
    body = await _json_body(request)
    service = request.query_params.get("service", "")
    session_id = request.cookies.get(SESSION_COOKIE)
    outcome = sso.sign_in(session_id, body.get("username"), body.get("password"), service)
    if outcome == "NO_SESSION":
        # Garmin answers a credential POST without the sign-in page's cookies with 429.
        return error_response(429, "Too Many Requests")
    set_account(request, sso.account_of(session_id))
    if outcome == "MFA_REQUIRED":
        return _status(
            "MFA_REQUIRED",
            customerMfaInfo={"mfaLastMethodUsed": sso.mfa_method, "mfaEnabled": True},
        )
    if outcome == "SUCCESSFUL":
        ticket = sso.issue_ticket(service, sso.account_of(session_id))
        return _status("SUCCESSFUL", serviceTicketId=ticket)
    return _status(outcome)


async def verify_mfa_code(request: Request) -> Response:
    """POST /{mobile,portal}/api/mfa/verifyCode: finish an MFA login in the same SSO session."""
    sso = _sso(request)
    body = await _json_body(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    outcome = sso.verify_code(session_id, body.get("mfaVerificationCode"))
    account = sso.account_of(session_id)
    set_account(request, account)
    if outcome != "SUCCESSFUL":
        return _status(outcome)
    ticket = sso.issue_ticket(sso.service_of(session_id), account)
    return _status("SUCCESSFUL", serviceTicketId=ticket)


ROUTES: list[Route] = [
    Route("/mobile/sso/en_US/sign-in", sign_in_page, methods=["GET"]),
    Route("/mobile/api/login", mobile_login, methods=["POST"]),
    Route("/mobile/api/mfa/verifyCode", verify_mfa_code, methods=["POST"]),
    Route("/portal/api/mfa/verifyCode", verify_mfa_code, methods=["POST"]),
]
