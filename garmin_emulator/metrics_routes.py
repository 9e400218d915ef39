"""Emulator endpoints for training, fitness, devices and gear (bodies in `metrics_shapes`).

Range endpoints refuse a range over their cap with 400, as Garmin refuses long ranges; the feeds
use windows equal to these caps. Garmin documents none of them except race predictions (one
year, which garminconnect enforces); the others are 28 days, the cap third-party clients report
for fitness age and the widest the recorded range calls used.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from garmin_emulator import metrics_shapes as shapes
from garmin_emulator.http import (
    BadRequest,
    athlete_of,
    handled,
    json_response,
    owner,
    path_days,
    query_days,
)

READINESS_MAX_DAYS = 28
TRAINING_STATUS_MAX_DAYS = 28
MAX_METRICS_MAX_DAYS = 28
FITNESS_AGE_MAX_DAYS = 28
RACE_PREDICTIONS_MAX_DAYS = 366
ENDURANCE_SCORE_MAX_DAYS = 28
HILL_SCORE_MAX_DAYS = 28


def _daily_aggregation(request: Request) -> None:
    aggregation = request.query_params.get("aggregation", "daily")
    if aggregation != "daily":
        raise BadRequest(400, f"the emulator serves aggregation=daily only, got {aggregation!r}")


@handled
def training_readiness(request: Request) -> Response:
    days = path_days(request, READINESS_MAX_DAYS)
    return json_response(shapes.training_readiness(athlete_of(request), days))


@handled
def weekly_training_status(request: Request) -> Response:
    athlete = owner(request)
    days = query_days(request, TRAINING_STATUS_MAX_DAYS, "fromCalendarDate", "toCalendarDate")
    return json_response(shapes.weekly_training_status(athlete, days))


@handled
def max_metrics(request: Request) -> Response:
    days = path_days(request, MAX_METRICS_MAX_DAYS)
    return json_response(shapes.max_metrics(athlete_of(request), days))


@handled
def fitness_age_daily(request: Request) -> Response:
    days = path_days(request, FITNESS_AGE_MAX_DAYS)
    return json_response(shapes.fitness_age_daily(athlete_of(request), days))


@handled
def race_predictions(request: Request) -> Response:
    athlete = owner(request)
    if request.path_params["kind"] != "daily":
        raise BadRequest(400, "the emulator serves daily race predictions only")
    days = query_days(request, RACE_PREDICTIONS_MAX_DAYS, "fromCalendarDate", "toCalendarDate")
    return json_response(shapes.race_predictions(athlete, days))


@handled
def endurance_score_stats(request: Request) -> Response:
    _daily_aggregation(request)
    days = query_days(request, ENDURANCE_SCORE_MAX_DAYS, "startDate", "endDate")
    return json_response(shapes.endurance_score_stats(athlete_of(request), days))


@handled
def hill_score_stats(request: Request) -> Response:
    _daily_aggregation(request)
    days = query_days(request, HILL_SCORE_MAX_DAYS, "startDate", "endDate")
    return json_response(shapes.hill_score_stats(athlete_of(request), days))


@handled
def devices(request: Request) -> Response:
    return json_response(shapes.devices(athlete_of(request)))


@handled
def gear(request: Request) -> Response:
    athlete = athlete_of(request)
    if request.query_params.get("userProfilePk") != str(athlete.profile.profile_id):
        raise BadRequest(403, "Forbidden")
    return json_response(shapes.gear(athlete))


@handled
def gear_stats(request: Request) -> Response:
    body = shapes.gear_stats(athlete_of(request), request.path_params["uuid"])
    if body is None:
        raise BadRequest(404, f"Gear {request.path_params['uuid']} not found")
    return json_response(body)


ROUTES: list[Route] = [
    Route("/metrics-service/metrics/trainingreadiness/{start}/{end}", training_readiness),
    Route("/metrics-service/metrics/trainingstatus/weekly/{display_name}", weekly_training_status),
    Route("/metrics-service/metrics/maxmet/daily/{start}/{end}", max_metrics),
    Route("/fitnessage-service/stats/daily/{start}/{end}", fitness_age_daily),
    Route("/metrics-service/metrics/racepredictions/{kind}/{display_name}", race_predictions),
    Route("/metrics-service/metrics/endurancescore/stats", endurance_score_stats),
    Route("/metrics-service/metrics/hillscore/stats", hill_score_stats),
    Route("/device-service/deviceregistration/devices", devices),
    Route("/gear-service/gear/filterGear", gear),
    Route("/gear-service/gear/stats/{uuid}", gear_stats),
]
