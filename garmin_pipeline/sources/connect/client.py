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
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from garminconnect import (
    Garmin,
    GarminConnectAuthenticationError,
    GarminConnectConnectionError,
    GarminConnectTooManyRequestsError,
)
from garminconnect.client.tokens import token_file_path

from garmin_pipeline.errors import RateLimitedError, SourceAuthError, SourceUnavailableError
from garmin_pipeline.settings import Settings
from garmin_pipeline.sources.connect.governor import GovernedAdapter, RateGovernor

log = logging.getLogger(__name__)
T = TypeVar("T")

DI_TOKEN_PATH = "/di-oauth2-service/oauth/token"
LOGIN_HINT = "run `garmin-pipeline login` to store fresh tokens"


def canonical_json(payload: Any) -> bytes:
    """JSON as received, re-serialised without reordering, so equal content hashes equal."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ConnectSource:
    """A logged-in Garmin Connect session; every request passes the rate governor."""

    def __init__(self, settings: Settings, governor: RateGovernor | None = None) -> None:
        self.settings = settings
        self.governor = governor or RateGovernor(settings.request_interval_s)
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

    def _login(self) -> Garmin:
        token_file = token_file_path(str(self.settings.token_store))
        if not token_file.exists():
            raise SourceAuthError(f"no Garmin tokens at {token_file}: {LOGIN_HINT}")
        # Retries belong to our adapter (counted, bounded); garminconnect's own would double them.
        garmin = Garmin(retry_attempts=0)
        self._adapter = GovernedAdapter(self.governor, base_url=self.settings.api_url)
        garmin.client._api_session.mount("https://", self._adapter)
        garmin.client._api_session.mount("http://", self._adapter)
        if self.settings.api_url:
            # The DI token refresh is a separate curl_cffi POST that ignores the session.
            garmin.client._di_token_url = self.settings.api_url + DI_TOKEN_PATH
        self._call("login", lambda: garmin.login(tokenstore=str(self.settings.token_store)))
        self._adapter.display_name = garmin.display_name
        log.info("logged in to Garmin Connect as %s", garmin.display_name)
        return garmin

    def _call(self, what: str, call: Callable[[], T]) -> T:
        if self.governor.rate_limited:
            raise RateLimitedError(
                f"skipped {what}: Garmin answered 429 earlier in this sync; wait a few hours"
            )
        try:
            return call()
        except GarminConnectTooManyRequestsError as error:
            self.governor.rate_limited = True
            raise RateLimitedError(
                f"Garmin answered 429 Too Many Requests during {what}; stopped without "
                "retrying. Wait a few hours before syncing again (do not log in again)."
            ) from error
        except GarminConnectAuthenticationError as error:
            raise SourceAuthError(
                f"Garmin rejected the stored tokens during {what}: {LOGIN_HINT}"
            ) from error
        except GarminConnectConnectionError as error:
            raise SourceUnavailableError(
                f"Garmin Connect failed during {what} after retries ({error}); "
                "try again later, already-synced data is kept"
            ) from error

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
        try:
            return ZoneInfo(name) if name else ZoneInfo("UTC")
        except (ValueError, ZoneInfoNotFoundError):
            log.warning("unknown profile timezone %r; using UTC", name)
            return ZoneInfo("UTC")

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
