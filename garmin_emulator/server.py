"""The HTTP side: Starlette routes for the Garmin Connect paths, served by uvicorn on loopback.

Requests pass one ASGI layer first (``_Gate``): it logs every request with the status and bytes
actually sent, applies the fault plan, and demands a valid bearer token on every API path (the
DI token endpoint authenticates with the refresh token instead). Personal API paths
(``/personal-api/...``, see ``personal_routes``) pass the same gate but authenticate with that
API's own bearer tokens. Loopback ``/_emulator/`` control paths (fault rules, token expiry; see
``faults``) bypass all three; they refuse requests from web pages (an ``Origin`` header) and
take only ``application/json`` for what changes state. Endpoints are plain functions, which
Starlette runs in its thread pool, so a FIT encode never stalls other requests.

One emulator may serve several accounts (``accounts``): the gate reads which account a
request's credential names, checks it with that account's authority, and the endpoints serve
that account's athlete; the request log says which account each request was for.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, ClassVar
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from garmin_emulator import (
    metrics_routes,
    personal_routes,
    sso_routes,
    stats_routes,
    wellness_routes,
)
from garmin_emulator.accounts import (
    Account,
    check_accounts,
    other_credentials,
    other_personal_api_key,
)
from garmin_emulator.athlete import SyntheticAthlete
from garmin_emulator.auth import (
    ACCESS_TTL_S,
    DEFAULT_CLIENT_ID,
    TokenAuthority,
    unverified_claims,
)
from garmin_emulator.faults import FaultPlan, FaultRule
from garmin_emulator.http import (
    ACCOUNT_KEY,
    athlete_of,
    listed_activity,
    set_account,
)
from garmin_emulator.http import (
    BadRequest as _BadRequest,
)
from garmin_emulator.http import (
    error_response as _error,
)
from garmin_emulator.http import (
    handled as _handled,
)
from garmin_emulator.http import (
    int_param as _int,
)
from garmin_emulator.http import (
    iso_date as _iso_date,
)
from garmin_emulator.http import (
    json_response as _json,
)
from garmin_emulator.http import (
    owner as _owner,
)
from garmin_emulator.personal_auth import (
    DEFAULT_PERSONAL_API_KEY,
    PERSONAL_TOKEN_TTL_S,
    PersonalApiAuthority,
)
from garmin_emulator.sso_routes import DEFAULT_CREDENTIALS, SsoAuthority
from garmin_pipeline.settings import DEFAULT_ACCOUNT

log = logging.getLogger(__name__)

TOKEN_PATH = "/di-oauth2-service/oauth/token"
ZIP_TYPE = "application/x-zip-compressed"  # what the recorded download (garth test_download) sent
MAX_PAGE = 1000  # garminconnect's MAX_ACTIVITY_LIMIT


@dataclass(frozen=True)
class RequestRecord:
    """One request as the emulator answered it (faulted ones included)."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    bytes_sent: int
    timestamp: float  # time.time() when the request arrived
    # The account the request's credential named (a refused one's claim is unverified), or
    # that an SSO login or token exchange turned out to be for; None when nothing named one.
    account: str | None = None


class _RequestLog:
    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


@dataclass
class _State:
    faults: FaultPlan
    sso: SsoAuthority
    accounts: dict[str, Account] = field(default_factory=dict)  # the primary first
    log: _RequestLog = field(default_factory=_RequestLog)

    @property
    def primary(self) -> Account:
        return next(iter(self.accounts.values()))

    def account(self, name: str | None) -> Account:
        """The named account. None (no credential named one) means the primary: its
        authorities refuse a token no account issued as a one-account emulator always did."""
        return self.primary if name is None else self.accounts[name]

    def account_named_by(self, token: str) -> str | None:
        """The account a JWT's claim names (a token without the claim is the primary's);
        None for a token that does not decode or names no account served here."""
        claims = unverified_claims(token)
        if claims is None:
            return None
        name = claims.get("account", self.primary.name)
        return name if isinstance(name, str) and name in self.accounts else None

    def account_holding_key(self, authorization: str | None) -> str | None:
        return next(
            (a.name for a in self.accounts.values() if a.personal_api.holds_key(authorization)),
            None,
        )


# ---------------------------------------------------------------------- endpoints
@_handled
def social_profile(request: Request) -> Response:
    return _json(athlete_of(request).social_profile())


@_handled
def user_settings(request: Request) -> Response:
    return _json(athlete_of(request).user_settings())


@_handled
def personal_information(request: Request) -> Response:
    return _json(_owner(request).personal_information())


@_handled
def daily_summary(request: Request) -> Response:
    athlete = _owner(request)
    day = _iso_date(request.query_params.get("calendarDate"), "calendarDate")
    return _json(athlete.daily_summary(day))


@_handled
def daily_heart_rate(request: Request) -> Response:
    athlete = _owner(request)
    return _json(athlete.heart_rate(_iso_date(request.query_params.get("date"), "date")))


@_handled
def daily_sleep(request: Request) -> Response:
    athlete = _owner(request)
    return _json(athlete.sleep(_iso_date(request.query_params.get("date"), "date")))


@_handled
def daily_stress(request: Request) -> Response:
    day = _iso_date(request.path_params["day"], "date")
    return _json(athlete_of(request).stress(day))


@_handled
def hrv(request: Request) -> Response:
    day = _iso_date(request.path_params["day"], "date")
    body = athlete_of(request).hrv(day)
    return Response(status_code=204) if body is None else _json(body)


_TYPE_FAMILIES = {"running": {"running"}, "cycling": {"cycling"}, "swimming": {"lap_swimming"}}


@_handled
def activities(request: Request) -> Response:
    """The paginated search: newest first unless sortOrder=asc, dates inclusive on the local
    start date, an empty page past the end (which is how the client knows to stop)."""
    athlete = athlete_of(request)
    params = request.query_params
    start = _int(params.get("start"), "start", 0)
    limit = _int(params.get("limit"), "limit", 20)
    if start < 0 or not 0 < limit <= MAX_PAGE:
        raise _BadRequest(400, f"start must be >= 0 and limit in 1..{MAX_PAGE}")
    first = _iso_date(params["startDate"], "startDate") if "startDate" in params else None
    last = _iso_date(params["endDate"], "endDate") if "endDate" in params else None
    kind = params.get("activityType")
    plans = [
        plan
        for plan in athlete.all_plans()
        if not athlete.is_deleted(plan.activity_id)
        and (first is None or plan.start_time_local.date() >= first)
        and (last is None or plan.start_time_local.date() <= last)
        and (kind is None or plan.sport in _TYPE_FAMILIES.get(kind, {kind}))
    ]
    if params.get("sortOrder", "desc").lower() != "asc":
        plans.reverse()
    page = plans[start : start + limit]
    return _json([athlete.activity_list_item(plan.activity_id) for plan in page])


@_handled
def download_activity(request: Request) -> Response:
    athlete, activity_id = listed_activity(request)
    return Response(
        athlete.activity_zip(activity_id),
        media_type=ZIP_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{activity_id}.zip"'},
    )


@_handled
def device_last_used(request: Request) -> Response:
    return _json(athlete_of(request).device_last_used())


@_handled
def userprofile_settings(request: Request) -> Response:
    """The body the Personal API serves on the same path (see ``personal_routes``)."""
    return _json(personal_routes.profile_settings(athlete_of(request)))


@_handled
def heart_rate_zones(request: Request) -> Response:
    """The recorded Connect path; the Personal API's ``/v2`` serves the same body."""
    return _json(personal_routes.heart_rate_zones(athlete_of(request)))


async def di_token(request: Request) -> Response:
    """The DI OAuth2 refresh grant (the old refresh token is spent: rotation), and the
    service-ticket grant that turns an SSO login's CAS ticket into the first token pair."""
    form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
    state: _State = request.app.state.emulator
    if form.get("grant_type") == sso_routes.DI_GRANT_TYPE:
        ticket, service = form.get("service_ticket", ""), form.get("service_url", "")
        name = state.sso.redeem_ticket(ticket, service)
        if name is None or name not in state.accounts:
            return _json({"error": "invalid_grant", "error_description": "bad ticket"}, 400)
        set_account(request, name)
        log.info("emulator: exchanged a service ticket of %s for %s", name, form.get("client_id"))
        return _json(state.accounts[name].tokens.issue(form.get("client_id") or DEFAULT_CLIENT_ID))
    if form.get("grant_type") != "refresh_token":
        return _json({"error": "unsupported_grant_type"}, status=400)
    refresh_token = form.get("refresh_token", "")
    name = state.account_named_by(refresh_token)
    set_account(request, name)
    tokens = (
        None
        if name is None
        else state.accounts[name].tokens.refresh(refresh_token, form.get("client_id"))
    )
    if tokens is None:
        return _json({"error": "invalid_grant", "error_description": "bad refresh token"}, 400)
    log.info("emulator: refreshed the access token of %s for %s", name, form.get("client_id"))
    return _json(tokens)


async def not_found(request: Request, exc: Exception) -> Response:
    return _error(404, f"No such endpoint: {request.method} {request.url.path}")


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    return _error(405, f"Method not allowed: {request.method} {request.url.path}")


ROUTES = [
    Route("/userprofile-service/socialProfile", social_profile),
    Route("/userprofile-service/userprofile/user-settings", user_settings),
    Route(
        "/userprofile-service/userprofile/personal-information/{display_name}",
        personal_information,
    ),
    Route("/usersummary-service/usersummary/daily/{display_name}", daily_summary),
    Route("/wellness-service/wellness/dailyHeartRate/{display_name}", daily_heart_rate),
    Route("/wellness-service/wellness/dailySleepData/{display_name}", daily_sleep),
    Route("/wellness-service/wellness/dailyStress/{day}", daily_stress),
    Route("/hrv-service/hrv/{day}", hrv),
    Route("/activitylist-service/activities/search/activities", activities),
    Route("/download-service/files/activity/{activity_id:int}", download_activity),
    Route("/device-service/deviceservice/mylastused", device_last_used),
    Route("/userprofile-service/userprofile/settings", userprofile_settings),
    Route("/biometric-service/heartRateZones", heart_rate_zones),
    Route(TOKEN_PATH, di_token, methods=["POST"]),
    *sso_routes.ROUTES,
    *stats_routes.ROUTES,
    *metrics_routes.ROUTES,
    *wellness_routes.ROUTES,
]
ROUTES += personal_routes.routes(ROUTES)  # after Connect's: some are Connect's own endpoints


class _Gate:
    """Log, fault and authenticate every request before the routes see it.

    Paths under ``/_emulator/`` from a loopback client go to the control app instead: no
    token, no faults, no log entry (they are the test harness, not the client under test).
    """

    def __init__(self, app: ASGIApp, state: _State, control: ASGIApp | None = None) -> None:
        self.app = app
        self.state = state
        self.control = control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if self.control is not None and path.startswith(CONTROL_PREFIX) and _loopback(scope):
            refusal = _control_refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            await self.control(scope, receive, send)
            return
        arrived = time.time()
        method: str = scope["method"]
        query = {
            k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()
        }
        sent = {"status": 0, "bytes": 0}  # a reset leaves status 0: no response at all

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
            elif message["type"] == "http.response.body":
                sent["bytes"] += len(message.get("body", b""))
            await send(message)

        authorization = _header(scope, b"authorization")
        account = self._claimed(path, authorization)
        scope[ACCOUNT_KEY] = account
        faults = self.state.faults
        # Rules answering in the endpoint's place act before the token check, like Garmin's
        # edge; the rest only on requests the endpoint serves, so a 401 does not use them up.
        rule = faults.take(method, path, answers=True, account=account)
        try:
            if rule is not None:
                if rule.delay_s:
                    await asyncio.sleep(rule.delay_s)
                if rule.reset:
                    await _reset(scope, receive)
                    return
                headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after else None
                status = rule.status or 500  # answers without a reset: a status is set
                response = _error(status, f"injected fault: HTTP {status}", headers)
                await response(scope, receive, counting_send)
                return
            reason = self._refusal(path, authorization, account)
            if reason is not None:
                await _error(401, f"Unauthorized: {reason}")(scope, receive, counting_send)
                return
            target = counting_send
            rule = faults.take(method, path, answers=False, account=account)
            if rule is not None:
                if rule.delay_s:
                    await asyncio.sleep(rule.delay_s)
                if rule.alters_body:
                    target = _altering(counting_send, rule)
            await self.app(scope, receive, target)
        finally:
            record = RequestRecord(
                method,
                path,
                query,
                sent["status"],
                sent["bytes"],
                arrived,
                scope.get(ACCOUNT_KEY),  # the endpoint may have set it
            )
            self.state.log.append(record)
            log.debug(
                "emulator: %s %s -> %s (%d bytes, account %s)",
                method,
                path,
                record.status,
                record.bytes_sent,
                record.account,
            )

    def _claimed(self, path: str, authorization: str | None) -> str | None:
        """The account the request's credential names, not yet verified: a bearer token's
        claim, or the account holding a Personal API key. The SSO and DI token endpoints
        learn theirs from the body and attribute the request themselves."""
        if path == personal_routes.TOKEN_PATH:
            return self.state.account_holding_key(authorization)
        if path == TOKEN_PATH or sso_routes.is_public(path):
            return None
        scheme, _, token = (authorization or "").partition(" ")
        return self.state.account_named_by(token.strip()) if scheme == "Bearer" else None

    def _refusal(self, path: str, authorization: str | None, account: str | None) -> str | None:
        """Why the request may not pass (None: it may). The authority of the account the token
        names checks it, so a token verifies only as its own account's. Each API checks its
        own tokens, so a Connect token opens no Personal API path and a Personal API token no
        Connect path."""
        holder = self.state.account(account)
        if personal_routes.is_personal(path):
            if path == personal_routes.TOKEN_PATH:  # authenticates with the API key instead
                return None
            return holder.personal_api.check(authorization)
        if path == TOKEN_PATH or sso_routes.is_public(path):
            return None
        return holder.tokens.check(authorization)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _control_refusal(scope: Scope) -> Response | None:
    """Why a loopback request may not use a control path (None: it may).

    Loopback is not proof of the harness: a web page open in a local browser may send a
    "simple" cross-origin POST (text/plain or a form, no preflight) to 127.0.0.1. A browser
    always names the page's origin on such a request, and cannot send a JSON body across
    origins without a preflight, which finds no CORS here. So a control request must carry
    no Origin at all, and a request that changes something must be application/json."""
    if _header(scope, b"origin") is not None:
        return _error(403, "Forbidden: control paths refuse requests from web pages (Origin)")
    if scope["method"] not in ("GET", "HEAD"):
        media_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return _error(415, "Unsupported Media Type: control requests are application/json")
    return None


def _loopback(scope: Scope) -> bool:
    client = scope.get("client")
    try:
        return client is not None and ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


def _altering(send: Send, rule: FaultRule) -> Send:
    """Buffer the endpoint's response and send what ``rule.alter`` makes of it, with a matching
    Content-Length: the client receives a complete HTTP response with a cut, corrupt,
    malformed or drifted body."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def alter(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        headers = list(start.get("headers", []))
        kind = next((v.decode("latin-1") for k, v in headers if k.lower() == b"content-type"), "")
        # A zip rebuild or a caller's transform is CPU work: keep it off the event loop.
        served = start["status"]
        status, new_kind, new_body = await asyncio.to_thread(rule.alter, served, kind, body)
        if new_body is body and (status, new_kind) == (served, kind):
            await send(start)  # left alone (a transform meeting a 204 or a zip): as served
        else:
            dropped = (b"content-length", b"content-type")
            headers = [(k, v) for k, v in headers if k.lower() not in dropped]
            if new_kind:
                headers.append((b"content-type", new_kind.encode("latin-1")))
            headers.append((b"content-length", str(len(new_body)).encode()))
            await send({**start, "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": new_body, "more_body": False})

    return alter


class _TrackedH11(H11Protocol):
    """uvicorn's h11 protocol, remembering each open connection's transport by the (server,
    client) address pair every request's scope carries: ASGI has no message for "drop this
    connection", and a reset fault needs exactly that."""

    _open: ClassVar[dict[tuple[Any, Any], asyncio.Transport]] = {}

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._open[(self.server, self.client)] = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._open.pop((self.server, self.client), None)
        super().connection_lost(exc)

    @classmethod
    def transport_for(cls, scope: Scope) -> asyncio.Transport | None:
        return cls._open.get((scope.get("server"), scope.get("client")))


async def _reset(scope: Scope, receive: Receive) -> None:
    """Drop the request's connection with a TCP RST before any response byte: the client sees
    ECONNRESET (requests: ConnectionError). Returns once uvicorn has seen the connection go,
    so it does not answer the request with a 500 of its own."""
    transport = _TrackedH11.transport_for(scope)
    if transport is None:  # the client gave up first (a delay longer than its timeout)
        log.debug("emulator: reset of a connection already closed")
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:  # linger 0: close() sends RST, not an orderly FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2):
            while (await receive())["type"] != "http.disconnect":
                pass


# ---------------------------------------------------------------------- control paths
CONTROL_PREFIX = "/_emulator/"


async def control_faults(request: Request) -> Response:
    """GET the live rules, POST one (a JSON rule, see ``faults``), DELETE them all."""
    plan: FaultPlan = request.app.state.emulator.faults
    if request.method == "DELETE":
        plan.clear()
        log.info("emulator: fault rules cleared")
        return Response(status_code=204)
    if request.method == "GET":
        return _json([rule.to_json() for rule in plan.rules])
    try:
        rule = plan.add_json(json.loads(await request.body()))
    except (ValueError, TypeError) as error:
        return _error(400, f"bad fault rule: {error}")
    log.info("emulator: fault rule added: %s", rule.to_json())
    return _json(rule.to_json(), status=201)


def _targets(request: Request) -> list[Account] | None:
    """The account ``?account=NAME`` names, or every account without it; None for a name the
    emulator does not serve."""
    state: _State = request.app.state.emulator
    name = request.query_params.get("account")
    if name is None:
        return list(state.accounts.values())
    return [state.accounts[name]] if name in state.accounts else None


def _no_account(request: Request) -> Response:
    return _error(404, f"No such account: {request.query_params.get('account')!r}")


async def control_expire_tokens(request: Request) -> Response:
    """Revoke every access token issued so far (``FaultPlan.expire_tokens``), or with
    ``?account=NAME`` that account's only."""
    plan: FaultPlan = request.app.state.emulator.faults
    name = request.query_params.get("account")
    if name is None:
        plan.expire_tokens()
        log.info("emulator: access tokens expired")
        return _json({"token_epoch": plan.token_epoch})
    targets = _targets(request)
    if targets is None:
        return _no_account(request)
    targets[0].tokens.expire_access_tokens()
    log.info("emulator: access tokens of %s expired", name)
    return _json({"account": name})


async def control_personal_expire_tokens(request: Request) -> Response:
    """End every Personal API bearer token issued so far (``?account=NAME``: that account's)."""
    targets = _targets(request)
    if targets is None:
        return _no_account(request)
    for account in targets:
        account.personal_api.expire_tokens()
    log.info("emulator: personal api bearer tokens expired")
    return _json({"expired": sum(len(a.personal_api.issued_tokens) for a in targets)})


async def control_personal_revoke_key(request: Request) -> Response:
    """Revoke the Personal API keys (``?account=NAME``: that account's): token exchanges get
    401 from now on."""
    targets = _targets(request)
    if targets is None:
        return _no_account(request)
    for account in targets:
        account.personal_api.revoke_key()
    log.info("emulator: personal api key revoked")
    return _json({"revoked": True})


CONTROL_ROUTES = [
    Route(CONTROL_PREFIX + "faults", control_faults, methods=["GET", "POST", "DELETE"]),
    Route(CONTROL_PREFIX + "expire-tokens", control_expire_tokens, methods=["POST"]),
    Route(
        CONTROL_PREFIX + "personal-api/expire-tokens",
        control_personal_expire_tokens,
        methods=["POST"],
    ),
    Route(
        CONTROL_PREFIX + "personal-api/revoke-key", control_personal_revoke_key, methods=["POST"]
    ),
]


def build_app(state: _State) -> ASGIApp:
    app = Starlette(
        routes=ROUTES,
        exception_handlers={404: not_found, 405: method_not_allowed},
    )
    app.state.emulator = state
    control = Starlette(
        routes=CONTROL_ROUTES,
        exception_handlers={404: not_found, 405: method_not_allowed},
    )
    control.state.emulator = state
    return _Gate(app, state, control)


class _QuietUpgrades(logging.Filter):
    """curl_cffi (the client's token refresh, impersonating Chrome) always offers an h2c
    upgrade; uvicorn warns about each one and then serves HTTP/1.1 as it should."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Unsupported upgrade request."


_UPGRADE_FILTER = _QuietUpgrades()


def _config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    uvicorn_log = logging.getLogger("uvicorn.error")
    if _UPGRADE_FILTER not in uvicorn_log.filters:
        uvicorn_log.addFilter(_UPGRADE_FILTER)
    # h11: uvicorn's httptools parser drops the body of a request that offers an h2c
    # upgrade, which is every token refresh curl_cffi sends; _TrackedH11 is uvicorn's h11
    # protocol, tracking connections for reset faults (proxy headers off, so a request's
    # client address stays the connection's). log_config=None leaves the host process's
    # logging alone (tests, Dagster, the CLI).
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_TrackedH11,
        proxy_headers=False,
        log_level="warning",
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )


class Emulator:
    """The emulator in a background thread: ``with Emulator(athlete) as emu: emu.base_url``.

    Several accounts (a household): ``Emulator(alice, others={"bob": bob})``; then
    ``emu.write_token_store(path, account="bob")``, ``emu.credentials_for("bob")`` and
    ``emu.personal_api_key_for("bob")`` give bob's way in, which only ever reads bob's data.
    """

    def __init__(
        self,
        athlete: SyntheticAthlete,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultPlan | None = None,
        access_ttl_s: int = ACCESS_TTL_S,
        credentials: tuple[str, str] | None = DEFAULT_CREDENTIALS,
        mfa_code: str | None = None,
        personal_api_key: str = DEFAULT_PERSONAL_API_KEY,
        personal_api_key_expires_at: datetime | None = None,
        personal_token_ttl_s: int = PERSONAL_TOKEN_TTL_S,
        *,
        account: str = DEFAULT_ACCOUNT,
        others: Mapping[str, SyntheticAthlete] | None = None,
    ) -> None:
        """``credentials`` (e-mail, password) is the account the SSO login accepts (None:
        refuse every login); with ``mfa_code`` set, a login also asks for that MFA code.
        ``personal_api_key`` is the key the Personal API exchanges for bearer tokens, refused
        after ``personal_api_key_expires_at`` (naive: UTC).

        All of those are the primary account's, named ``account`` (by default the pipeline's
        default GARMIN_ACCOUNT). ``others`` adds accounts, name to athlete (each its own seed);
        they sign in with ``accounts.other_credentials(name)`` and hold the key
        ``accounts.other_personal_api_key(name)``, without MFA or key expiry (change them
        through ``sso.others`` and ``accounts[name].personal_api.set_key``)."""
        if others and account in others:
            raise ValueError(f"{account!r} is the primary account; name the others differently")
        athletes = {account: athlete, **(others or {})}
        check_accounts(athletes)
        self.host = host
        self._requested_port = port
        sso = SsoAuthority(
            credentials=credentials,
            mfa_code=mfa_code,
            account=account,
            others={name: other_credentials(name) for name in others or {}},
        )
        state = _State(faults or FaultPlan(), sso)
        for name, served in athletes.items():
            primary = name == account
            state.accounts[name] = Account(
                name,
                served,
                TokenAuthority(
                    served.seed,
                    epoch=lambda: state.faults.token_epoch,  # the live plan, even if replaced
                    access_ttl_s=access_ttl_s,
                    account=name,
                ),
                PersonalApiAuthority(
                    served.seed,
                    api_key=personal_api_key if primary else other_personal_api_key(name),
                    key_expires_at=personal_api_key_expires_at if primary else None,
                    token_ttl_s=personal_token_ttl_s,
                    account=name,
                ),
            )
        self._state = state
        self.app = build_app(self._state)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # -------------------------------------------------------------- lifecycle
    def start(self, timeout_s: float = 10.0) -> Emulator:
        if self._server is not None:
            raise RuntimeError("emulator already started")
        server = uvicorn.Server(_config(self.app, self.host, self._requested_port))
        thread = threading.Thread(target=server.run, name="garmin-emulator", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError(
                    f"emulator failed to start on {self.host}:{self._requested_port}"
                )
            time.sleep(0.01)
        self._server, self._thread = server, thread
        self._port = server.servers[0].sockets[0].getsockname()[1]
        log.info("emulator: serving %s on %s", _served(self._state), self.base_url)
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._server = self._thread = None
        log.info("emulator: stopped")

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -------------------------------------------------------------- accessors
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("emulator not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def personal_api_url(self) -> str:
        """The Personal API client's base URL (``GARMIN_PERSONAL_API_BASE_URL``)."""
        return self.base_url + personal_routes.PREFIX

    @property
    def personal_api(self) -> PersonalApiAuthority:
        """The primary account's Personal API key and bearer tokens: revoke, expire or replace
        them here (``accounts[name].personal_api`` for another account's)."""
        return self._state.primary.personal_api

    @property
    def personal_api_key(self) -> str:
        return self._state.primary.personal_api.api_key

    def personal_api_key_for(self, account: str) -> str:
        return self._account(account).personal_api.api_key

    @property
    def faults(self) -> FaultPlan:
        """The live fault plan; change it (or replace it) while the server runs."""
        return self._state.faults

    @faults.setter
    def faults(self, plan: FaultPlan) -> None:
        self._state.faults = plan

    @property
    def athlete(self) -> SyntheticAthlete:
        """The primary account's athlete."""
        return self._state.primary.athlete

    @athlete.setter
    def athlete(self, athlete: SyntheticAthlete) -> None:
        """Serve the primary account another athlete of the same seed (``Account.athlete``)."""
        self._state.primary.athlete = athlete

    @property
    def accounts(self) -> Mapping[str, Account]:
        """Every account served, by name, the primary first."""
        return MappingProxyType(self._state.accounts)

    def credentials_for(self, account: str) -> tuple[str, str] | None:
        """The e-mail and password the SSO login takes for ``account`` (None: no login)."""
        self._account(account)
        return self._state.sso.credentials_of(account)

    @property
    def tokens(self) -> TokenAuthority:
        """The primary account's Connect tokens (``accounts[name].tokens`` for another's)."""
        return self._state.primary.tokens

    @property
    def sso(self) -> SsoAuthority:
        """The SSO login's account, MFA setting and counters (change them while serving)."""
        return self._state.sso

    @property
    def request_log(self) -> list[RequestRecord]:
        """A snapshot of every request so far, oldest first."""
        return self._state.log.snapshot()

    def clear_request_log(self) -> None:
        self._state.log.clear()

    def write_token_store(
        self,
        path: str | os.PathLike[str],
        access_ttl_s: int = ACCESS_TTL_S,
        account: str | None = None,
    ) -> Path:
        """A garminconnect 0.3.20 token file this emulator accepts, for ``account`` (default:
        the primary). A ttl under 900 s makes the client refresh before its first call (it
        refreshes when ``exp - 900 < now``)."""
        holder = self._state.primary if account is None else self._account(account)
        return holder.tokens.write_token_store(path, access_ttl_s=access_ttl_s)

    def _account(self, name: str) -> Account:
        try:
            return self._state.accounts[name]
        except KeyError:
            served = ", ".join(self._state.accounts)
            raise KeyError(f"no account {name!r}; this emulator serves {served}") from None


def _served(state: _State) -> str:
    return ", ".join(f"{a.athlete.display_name} ({a.name})" for a in state.accounts.values())


def serve(
    athlete: SyntheticAthlete,
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: FaultPlan | None = None,
    token_store: Path | None = None,
    others: Mapping[str, SyntheticAthlete] | None = None,
) -> None:
    """Serve in the foreground until interrupted (the ``garmin-pipeline emulator`` command).

    With ``token_store``, a token file the emulator accepts (the primary account's) is written
    there first. ``others`` adds accounts, as ``Emulator`` takes them.
    """
    emulator = Emulator(athlete, host=host, port=port, faults=faults, others=others)
    if token_store is not None:
        written = emulator.write_token_store(token_store)
        log.info("emulator: wrote a token store to %s", written)
    log.info("emulator: serving %s on http://%s:%d", _served(emulator._state), host, port)
    # uvicorn re-raises Ctrl-C after shutting down cleanly; that is the normal way out.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(_config(emulator.app, host, port)).run()
    log.info("emulator: stopped")
