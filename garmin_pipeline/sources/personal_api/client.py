"""Fetch payloads from Garmin's official Personal API with Garmin's own client.

`garmin_personal_api` does the talking: `PersonalApiAuthenticator` exchanges the key for a bearer
token (about 24 h) and caches it, `GarminPersonalApiClient` reads the data paths. Both share one
`requests` session with the rate governor mounted on it, so pacing, retries, request counts and
the 429 breaker (the Personal API's own: its limit is not Garmin Connect's) work as for the
`connect` source, and feeds call this source the same way: `json(what, method, *args)` with
`method` a `GarminPersonalApiClient` method.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date, datetime
from functools import cached_property
from time import time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import requests
from garmin_personal_api.auth import BearerToken, PersonalApiAuthenticator
from garmin_personal_api.client import GarminPersonalApiClient
from garmin_personal_api.errors import GarminPersonalApiError, HttpError

from garmin_pipeline.errors import (
    EndpointUnavailableError,
    MalformedPayloadError,
    SourceAuthError,
    SourceUnavailableError,
)
from garmin_pipeline.settings import Settings
from garmin_pipeline.sources import PERSONAL_API, profile_zone
from garmin_pipeline.sources.breaker import CircuitBreaker
from garmin_pipeline.sources.connect.refusal import CredentialRefusedError, Refusals
from garmin_pipeline.sources.connect.tokens import private_dir
from garmin_pipeline.sources.gate import RequestGate
from garmin_pipeline.sources.governor import GovernedAdapter, RateGovernor
from garmin_pipeline.sources.personal_api.keys import (
    HOW_TO_CREATE,
    ApiKey,
    bearer_cache_path,
    resolve_key,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

ACTIVITY_PAGE = 100  # activities per page of the search


class PersonalApiSource:
    """The Personal API for one account; every request passes the rate governor."""

    def __init__(
        self,
        settings: Settings,
        governor: RateGovernor | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time,
        key: ApiKey | None = None,
        interactive: bool = False,
    ) -> None:
        """`key`: use this key instead of resolving one (a key being set up by `login`).
        `interactive`: the session of `login --personal-api`, which a recorded refusal does not
        stop (checking a new key is how it is cleared) and which records none."""
        self.settings = settings
        self.gate = RequestGate.from_settings(
            settings, "personal_api", "the Personal API", governor, breaker
        )
        self.governor, self.breaker = self.gate.governor, self.gate.breaker
        self._clock = clock
        self._session = requests.Session()
        self._session.mount(
            "https://", GovernedAdapter(self.governor, timeout_s=settings.request_timeout_s)
        )
        self._session.mount(
            "http://", GovernedAdapter(self.governor, timeout_s=settings.request_timeout_s)
        )
        self._key = key
        self.interactive = interactive
        self.refusals = Refusals(settings, PERSONAL_API)
        self._token: BearerToken | None = None
        self._client: GarminPersonalApiClient | None = None

    # ------------------------------------------------------------------ auth
    @cached_property
    def _authenticator(self) -> PersonalApiAuthenticator:
        cache = bearer_cache_path(self.settings)
        private_dir(cache.parent)
        authenticator = PersonalApiAuthenticator(
            timeout=self.settings.request_timeout_s,
            session=self._session,
            bearer_token_cache_file=cache,
            clock=self._clock,
        )
        authenticator.base_url = self.settings.personal_api_url
        return authenticator

    @property
    def client(self) -> GarminPersonalApiClient:
        """A client holding a bearer token good for at least the authenticator's window."""
        if self._client is None or self._token_due():
            token = self._obtain_token(force=False)
            if self._client is None:
                self._client = GarminPersonalApiClient(
                    token.access_token,
                    timeout=self.settings.request_timeout_s,
                    session=self._session,
                )
                self._client.base_url = self.settings.personal_api_url
            else:
                self._client.update_bearer_token(token.access_token)
        return self._client

    def _token_due(self) -> bool:
        # Garmin's authenticator renews a token within an hour of its expiry; ask it again then.
        return self._token is None or self._token.expires_at - self._clock() < 3600

    def _obtain_token(self, force: bool) -> BearerToken:
        self._check_refused()
        if self._key is None:
            self._key = resolve_key(self.settings)
        key = self._key
        try:
            self._token = self._call(
                "Personal API token exchange",
                lambda: self._authenticator.obtain_token(key.value, force_refresh=force),
                exchange=True,
            )
        except SourceAuthError as error:
            status = getattr(error.__cause__, "status_code", None)
            why = f" (HTTP {status}: expired or revoked?)" if status else ""
            raise self._refuse(f"the Personal API key from {key.origin}{why}", error) from error
        return self._token

    def _check_refused(self) -> None:
        """Stop before sending anything once Garmin refused this account's key, in this run or
        an earlier one (until `garmin-pipeline login --personal-api`)."""
        if not self.interactive:
            self.refusals.check()

    def _refuse(self, what: str, error: SourceAuthError) -> SourceAuthError:
        """Remember, for this run and on disk, that Garmin refused `what`; `error` as it is
        when nothing is to be remembered (`login --personal-api`, a refusal after a 429)."""
        remembered = isinstance(error, CredentialRefusedError)
        if remembered or self.interactive or self.governor.rate_limited:
            return error
        return self.refusals.remember(what, HOW_TO_CREATE)

    def check_key(self) -> BearerToken:
        """Exchange the key for a fresh bearer token now (what `login --personal-api` checks)."""
        return self._obtain_token(force=True)

    # ------------------------------------------------------------------ calls
    def _call(self, what: str, call: Callable[[], T], exchange: bool = False) -> T:
        """Every request (the token exchange included) passes the gate: breaker first."""
        self._check_refused()
        return self.gate.call(
            what, call, lambda what, error: self._translated(what, error, exchange)
        )

    def _translated(self, what: str, error: Exception, exchange: bool) -> Exception:
        """The client's errors as ours, each one line that says what to do."""
        if isinstance(error, HttpError):
            if exchange and error.status_code in (400, 401, 403):
                origin = self._key.origin if self._key else "the configured source"
                return SourceAuthError(
                    f"Garmin refused the Personal API key from {origin} (HTTP "
                    f"{error.status_code}: expired or revoked?): {HOW_TO_CREATE}"
                )
            if error.status_code in (401, 403):
                return SourceAuthError(
                    f"the Personal API refused a fresh bearer token during {what} (HTTP "
                    f"{error.status_code}); if the key was revoked, {HOW_TO_CREATE}"
                )
            if error.status_code == 404:
                return EndpointUnavailableError(
                    f"the Personal API does not serve {what} (HTTP 404): choose the connect "
                    "source for this feed with GARMIN_FEED_SOURCES"
                )
            return SourceUnavailableError(
                f"the Personal API failed during {what} after retries (HTTP "
                f"{error.status_code}); try again later, already-synced data is kept"
            )
        if isinstance(error, json.JSONDecodeError | requests.exceptions.JSONDecodeError):
            _, body = self.governor.last_response()
            return MalformedPayloadError(
                f"the Personal API sent a body that is not JSON for {what}; kept in quarantine, "
                "fetched again next sync",
                body=body or b"",
            )
        if isinstance(error, requests.RequestException):
            return SourceUnavailableError(
                f"the Personal API could not be reached during {what} after retries "
                f"({type(error).__name__}); try again later, already-synced data is kept"
            )
        if isinstance(error, GarminPersonalApiError):
            return SourceUnavailableError(f"the Personal API failed during {what}: {error}")
        return error

    def _read(self, what: str, call: Callable[[GarminPersonalApiClient], T]) -> T:
        """A data read; a 401 means the bearer token lapsed early: one fresh token, one retry."""
        client = self.client
        try:
            return self._call(what, lambda: call(client))
        except SourceAuthError:
            if self.governor.rate_limited:
                raise
            log.info("the Personal API refused the bearer token; exchanging the key again")
            client.update_bearer_token(self._obtain_token(force=True).access_token)
            try:
                return self._call(what, lambda: call(client))
            except SourceAuthError as error:
                origin = self._key.origin if self._key else "the configured source"
                raise self._refuse(
                    f"a fresh bearer token for the Personal API key from {origin}", error
                ) from error

    def json(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call the `GarminPersonalApiClient` method named `method`; `what` names it in errors."""
        return self._read(what, lambda client: getattr(client, method)(*args, **kwargs))

    def download(self, what: str, method: str, day: date) -> bytes:
        return self._read(what, lambda client: getattr(client, method)(day))

    # ------------------------------------------------------------------ account facts
    @cached_property
    def timezone(self) -> ZoneInfo:
        """The profile's timezone: Garmin's calendar days are its days, not the host's."""
        settings = self.json("profile settings", "get_user_profile_settings") or {}
        name = settings.get("timeZone") if isinstance(settings, dict) else None
        return profile_zone(name)

    # The Personal API has no device endpoint: without a last upload every provisional day is
    # refreshed, which its range endpoints make cheap.
    last_upload: datetime | None = None

    def activity_list(self, first: date, last: date) -> list[dict[str, Any]]:
        """Every activity that started (local time) between the two days, page by page."""
        listed: list[dict[str, Any]] = []
        while True:
            page = self.json(
                f"activity list {first}..{last} from {len(listed)}",
                "search_activities",
                start=len(listed),
                limit=ACTIVITY_PAGE,
                start_date=first,
                end_date=last,
            )
            if not isinstance(page, list):
                raise MalformedPayloadError(
                    f"the activity list {first}..{last} is not a JSON list; kept in raw, "
                    "fetched again next sync",
                    body=json.dumps(page).encode("utf-8"),
                )
            listed.extend(page)
            if len(page) < ACTIVITY_PAGE:
                return listed

    def activity_original(self, activity_id: int) -> bytes:
        """The original upload: a zip holding the FIT file the device sent."""
        return self._read(
            f"download of activity {activity_id}",
            lambda client: client.download_activity(activity_id),
        )
