"""The HTTP side: Starlette routes for the Garmin Connect paths, served by uvicorn on loopback.

Requests pass one ASGI layer first (``_Gate``): it logs every request with the status and bytes
actually sent, applies the fault plan, and demands a valid bearer token on every API path (the
DI token endpoint authenticates with the refresh token instead). Endpoints are plain functions,
which Starlette runs in its thread pool, so a FIT encode never stalls other requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from garmin_pipeline.sources.emulator import metrics_routes, stats_routes, wellness_routes
from garmin_pipeline.sources.emulator.athlete import SyntheticAthlete
from garmin_pipeline.sources.emulator.auth import ACCESS_TTL_S, TokenAuthority
from garmin_pipeline.sources.emulator.faults import FaultPlan
from garmin_pipeline.sources.emulator.http import (
    BadRequest as _BadRequest,
)
from garmin_pipeline.sources.emulator.http import (
    athlete_of,
)
from garmin_pipeline.sources.emulator.http import (
    error_response as _error,
)
from garmin_pipeline.sources.emulator.http import (
    handled as _handled,
)
from garmin_pipeline.sources.emulator.http import (
    int_param as _int,
)
from garmin_pipeline.sources.emulator.http import (
    iso_date as _iso_date,
)
from garmin_pipeline.sources.emulator.http import (
    json_response as _json,
)
from garmin_pipeline.sources.emulator.http import (
    owner as _owner,
)

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
    athlete: SyntheticAthlete
    faults: FaultPlan
    tokens: TokenAuthority = field(init=False)
    log: _RequestLog = field(default_factory=_RequestLog)
    access_ttl_s: int = ACCESS_TTL_S

    def __post_init__(self) -> None:
        self.tokens = TokenAuthority(
            self.athlete.seed, epoch=lambda: self.faults.token_epoch, access_ttl_s=self.access_ttl_s
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
    athlete = athlete_of(request)
    activity_id = request.path_params["activity_id"]
    if not athlete.listed(activity_id):
        raise _BadRequest(404, f"Activity {activity_id} not found")
    return Response(
        athlete.activity_zip(activity_id),
        media_type=ZIP_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{activity_id}.zip"'},
    )


@_handled
def device_last_used(request: Request) -> Response:
    return _json(athlete_of(request).device_last_used())


async def di_token(request: Request) -> Response:
    """The DI OAuth2 refresh grant; the old refresh token is spent (rotation)."""
    form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
    if form.get("grant_type") != "refresh_token":
        return _json({"error": "unsupported_grant_type"}, status=400)
    tokens = request.app.state.emulator.tokens.refresh(
        form.get("refresh_token", ""), form.get("client_id")
    )
    if tokens is None:
        return _json({"error": "invalid_grant", "error_description": "bad refresh token"}, 400)
    log.info("emulator: refreshed the access token for %s", form.get("client_id"))
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
    Route(TOKEN_PATH, di_token, methods=["POST"]),
    *stats_routes.ROUTES,
    *metrics_routes.ROUTES,
    *wellness_routes.ROUTES,
]


class _Gate:
    """Log, fault and authenticate every request before the routes see it."""

    def __init__(self, app: ASGIApp, state: _State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = time.time()
        method: str = scope["method"]
        path: str = scope["path"]
        query = {
            k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()
        }
        sent = {"status": 0, "bytes": 0}

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
            elif message["type"] == "http.response.body":
                sent["bytes"] += len(message.get("body", b""))
            await send(message)

        rule = self.state.faults.take(method, path)
        try:
            if rule is not None and rule.delay_s:
                await asyncio.sleep(rule.delay_s)
            if rule is not None and rule.status is not None:
                headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after else None
                response = _error(rule.status, f"injected fault: HTTP {rule.status}", headers)
                await response(scope, receive, counting_send)
                return
            if path != TOKEN_PATH:
                reason = self.state.tokens.check(_header(scope, b"authorization"))
                if reason is not None:
                    await _error(401, f"Unauthorized: {reason}")(scope, receive, counting_send)
                    return
            target = (
                _truncating(counting_send) if rule is not None and rule.truncate else counting_send
            )
            await self.app(scope, receive, target)
        finally:
            record = RequestRecord(method, path, query, sent["status"], sent["bytes"], arrived)
            self.state.log.append(record)
            log.debug(
                "emulator: %s %s -> %s (%d bytes)", method, path, record.status, record.bytes_sent
            )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _truncating(send: Send) -> Send:
    """Buffer the response and send only its first half, with a matching Content-Length: the
    client receives a complete HTTP response whose body is a cut file."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def cut(message: Message) -> None:
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
        body = body[: len(body) // 2]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return cut


def build_app(state: _State) -> ASGIApp:
    app = Starlette(
        routes=ROUTES,
        exception_handlers={404: not_found, 405: method_not_allowed},
    )
    app.state.emulator = state
    return _Gate(app, state)


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
    # http="h11": uvicorn's httptools parser drops the body of a request that offers an h2c
    # upgrade, which is every token refresh curl_cffi sends. log_config=None leaves the host
    # process's logging alone (tests, Dagster, the CLI).
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http="h11",
        log_level="warning",
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )


class Emulator:
    """The emulator in a background thread: ``with Emulator(athlete) as emu: emu.base_url``."""

    def __init__(
        self,
        athlete: SyntheticAthlete,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultPlan | None = None,
        access_ttl_s: int = ACCESS_TTL_S,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._state = _State(athlete, faults or FaultPlan(), access_ttl_s=access_ttl_s)
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
        log.info("emulator: serving %s on %s", self.athlete.display_name, self.base_url)
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
    def faults(self) -> FaultPlan:
        """The live fault plan; change it (or replace it) while the server runs."""
        return self._state.faults

    @faults.setter
    def faults(self, plan: FaultPlan) -> None:
        self._state.faults = plan

    @property
    def athlete(self) -> SyntheticAthlete:
        return self._state.athlete

    @athlete.setter
    def athlete(self, athlete: SyntheticAthlete) -> None:
        """Serve another athlete from now on, e.g. the same seed one day later: what Garmin
        looks like after the watch uploads a new day. Tokens stay valid (same seed)."""
        if athlete.seed != self._state.athlete.seed:
            raise ValueError("swap in an athlete with the same seed, or tokens would not match")
        self._state.athlete = athlete

    @property
    def tokens(self) -> TokenAuthority:
        return self._state.tokens

    @property
    def request_log(self) -> list[RequestRecord]:
        """A snapshot of every request so far, oldest first."""
        return self._state.log.snapshot()

    def clear_request_log(self) -> None:
        self._state.log.clear()

    def write_token_store(
        self, path: str | os.PathLike[str], access_ttl_s: int = ACCESS_TTL_S
    ) -> Path:
        """A garminconnect 0.3.20 token file this emulator accepts. A ttl under 900 s makes the
        client refresh before its first call (it refreshes when ``exp - 900 < now``)."""
        return self._state.tokens.write_token_store(path, access_ttl_s=access_ttl_s)


def serve(
    athlete: SyntheticAthlete,
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: FaultPlan | None = None,
    token_store: Path | None = None,
) -> None:
    """Serve in the foreground until interrupted (the ``garmin-pipeline emulator`` command).

    With ``token_store``, a token file the emulator accepts is written there first.
    """
    emulator = Emulator(athlete, host=host, port=port, faults=faults)
    if token_store is not None:
        written = emulator.write_token_store(token_store)
        log.info("emulator: wrote a token store to %s", written)
    log.info("emulator: serving %s on http://%s:%d", athlete.display_name, host, port)
    # uvicorn re-raises Ctrl-C after shutting down cleanly; that is the normal way out.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(_config(emulator.app, host, port)).run()
    log.info("emulator: stopped")
