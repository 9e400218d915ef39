"""Response bodies: the synthetic athlete's values poured into Garmin Connect's JSON shapes.

Every key, its nesting, its value type and its order follow a real recorded response (the file
each builder mirrors is named in its docstring; see ``fixtures/garmin_connect/`` and the trimmed
copies under ``tests/data/garmin_connect/``). Days outside the history get what Garmin sends for a
day without data. Nothing here reads a clock: bodies depend on (seed, day) only.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from garmin_emulator.activity import POOL_LENGTH_M, SPORTS, SyntheticActivity
from garmin_emulator.determinism import stable_rng
from garmin_emulator.timefmt import (
    epoch_ms,
    iso_millis,
    iso_seconds,
    iso_tenths,
    spaced,
)

if TYPE_CHECKING:
    from garmin_emulator.athlete import SleepNight, SyntheticAthlete

DEVICE_PRODUCT = 3290  # FIT garmin_product "fenix6"
DEVICE_KEY = "fenix6"
DEVICE_NAME = "fēnix 6"
_STRESS_STEP_S = 180
_USER_ROLES = ["ROLE_CONNECTUSER", "ROLE_FITNESS_USER", "ROLE_WELLNESS_USER"]
_PRIVATE = {"typeId": 2, "typeKey": "private"}


def _utc(dt: datetime) -> datetime:
    """An aware UTC datetime with its tzinfo dropped, for formatting GMT fields."""
    return dt.replace(tzinfo=None)


def _day_frame(athlete: SyntheticAthlete, day: date) -> dict[str, str]:
    clock = athlete.clock
    start, end = clock.day_bounds_utc(day)
    return {
        "startTimestampGMT": iso_tenths(_utc(start)),
        "endTimestampGMT": iso_tenths(_utc(end)),
        "startTimestampLocal": iso_tenths(clock.utc_to_local(start)),
        "endTimestampLocal": iso_tenths(clock.utc_to_local(start) + timedelta(days=1)),
    }


# ---------------------------------------------------------------------- profile
def social_profile(athlete: SyntheticAthlete) -> dict[str, Any]:
    """GET /userprofile-service/socialProfile (garth core/test_user_profile.yaml)."""
    p = athlete.profile
    return {
        "id": p.social_profile_id,
        "profileId": p.profile_id,
        "garminGUID": p.garmin_guid,
        "displayName": p.display_name,
        "fullName": p.full_name,
        "userName": p.display_name,
        "profileImageType": None,
        "profileImageUrlLarge": None,
        "profileImageUrlMedium": None,
        "profileImageUrlSmall": None,
        "hasPremiumSocialIcon": False,
        "location": p.location,
        "facebookUrl": None,
        "twitterUrl": None,
        "personalWebsite": None,
        "motivation": None,
        "bio": None,
        "primaryActivity": "running",
        "favoriteActivityTypes": ["running", "cycling", "swimming"],
        "runningTrainingSpeed": 0.0,
        "cyclingTrainingSpeed": 0.0,
        "favoriteCyclingActivityTypes": [],
        "cyclingClassification": None,
        "cyclingMaxAvgPower": 0.0,
        "swimmingTrainingSpeed": 0.0,
        "profileVisibility": "private",
        "activityStartVisibility": "private",
        "activityMapVisibility": "private",
        "courseVisibility": "private",
        "activityHeartRateVisibility": "private",
        "activityPowerVisibility": "private",
        "badgeVisibility": "private",
        "showAge": False,
        "showWeight": False,
        "showHeight": False,
        "showWeightClass": False,
        "showAgeRange": False,
        "showGender": False,
        "showActivityClass": False,
        "showVO2Max": False,
        "showPersonalRecords": False,
        "showLast12Months": False,
        "showLifetimeTotals": False,
        "showUpcomingEvents": False,
        "showRecentFavorites": False,
        "showRecentDevice": False,
        "showRecentGear": False,
        "showBadges": True,
        "otherActivity": None,
        "otherPrimaryActivity": None,
        "otherMotivation": None,
        "userRoles": list(_USER_ROLES),
        "nameApproved": True,
        "userProfileFullName": p.full_name,
        "makeGolfScorecardsPrivate": True,
        "allowGolfLiveScoring": False,
        "allowGolfScoringByConnections": True,
        "userLevel": 3,
        "userPoint": 120,
        "levelUpdateDate": iso_tenths(
            athlete.clock.utc_to_local(athlete.clock.local_midnight_utc(athlete.first_day))
        ),
        "levelIsViewed": False,
        "levelPointThreshold": 140,
        "userPointOffset": 0,
        "userPro": False,
    }


def user_settings(athlete: SyntheticAthlete) -> dict[str, Any]:
    """GET /userprofile-service/userprofile/user-settings (python-garminconnect test_stats.yaml)."""
    p = athlete.profile
    sleep_time, wake_time = 81_000, 23_400
    days = ["SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "DAILY"]
    return {
        "id": p.profile_id,
        "userData": {
            "gender": p.gender,
            "weight": p.weight_kg * 1000,
            "height": p.height_cm,
            "timeFormat": "time_twenty_four_hr",
            "birthDate": p.birth_date.isoformat(),
            "measurementSystem": "metric",
            "activityLevel": 6,
            "handedness": "RIGHT",
            "powerFormat": {
                "formatId": 30,
                "formatKey": "watt",
                "minFraction": 0,
                "maxFraction": 0,
                "groupingUsed": True,
                "displayFormat": None,
            },
            "heartRateFormat": {
                "formatId": 21,
                "formatKey": "bpm",
                "minFraction": 0,
                "maxFraction": 0,
                "groupingUsed": False,
                "displayFormat": None,
            },
            "firstDayOfWeek": {
                "dayId": 3,
                "dayName": "monday",
                "sortOrder": 3,
                "isPossibleFirstDay": True,
            },
            "vo2MaxRunning": p.vo2max_running,
            "vo2MaxCycling": p.vo2max_cycling,
            "lactateThresholdSpeed": None,
            "lactateThresholdHeartRate": None,
            "diveNumber": None,
            "intensityMinutesCalcMethod": "AUTO",
            "moderateIntensityMinutesHrZone": 3,
            "vigorousIntensityMinutesHrZone": 4,
            "hydrationMeasurementUnit": "milliliter",
            "hydrationContainers": [],
            "hydrationAutoGoalEnabled": True,
            "firstbeatMaxStressScore": None,
            "firstbeatCyclingLtTimestamp": None,
            "firstbeatRunningLtTimestamp": None,
            "thresholdHeartRateAutoDetected": None,
            "ftpAutoDetected": None,
            "trainingStatusPausedDate": None,
            "weatherLocation": {
                "useFixedLocation": None,
                "latitude": None,
                "longitude": None,
                "locationName": None,
                "isoCountryCode": None,
                "postalCode": None,
            },
            "golfDistanceUnit": None,
            "golfElevationUnit": None,
            "golfSpeedUnit": None,
            "externalBottomTime": None,
            "availableTrainingDays": days[1:7] + days[:1],
            "preferredLongTrainingDays": ["SATURDAY", "SUNDAY"],
            "virtualCaddieDataSource": None,
            "numberDivesAutomatically": None,
        },
        "userSleep": {
            "sleepTime": sleep_time,
            "defaultSleepTime": False,
            "wakeTime": wake_time,
            "defaultWakeTime": False,
        },
        "connectDate": None,
        "sourceType": None,
        "userSleepWindows": [
            {
                "sleepWindowFrequency": d,
                "startSleepTimeSecondsFromMidnight": sleep_time,
                "endSleepTimeSecondsFromMidnight": wake_time,
            }
            for d in days
        ],
    }


def personal_information(athlete: SyntheticAthlete) -> dict[str, Any]:
    """GET /userprofile-service/userprofile/personal-information/{displayName}.

    No recording exists; the keys follow garminconnect 0.3.20, whose ``get_user_timezone()``
    reads the top-level ``timeZone`` and whose docstring lists ``userInfo`` and
    ``biometricProfile``. Age is counted at the last day of history, not today.
    """
    p = athlete.profile
    last = athlete.last_day
    age = (
        last.year
        - p.birth_date.year
        - ((last.month, last.day) < (p.birth_date.month, p.birth_date.day))
    )
    return {
        "userInfo": {
            "birthDate": p.birth_date.isoformat(),
            "genderType": p.gender,
            "email": None,
            "locale": "en",
            "timeZone": p.timezone,
            "age": age,
            "countryCode": "FR",
        },
        "biometricProfile": {
            "userId": p.profile_id,
            "height": p.height_cm,
            "weight": p.weight_kg * 1000,
            "vo2Max": p.vo2max_running,
            "vo2MaxCycling": p.vo2max_cycling,
            "lactateThresholdHeartRate": None,
            "activityClass": None,
            "functionalThresholdPower": p.ftp_w,
            "criticalSwimSpeed": None,
        },
        "timeZone": p.timezone,
        "locale": "en",
        "birthDate": p.birth_date.isoformat(),
        "gender": p.gender,
    }


def device_last_used(athlete: SyntheticAthlete) -> dict[str, Any]:
    """GET /device-service/deviceservice/mylastused (no recording; garminconnect reads
    ``userDeviceId``). The upload time is the end of the athlete's history, never "now"."""
    p = athlete.profile
    return {
        "userDeviceId": p.device_id,
        "userProfileNumber": p.profile_id,
        "applicationNumber": DEVICE_PRODUCT,
        "lastUsedDeviceApplicationKey": DEVICE_KEY,
        "lastUsedDeviceName": DEVICE_NAME,
        "lastUsedDeviceUploadTime": epoch_ms(athlete.last_upload_utc),
        "imageUrl": None,
        "released": True,
    }


# ---------------------------------------------------------------------- daily summary
def _stress_qualifier(average: int | None) -> str:
    if average is None:
        return "UNKNOWN"
    if average <= 20:
        return "CALM"
    if average <= 35:
        return "BALANCED"
    if average <= 50:
        return "STRESSFUL"
    return "VERY_STRESSFUL"


def _bb_label(level: int) -> str:
    return "HIGH" if level >= 70 else "MODERATE" if level >= 40 else "LOW"


def _pct(part: int, whole: int) -> float:
    return round(part * 100 / whole, 2) if whole else 0.0


def daily_summary(athlete: SyntheticAthlete, day: date) -> dict[str, Any]:
    """GET /usersummary-service/usersummary/daily/{displayName}?calendarDate=

    Key order and types follow garth data/test_daily_summary_get.yaml (a superset of
    python-garminconnect test_user_summary.yaml, which has the displayName path).
    """
    p = athlete.profile
    start, end = athlete.clock.day_bounds_utc(day)
    base: dict[str, Any] = {
        "userProfileId": p.profile_id,
        "calendarDate": day.isoformat(),
        "rule": dict(_PRIVATE),
        "dailyStepGoal": p.step_goal,
        "wellnessStartTimeGmt": iso_tenths(_utc(start)),
        "wellnessStartTimeLocal": iso_tenths(athlete.clock.utc_to_local(start)),
        "wellnessEndTimeGmt": iso_tenths(_utc(end)),
        "wellnessEndTimeLocal": iso_tenths(athlete.clock.utc_to_local(start) + timedelta(days=1)),
        "durationInMilliseconds": epoch_ms(end) - epoch_ms(start),
    }
    if not athlete.in_history(day):
        return _summary_body(base, None)
    return _summary_body(base, _summary_values(athlete, day))


def _summary_values(athlete: SyntheticAthlete, day: date) -> dict[str, Any]:
    p = athlete.profile
    w = athlete.wellness(day)
    night = athlete.night(day)
    bedtime = athlete.night(day + timedelta(days=1)).start_utc
    sleep_ms = (epoch_ms(night.start_utc), epoch_ms(night.end_utc))
    bedtime_ms = epoch_ms(bedtime)

    def asleep(ms: int) -> bool:
        return sleep_ms[0] <= ms < sleep_ms[1] or ms >= bedtime_ms

    stress = [v for _, v in w.stress_values]
    measured = [v for v in stress if v >= 0]
    counts = {
        "rest": sum(1 for v in stress if 0 <= v <= 25),
        "low": sum(1 for v in stress if 26 <= v <= 50),
        "medium": sum(1 for v in stress if 51 <= v <= 75),
        "high": sum(1 for v in stress if v >= 76),
        "activity": stress.count(-2),
        "uncategorized": stress.count(-1),
    }
    secs = {k: v * _STRESS_STEP_S for k, v in counts.items()}
    stressed = secs["low"] + secs["medium"] + secs["high"]
    total = len(stress) * _STRESS_STEP_S
    avg_stress = int(sum(measured) / len(measured) + 0.5) if measured else None
    bb = [level for _, _, level in w.body_battery if level is not None]
    charged = sum(b - a for a, b in itertools.pairwise(bb) if b > a)
    drained = sum(a - b for a, b in itertools.pairwise(bb) if a > b)
    bpm = [v for _, v in w.hr_values if v is not None]
    rolling = [sum(bpm[i : i + 3]) / 3 for i in range(max(1, len(bpm) - 2))]
    activity_kcal = sum(a.calories for a in w.activities)
    active_kcal = float(int(w.walking_steps * 0.04) + activity_kcal)
    bmr = float(p.bmr_kcal)
    run_m = sum(a.distance_m for a in w.activities if a.sport == "running")
    distance = int(w.walking_steps * 0.76 + run_m)
    asleep_measured = sum(1 for ms, v in w.stress_values if v >= 0 and asleep(ms))
    awake_measured = len(measured) - asleep_measured
    feedback_at = bedtime - timedelta(hours=3)
    feedback_level = next(
        (lvl for ms, _, lvl in reversed(w.body_battery) if lvl and ms <= epoch_ms(feedback_at)),
        w.body_battery_at_wake,
    )
    events: list[dict[str, Any]] = [
        {
            "eventType": "SLEEP",
            "eventStartTimeGmt": iso_seconds(_utc(night.start_utc)),
            "timezoneOffset": athlete.clock.offset_s(night.start_utc) * 1000,
            "durationInMilliseconds": epoch_ms(night.end_utc) - epoch_ms(night.start_utc),
            "bodyBatteryImpact": w.body_battery_sleep_charge,
            "feedbackType": "NONE",
            "shortFeedback": "NONE",
            "deviceId": p.device_id,
            "activityName": None,
            "activityType": None,
            "activityId": None,
            "eventUpdateTimeGmt": iso_seconds(_utc(night.end_utc + timedelta(minutes=47))),
        }
    ]
    for a in w.activities:
        events.append(
            {
                "eventType": "ACTIVITY",
                "eventStartTimeGmt": iso_seconds(_utc(a.start_time_utc)),
                "timezoneOffset": a.utc_offset_s * 1000,
                "durationInMilliseconds": int(a.duration_s * 1000),
                "bodyBatteryImpact": body_battery_impact(a),
                "feedbackType": "NONE",
                "shortFeedback": "NONE",
                "deviceId": p.device_id,
                "activityName": a.activity_name,
                "activityType": a.sport,
                "activityId": a.activity_id,
                "eventUpdateTimeGmt": iso_seconds(_utc(a.end_time_utc + timedelta(minutes=5))),
            }
        )
    return {
        "totalKilocalories": bmr + active_kcal,
        "activeKilocalories": active_kcal,
        "bmrKilocalories": bmr,
        "wellnessKilocalories": bmr + active_kcal,
        "totalSteps": w.total_steps,
        "totalDistanceMeters": distance,
        "wellnessDistanceMeters": distance,
        "wellnessActiveKilocalories": active_kcal,
        "netRemainingKilocalories": active_kcal,
        "userDailySummaryId": 100_000_000 + day.toordinal() * 97 % 100_000_000,
        "uuid": f"{p.seed:08x}{day.toordinal():08x}{p.profile_id:016x}",
        "highlyActiveSeconds": w.highly_active_s,
        "activeSeconds": w.active_s,
        "sedentarySeconds": max(
            0,
            (epoch_ms(w.end_utc) - epoch_ms(w.start_utc)) // 1000
            - w.highly_active_s
            - w.active_s
            - w.sleeping_s,
        ),
        "sleepingSeconds": w.sleeping_s,
        "includesWellnessData": True,
        "includesActivityData": bool(w.activities),
        "moderateIntensityMinutes": w.moderate_minutes,
        "vigorousIntensityMinutes": w.vigorous_minutes,
        "floorsAscendedInMeters": round(w.floors_up * 3.048, 3),
        "floorsDescendedInMeters": round(w.floors_down * 3.048, 3),
        "floorsAscended": w.floors_up,
        "floorsDescended": w.floors_down,
        "minHeartRate": min(bpm),
        "maxHeartRate": max(bpm),
        "restingHeartRate": w.rest_hr,
        "lastSevenDaysAvgRestingHeartRate": w.rest_hr_7d,
        "averageStressLevel": avg_stress,
        "maxStressLevel": max(measured) if measured else None,
        "stressDuration": stressed,
        "restStressDuration": secs["rest"],
        "activityStressDuration": secs["activity"],
        "uncategorizedStressDuration": secs["uncategorized"],
        "totalStressDuration": total,
        "lowStressDuration": secs["low"],
        "mediumStressDuration": secs["medium"],
        "highStressDuration": secs["high"],
        "stressPercentage": _pct(stressed, total),
        "restStressPercentage": _pct(secs["rest"], total),
        "activityStressPercentage": _pct(secs["activity"], total),
        "uncategorizedStressPercentage": _pct(secs["uncategorized"], total),
        "lowStressPercentage": _pct(secs["low"], total),
        "mediumStressPercentage": _pct(secs["medium"], total),
        "highStressPercentage": _pct(secs["high"], total),
        "stressQualifier": _stress_qualifier(avg_stress),
        "measurableAwakeDuration": awake_measured * _STRESS_STEP_S,
        "measurableAsleepDuration": asleep_measured * _STRESS_STEP_S,
        "minAvgHeartRate": int(min(rolling) + 0.5),
        "maxAvgHeartRate": int(max(rolling) + 0.5),
        "bodyBatteryChargedValue": charged,
        "bodyBatteryDrainedValue": drained,
        "bodyBatteryHighestValue": max(bb),
        "bodyBatteryLowestValue": min(bb),
        "bodyBatteryMostRecentValue": bb[-1],
        "bodyBatteryDuringSleep": w.body_battery_sleep_charge,
        "bodyBatteryAtWakeTime": w.body_battery_at_wake,
        "averageSpo2": night.avg_spo2,
        "lowestSpo2": night.lowest_spo2,
        "latestSpo2": int(night.avg_spo2),
        "latestSpo2ReadingTimeGmt": iso_tenths(_utc(night.end_utc)),
        "latestSpo2ReadingTimeLocal": iso_tenths(athlete.clock.utc_to_local(night.end_utc)),
        "averageMonitoringEnvironmentAltitude": float(athlete.basics.home_alt_mm // 1000),
        "bodyBatteryDynamicFeedbackEvent": {
            "eventTimestampGmt": iso_seconds(_utc(feedback_at)),
            "bodyBatteryLevel": _bb_label(feedback_level),
            "feedbackShortType": "SLEEP_PREPARATION_RECOVERING_AND_INACTIVE",
            "feedbackLongType": "SLEEP_PREPARATION_RECOVERING_AND_INACTIVE",
        },
        "endOfDayBodyBatteryDynamicFeedbackEvent": {
            "eventTimestampGmt": iso_seconds(_utc(w.start_utc + timedelta(minutes=2))),
            "bodyBatteryLevel": _bb_label(bb[0]),
            "feedbackShortType": "SLEEP_TIME_PASSED_RECOVERING_AND_INACTIVE",
            "feedbackLongType": "SLEEP_TIME_PASSED_RECOVERING_AND_INACTIVE",
        },
        "bodyBatteryActivityEventList": events,
        "avgWakingRespirationValue": w.respiration_awake,
        "highestRespirationValue": w.respiration_high,
        "lowestRespirationValue": w.respiration_low,
        "latestRespirationValue": w.respiration_awake,
        "latestRespirationTimeGMT": iso_tenths(_utc(w.end_utc - timedelta(minutes=3))),
    }


def _summary_body(base: dict[str, Any], v: dict[str, Any] | None) -> dict[str, Any]:
    """Assemble in the recorded key order; ``v is None`` gives Garmin's no-data day."""
    g = (v or {}).get
    return {
        "userProfileId": base["userProfileId"],
        "totalKilocalories": g("totalKilocalories"),
        "activeKilocalories": g("activeKilocalories"),
        "bmrKilocalories": g("bmrKilocalories"),
        "wellnessKilocalories": g("wellnessKilocalories"),
        "burnedKilocalories": None,
        "consumedKilocalories": None,
        "remainingKilocalories": None,
        "totalSteps": g("totalSteps"),
        "netCalorieGoal": None,
        "totalDistanceMeters": g("totalDistanceMeters"),
        "wellnessDistanceMeters": g("wellnessDistanceMeters"),
        "wellnessActiveKilocalories": g("wellnessActiveKilocalories"),
        "netRemainingKilocalories": g("netRemainingKilocalories"),
        "userDailySummaryId": g("userDailySummaryId"),
        "calendarDate": base["calendarDate"],
        "rule": base["rule"],
        "uuid": g("uuid"),
        "dailyStepGoal": base["dailyStepGoal"],
        "wellnessStartTimeGmt": base["wellnessStartTimeGmt"],
        "wellnessStartTimeLocal": base["wellnessStartTimeLocal"],
        "wellnessEndTimeGmt": base["wellnessEndTimeGmt"],
        "wellnessEndTimeLocal": base["wellnessEndTimeLocal"],
        "durationInMilliseconds": base["durationInMilliseconds"],
        "wellnessDescription": None,
        "highlyActiveSeconds": g("highlyActiveSeconds"),
        "activeSeconds": g("activeSeconds"),
        "sedentarySeconds": g("sedentarySeconds"),
        "sleepingSeconds": g("sleepingSeconds"),
        "includesWellnessData": g("includesWellnessData", False),
        "includesActivityData": g("includesActivityData", False),
        "includesCalorieConsumedData": False,
        "privacyProtected": False,
        "moderateIntensityMinutes": g("moderateIntensityMinutes"),
        "vigorousIntensityMinutes": g("vigorousIntensityMinutes"),
        "floorsAscendedInMeters": g("floorsAscendedInMeters"),
        "floorsDescendedInMeters": g("floorsDescendedInMeters"),
        "floorsAscended": g("floorsAscended"),
        "floorsDescended": g("floorsDescended"),
        "intensityMinutesGoal": 150,
        "userFloorsAscendedGoal": 10,
        "minHeartRate": g("minHeartRate"),
        "maxHeartRate": g("maxHeartRate"),
        "restingHeartRate": g("restingHeartRate"),
        "lastSevenDaysAvgRestingHeartRate": g("lastSevenDaysAvgRestingHeartRate"),
        "source": "GARMIN",
        "averageStressLevel": g("averageStressLevel"),
        "maxStressLevel": g("maxStressLevel"),
        "stressDuration": g("stressDuration"),
        "restStressDuration": g("restStressDuration"),
        "activityStressDuration": g("activityStressDuration"),
        "uncategorizedStressDuration": g("uncategorizedStressDuration"),
        "totalStressDuration": g("totalStressDuration"),
        "lowStressDuration": g("lowStressDuration"),
        "mediumStressDuration": g("mediumStressDuration"),
        "highStressDuration": g("highStressDuration"),
        "stressPercentage": g("stressPercentage"),
        "restStressPercentage": g("restStressPercentage"),
        "activityStressPercentage": g("activityStressPercentage"),
        "uncategorizedStressPercentage": g("uncategorizedStressPercentage"),
        "lowStressPercentage": g("lowStressPercentage"),
        "mediumStressPercentage": g("mediumStressPercentage"),
        "highStressPercentage": g("highStressPercentage"),
        "stressQualifier": g("stressQualifier", "UNKNOWN"),
        "measurableAwakeDuration": g("measurableAwakeDuration"),
        "measurableAsleepDuration": g("measurableAsleepDuration"),
        "lastSyncTimestampGMT": None,
        "minAvgHeartRate": g("minAvgHeartRate"),
        "maxAvgHeartRate": g("maxAvgHeartRate"),
        "bodyBatteryChargedValue": g("bodyBatteryChargedValue"),
        "bodyBatteryDrainedValue": g("bodyBatteryDrainedValue"),
        "bodyBatteryHighestValue": g("bodyBatteryHighestValue"),
        "bodyBatteryLowestValue": g("bodyBatteryLowestValue"),
        "bodyBatteryMostRecentValue": g("bodyBatteryMostRecentValue"),
        "bodyBatteryDuringSleep": g("bodyBatteryDuringSleep"),
        "bodyBatteryAtWakeTime": g("bodyBatteryAtWakeTime"),
        "bodyBatteryVersion": 3.0,
        "abnormalHeartRateAlertsCount": None,
        "averageSpo2": g("averageSpo2"),
        "lowestSpo2": g("lowestSpo2"),
        "latestSpo2": g("latestSpo2"),
        "latestSpo2ReadingTimeGmt": g("latestSpo2ReadingTimeGmt"),
        "latestSpo2ReadingTimeLocal": g("latestSpo2ReadingTimeLocal"),
        "averageMonitoringEnvironmentAltitude": g("averageMonitoringEnvironmentAltitude"),
        "restingCaloriesFromActivity": None,
        "bodyBatteryDynamicFeedbackEvent": g("bodyBatteryDynamicFeedbackEvent"),
        "endOfDayBodyBatteryDynamicFeedbackEvent": g("endOfDayBodyBatteryDynamicFeedbackEvent"),
        "bodyBatteryActivityEventList": g("bodyBatteryActivityEventList", []),
        "avgWakingRespirationValue": g("avgWakingRespirationValue"),
        "highestRespirationValue": g("highestRespirationValue"),
        "lowestRespirationValue": g("lowestRespirationValue"),
        "latestRespirationValue": g("latestRespirationValue"),
        "latestRespirationTimeGMT": g("latestRespirationTimeGMT"),
        "respirationAlgorithmVersion": 200,
    }


def body_battery_impact(activity: SyntheticActivity) -> int:
    """How many Body Battery points an activity cost (negative)."""
    return -max(1, int(activity.duration_s / 600 * (0.6 + activity.aerobic_training_effect / 4)))


# ---------------------------------------------------------------------- heart rate
def heart_rate(athlete: SyntheticAthlete, day: date) -> dict[str, Any]:
    """GET /wellness-service/wellness/dailyHeartRate/{displayName}?date=
    (garth data/test_daily_heart_rate_get.yaml; no-data day as python-garminconnect's)."""
    body: dict[str, Any] = {
        "userProfilePK": athlete.profile.profile_id,
        "calendarDate": day.isoformat(),
        **_day_frame(athlete, day),
    }
    if not athlete.in_history(day):
        body.update(
            maxHeartRate=None,
            minHeartRate=None,
            restingHeartRate=None,
            lastSevenDaysAvgRestingHeartRate=None,
            heartRateValueDescriptors=None,
            heartRateValues=None,
        )
        return body
    w = athlete.wellness(day)
    bpm = [v for _, v in w.hr_values if v is not None]
    body.update(
        maxHeartRate=max(bpm),
        minHeartRate=min(bpm),
        restingHeartRate=w.rest_hr,
        lastSevenDaysAvgRestingHeartRate=w.rest_hr_7d,
        heartRateValueDescriptors=[
            {"key": "timestamp", "index": 0},
            {"key": "heartrate", "index": 1},
        ],
        heartRateValues=[[ms, v] for ms, v in w.hr_values],
    )
    return body


# ---------------------------------------------------------------------- stress
def stress(athlete: SyntheticAthlete, day: date) -> dict[str, Any] | None:
    """GET /wellness-service/wellness/dailyStress/{date}
    (garth data/test_daily_body_battery_stress_get_incomplete_data.yaml). A day without data is
    the JSON literal ``null``, as recorded in test_daily_body_battery_stress_get_no_data.yaml."""
    if not athlete.in_history(day):
        return None
    w = athlete.wellness(day)
    measured = [v for _, v in w.stress_values if v >= 0]
    return {
        "userProfilePK": athlete.profile.profile_id,
        "calendarDate": day.isoformat(),
        **_day_frame(athlete, day),
        "maxStressLevel": max(measured) if measured else None,
        "avgStressLevel": int(sum(measured) / len(measured) + 0.5) if measured else None,
        "stressChartValueOffset": 1,
        "stressChartYAxisOrigin": -1,
        "stressValueDescriptorsDTOList": [
            {"key": "timestamp", "index": 0},
            {"key": "stressLevel", "index": 1},
        ],
        "stressValuesArray": [[ms, v] for ms, v in w.stress_values],
        "bodyBatteryValueDescriptorsDTOList": [
            {"bodyBatteryValueDescriptorIndex": i, "bodyBatteryValueDescriptorKey": key}
            for i, key in enumerate(
                ("timestamp", "bodyBatteryStatus", "bodyBatteryLevel", "bodyBatteryVersion")
            )
        ],
        "bodyBatteryValuesArray": [[ms, s, lvl, 2.0] for ms, s, lvl in w.body_battery],
    }


# ---------------------------------------------------------------------- sleep
def _qualifier(value: float) -> str:
    return (
        "EXCELLENT" if value >= 90 else "GOOD" if value >= 80 else "FAIR" if value >= 60 else "POOR"
    )


def _sleep_need(athlete: SyntheticAthlete, day: date, stamp: datetime) -> dict[str, Any]:
    p = athlete.profile
    return {
        "userProfilePk": p.profile_id,
        "calendarDate": day.isoformat(),
        "deviceId": p.device_id,
        "timestampGmt": iso_seconds(_utc(stamp)),
        "baseline": 480,
        "actual": 480,
        "feedback": "NO_CHANGE_NO_ADJUSTMENTS",
        "trainingFeedback": "NO_CHANGE",
        "sleepHistoryAdjustment": "NO_CHANGE",
        "hrvAdjustment": "NO_CHANGE",
        "napAdjustment": "NO_CHANGE",
        "displayedForTheDay": False,
        "preferredActivityTracker": True,
    }


def _percentage_score(value_s: int, sleep_s: int, low: float, high: float) -> dict[str, Any]:
    pct = int(value_s * 100 / sleep_s + 0.5) if sleep_s else 0
    return {
        "value": pct,
        "qualifierKey": "EXCELLENT" if low <= pct <= high else "FAIR",
        "optimalStart": low,
        "optimalEnd": high,
        "idealStartInSeconds": round(sleep_s * low / 100, 1),
        "idealEndInSeconds": round(sleep_s * high / 100, 1),
    }


def sleep(athlete: SyntheticAthlete, day: date) -> dict[str, Any]:
    """GET /wellness-service/wellness/dailySleepData/{displayName}?date=&nonSleepBufferMinutes=

    Top-level keys: garth data/test_sleep_data_get.yaml (this path) plus the newer keys of
    data/test_daily_sleep_data_get.yaml, whose dailySleepDTO (with sleepScores) is mirrored.
    ``sleepLevels`` holds the stage segments ({startGMT, endGMT, activityLevel}: 0 deep,
    1 light, 2 REM, 3 awake); the recordings only show it empty, so its items are not recorded.
    The no-data day is copied from the recorded 2030-01-01 response.
    """
    p = athlete.profile
    if not athlete.in_history(day):
        return {
            "dailySleepDTO": {
                "id": None,
                "userProfilePK": p.profile_id,
                "calendarDate": day.isoformat(),
                "sleepTimeSeconds": None,
                "napTimeSeconds": None,
                "sleepWindowConfirmed": None,
                "sleepWindowConfirmationType": None,
                "sleepStartTimestampGMT": None,
                "sleepEndTimestampGMT": None,
                "sleepStartTimestampLocal": None,
                "sleepEndTimestampLocal": None,
                "autoSleepStartTimestampGMT": None,
                "autoSleepEndTimestampGMT": None,
                "sleepQualityTypePK": None,
                "sleepResultTypePK": None,
                "unmeasurableSleepSeconds": None,
                "deepSleepSeconds": None,
                "lightSleepSeconds": None,
                "remSleepSeconds": None,
                "awakeSleepSeconds": None,
                "deviceRemCapable": False,
                "retro": False,
            },
            "sleepMovement": [],
            "remSleepData": None,
            "sleepLevels": [],
        }
    night = athlete.night(day)
    sleep_s = night.sleep_s
    overall = night.score
    awake_hr = athlete.rest_hr(day) + 4
    return {
        "dailySleepDTO": {
            "id": epoch_ms(night.start_utc),
            "userProfilePK": p.profile_id,
            "calendarDate": day.isoformat(),
            "sleepTimeSeconds": sleep_s,
            "napTimeSeconds": 0,
            "sleepWindowConfirmed": True,
            "sleepWindowConfirmationType": "enhanced_confirmed_final",
            "sleepStartTimestampGMT": epoch_ms(night.start_utc),
            "sleepEndTimestampGMT": epoch_ms(night.end_utc),
            "sleepStartTimestampLocal": athlete.clock.local_epoch_ms(night.start_utc),
            "sleepEndTimestampLocal": athlete.clock.local_epoch_ms(night.end_utc),
            "autoSleepStartTimestampGMT": None,
            "autoSleepEndTimestampGMT": None,
            "sleepQualityTypePK": None,
            "sleepResultTypePK": None,
            "unmeasurableSleepSeconds": 0,
            "deepSleepSeconds": night.deep_s,
            "lightSleepSeconds": night.light_s,
            "remSleepSeconds": night.rem_s,
            "awakeSleepSeconds": night.awake_s,
            "deviceRemCapable": True,
            "retro": False,
            "sleepFromDevice": True,
            "averageSpO2Value": night.avg_spo2,
            "lowestSpO2Value": night.lowest_spo2,
            "highestSpO2Value": night.highest_spo2,
            "averageSpO2HRSleep": float(awake_hr),
            "averageRespirationValue": night.avg_respiration,
            "lowestRespirationValue": night.lowest_respiration,
            "highestRespirationValue": night.highest_respiration,
            "awakeCount": night.awake_count,
            "avgSleepStress": night.avg_sleep_stress,
            "ageGroup": "ADULT",
            "sleepScoreFeedback": "POSITIVE_DEEP" if overall >= 80 else "NEGATIVE_SHORT",
            "sleepScoreInsight": "NONE",
            "sleepScorePersonalizedInsight": "NONE",
            "sleepScores": {
                "totalDuration": {
                    "qualifierKey": _qualifier(100 * min(1.0, sleep_s / 28_800)),
                    "optimalStart": 28_800.0,
                    "optimalEnd": 28_800.0,
                },
                "stress": {
                    "qualifierKey": "GOOD" if night.avg_sleep_stress <= 15 else "FAIR",
                    "optimalStart": 0.0,
                    "optimalEnd": 15.0,
                },
                "awakeCount": {
                    "qualifierKey": "EXCELLENT" if night.awake_count <= 1 else "GOOD",
                    "optimalStart": 0.0,
                    "optimalEnd": 1.0,
                },
                "overall": {"value": overall, "qualifierKey": _qualifier(overall)},
                "remPercentage": _percentage_score(night.rem_s, sleep_s, 21.0, 31.0),
                "restlessness": {
                    "qualifierKey": "GOOD",
                    "optimalStart": 0.0,
                    "optimalEnd": 5.0,
                },
                "lightPercentage": _percentage_score(night.light_s, sleep_s, 30.0, 64.0),
                "deepPercentage": _percentage_score(night.deep_s, sleep_s, 16.0, 33.0),
            },
            "sleepVersion": 2,
            "sleepNeed": _sleep_need(athlete, day, night.start_utc - timedelta(hours=10)),
            "nextSleepNeed": _sleep_need(
                athlete, day + timedelta(days=1), night.end_utc + timedelta(hours=8)
            ),
            # In garth's 2025-07-06 night (data/test_daily_sleep_data_list.yaml), not in 07-07's.
            "breathingDisruptionSeverity": "NONE",
        },
        "sleepMovement": [],
        "remSleepData": True,
        "sleepLevels": [
            {
                "startGMT": iso_tenths(_utc(a)),
                "endGMT": iso_tenths(_utc(b)),
                "activityLevel": float(stage),
            }
            for a, b, stage in night.segments
        ],
        "wellnessSpO2SleepSummaryDTO": {
            "userProfilePk": p.profile_id,
            "deviceId": p.device_id,
            "sleepMeasurementStartGMT": iso_tenths(_utc(night.start_utc)),
            "sleepMeasurementEndGMT": iso_tenths(_utc(night.end_utc)),
            "alertThresholdValue": None,
            "numberOfEventsBelowThreshold": None,
            "durationOfEventsBelowThreshold": None,
            "averageSPO2": night.avg_spo2,
            "averageSpO2HR": float(awake_hr),
            "lowestSPO2": night.lowest_spo2,
        },
        "skinTempDataExists": False,
        "avgSkinTempDeviationC": None,
        "avgSkinTempDeviationF": None,
        "bodyBatteryChange": athlete.wellness(day).body_battery_sleep_charge,
        "skinTempCalibrationDays": None,
        "restingHeartRate": athlete.rest_hr(day),
        # Newer than the recordings: today's answer also carries these (garminconnect docs).
        "restlessMomentsCount": night.awake_count * 6
        + 20
        + stable_rng(athlete.seed, "restless", day).randrange(30),
        "avgOvernightHrv": float(night.hrv.last_night_avg) if night.hrv else None,
        "hrvStatus": (hrv(athlete, day) or {}).get("hrvSummary", {}).get("status"),
    }


# ---------------------------------------------------------------------- hrv
def hrv(athlete: SyntheticAthlete, day: date) -> dict[str, Any] | None:
    """GET /hrv-service/hrv/{date} (garth data/test_hrv_data_get.yaml); None -> HTTP 204."""
    if not athlete.in_history(day):
        return None
    night: SleepNight = athlete.night(day)
    if night.hrv is None:
        return None
    week = [athlete.night(day - timedelta(days=k)).hrv for k in range(7)]
    week_avgs = [h.last_night_avg for h in week if h is not None]
    weekly = int(sum(week_avgs) / len(week_avgs) + 0.5)
    base = athlete.profile.hrv_base
    low, balanced_low, balanced_high = base - 10, base - 6, base + 8
    status = "LOW" if weekly < low else "BALANCED" if weekly <= balanced_high else "UNBALANCED"
    if low <= weekly < balanced_low:
        status = "UNBALANCED"
    readings = night.hrv.readings
    last = readings[-1][0]
    return {
        "userProfilePk": athlete.profile.profile_id,
        "hrvSummary": {
            "calendarDate": day.isoformat(),
            "weeklyAvg": weekly,
            "lastNightAvg": night.hrv.last_night_avg,
            "lastNight5MinHigh": night.hrv.last_night_5min_high,
            "baseline": {
                "lowUpper": low,
                "balancedLow": balanced_low,
                "balancedUpper": balanced_high,
                "markerValue": round(
                    min(1.0, max(0.0, (weekly - low) / (balanced_high - low + 10))), 2
                ),
            },
            "status": status,
            "feedbackPhrase": f"HRV_{status}_{day.toordinal() % 8 + 1}",
            "createTimeStamp": iso_millis(
                _utc(night.end_utc + timedelta(minutes=63, seconds=11, milliseconds=898))
            ),
        },
        "hrvReadings": [
            {
                "hrvValue": value,
                "readingTimeGMT": iso_tenths(_utc(ts)),
                "readingTimeLocal": iso_tenths(athlete.clock.utc_to_local(ts)),
            }
            for ts, value in readings
        ],
        "startTimestampGMT": iso_tenths(_utc(night.start_utc)),
        "endTimestampGMT": iso_tenths(_utc(last)),
        "startTimestampLocal": iso_tenths(athlete.clock.utc_to_local(night.start_utc)),
        "endTimestampLocal": iso_tenths(athlete.clock.utc_to_local(last)),
        "sleepStartTimestampGMT": iso_tenths(_utc(night.start_utc)),
        "sleepEndTimestampGMT": iso_tenths(_utc(night.end_utc)),
        "sleepStartTimestampLocal": iso_tenths(athlete.clock.utc_to_local(night.start_utc)),
        "sleepEndTimestampLocal": iso_tenths(athlete.clock.utc_to_local(night.end_utc)),
    }


# ---------------------------------------------------------------------- activities
def _training_effect_label(aerobic: float) -> tuple[str, str]:
    if aerobic < 2.0:
        return "RECOVERY", "MINOR_AEROBIC_BENEFIT_0"
    if aerobic < 3.0:
        return "AEROBIC_BASE", "MAINTAINING_AEROBIC_BASE_7"
    if aerobic < 4.0:
        return "TEMPO", "IMPROVING_AEROBIC_BASE_8"
    return "THRESHOLD", "HIGHLY_IMPROVING_AEROBIC_ENDURANCE_10"


def activity_list_item(athlete: SyntheticAthlete, a: SyntheticActivity) -> dict[str, Any]:
    """One element of GET /activitylist-service/activities/search/activities.

    Mirrors garth data/test_activity_list.yaml: the trail run for runs and rides, the swim for
    pool swims. Like the real list, keys whose value would be null are left out; the owner's
    profile-image URLs and ``userRoles`` are left out too (there is no image, no account).
    """
    p = athlete.profile
    spec = SPORTS[a.sport]
    label, message = _training_effect_label(a.aerobic_training_effect)
    swim = a.sport == "lap_swimming"
    item: dict[str, Any] = {
        "activityId": a.activity_id,
        "activityName": a.activity_name,
        "startTimeLocal": spaced(a.start_time_local),
        "startTimeGMT": spaced(_utc(a.start_time_utc)),
        "activityType": {
            "typeId": spec.type_id,
            "typeKey": spec.type_key,
            "parentTypeId": spec.parent_type_id,
            "isHidden": False,
            "restricted": False,
            "trimmable": spec.trimmable,
        },
        "eventType": {"typeId": 9, "typeKey": "uncategorized", "sortOrder": 10},
        "distance": a.distance_m,
        "duration": a.duration_s,
        "elapsedDuration": a.duration_s,
        "movingDuration": a.moving_duration_s,
    }
    if a.elevation_gain_m is not None:
        item["elevationGain"] = a.elevation_gain_m
        item["elevationLoss"] = a.elevation_loss_m
    item.update(averageSpeed=a.avg_speed_m_s, maxSpeed=a.max_speed_m_s)
    if a.start_lat is not None:
        item.update(startLatitude=a.start_lat, startLongitude=a.start_lon)
    item.update(
        hasPolyline=not swim,
        hasImages=False,
        ownerId=p.profile_id,
        ownerDisplayName=p.display_name,
        ownerFullName=p.full_name,
        calories=float(a.calories),
        bmrCalories=float(a.bmr_calories),
        averageHR=float(a.avg_hr),
        maxHR=float(a.max_hr),
    )
    if a.sport == "running":
        item.update(
            averageRunningCadenceInStepsPerMinute=float(2 * (a.avg_cadence or 0)),
            maxRunningCadenceInStepsPerMinute=float(2 * (a.max_cadence or 0)),
            steps=a.steps,
        )
    elif a.sport == "cycling":
        item.update(
            averageBikingCadenceInRevPerMinute=float(a.avg_cadence or 0),
            maxBikingCadenceInRevPerMinute=float(a.max_cadence or 0),
        )
    else:
        lengths = a.active_lengths or 1
        strokes = a.total_strokes or 0
        item.update(
            averageSwimCadenceInStrokesPerMinute=float(a.avg_cadence or 0),
            maxSwimCadenceInStrokesPerMinute=float(a.max_cadence or 0),
            averageSwolf=float(round((strokes + a.moving_duration_s) / lengths)),
            activeLengths=a.active_lengths,
        )
    item.update(
        privacy=dict(_PRIVATE),
        userPro=False,
        hasVideo=False,
        timeZoneId=athlete.clock.garmin_id,
        beginTimestamp=epoch_ms(a.start_time_utc),
        sportTypeId=spec.sport_type_id,
    )
    if a.sport == "cycling":
        item.update(avgPower=float(a.avg_power_w or 0), maxPower=float(a.max_power_w or 0))
    item.update(
        aerobicTrainingEffect=a.aerobic_training_effect,
        anaerobicTrainingEffect=a.anaerobic_training_effect,
    )
    if a.sport == "cycling":
        item["normPower"] = float(a.normalized_power_w or 0)
    if swim:
        strokes = a.total_strokes or 0
        item.update(
            strokes=float(strokes),
            avgStrokes=round(strokes / (a.active_lengths or 1), 1),
            avgStrokeDistance=round(a.distance_m / strokes, 2) if strokes else 0.0,
            poolLength=float(POOL_LENGTH_M * 100),
            unitOfPoolLength={"unitId": 1, "unitKey": "meter", "factor": 100.0},
        )
    if a.sport == "running" and a.steps:
        item["avgStrideLength"] = round(a.distance_m * 100 / a.steps, 2)
    if not swim:
        item["vO2MaxValue"] = p.vo2max_running if a.sport == "running" else p.vo2max_cycling
    item["deviceId"] = p.device_id
    if a.min_elevation_m is not None:
        item.update(minElevation=a.min_elevation_m, maxElevation=a.max_elevation_m)
    if a.sport == "running":
        item["maxDoubleCadence"] = float(2 * (a.max_cadence or 0))
    if a.max_vertical_speed_m_s is not None:
        item["maxVerticalSpeed"] = a.max_vertical_speed_m_s
    item.update(summarizedDiveInfo={"summarizedDiveGases": []}, manufacturer="GARMIN")
    if not swim:
        item["locationName"] = p.location
    item["lapCount"] = a.lap_count
    if a.end_lat is not None:
        item.update(endLatitude=a.end_lat, endLongitude=a.end_lon)
    item.update(
        waterEstimated=float(int(a.duration_s / 3600 * 600)),
        trainingEffectLabel=label,
        activityTrainingLoad=a.training_load,
        minActivityLapDuration=a.min_lap_duration_s,
        aerobicTrainingEffectMessage=message,
        anaerobicTrainingEffectMessage="NO_ANAEROBIC_BENEFIT_0",
        splitSummaries=[],
        hasSplits=False,
        moderateIntensityMinutes=a.moderate_intensity_minutes,
        vigorousIntensityMinutes=a.vigorous_intensity_minutes,
        differenceBodyBattery=body_battery_impact(a),
        hasHeatMap=False,
    )
    if a.fastest_split_1000_s is not None:
        item["fastestSplit_1000"] = a.fastest_split_1000_s
    for zone, seconds in enumerate(a.hr_time_in_zone_s, start=1):
        item[f"hrTimeInZone_{zone}"] = seconds
    item.update(
        endTimeGMT=spaced(_utc(a.end_time_utc)),
        qualifyingDive=False,
        autoCalcCalories=False,
        favorite=False,
        decoDive=False,
        elevationCorrected=False,
        atpActivity=False,
        purposeful=False,
        manualActivity=False,
        pr=False,
        parent=False,
    )
    return item
