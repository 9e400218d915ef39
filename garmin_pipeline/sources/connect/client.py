"""Fetch payloads from Garmin Connect (or anything speaking its API, like the emulator).

`garminconnect` does the talking, with its own native auth and token store. We only mount our
transport adapter on its API session and point its DI token refresh at the same base URL, so a
test or the demo runs the very code path a real account does, over real HTTP.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from garminconnect import (
    Garmin,
    GarminConnectAuthenticationError,
    GarminConnectConnectionError,
    GarminConnectNotFoundError,
    GarminConnectTooManyRequestsError,
)

from garmin_pipeline.errors import (
    EndpointUnavailableError,
    MalformedPayloadError,
    RateLimitedError,
    SourceAuthError,
    SourceUnavailableError,
)
from garmin_pipeline.settings import Settings
from garmin_pipeline.sources import CONNECT, profile_zone
from garmin_pipeline.sources.breaker import CircuitBreaker
from garmin_pipeline.sources.connect import tokens
from garmin_pipeline.sources.connect.credentials import Credentials, unattended_credentials
from garmin_pipeline.sources.connect.refusal import CredentialRefusedError, Refusals
from garmin_pipeline.sources.connect.session import connect_client
from garmin_pipeline.sources.connect.tokens import StoreLock, TokenStoreError, refuse_legacy_store
from garmin_pipeline.sources.gate import RequestGate
from garmin_pipeline.sources.governor import GovernedAdapter, RateGovernor

log = logging.getLogger(__name__)
T = TypeVar("T")

LOGIN_HINT = "run `garmin-pipeline login` to store fresh tokens"


class ConnectSource:
    """A logged-in Garmin Connect session; every request passes the rate governor."""

    def __init__(
        self,
        settings: Settings,
        governor: RateGovernor | None = None,
        breaker: CircuitBreaker | None = None,
        interactive: bool = False,
    ) -> None:
        """`interactive`: the session of `garmin-pipeline login`, which a recorded refusal does
        not stop (logging in again is how it is cleared) and which records none."""
        self.settings = settings
        self.gate = RequestGate.from_settings(
            settings,
            "connect",
            "Garmin",
            governor,
            breaker,
            advice=", do not log in again",
        )
        self.governor, self.breaker = self.gate.governor, self.gate.breaker
        self.interactive = interactive
        self.refusals = Refusals(settings, CONNECT)
        self._store_lock: StoreLock | None = None
        self._garmin: Garmin | None = None
        self._adapter: GovernedAdapter | None = None

    @property
    def garmin(self) -> Garmin:
        if self._garmin is None:
            self._garmin = self._login()
        return self._garmin

    @property
    def display_name(self) -> str:
        return str(self.garmin.display_name)

    @property
    def store_lock(self) -> StoreLock:
        """The token store's lock, one object per session (it is reentrant only for itself)."""
        if self._store_lock is None:
            self._store_lock = StoreLock(tokens.token_file(self.settings.token_store))
        return self._store_lock

    def _check_refused(self) -> None:
        """Stop before sending anything once Garmin refused this account's credentials, in
        this run or an earlier one (until `garmin-pipeline login`)."""
        if not self.interactive:
            self.refusals.check()

    def _refuse(self, what: str, advice: str | None = None) -> CredentialRefusedError:
        """Remember, for this run and on disk, that Garmin refused `what`."""
        return self.refusals.remember(what, advice)

    def _login(self) -> Garmin:
        """Log in with the stored tokens; when they are missing or refused, log in again with
        unattended credentials (environment or keyring) if there are any and no MFA is asked.

        Under the token store's lock, so that concurrent syncs log in (and refresh) one after
        the other, each from what the previous one stored; a refusal is recorded before the
        lock is released, so the next one sends nothing."""
        self._check_refused()
        refuse_legacy_store(self.settings.token_store)
        token_file = tokens.token_file(self.settings.token_store)
        if not _present(token_file) and unattended_credentials() is None:
            raise SourceAuthError(f"no Garmin tokens at {token_file}: {LOGIN_HINT}")
        with self.store_lock:
            self._check_refused()
            return self._login_holding_lock(token_file)

    def _login_holding_lock(self, token_file: Path) -> Garmin:
        refused: SourceAuthError | None = None
        if _present(token_file):
            try:
                return self._token_login(token_file)
            except (RateLimitedError, TokenStoreError):
                raise  # never a credential login after a 429; an unsafe store: nothing sent
            except SourceAuthError as error:
                if self.governor.rate_limited:  # never a credential login after a 429
                    raise
                refused = error
        credentials = unattended_credentials()
        if credentials is None:
            if refused is not None:
                raise self._refuse("the stored tokens") from refused
            raise SourceAuthError(f"no Garmin tokens at {token_file}: {LOGIN_HINT}")
        try:
            self._relogin(credentials, "the stored tokens were refused" if refused else "no tokens")
        except CredentialRefusedError:
            raise
        except SourceAuthError:
            if refused is not None and not self.governor.rate_limited:
                self._refuse("the stored tokens")  # and the account asks for MFA
            raise
        return self._token_login(token_file)

    def _token_login(self, token_file: Path) -> Garmin:
        """Log in with the stored tokens, read by us (checked, never through a symbolic link)
        and handed to garminconnect as JSON: it then never writes the store itself."""
        stored = tokens.read_tokens(token_file)
        if stored is None:
            raise SourceAuthError(f"no Garmin tokens at {token_file}: {LOGIN_HINT}")
        garmin, self._adapter = connect_client(self.settings, self.governor, lock=self.store_lock)
        self._call("login", lambda: garmin.login(tokenstore=json.dumps(stored)))
        self._adapter.display_name = garmin.display_name
        log.info("logged in to Garmin Connect as %s", garmin.display_name)
        return garmin

    def _relogin(self, credentials: Credentials, why: str) -> None:
        """One unattended credential login (through `_call`, so never after a 429) that stores
        new tokens; an account that asks for MFA needs `garmin-pipeline login` instead. A
        refusal is remembered: no other feed or run sends these credentials again."""
        store = self.settings.token_store
        if tokens.mfa_required(store):
            raise SourceAuthError(
                f"{why} and this Garmin account asks for an MFA code at login, which an "
                "unattended sync cannot give: run `garmin-pipeline login`"
            )
        log.info("%s; logging in again with the credentials from %s", why, credentials.source)
        try:
            garmin, mfa_state = self.sign_in(
                credentials.email, credentials.password, "credential login"
            )
        except RateLimitedError:
            raise
        except SourceAuthError as error:
            if self.governor.rate_limited:
                raise
            raise self._refuse(
                f"the e-mail or password from {credentials.source}",
                f"check them and run `{self.refusals.login}`",
            ) from error
        if mfa_state is not None:
            tokens.remember_mfa(store, True)
            raise SourceAuthError(
                f"{why} and Garmin asks this account for an MFA code, which an unattended "
                "sync cannot give: run `garmin-pipeline login`"
            )
        written = tokens.write_token_file(store, garmin.client.dumps())
        log.info("stored new Garmin tokens in %s", written)

    def sign_in(
        self, email: str, password: str, what: str = "login"
    ) -> tuple[Garmin, dict[str, Any] | None]:
        """One credential login through the call gate: the client, and the MFA state when
        Garmin asks for a code (None when the login is complete)."""
        garmin, _ = connect_client(self.settings, self.governor, email, password)
        status, state = self._call(what, garmin.login)
        return garmin, (state if status == "needs_mfa" else None)

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """Every request (token refresh and login included) passes the gate: breaker first.
        Refused tokens once logged in are remembered like a refused login."""
        self._check_refused()
        try:
            return self.gate.call(
                what,
                call,
                self._translated,
                is_429=lambda error: isinstance(error, GarminConnectTooManyRequestsError),
            )
        except (CredentialRefusedError, TokenStoreError):
            raise
        except SourceAuthError as error:
            logged_in = self._garmin is not None
            if logged_in and not self.interactive and not self.governor.rate_limited:
                raise self._refuse("the stored tokens") from error
            raise

    def _translated(self, what: str, error: Exception) -> Exception | None:
        """garminconnect's errors as ours, each one line that says what to do (None: as is)."""
        status, body = self.governor.last_response()
        if status == 200 and _caused_by(error, json.JSONDecodeError):
            # garminconnect wraps the JSONDecodeError of `.json()` in a "connection error".
            return MalformedPayloadError(
                f"Garmin sent a body that is not JSON for {what}; kept in quarantine, "
                "fetched again next sync",
                body=body or b"",
            )
        if isinstance(error, GarminConnectAuthenticationError):
            return SourceAuthError(f"Garmin rejected the stored tokens during {what}: {LOGIN_HINT}")
        if isinstance(error, GarminConnectNotFoundError):
            endpoint = self.governor.last_endpoint() or what
            return EndpointUnavailableError(
                f"Garmin answered 404 Not Found for {endpoint} ({what}): the endpoint may have "
                "been removed or renamed; the next sync tries it again, and if it stays so, "
                "update garmin-pipeline or pin the feed to the other source "
                "(GARMIN_FEED_SOURCES)"
            )
        if isinstance(error, GarminConnectConnectionError):
            return SourceUnavailableError(
                f"Garmin Connect failed during {what} after retries ({error}); "
                "try again later, already-synced data is kept"
            )
        return None

    def json(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call the `garminconnect.Garmin` method named `method`; `what` names it in errors."""
        return self._call(what, lambda: getattr(self.garmin, method)(*args, **kwargs))

    def download(self, what: str, method: str, day: date) -> bytes:
        """A binary download for a day, e.g. `download_health_snapshot` (the wellness zip)."""
        return self._call(what, lambda: getattr(self.garmin, method)(day.isoformat()))

    @property
    def profile_id(self) -> int:
        return int(self.garmin.profile_id or 0)

    @cached_property
    def timezone(self) -> ZoneInfo:
        """The profile's timezone: Garmin's calendar days are its days, not the host's."""
        name = self._call("profile timezone", self.garmin.get_user_timezone)
        return profile_zone(name)

    @cached_property
    def last_upload(self) -> datetime | None:
        """When the account's devices last uploaded anything (None if Garmin does not say)."""
        device = self._call("last device upload", self.garmin.get_device_last_used) or {}
        stamp = device.get("lastUsedDeviceUploadTime") if isinstance(device, dict) else None
        return datetime.fromtimestamp(stamp / 1000, UTC) if isinstance(stamp, int) else None

    def activity_list(self, first: date, last: date) -> list[dict[str, Any]]:
        """Every activity that started (local time) between the two days, one paginated walk."""
        return self._call(
            f"activity list {first}..{last}",
            lambda: self.garmin.get_activities_by_date(
                first.isoformat(), last.isoformat(), sortorder="asc"
            ),
        )

    def activity_original(self, activity_id: int) -> bytes:
        """The ORIGINAL download: a zip holding the FIT file the device uploaded."""
        return self._call(
            f"download of activity {activity_id}",
            lambda: self.garmin.download_activity(
                str(activity_id), dl_fmt=Garmin.ActivityDownloadFormat.ORIGINAL
            ),
        )


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is anywhere in the chain of causes behind `error`."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _present(path: Path) -> bool:
    """Whether there is a token file, a dangling symbolic link included (refused when read)."""
    return path.is_symlink() or path.exists()
