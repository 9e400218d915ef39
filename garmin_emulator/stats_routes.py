"""Range endpoints for daily statistics, weigh-ins and Body Battery (bodies in `stats_shapes`).

Each refuses a window longer than its cap with HTTP 400, as Garmin does, so a feed that asks
for too much fails loudly in tests instead of silently costing fewer requests than it would
against Garmin. Caps: 28 days (garminconnect's documented limit for the usersummary stats,
and the page size garth uses for stress and HRV), a year for resting heart rate
(``get_rhr_daily``: "up to ~1 year").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from garmin_emulator import stats_shapes
from garmin_emulator.athlete import SyntheticAthlete
from garmin_emulator.http import (
    athlete_of,
    handled,
    json_response,
    owner,
    path_days,
    query_days,
)

RANGE_CAP_DAYS = 28
RHR_CAP_DAYS = 365

Body = Callable[[SyntheticAthlete, Sequence[date]], Any]


def _path_range(body: Body, cap: int = RANGE_CAP_DAYS) -> Callable[[Request], Response]:
    """An endpoint `.../{start}/{end}` answering `body(athlete, days)`."""

    @handled
    def endpoint(request: Request) -> Response:
        return json_response(body(athlete_of(request), path_days(request, cap)))

    endpoint.__name__ = body.__name__
    return endpoint


def daily_summaries_capped(cap: int) -> Callable[[Request], Response]:
    """`/usersummary-service/v2/dailysummaries?startDate&endDate` refusing more than `cap` days
    (Connect's 28, the Personal API's 35)."""

    @handled
    def daily_summaries(request: Request) -> Response:
        days = query_days(request, cap)
        return json_response(stats_shapes.daily_summaries(athlete_of(request), days))

    return daily_summaries


def hrv_range_capped(cap: int) -> Callable[[Request], Response]:
    """`/hrv-service/hrv/daily/{start}/{end}` refusing more than `cap` days; 204 without data."""

    @handled
    def hrv_range(request: Request) -> Response:
        body = stats_shapes.hrv_range(athlete_of(request), path_days(request, cap))
        return Response(status_code=204) if body is None else json_response(body)

    return hrv_range


@handled
def resting_heart_rate(request: Request) -> Response:
    athlete = owner(request)
    days = query_days(request, RHR_CAP_DAYS, "fromDate", "untilDate")
    metric_ids = request.query_params.getlist("metricId")
    return json_response(stats_shapes.resting_heart_rate(athlete, days, metric_ids))


@handled
def body_composition(request: Request) -> Response:
    days = query_days(request, RANGE_CAP_DAYS)
    return json_response(stats_shapes.body_composition(athlete_of(request), days))


@handled
def weight_range(request: Request) -> Response:
    """``includeAll`` is accepted and ignored: every weigh-in of a day is always listed."""
    days = path_days(request, RANGE_CAP_DAYS)
    return json_response(stats_shapes.weight_range(athlete_of(request), days))


@handled
def body_battery_reports(request: Request) -> Response:
    days = query_days(request, RANGE_CAP_DAYS)
    return json_response(stats_shapes.body_battery_reports(athlete_of(request), days))


_STATS = "/usersummary-service/stats"
ROUTES: list[Route] = [
    Route("/usersummary-service/v2/dailysummaries", daily_summaries_capped(RANGE_CAP_DAYS)),
    Route(f"{_STATS}/steps/daily/{{start}}/{{end}}", _path_range(stats_shapes.daily_steps)),
    Route(f"{_STATS}/floors/daily/{{start}}/{{end}}", _path_range(stats_shapes.daily_floors)),
    Route(
        f"{_STATS}/im/daily/{{start}}/{{end}}",
        _path_range(stats_shapes.daily_intensity_minutes),
    ),
    Route(f"{_STATS}/stress/daily/{{start}}/{{end}}", _path_range(stats_shapes.daily_stress)),
    Route(
        f"{_STATS}/respiration/daily/{{start}}/{{end}}",
        _path_range(stats_shapes.daily_respiration),
    ),
    Route(f"{_STATS}/hydration/daily/{{start}}/{{end}}", _path_range(stats_shapes.daily_hydration)),
    Route("/userstats-service/wellness/daily/{display_name}", resting_heart_rate),
    Route("/hrv-service/hrv/daily/{start}/{end}", hrv_range_capped(RANGE_CAP_DAYS)),
    Route("/weight-service/weight/dateRange", body_composition),
    Route("/weight-service/weight/range/{start}/{end}", weight_range),
    Route("/wellness-service/wellness/bodyBattery/reports/daily", body_battery_reports),
]
