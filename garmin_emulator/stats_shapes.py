"""Range endpoints' bodies: daily statistics, weigh-ins and Body Battery over a window of days.

Every value is taken from what the athlete already serves per day (``shapes.daily_summary``,
``shapes.hrv``, ``SyntheticAthlete.wellness``/``night``/``rest_hr``), so a range answer always
agrees with the per-day endpoints. The athlete's new facts (weigh-ins, water drunk) are
functions of (seed, day) here, since ``athlete.py`` belongs to the core emulator.

Where a shape was recorded (see ``tests/data/garmin_connect/SOURCES.md``) its keys and types
are mirrored and the recording is named; where none was, the shape follows garminconnect's
method (its docstring and how it reads the answer) and public clients that parse it, and the
builder says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from garmin_emulator import shapes
from garmin_emulator.determinism import clamp, jitter, stable_rng
from garmin_emulator.timefmt import epoch_ms, iso_millis

if TYPE_CHECKING:
    from garmin_emulator.athlete import SyntheticAthlete

WEIGH_IN_WEEKDAYS = (0, 2, 5)  # Monday, Wednesday, Saturday mornings
FLOORS_GOAL = 10
INTENSITY_WEEKLY_GOAL = 150
HYDRATION_BASE_GOAL_ML = 2500.0


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=None)


# ---------------------------------------------------------------------- new athlete facts
@dataclass(frozen=True)
class WeighIn:
    """One smart-scale reading, taken some minutes after waking up."""

    timestamp_utc: datetime
    weight_g: float
    bmi: float
    body_fat_pct: float
    body_water_pct: float
    bone_mass_g: int
    muscle_mass_g: int


def weigh_ins(athlete: SyntheticAthlete, day: date) -> list[WeighIn]:
    """The athlete's weigh-ins on a local day: three mornings a week, none outside history."""
    if not athlete.in_history(day) or day.weekday() not in WEIGH_IN_WEEKDAYS:
        return []
    p = athlete.profile
    rng = stable_rng(p.seed, "weigh-in", day)
    phase = (day.toordinal() % 30) / 15 - 1  # a slow month-long drift of about ±0.8 kg
    weight_kg = round(p.weight_kg + 0.8 * abs(phase) - 0.4 + jitter(rng, 0.4), 1)
    body_fat = round(clamp(17 + jitter(rng, 1.5), 8, 35), 1)
    stamp = (athlete.night(day).end_utc + timedelta(minutes=8 + rng.randrange(25))).replace(
        microsecond=0
    )
    return [
        WeighIn(
            timestamp_utc=stamp,
            weight_g=weight_kg * 1000,
            bmi=round(weight_kg / (p.height_cm / 100) ** 2, 1),
            body_fat_pct=body_fat,
            body_water_pct=round(clamp(60 - 0.5 * (body_fat - 17) + jitter(rng, 0.6), 45, 70), 1),
            bone_mass_g=int(weight_kg * 48 + rng.randrange(-60, 61)),
            muscle_mass_g=int(weight_kg * (100 - body_fat) * 4.6),
        )
    ]


def hydration(athlete: SyntheticAthlete, day: date) -> tuple[float, float] | None:
    """(water logged, goal) in ml; the goal grows with the sweat of the day's activities,
    600 ml an hour like the activity list's ``waterEstimated``."""
    if not athlete.in_history(day):
        return None
    rng = stable_rng(athlete.seed, "hydration", day)
    sweat = sum(int(a.duration_s / 3600 * 600) for a in athlete.wellness(day).activities)
    return float(250 * rng.randrange(4, 13)), HYDRATION_BASE_GOAL_ML + sweat


# ---------------------------------------------------------------------- usersummary stats
def _in_history(athlete: SyntheticAthlete, days: Sequence[date]) -> list[date]:
    return [d for d in days if athlete.in_history(d)]


def daily_summaries(athlete: SyntheticAthlete, days: Sequence[date]) -> dict[str, Any]:
    """GET /usersummary-service/v2/dailysummaries?startDate&endDate (not recorded; garminconnect
    documents ``{"data": [...]}`` with one ``get_user_summary`` body per day): every day of the
    window is listed, a day without data as the per-day endpoint's no-data body."""
    return {"data": [shapes.daily_summary(athlete, d) for d in days]}


def daily_steps(athlete: SyntheticAthlete, days: Sequence[date]) -> list[dict[str, Any]]:
    """GET /usersummary-service/stats/steps/daily/{start}/{end} (garth stats/test_daily_steps)."""
    out = []
    for d in _in_history(athlete, days):
        s = shapes.daily_summary(athlete, d)
        out.append(
            {
                "calendarDate": d.isoformat(),
                "totalSteps": s["totalSteps"],
                "totalDistance": s["totalDistanceMeters"],
                "stepGoal": s["dailyStepGoal"],
            }
        )
    return out


def daily_floors(athlete: SyntheticAthlete, days: Sequence[date]) -> list[dict[str, Any]]:
    """GET /usersummary-service/stats/floors/daily/{start}/{end}: not recorded. The
    ``{calendarDate, values: {...}}`` form is the stress series' (recorded); the value keys are
    the ones public clients read (wellnessFloorsAscended/Descended, ...AscendedGoal)."""
    out = []
    for d in _in_history(athlete, days):
        w = athlete.wellness(d)
        out.append(
            {
                "calendarDate": d.isoformat(),
                "values": {
                    "wellnessFloorsAscended": w.floors_up,
                    "wellnessFloorsDescended": w.floors_down,
                    "wellnessUserFloorsAscendedGoal": FLOORS_GOAL,
                },
            }
        )
    return out


def daily_intensity_minutes(
    athlete: SyntheticAthlete, days: Sequence[date]
) -> list[dict[str, Any]]:
    """GET /usersummary-service/stats/im/daily/{start}/{end}
    (garth stats/test_daily_intensity_minutes)."""
    out = []
    for d in _in_history(athlete, days):
        w = athlete.wellness(d)
        out.append(
            {
                "calendarDate": d.isoformat(),
                "weeklyGoal": INTENSITY_WEEKLY_GOAL,
                "moderateValue": w.moderate_minutes,
                "vigorousValue": w.vigorous_minutes,
            }
        )
    return out


def daily_stress(athlete: SyntheticAthlete, days: Sequence[date]) -> list[dict[str, Any]]:
    """GET /usersummary-service/stats/stress/daily/{start}/{end} (garth stats/test_daily_stress):
    the daily summary's average stress and time per stress band."""
    out = []
    for d in _in_history(athlete, days):
        s = shapes.daily_summary(athlete, d)
        out.append(
            {
                "calendarDate": d.isoformat(),
                "values": {
                    "highStressDuration": s["highStressDuration"],
                    "lowStressDuration": s["lowStressDuration"],
                    "overallStressLevel": s["averageStressLevel"],
                    "restStressDuration": s["restStressDuration"],
                    "mediumStressDuration": s["mediumStressDuration"],
                },
            }
        )
    return out


def daily_respiration(athlete: SyntheticAthlete, days: Sequence[date]) -> list[dict[str, Any]]:
    """GET /usersummary-service/stats/respiration/daily/{start}/{end}: not recorded; garminconnect
    documents "average waking and sleeping respiration per day", public clients read
    ``values.avgWakingRespiration`` and ``values.avgSleepRespiration``. The sleep value is the
    night that ended that morning."""
    out = []
    for d in _in_history(athlete, days):
        out.append(
            {
                "calendarDate": d.isoformat(),
                "values": {
                    "avgWakingRespiration": athlete.wellness(d).respiration_awake,
                    "avgSleepRespiration": athlete.night(d).avg_respiration,
                },
            }
        )
    return out


def daily_hydration(athlete: SyntheticAthlete, days: Sequence[date]) -> list[dict[str, Any]]:
    """GET /usersummary-service/stats/hydration/daily/{start}/{end}
    (garth stats/test_daily_hydration)."""
    out = []
    for d in days:
        logged = hydration(athlete, d)
        if logged is not None:
            out.append(
                {"calendarDate": d.isoformat(), "valueInML": logged[0], "goalInML": logged[1]}
            )
    return out


def resting_heart_rate(
    athlete: SyntheticAthlete, days: Sequence[date], metric_ids: Sequence[str]
) -> dict[str, Any]:
    """GET /userstats-service/wellness/daily/{displayName}?fromDate&untilDate&metricId=60: not
    recorded; the nesting is what garminconnect's ``get_rhr_daily`` reads
    (``allMetrics.metricsMap.WELLNESS_RESTING_HEART_RATE[{calendarDate, value}]``)."""
    metrics: dict[str, Any] = {}
    if "60" in metric_ids:
        metrics["WELLNESS_RESTING_HEART_RATE"] = [
            {"value": float(athlete.rest_hr(d)), "calendarDate": d.isoformat()}
            for d in _in_history(athlete, days)
        ]
    return {
        "userProfileId": athlete.profile.profile_id,
        "statisticsStartDate": days[0].isoformat(),
        "statisticsEndDate": days[-1].isoformat(),
        "allMetrics": {"metricsMap": metrics},
        "groupedMetrics": None,
    }


def hrv_range(athlete: SyntheticAthlete, days: Sequence[date]) -> dict[str, Any] | None:
    """GET /hrv-service/hrv/daily/{start}/{end} (garth stats/test_daily_hrv): the per-day
    endpoint's ``hrvSummary`` for each night that has one; no night at all -> HTTP 204, as
    recorded in test_daily_hrv_no_results."""
    summaries = [body["hrvSummary"] for d in days if (body := shapes.hrv(athlete, d)) is not None]
    if not summaries:
        return None
    return {"hrvSummaries": summaries, "userProfilePk": athlete.profile.profile_id}


# ---------------------------------------------------------------------- weight
def _weight_entry(athlete: SyntheticAthlete, w: WeighIn, previous: WeighIn | None) -> dict:
    """One ``dateWeightList`` item, as garth data/test_get_daily_weight_data recorded it
    (grams for weight and masses; ``date`` is local wall-clock epoch ms)."""
    return {
        "samplePk": epoch_ms(w.timestamp_utc) + 25_851,
        "date": athlete.clock.local_epoch_ms(w.timestamp_utc),
        "calendarDate": athlete.clock.utc_to_local(w.timestamp_utc).date().isoformat(),
        "weight": w.weight_g,
        "bmi": w.bmi,
        "bodyFat": w.body_fat_pct,
        "bodyWater": w.body_water_pct,
        "boneMass": w.bone_mass_g,
        "muscleMass": w.muscle_mass_g,
        "physiqueRating": None,
        "visceralFat": None,
        "metabolicAge": None,
        "sourceType": "INDEX_SCALE",
        "timestampGMT": epoch_ms(w.timestamp_utc),
        "weightDelta": None if previous is None else w.weight_g - previous.weight_g,
    }


def _previous_weigh_in(athlete: SyntheticAthlete, day: date) -> WeighIn | None:
    for back in range(1, 8):
        earlier = weigh_ins(athlete, day - timedelta(days=back))
        if earlier:
            return earlier[-1]
    return None


def body_composition(athlete: SyntheticAthlete, days: Sequence[date]) -> dict[str, Any]:
    """GET /weight-service/weight/dateRange?startDate&endDate (python-garminconnect
    test_body_composition, recorded only empty; items as garth's weight dayview)."""
    entries: list[dict[str, Any]] = []
    readings: list[WeighIn] = []
    for d in days:
        previous = _previous_weigh_in(athlete, d)
        for w in weigh_ins(athlete, d):
            entries.append(_weight_entry(athlete, w, previous))
            readings.append(w)
            previous = w
    entries.reverse()  # newest first, like the recorded range answers

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 1) if values else None

    return {
        "startDate": days[0].isoformat(),
        "endDate": days[-1].isoformat(),
        "dateWeightList": entries,
        "totalAverage": {
            "from": epoch_ms(athlete.clock.day_bounds_utc(days[0])[0]),
            "until": epoch_ms(athlete.clock.day_bounds_utc(days[-1])[1]) - 1,
            "weight": mean([w.weight_g for w in readings]),
            "bmi": mean([w.bmi for w in readings]),
            "bodyFat": mean([w.body_fat_pct for w in readings]),
            "bodyWater": mean([w.body_water_pct for w in readings]),
            "boneMass": int(mean([w.bone_mass_g for w in readings]) or 0) if readings else None,
            "muscleMass": int(mean([w.muscle_mass_g for w in readings]) or 0) if readings else None,
            "physiqueRating": None,
            "visceralFat": None,
            "metabolicAge": None,
        },
    }


# The keys of a ``_weight_entry``: the all-null entry the range sends when there is no weigh-in.
_NULL_WEIGHT_KEYS = (
    "samplePk",
    "date",
    "calendarDate",
    "weight",
    "bmi",
    "bodyFat",
    "bodyWater",
    "boneMass",
    "muscleMass",
    "physiqueRating",
    "visceralFat",
    "metabolicAge",
    "sourceType",
    "timestampGMT",
    "weightDelta",
)


def _nearest_weigh_in(athlete: SyntheticAthlete, day: date, step: int) -> WeighIn | None:
    """The closest weigh-in strictly before (step -1) or after (step +1) ``day``, within a week:
    weigh-ins are three mornings a week, so a week always finds one inside the history."""
    for n in range(1, 8):
        found = weigh_ins(athlete, day + timedelta(days=step * n))
        if found:
            return found[-1] if step < 0 else found[0]
    return None


def weight_range(athlete: SyntheticAthlete, days: Sequence[date]) -> dict[str, Any]:
    """GET /weight-service/weight/range/{start}/{end}?includeAll=true (garth
    data/test_weight_data_list.yaml): the ``dateRange`` answer's entries grouped by day, newest
    day first, days without a weigh-in absent, so each ``allWeightMetrics`` item is the
    ``dateWeightList`` item itself. ``previousDateWeight``/``nextDateWeight`` are the closest
    weigh-ins outside the window (delta null, as recorded), all-null when there is none."""
    composition = body_composition(athlete, days)
    by_day: dict[str, list[dict[str, Any]]] = {}
    for entry in composition["dateWeightList"]:  # newest first, so each day's list is too
        by_day.setdefault(entry["calendarDate"], []).append(entry)
    before = _nearest_weigh_in(athlete, days[0], -1)
    after = _nearest_weigh_in(athlete, days[-1], +1)
    return {
        "dailyWeightSummaries": [
            {
                "summaryDate": day,
                "numOfWeightEntries": len(entries),
                "minWeight": min(e["weight"] for e in entries),
                "maxWeight": max(e["weight"] for e in entries),
                "latestWeight": entries[0],
                "allWeightMetrics": entries,
            }
            for day, entries in by_day.items()
        ],
        "totalAverage": composition["totalAverage"],
        "previousDateWeight": _outside_entry(athlete, before),
        "nextDateWeight": _outside_entry(athlete, after),
    }


def _outside_entry(athlete: SyntheticAthlete, w: WeighIn | None) -> dict[str, Any]:
    if w is not None:
        return _weight_entry(athlete, w, None)
    return dict.fromkeys(_NULL_WEIGHT_KEYS)


# ---------------------------------------------------------------------- body battery
_BB_EVENT_KEYS = (
    "eventType",
    "eventStartTimeGmt",
    "timezoneOffset",
    "durationInMilliseconds",
    "bodyBatteryImpact",
    "feedbackType",
    "shortFeedback",
)


def body_battery_events(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The day's events, in the ``event`` object's shape recorded for
    ``get_body_battery_events`` (garth data/test_body_battery_data_get), plus the activity
    fields that endpoint carries beside it. Values are the daily summary's event list."""
    return [
        {
            **{key: event[key] for key in _BB_EVENT_KEYS},
            "activityName": event["activityName"],
            "activityType": event["activityType"],
            "activityId": event["activityId"],
        }
        for event in summary["bodyBatteryActivityEventList"]
    ]


def body_battery_reports(athlete: SyntheticAthlete, days: Sequence[date]) -> list[dict[str, Any]]:
    """GET /wellness-service/wellness/bodyBattery/reports/daily?startDate&endDate
    (python-garminconnect test_body_battery, whose timestamps upstream scrubbed). Samples are
    the athlete's 3-minute levels (``[ms, level]``, null when off the wrist, as in dailyStress);
    charged/drained and the events equal the daily summary's. The event list
    (``bodyBatteryActivityEvent``) and feedback objects are not in the recording (upstream
    trimmed them); their items follow the recorded body-battery events endpoint."""
    out = []
    for d in _in_history(athlete, days):
        summary = shapes.daily_summary(athlete, d)
        start, end = athlete.clock.day_bounds_utc(d)
        local_start = athlete.clock.utc_to_local(start)
        out.append(
            {
                "date": d.isoformat(),
                "charged": summary["bodyBatteryChargedValue"],
                "drained": summary["bodyBatteryDrainedValue"],
                "startTimestampGMT": iso_millis(_utc(start)),
                "endTimestampGMT": iso_millis(_utc(end)),
                "startTimestampLocal": iso_millis(local_start),
                "endTimestampLocal": iso_millis(local_start + timedelta(days=1)),
                "bodyBatteryValuesArray": [
                    [ms, level] for ms, _, level in athlete.wellness(d).body_battery
                ],
                "bodyBatteryValueDescriptorDTOList": [
                    {"bodyBatteryValueDescriptorIndex": i, "bodyBatteryValueDescriptorKey": key}
                    for i, key in enumerate(("timestamp", "bodyBatteryLevel"))
                ],
                "bodyBatteryDynamicFeedbackEvent": summary["bodyBatteryDynamicFeedbackEvent"],
                "endOfDayBodyBatteryDynamicFeedbackEvent": summary[
                    "endOfDayBodyBatteryDynamicFeedbackEvent"
                ],
                "bodyBatteryActivityEvent": body_battery_events(summary),
            }
        )
    return out


# ---------------------------------------------------------------------- sleep additions
