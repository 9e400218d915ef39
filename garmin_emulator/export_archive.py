"""Garmin's account export ("Export Your Data" zip) of the synthetic athlete, for tests and demos.

`build_export_archive(athlete, path)` writes the layout real exports have, as public importers
read them (garmin-grafana's bulk importer, garmin-running-data-normalizer, DuckDB ingest
scripts; consolidated in the team's peer study of export importers):

    DI_CONNECT/DI-Connect-Aggregator/UDSFile_<start>_<end>.json          daily summaries
    DI_CONNECT/DI-Connect-Wellness/<start>_<end>_<userId>_sleepData.json per-night sleep
    DI_CONNECT/DI-Connect-Wellness/<start>_<end>_<userId>_healthStatusData.json
    DI_CONNECT/DI-Connect-Metrics/TrainingReadinessDTO_<start>_<end>_<userId>.json
    DI_CONNECT/DI-Connect-Metrics/TrainingHistory_<start>_<end>_<userId>.json
    DI_CONNECT/DI-Connect-Metrics/MetricsAcuteTrainingLoad_<start>_<end>_<userId>.json
    DI_CONNECT/DI-Connect-Metrics/MetricsMaxMetData_<start>_<end>_<userId>.json
    DI_CONNECT/DI-Connect-Fitness/<email>_0_summarizedActivities.json
    DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip, ..._Part2.zip
        <email>_<uploadId>.fit: the activity FIT files and the daily wellness FIT files,
        named by upload id (never the activity id)
    DI_CONNECT/DI-Connect-User/user_profile.json, customer_data/customer.json (not mapped)

with the export's own units and spellings: epoch milliseconds for activity times and the
acute-load calendar date, ISO "…T…\\.0" GMT strings for sleep, durations in ms, distances and
elevations in cm and speeds in (m/s)/10 in summarizedActivities, `sleepScores.overallScore`,
`spo2SleepSummary`, `restlessMomentCount`, the stress aggregators and Body Battery stat lists of
the UDS files, `metrics[]` of healthStatusData.

Every value comes from what the emulator serves through the API for the same day (`shapes`,
`stats_shapes`, `metrics_shapes`), so an import and an API sync of one athlete agree. Files are
cut into date ranges (`range_days`, sleep ranges overlapping by a night as real exports do), so
pattern discovery meets several names per kind. Unit conversions scale the decimal spelling
(8123.45 m -> 812345 cm), which is what makes the round trip exact. The zip is stored (not
deflated) with fixed member dates: the same athlete gives the same bytes on every machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from garmin_emulator import metrics_shapes, shapes, stats_shapes, wellness_fit
from garmin_emulator.activity import SPORTS
from garmin_emulator.determinism import stable_int
from garmin_emulator.timefmt import epoch_ms, iso_tenths
from garmin_pipeline.zips import stored_zip

if TYPE_CHECKING:
    from garmin_emulator.athlete import SyntheticAthlete

ROOT = "DI_CONNECT"
AGGREGATOR = f"{ROOT}/DI-Connect-Aggregator"
WELLNESS = f"{ROOT}/DI-Connect-Wellness"
METRICS = f"{ROOT}/DI-Connect-Metrics"
FITNESS = f"{ROOT}/DI-Connect-Fitness"
UPLOADS = f"{ROOT}/DI-Connect-Uploaded-Files"
USER = f"{ROOT}/DI-Connect-User"
MEMBER_DATE = (2024, 1, 1, 0, 0, 0)  # every member's zip date: the bytes never move


def scaled(value: float | int | None, factor: int | str) -> float | None:
    """`value * factor` computed on its decimal spelling (exact both ways, unlike floats)."""
    if value is None:
        return None
    return float(Decimal(repr(value)) * Decimal(str(factor)))


def email_of(athlete: SyntheticAthlete) -> str:
    return f"{athlete.display_name}@example.com"


def upload_id(athlete: SyntheticAthlete, *what: object) -> int:
    """Garmin names uploaded files by upload id, unrelated to the activity id."""
    return 200_000_000_000 + stable_int(athlete.seed, "upload id", *what) % 100_000_000_000


def _ranges(days: Sequence[date], size: int) -> Iterator[list[date]]:
    for start in range(0, len(days), size):
        yield list(days[start : start + size])


def _compact(day: date) -> str:
    return day.strftime("%Y%m%d")


# ---------------------------------------------------------------------- daily summaries
def uds_entry(athlete: SyntheticAthlete, day: date) -> dict[str, Any]:
    """One UDSFile entry: the API's daily summary in the export's nesting."""
    s = shapes.daily_summary(athlete, day)
    night = athlete.night(day)
    stress_total = {
        "type": "TOTAL",
        "averageStressLevel": s["averageStressLevel"],
        "maxStressLevel": s["maxStressLevel"],
        "stressDuration": s["stressDuration"],
        "restDuration": s["restStressDuration"],
        "activityDuration": s["activityStressDuration"],
        "uncategorizedDuration": s["uncategorizedStressDuration"],
        "totalDuration": s["totalStressDuration"],
        "lowDuration": s["lowStressDuration"],
        "mediumDuration": s["mediumStressDuration"],
        "highDuration": s["highStressDuration"],
    }
    stat_list = [
        ("HIGHEST", s["bodyBatteryHighestValue"]),
        ("LOWEST", s["bodyBatteryLowestValue"]),
        ("MOSTRECENT", s["bodyBatteryMostRecentValue"]),
        ("DURINGSLEEP", s["bodyBatteryDuringSleep"]),
        ("SLEEPEND", s["bodyBatteryAtWakeTime"]),
    ]
    entry: dict[str, Any] = {
        "userProfilePK": s["userProfileId"],
        "calendarDate": day.isoformat(),
        "uuid": s["uuid"],
        "durationInMilliseconds": s["durationInMilliseconds"],
        "wellnessStartTimeGmt": s["wellnessStartTimeGmt"],
        "wellnessEndTimeGmt": s["wellnessEndTimeGmt"],
        "wellnessStartTimeLocal": s["wellnessStartTimeLocal"],
        "wellnessEndTimeLocal": s["wellnessEndTimeLocal"],
        "totalSteps": s["totalSteps"],
        "dailyStepGoal": s["dailyStepGoal"],
        "totalDistanceMeters": s["totalDistanceMeters"],
        "wellnessDistanceMeters": s["wellnessDistanceMeters"],
        "totalKilocalories": s["totalKilocalories"],
        "activeKilocalories": s["activeKilocalories"],
        "bmrKilocalories": s["bmrKilocalories"],
        "wellnessKilocalories": s["wellnessKilocalories"],
        "wellnessActiveKilocalories": s["wellnessActiveKilocalories"],
        "highlyActiveSeconds": s["highlyActiveSeconds"],
        "activeSeconds": s["activeSeconds"],
        "sedentarySeconds": s["sedentarySeconds"],
        "sleepingSeconds": s["sleepingSeconds"],
        "moderateIntensityMinutes": s["moderateIntensityMinutes"],
        "vigorousIntensityMinutes": s["vigorousIntensityMinutes"],
        "userIntensityMinutesGoal": stats_shapes.INTENSITY_WEEKLY_GOAL,
        # The export gives floors in metres only (3.048 m a floor, rounded to the mm).
        "floorsAscendedInMeters": s["floorsAscendedInMeters"],
        "floorsDescendedInMeters": s["floorsDescendedInMeters"],
        "userFloorsAscendedGoal": stats_shapes.FLOORS_GOAL,
        "minHeartRate": s["minHeartRate"],
        "maxHeartRate": s["maxHeartRate"],
        "restingHeartRate": s["restingHeartRate"],
        "currentDayRestingHeartRate": s["restingHeartRate"],
        "minAvgHeartRate": s["minAvgHeartRate"],
        "maxAvgHeartRate": s["maxAvgHeartRate"],
        "averageSpo2Value": s["averageSpo2"],
        "lowestSpo2Value": s["lowestSpo2"],
        "latestSpo2Value": s["latestSpo2"],
        "averageMonitoringEnvironmentAltitude": s["averageMonitoringEnvironmentAltitude"],
        "includesWellnessData": s["includesWellnessData"],
        "includesActivityData": s["includesActivityData"],
        "includesCalorieConsumedData": False,
        "source": "GARMIN",
        "allDayStress": {
            "userProfilePK": s["userProfileId"],
            "calendarDate": day.isoformat(),
            "aggregatorList": [
                stress_total,
                {"type": "AWAKE", "totalDuration": s["measurableAwakeDuration"]},
                {"type": "ASLEEP", "totalDuration": s["measurableAsleepDuration"]},
            ],
        },
        "bodyBattery": {
            "userProfilePK": s["userProfileId"],
            "calendarDate": day.isoformat(),
            "chargedValue": s["bodyBatteryChargedValue"],
            "drainedValue": s["bodyBatteryDrainedValue"],
            "bodyBatteryStatList": [
                {"bodyBatteryStatType": kind, "statsValue": value} for kind, value in stat_list
            ],
        },
        "respiration": {
            "userProfilePK": s["userProfileId"],
            "calendarDate": day.isoformat(),
            "avgWakingRespirationValue": s["avgWakingRespirationValue"],
            "highestRespirationValue": s["highestRespirationValue"],
            "lowestRespirationValue": s["lowestRespirationValue"],
            "latestRespirationValue": s["latestRespirationValue"],
            "latestRespirationTimeGMT": s["latestRespirationTimeGMT"],
            "avgSleepRespirationValue": night.avg_respiration,
        },
    }
    logged = stats_shapes.hydration(athlete, day)
    if logged is not None:
        entry["hydration"] = {
            "userProfilePK": s["userProfileId"],
            "calendarDate": day.isoformat(),
            "valueInML": logged[0],
            "goalInML": logged[1],
            "sweatLossInML": logged[1] - stats_shapes.HYDRATION_BASE_GOAL_ML,
        }
    return entry


# ---------------------------------------------------------------------- sleep, health status
def sleep_entry(athlete: SyntheticAthlete, day: date) -> dict[str, Any]:
    """One night of sleepData: GMT ISO strings, flat stage seconds, export-style scores."""
    body = shapes.sleep(athlete, day)
    dto = body["dailySleepDTO"]
    night = athlete.night(day)
    spo2 = body["wellnessSpO2SleepSummaryDTO"]
    return {
        "calendarDate": day.isoformat(),
        "sleepStartTimestampGMT": iso_tenths(night.start_utc.replace(tzinfo=None)),
        "sleepEndTimestampGMT": iso_tenths(night.end_utc.replace(tzinfo=None)),
        "sleepWindowConfirmationType": dto["sleepWindowConfirmationType"],
        "deepSleepSeconds": dto["deepSleepSeconds"],
        "lightSleepSeconds": dto["lightSleepSeconds"],
        "remSleepSeconds": dto["remSleepSeconds"],
        "awakeSleepSeconds": dto["awakeSleepSeconds"],
        "unmeasurableSeconds": dto["unmeasurableSleepSeconds"],
        "averageRespiration": dto["averageRespirationValue"],
        "lowestRespiration": dto["lowestRespirationValue"],
        "highestRespiration": dto["highestRespirationValue"],
        "retro": False,
        "awakeCount": dto["awakeCount"],
        "avgSleepStress": dto["avgSleepStress"],
        "restlessMomentCount": body["restlessMomentsCount"],
        "sleepScores": {
            "overallScore": dto["sleepScores"]["overall"]["value"],
            "feedback": dto["sleepScoreFeedback"],
            "insight": dto["sleepScoreInsight"],
        },
        "spo2SleepSummary": {
            "userProfilePk": spo2["userProfilePk"],
            "deviceId": spo2["deviceId"],
            "sleepMeasurementStartGMT": spo2["sleepMeasurementStartGMT"],
            "sleepMeasurementEndGMT": spo2["sleepMeasurementEndGMT"],
            "averageSPO2": spo2["averageSPO2"],
            "averageHR": spo2["averageSpO2HR"],
            "lowestSPO2": spo2["lowestSPO2"],
        },
        "napList": [],
    }


def health_status_entry(athlete: SyntheticAthlete, day: date) -> dict[str, Any]:
    """One day of healthStatusData: HRV (the nightly mean and its balanced range), overnight
    heart rate, SpO2 and breathing; the HRV metric only on nights Garmin has one."""
    night = athlete.night(day)
    metrics: list[dict[str, Any]] = []
    hrv = shapes.hrv(athlete, day)
    if hrv is not None:
        summary = hrv["hrvSummary"]
        low, high = summary["baseline"]["balancedLow"], summary["baseline"]["balancedUpper"]
        value = summary["lastNightAvg"]
        metrics.append(
            {
                "type": "HRV",
                "value": float(value),
                "status": "IN_RANGE" if low <= value <= high else "OUT_OF_RANGE",
                "baselineUpperLimit": high,
                "baselineLowerLimit": low,
            }
        )
    metrics += [
        {"type": "HR", "value": float(athlete.rest_hr(day)), "status": "IN_RANGE"},
        {"type": "SPO2", "value": night.avg_spo2, "status": "IN_RANGE"},
        {"type": "RESPIRATION", "value": night.avg_respiration, "status": "IN_RANGE"},
    ]
    return {"calendarDate": day.isoformat(), "metrics": metrics}


# ---------------------------------------------------------------------- training metrics
def readiness_entries(athlete: SyntheticAthlete, days: list[date]) -> list[dict[str, Any]]:
    """TrainingReadinessDTO: the API's entries as they are (the export keeps the DTO)."""
    return metrics_shapes.training_readiness(athlete, days)


def training_history_entry(athlete: SyntheticAthlete, day: date) -> dict[str, Any]:
    """TrainingHistory: the day's training status without its acute load (a file of its own)."""
    status = metrics_shapes.status_entry(athlete, day)
    return {
        "userProfilePK": athlete.profile.profile_id,
        "calendarDate": day.isoformat(),
        "timestamp": status["timestamp"],
        "deviceId": status["deviceId"],
        "sport": status["sport"],
        "subSport": status["subSport"],
        "trainingStatus": status["trainingStatus"],
        "trainingStatusFeedbackPhrase": status["trainingStatusFeedbackPhrase"],
        "trainingPaused": status["trainingPaused"],
        "fitnessTrend": status["fitnessTrend"],
        "primaryTrainingDevice": status["primaryTrainingDevice"],
    }


def acute_load_entry(athlete: SyntheticAthlete, day: date) -> dict[str, Any]:
    """MetricsAcuteTrainingLoad: calendarDate as epoch ms of the day's UTC midnight."""
    status = metrics_shapes.status_entry(athlete, day)
    load = status["acuteTrainingLoadDTO"]
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {
        "userProfilePK": athlete.profile.profile_id,
        "calendarDate": epoch_ms(midnight),
        "timestamp": status["timestamp"],
        "deviceId": status["deviceId"],
        "acwrPercent": load["acwrPercent"],
        "acwrStatus": load["acwrStatus"],
        "acwrStatusFeedback": load["acwrStatusFeedback"],
        "dailyTrainingLoadAcute": load["dailyTrainingLoadAcute"],
        "dailyTrainingLoadChronic": load["dailyTrainingLoadChronic"],
        "dailyAcuteChronicWorkloadRatio": load["dailyAcuteChronicWorkloadRatio"],
        "minTrainingLoadChronic": load["minTrainingLoadChronic"],
        "maxTrainingLoadChronic": load["maxTrainingLoadChronic"],
    }


def max_met_entries(athlete: SyntheticAthlete, days: list[date]) -> list[dict[str, Any]]:
    """MetricsMaxMetData: one flat entry per sport and day a VO2max was updated."""
    out = []
    for entry in metrics_shapes.max_metrics(athlete, days):
        for key, sport in (("generic", "RUNNING"), ("cycling", "CYCLING")):
            value = entry.get(key)
            if value:
                out.append(
                    {
                        "userProfilePK": athlete.profile.profile_id,
                        "calendarDate": value["calendarDate"],
                        "sport": sport,
                        "subSport": "GENERIC",
                        "vo2MaxValue": value["vo2MaxPreciseValue"],
                        "maxMet": round(value["vo2MaxPreciseValue"] / 3.5, 4),
                        "fitnessAge": value["fitnessAge"],
                        "calibratedData": False,
                    }
                )
    return out


# ---------------------------------------------------------------------- activities
def summarized_activity(athlete: SyntheticAthlete, activity_id: int) -> dict[str, Any]:
    """One summarizedActivitiesExport entry: epoch ms, ms, cm and (m/s)/10."""
    a = athlete.activity(activity_id)
    spec = SPORTS[a.sport]
    entry: dict[str, Any] = {
        "activityId": a.activity_id,
        "uuid": {"mostSignificantBits": a.activity_id, "leastSignificantBits": 0},
        "name": a.activity_name,
        "activityType": spec.type_key,
        "userProfileId": athlete.profile.profile_id,
        "timeZoneId": athlete.clock.garmin_id,
        "beginTimestamp": epoch_ms(a.start_time_utc),
        "eventTypeId": 9,
        "sportType": spec.fit_sport.upper(),
        "startTimeGmt": epoch_ms(a.start_time_utc),
        "startTimeLocal": athlete.clock.local_epoch_ms(a.start_time_utc),
        "duration": scaled(a.duration_s, 1000),
        "elapsedDuration": scaled(a.duration_s, 1000),
        "movingDuration": scaled(a.moving_duration_s, 1000),
        "distance": scaled(a.distance_m, 100),
        "elevationGain": scaled(a.elevation_gain_m, 100),
        "elevationLoss": scaled(a.elevation_loss_m, 100),
        "minElevation": scaled(a.min_elevation_m, 100),
        "maxElevation": scaled(a.max_elevation_m, 100),
        "avgSpeed": scaled(a.avg_speed_m_s, "0.1"),
        "maxSpeed": scaled(a.max_speed_m_s, "0.1"),
        "calories": float(a.calories),
        "bmrCalories": float(a.bmr_calories),
        "avgHr": float(a.avg_hr),
        "maxHr": float(a.max_hr),
        "aerobicTrainingEffect": a.aerobic_training_effect,
        "anaerobicTrainingEffect": a.anaerobic_training_effect,
        "activityTrainingLoad": a.training_load,
        "lapCount": a.lap_count,
        "deviceId": athlete.profile.device_id,
        "manufacturer": "GARMIN",
        "moderateIntensityMinutes": a.moderate_intensity_minutes,
        "vigorousIntensityMinutes": a.vigorous_intensity_minutes,
        "parent": False,
        "favorite": False,
        "pr": False,
        "purposeful": False,
        "manualActivity": False,
        "autoCalcCalories": False,
        "elevationCorrected": False,
        "atpActivity": False,
    }
    if a.steps is not None:
        entry["steps"] = a.steps
    for zone, seconds in enumerate(a.hr_time_in_zone_s, start=1):
        entry[f"hrTimeInZone_{zone}"] = scaled(seconds, 1000)
    return {k: v for k, v in entry.items() if v is not None}


# ---------------------------------------------------------------------- the archive
def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")


def archive_members(
    athlete: SyntheticAthlete,
    first: date | None = None,
    last: date | None = None,
    range_days: int = 10,
    wellness_files: bool = True,
) -> list[tuple[str, bytes]]:
    """The export's members (path, bytes) for `first`..`last` (default: the whole history)."""
    first = max(first or athlete.first_day, athlete.first_day)
    last = min(last or athlete.last_day, athlete.last_day)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    user = athlete.profile.profile_id
    email = email_of(athlete)
    members: list[tuple[str, bytes]] = []
    for window in _ranges(days, range_days):
        a, b = window[0], window[-1]
        members.append(
            (f"{AGGREGATOR}/UDSFile_{a}_{b}.json", _json([uds_entry(athlete, d) for d in window]))
        )
        # Sleep ranges overlap by a night, as exports cut at arbitrary points do.
        nights = [d for d in [a - timedelta(days=1), *window] if athlete.in_history(d)]
        members.append(
            (
                f"{WELLNESS}/{nights[0]}_{b}_{user}_sleepData.json",
                _json([sleep_entry(athlete, d) for d in nights]),
            )
        )
        members.append(
            (
                f"{WELLNESS}/{a}_{b}_{user}_healthStatusData.json",
                _json([health_status_entry(athlete, d) for d in window]),
            )
        )
        span = f"{_compact(a)}_{_compact(b)}_{user}"
        members += [
            (
                f"{METRICS}/TrainingReadinessDTO_{span}.json",
                _json(readiness_entries(athlete, window)),
            ),
            (
                f"{METRICS}/TrainingHistory_{span}.json",
                _json([training_history_entry(athlete, d) for d in window]),
            ),
            (
                f"{METRICS}/MetricsAcuteTrainingLoad_{span}.json",
                _json([acute_load_entry(athlete, d) for d in window]),
            ),
            (f"{METRICS}/MetricsMaxMetData_{span}.json", _json(max_met_entries(athlete, window))),
        ]
    plans = [p for d in days for p in athlete.plans_on(d)]
    activities = [summarized_activity(athlete, p.activity_id) for p in plans]
    members.append(
        (
            f"{FITNESS}/{email}_0_summarizedActivities.json",
            _json([{"summarizedActivitiesExport": activities}]),
        )
    )
    uploads: list[tuple[str, bytes]] = []
    for plan in plans:
        uploads.append(
            (
                f"{email}_{upload_id(athlete, 'activity', plan.activity_id)}.fit",
                athlete.fit_bytes(plan.activity_id),
            )
        )
    if wellness_files:
        for d in days:
            fits = [wellness_fit.wellness_fit(athlete, d), wellness_fit.sleep_fit(athlete, d)]
            hrv = wellness_fit.hrv_fit(athlete, d)
            fits += [hrv] if hrv is not None else []
            for i, fit in enumerate(fits):
                uploads.append((f"{email}_{upload_id(athlete, 'wellness', d, i)}.fit", fit))
    uploads.sort()
    half = (len(uploads) + 1) // 2
    for part, chunk in enumerate((uploads[:half], uploads[half:]), start=1):
        if chunk:
            members.append(
                (f"{UPLOADS}/UploadedFiles_0-_Part{part}.zip", stored_zip(chunk, MEMBER_DATE)),
            )
    members += [
        (
            f"{USER}/user_profile.json",
            _json({"userName": email, "displayName": athlete.display_name}),
        ),
        ("customer_data/customer.json", _json({"customerId": user, "email": email})),
    ]
    return members


def build_export_archive(
    athlete: SyntheticAthlete,
    path: Path,
    first: date | None = None,
    last: date | None = None,
    range_days: int = 10,
    wellness_files: bool = True,
) -> Path:
    """Write the athlete's export of `first`..`last` to `path` (a zip) and return it."""
    members = archive_members(athlete, first, last, range_days, wellness_files)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(stored_zip(sorted(members), MEMBER_DATE))
    return path
