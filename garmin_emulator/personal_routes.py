"""Garmin's official Personal API, served by the same emulator under ``/personal-api``.

Garmin's ``garmin_personal_api`` client reads ``{base}/personalapitoken-service/...`` for a
bearer token (see ``personal_auth``), then GETs the paths below; point its base URL at
``Emulator.personal_api_url``. The routes are an allow-list: anything else under the prefix is
a 404. Paths Garmin Connect also serves answer with the Connect endpoint itself (same handler,
same body, same cap) or with the same shape function under the Personal API's own cap, so the
two sources always agree on an athlete's day.

Shapes: none of the Personal API's answers is recorded anywhere we have. Shared paths are
assumed to answer like Connect's. ``dailySleep`` is assumed to be Connect's per-night
``dailySleepData`` body. The real shape of ``dailySleepSummariesByDate`` is not recorded either:
the emulator assumes a JSON list of Garmin's per-night ``dailySleepData`` objects, one per night
of the window (no-data nights included), each ``dailySleepDTO.calendarDate`` naming its night. SpO2
acclimation, fitness age v2, profile settings, heart-rate zones v2 and the activity summary
follow the recorded Connect bodies nearest to them (named in each builder's docstring) and take
their values from what Connect serves for the same athlete.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from garmin_emulator import metrics_shapes
from garmin_emulator.activity import HR_ZONE_FLOORS
from garmin_emulator.athlete import SyntheticAthlete
from garmin_emulator.determinism import stable_hex
from garmin_emulator.http import (
    account_of,
    athlete_of,
    error_response,
    handled,
    iso_date,
    json_response,
    listed_activity,
    query_days,
)
from garmin_emulator.stats_routes import daily_summaries_capped, hrv_range_capped
from garmin_emulator.timefmt import iso_tenths

PREFIX = "/personal-api"
TOKEN_PATH = f"{PREFIX}/personalapitoken-service/personal-api/personal-api-key/token"
DAILY_SUMMARIES_CAP_DAYS = 35  # Connect's copy caps at 28
HRV_RANGE_CAP_DAYS = 35
SLEEP_SUMMARIES_CAP_DAYS = 31

# Served by the Connect endpoint itself, under its cap (28 days for each range).
SHARED_PATHS = (
    "/usersummary-service/stats/stress/daily/{start}/{end}",
    "/usersummary-service/stats/steps/daily/{start}/{end}",
    "/usersummary-service/stats/hydration/daily/{start}/{end}",
    "/wellness-service/wellness/bodyBattery/reports/daily",
    "/weight-service/weight/range/{start}/{end}",
    "/hrv-service/hrv/{day}",
    "/activitylist-service/activities/search/activities",
    "/download-service/files/activity/{activity_id:int}",
)


def is_personal(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


# ---------------------------------------------------------------------- bodies
def sleep_summaries(athlete: SyntheticAthlete, days: Sequence[date]) -> list[dict[str, Any]]:
    """GET /sleep-service/sleep/dailySleepSummariesByDate (assumed, see the module docstring):
    Connect's per-night body for every night of the window, no-data nights included (their
    ``dailySleepDTO`` carries the ``calendarDate`` too)."""
    return [athlete.sleep(day) for day in days]


def spo2_acclimation(athlete: SyntheticAthlete, day: date) -> dict[str, Any]:
    """GET /wellness-service/wellness/daily/spo2acclimation/{date} (not recorded): the daily
    summary's SpO2 values under the upper-case ``SPO2`` spelling of Connect's sleep SpO2 DTO;
    null-valued on a day the summary has none. The athlete never travels, so no acclimation."""
    s = athlete.daily_summary(day)
    return {
        "userProfilePK": athlete.profile.profile_id,
        "calendarDate": day.isoformat(),
        "averageSPO2": s["averageSpo2"],
        "lowestSPO2": s["lowestSpo2"],
        "latestSPO2": s["latestSpo2"],
        "latestSPO2TimestampGMT": s["latestSpo2ReadingTimeGmt"],
        "latestSPO2TimestampLocal": s["latestSpo2ReadingTimeLocal"],
        "averageAltitude": s["averageMonitoringEnvironmentAltitude"],
        "acclimationPercentage": None,
        "acclimationState": None,
    }


def fitness_age(athlete: SyntheticAthlete, day: date) -> dict[str, Any] | None:
    """GET /fitnessage-service/fitnessage/v2/{date} (not recorded; garminconnect's
    ``get_fitnessage_data`` keys): the ``fitnessage-service/stats/daily`` row of that day as
    ``fitnessAge`` and ``components``, ``previousFitnessAge`` the row of a week before; None
    (HTTP 204) for a day that range leaves out."""
    week_ago = day - timedelta(days=7)
    rows = {
        row["calendarDate"]: row["values"]
        for row in metrics_shapes.fitness_age_daily(athlete, [week_ago, day])
    }
    values = rows.get(day.isoformat())
    if values is None:
        return None
    previous = rows.get(week_ago.isoformat())
    return {
        "chronologicalAge": int(metrics_shapes.metrics_of(athlete).age_years(day)),
        "fitnessAge": values["fitnessAge"],
        "achievableFitnessAge": values["achievableFitnessAge"],
        "previousFitnessAge": None if previous is None else previous["fitnessAge"],
        "components": {
            "vigorousDaysAvg": {"value": values["vigorousDaysAvg"]},
            "rhr": {"value": values["rhr"]},
            "bmi": {"value": values["bmi"]},
        },
        "lastUpdated": iso_tenths(athlete.clock.utc_to_local(athlete.night(day).end_utc)),
    }


def profile_settings(athlete: SyntheticAthlete) -> dict[str, Any]:
    """GET /userprofile-service/userprofile/settings (not recorded): Connect's ``user-settings``
    body plus the ``timeZone`` its ``personal-information`` gives."""
    return {**athlete.user_settings(), "timeZone": athlete.personal_information()["timeZone"]}


def heart_rate_zones(athlete: SyntheticAthlete) -> list[dict[str, Any]]:
    """GET /biometric-service/heartRateZones/v2 (items as the recorded
    ``/biometric-service/heartRateZones``, garth core/test_put.yaml): the %-of-max zones the
    activities' ``hrTimeInZone`` uses, so a floor is the lowest bpm counted in its zone."""
    p = athlete.profile
    floors = {f"zone{n}Floor": math.ceil(f * p.max_hr) for n, f in enumerate(HR_ZONE_FLOORS, 1)}
    return [
        {
            "trainingMethod": "HR_MAX",
            "restingHeartRateUsed": p.rest_hr_base,
            "lactateThresholdHeartRateUsed": None,
            **floors,
            "maxHeartRateUsed": p.max_hr,
            "restingHrAutoUpdateUsed": False,
            "sport": "DEFAULT",
            "changeState": "UNCHANGED",
        }
    ]


# Activity-list keys that the recorded activity summaryDTO carries too, and their names there.
_SUMMARY_KEYS = {
    key: key
    for key in (
        "startLatitude",
        "startLongitude",
        "distance",
        "duration",
        "movingDuration",
        "elapsedDuration",
        "elevationGain",
        "elevationLoss",
        "maxElevation",
        "minElevation",
        "averageSpeed",
        "maxSpeed",
        "calories",
        "bmrCalories",
        "averageHR",
        "maxHR",
        "anaerobicTrainingEffect",
        "aerobicTrainingEffectMessage",
        "anaerobicTrainingEffectMessage",
        "endLatitude",
        "endLongitude",
        "maxVerticalSpeed",
        "waterEstimated",
        "trainingEffectLabel",
        "activityTrainingLoad",
        "minActivityLapDuration",
        "moderateIntensityMinutes",
        "vigorousIntensityMinutes",
        "steps",
        "differenceBodyBattery",
    )
} | {
    "aerobicTrainingEffect": "trainingEffect",
    "averageRunningCadenceInStepsPerMinute": "averageRunCadence",
    "maxRunningCadenceInStepsPerMinute": "maxRunCadence",
    "avgPower": "averagePower",
    "maxPower": "maxPower",
    "normPower": "normalizedPower",
}


def activity_summary(athlete: SyntheticAthlete, activity_id: int) -> dict[str, Any]:
    """GET /activity-service/activity/{id} (garth data/test_activity_get.yaml, trimmed to the
    DTOs and summary values): every value is the activity list item's, renamed as recorded."""
    a = athlete.plan(activity_id)  # the start times (a recorded file has no SyntheticActivity)
    if a is None:
        raise KeyError(f"no activity {activity_id}")
    item = athlete.activity_list_item(activity_id)
    p = athlete.profile
    summary = {
        "startTimeLocal": iso_tenths(a.start_time_local),
        "startTimeGMT": iso_tenths(a.start_time_utc.replace(tzinfo=None)),
        **{name: item[key] for key, name in _SUMMARY_KEYS.items() if key in item},
    }
    return {
        "activityId": activity_id,
        "activityUUID": {"uuid": _uuid(athlete, activity_id)},
        "activityName": item["activityName"],
        "userProfileId": p.profile_id,
        "isMultiSportParent": False,
        "activityTypeDTO": item["activityType"],
        "eventTypeDTO": item["eventType"],
        "accessControlRuleDTO": item["privacy"],
        "timeZoneUnitDTO": {
            "unitId": athlete.clock.garmin_id,
            "unitKey": p.timezone,
            "factor": 0.0,
            "timeZone": p.timezone,
        },
        "metadataDTO": {
            "isOriginal": True,
            "fileFormat": {"formatId": 7, "formatKey": "fit"},
            "hasPolyline": item["hasPolyline"],
            "manufacturer": item["manufacturer"],
            "lapCount": item["lapCount"],
            "hasSplits": item["hasSplits"],
            "manualActivity": False,
        },
        "summaryDTO": summary,
        "locationName": item.get("locationName"),
    }


def _uuid(athlete: SyntheticAthlete, activity_id: int) -> str:
    h = stable_hex(athlete.seed, "activity uuid", activity_id)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


# ---------------------------------------------------------------------- endpoints
async def token(request: Request) -> Response:
    """POST the ``ApiKey`` header, get the bare JWT back as text (401 JSON when refused). The
    gate found the account holding the key; a key no account holds gets the primary's answer
    (missing or invalid key)."""
    issued, reason = account_of(request).personal_api.exchange(request.headers.get("authorization"))
    if issued is None:
        return error_response(401, reason)
    return Response(issued, media_type="text/plain")


def _day(request: Request) -> date:
    return iso_date(request.query_params.get("date"), "date")


@handled
def daily_sleep(request: Request) -> Response:
    return json_response(athlete_of(request).sleep(_day(request)))


@handled
def daily_sleep_summaries(request: Request) -> Response:
    days = query_days(request, SLEEP_SUMMARIES_CAP_DAYS)
    return json_response(sleep_summaries(athlete_of(request), days))


@handled
def daily_heart_rate(request: Request) -> Response:
    return json_response(athlete_of(request).heart_rate(_day(request)))


@handled
def daily_spo2(request: Request) -> Response:
    day = iso_date(request.path_params["day"], "date")
    return json_response(spo2_acclimation(athlete_of(request), day))


@handled
def fitness_age_v2(request: Request) -> Response:
    body = fitness_age(athlete_of(request), iso_date(request.path_params["day"], "date"))
    return Response(status_code=204) if body is None else json_response(body)


@handled
def user_profile_settings(request: Request) -> Response:
    return json_response(profile_settings(athlete_of(request)))


@handled
def heart_rate_zones_v2(request: Request) -> Response:
    return json_response(heart_rate_zones(athlete_of(request)))


@handled
def activity(request: Request) -> Response:
    athlete, activity_id = listed_activity(request)
    return json_response(activity_summary(athlete, activity_id))


_OWN: list[tuple[str, Callable[[Request], Response]]] = [
    ("/usersummary-service/v2/dailysummaries", daily_summaries_capped(DAILY_SUMMARIES_CAP_DAYS)),
    ("/hrv-service/hrv/daily/{start}/{end}", hrv_range_capped(HRV_RANGE_CAP_DAYS)),
    ("/sleep-service/sleep/dailySleep", daily_sleep),
    ("/sleep-service/sleep/dailySleepSummariesByDate", daily_sleep_summaries),
    ("/wellness-service/wellness/dailyHeartRate", daily_heart_rate),
    ("/wellness-service/wellness/daily/spo2acclimation/{day}", daily_spo2),
    ("/fitnessage-service/fitnessage/v2/{day}", fitness_age_v2),
    ("/userprofile-service/userprofile/settings", user_profile_settings),
    ("/biometric-service/heartRateZones/v2", heart_rate_zones_v2),
    ("/activity-service/activity/{activity_id:int}", activity),
]


def routes(connect: Sequence[BaseRoute]) -> list[Route]:
    """The Personal API's routes under ``PREFIX``; ``connect`` is the Connect route list, whose
    endpoints serve the ``SHARED_PATHS`` (server.py passes it: its own endpoints live there)."""
    by_path = {route.path: route.endpoint for route in connect if isinstance(route, Route)}
    missing = [path for path in SHARED_PATHS if path not in by_path]
    if missing:
        raise LookupError(f"Connect routes missing for the Personal API: {missing}")
    return [
        Route(TOKEN_PATH, token, methods=["POST"]),
        *(Route(PREFIX + path, by_path[path]) for path in SHARED_PATHS),
        *(Route(PREFIX + path, endpoint) for path, endpoint in _OWN),
    ]
