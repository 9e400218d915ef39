"""Helpers every emulator endpoint module shares: Garmin-style JSON, errors and parameters.

Endpoint modules (``server`` for the core paths, ``stats_routes``, ``metrics_routes``,
``wellness_routes`` for the domains) each export ``ROUTES``; ``server`` mounts them all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from garmin_emulator.athlete import SyntheticAthlete

if TYPE_CHECKING:
    from garmin_emulator.accounts import Account

JSON_TYPE = "application/json;charset=UTF-8"
# The request scope's key for the account a request is for: set by the gate from the bearer
# token or API key, by the SSO and token endpoints once they know it; read back for the log.
ACCOUNT_KEY = "garmin_emulator.account"


class BadRequest(Exception):
    """Raised inside an endpoint; `handled` answers it as Garmin's JSON error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(body: Any, status: int = 200) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(content, status_code=status, media_type=JSON_TYPE)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps({"message": message}).encode("utf-8"),
        status_code=status,
        media_type=JSON_TYPE,
        headers=headers,
    )


def account_of(request: Request) -> Account:
    """The account the request's credential names (on a data path, the gate verified it)."""
    return request.app.state.emulator.account(request.scope.get(ACCOUNT_KEY))


def athlete_of(request: Request) -> SyntheticAthlete:
    return account_of(request).athlete


def set_account(request: Request, account: str | None) -> None:
    """Attribute the request to ``account`` (in the request log), once an endpoint knows it."""
    request.scope[ACCOUNT_KEY] = account


def listed_activity(request: Request) -> tuple[SyntheticAthlete, str]:
    """The athlete and the path's activity id; 404 for an activity its list does not show."""
    athlete = athlete_of(request)
    activity_id = request.path_params["activity_id"]
    if not athlete.listed(activity_id):
        raise BadRequest(404, f"Activity {activity_id} not found")
    return athlete, activity_id


def iso_date(value: str | None, name: str) -> date:
    if not value:
        raise BadRequest(400, f"{name} is required")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(400, f"{name} must be YYYY-MM-DD, got {value!r}") from None


def int_param(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequest(400, f"{name} must be an integer, got {value!r}") from None


def date_range(first: date, last: date, max_days: int) -> list[date]:
    """The inclusive range, refused like Garmin refuses ranges over an endpoint's cap."""
    if last < first:
        raise BadRequest(400, f"end date {last} is before start date {first}")
    days = (last - first).days + 1
    if days > max_days:
        raise BadRequest(400, f"date range of {days} days exceeds the limit of {max_days}")
    return [first + timedelta(days=n) for n in range(days)]


def path_days(request: Request, max_days: int) -> list[date]:
    """The days of a `.../{start}/{end}` path, refused over the endpoint's cap."""
    first = iso_date(request.path_params["start"], "start date")
    last = iso_date(request.path_params["end"], "end date")
    return date_range(first, last, max_days)


def query_days(
    request: Request, max_days: int, first: str = "startDate", last: str = "endDate"
) -> list[date]:
    """The days between two query parameters, refused over the endpoint's cap."""
    params = request.query_params
    return date_range(
        iso_date(params.get(first), first), iso_date(params.get(last), last), max_days
    )


def owner(request: Request) -> SyntheticAthlete:
    """The athlete, if the display name in the path is theirs (Garmin answers 403 otherwise)."""
    athlete = athlete_of(request)
    if request.path_params.get("display_name") != athlete.display_name:
        raise BadRequest(403, "Forbidden")
    return athlete


def handled(endpoint: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """Turn `BadRequest` into Garmin-style JSON errors, keeping the endpoint synchronous."""

    def wrapper(request: Request) -> Response:
        try:
            return endpoint(request)
        except BadRequest as error:
            return error_response(error.status, error.message)

    wrapper.__name__ = endpoint.__name__
    wrapper.__doc__ = endpoint.__doc__
    return wrapper
