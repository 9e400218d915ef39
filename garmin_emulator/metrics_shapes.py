"""Training and fitness metrics of the synthetic athlete, and the bodies of their range endpoints.

`AthleteMetrics` derives every value from what the athlete already is: the training load and
training effect of its activities, its nights' sleep score and HRV, its resting heart rate and
its profile (VO2max, birth date, height, weight). Nothing is chained through a random walk, so a
day is a pure function of (seed, day) like everything else in the emulator. Garmin only knows
what the watch recorded, so loads count activities inside the history only, and days outside it
get what Garmin sends for days without data.

Shapes: training readiness entries follow the recorded `trainingreadiness/{date}` bodies, the
weekly training status the recorded `weeklyTrainingStatus.payload` (garth
`stats/test_weekly_training_status.yaml`), hill and endurance scores the recorded single-day
bodies (garth `data/test_garmin_scores_data_get.yaml`) wrapped in the `/stats` envelope public
clients read (`hillScoreDTOList`; `groupMap` of `groupAverage`/`groupMax`). No response of
`maxmet/daily/{start}/{end}`, `fitnessage-service/stats/daily`, `racepredictions/daily`,
`deviceregistration/devices`, `gear/filterGear` or `gear/stats` was recorded: those bodies follow
the keys garminconnect's docstrings and public clients read, and say so in their docstrings.
"""

from __future__ import annotations

import threading
import weakref
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from garmin_emulator.activity import SPORTS, SyntheticActivity
from garmin_emulator.determinism import clamp, stable_hex, stable_int
from garmin_emulator.shapes import DEVICE_KEY, DEVICE_NAME
from garmin_emulator.timefmt import epoch_ms, iso_tenths

if TYPE_CHECKING:
    from garmin_emulator.athlete import SyntheticAthlete

ACUTE_DAYS = 7
CHRONIC_DAYS = 28
STATUS_AFTER_DAYS = 7  # Garmin shows no training status until a week of data is recorded
# Garmin's training status codes, as recorded (weekly training status: 1, 4, 5 and 7).
NO_STATUS, DETRAINING, MAINTAINING, RECOVERY, PRODUCTIVE = 0, 1, 4, 5, 7
STATUS_NAMES = {
    NO_STATUS: "NO_STATUS",
    DETRAINING: "DETRAINING",
    MAINTAINING: "MAINTAINING",
    RECOVERY: "RECOVERY",
    PRODUCTIVE: "PRODUCTIVE",
}
FALLING, STEADY, RISING = 1, 2, 3  # fitness trend codes (recorded: 2)
# Riegel's fatigue exponent 1.06 applied to 10K, half and full marathon over 5K, as constants so
# no platform's pow() can move a second.
RIEGEL_FROM_5K = {"time10K": 2.084931521682, "timeHalfMarathon": 4.600199333257}
RIEGEL_FROM_5K["timeMarathon"] = 9.591100595928
# Endurance score classification floors, as in the recorded endurancescore body.
ENDURANCE_FLOORS = (5100, 5800, 6600, 7300, 8100, 8800)
HRM_PRODUCT_NAME = "HRM-Pro"


def _wave(day: date, period: int, phase: int = 0) -> float:
    """A triangle wave in [-1, 1]: slow drifts without trigonometry (libm-free)."""
    p = (day.toordinal() + phase) % period
    return abs(2 * p - period) / (period / 2) - 1


def feedback(percent: int) -> str:
    """The factor feedback words the recorded readiness bodies use for a factor percentage."""
    if percent >= 100:
        return "VERY_GOOD"
    if percent >= 60:
        return "GOOD"
    if percent >= 40:
        return "MODERATE"
    if percent >= 20:
        return "POOR"
    return "VERY_POOR"


def readiness_level(score: int) -> str:
    if score >= 95:
        return "PRIME"
    if score >= 75:
        return "HIGH"
    if score >= 50:
        return "MODERATE"
    if score >= 25:
        return "LOW"
    return "POOR"


_FEEDBACK_SHORT = {
    "PRIME": "READY_TO_GO",
    "HIGH": "WELL_RECOVERED",
    "MODERATE": "RECOVERY_IN_PROGRESS",
    "LOW": "HIGH_RECOVERY_NEEDS",
    "POOR": "HIGH_RECOVERY_NEEDS",
}


def acwr_status(ratio: float | None) -> str:
    if ratio is None:
        return "NONE"
    if ratio < 0.8:
        return "LOW"
    if ratio <= 1.5:
        return "OPTIMAL"
    if ratio <= 2.0:
        return "HIGH"
    return "VERY_HIGH"


def _uuid(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:32]}"


class AthleteMetrics:
    """The athlete's training metrics; `metrics_of(athlete)` shares one per athlete."""

    def __init__(self, athlete: SyntheticAthlete) -> None:
        self.athlete = athlete
        self.profile = athlete.profile
        self._loads: dict[date, float] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ load
    def activities(self, day: date) -> list[SyntheticActivity]:
        """What the watch recorded that day (nothing outside the history)."""
        return self.athlete.activities_on(day)

    def daily_load(self, day: date) -> float:
        """The day's training load: the sum of its activities' own training load."""
        with self._lock:
            if day in self._loads:
                return self._loads[day]
        load = round(sum(a.training_load for a in self.activities(day)), 2)
        with self._lock:
            self._loads[day] = load
        return load

    def acute_load(self, day: date, until: datetime | None = None) -> int:
        """Load of the last 7 days; on `day` itself only activities finished by `until`."""
        total = sum(self.daily_load(day - timedelta(days=k)) for k in range(1, ACUTE_DAYS))
        total += sum(
            a.training_load
            for a in self.activities(day)
            if until is None or a.end_time_utc <= until
        )
        return int(total + 0.5)

    def chronic_load(self, day: date) -> int:
        """The mean weekly load of the last 28 days (the scale of the acute load)."""
        total = sum(self.daily_load(day - timedelta(days=k)) for k in range(CHRONIC_DAYS))
        return int(total * ACUTE_DAYS / CHRONIC_DAYS + 0.5)

    def acwr(self, acute: int, chronic: int) -> float | None:
        return round(acute / chronic, 1) if chronic else None

    # ------------------------------------------------------------------ fitness
    def vo2max_running(self, day: date) -> float:
        """Precise running VO2max: the profile value drifting ±1.5 over a 120-day wave."""
        return round(self.profile.vo2max_running + 1.5 * _wave(day, 120), 1)

    def vo2max_cycling(self, day: date) -> float:
        return round(self.profile.vo2max_cycling + 1.2 * _wave(day, 150, phase=40), 1)

    def age_years(self, day: date) -> float:
        return (day.toordinal() - self.profile.birth_date.toordinal()) / 365.25

    def fitness_age(self, day: date) -> float:
        """Chronological age minus 0.8 year per ml/kg/min of running VO2max above the norm."""
        age = self.age_years(day)
        if self.profile.gender == "MALE":
            norm = 50.0 - 0.35 * (age - 25)
        else:
            norm = 43.0 - 0.30 * (age - 25)
        return round(clamp(age - 0.8 * (self.vo2max_running(day) - norm), 18.0, 90.0), 2)

    def vigorous_days_avg(self, day: date) -> float:
        """Days per week, over the last 4 weeks, with 10 or more vigorous minutes."""
        days = sum(
            1
            for k in range(CHRONIC_DAYS)
            if sum(a.vigorous_intensity_minutes for a in self.activities(day - timedelta(days=k)))
            >= 10
        )
        return round(days / 4, 2)

    def bmi(self) -> float:
        metres = self.profile.height_cm / 100
        return round(self.profile.weight_kg / (metres * metres), 1)

    def race_predictions(self, day: date) -> dict[str, int]:
        """5K from VO2max (a fit of Daniels' VDOT table: 69426 / (VO2max + 8) s), the longer
        distances from the 5K by Riegel's formula."""
        five_k = 69_426 / (self.vo2max_running(day) + 8)
        times = {"time5K": int(five_k + 0.5)}
        times.update({key: int(five_k * factor + 0.5) for key, factor in RIEGEL_FROM_5K.items()})
        return times

    def endurance_score(self, day: date) -> int:
        """Garmin's scale (~3500-10500): aerobic capacity plus the recent weekly load."""
        return int(
            2500
            + 50 * self.vo2max_running(day)
            + 20 * self.vo2max_cycling(day)
            + 3 * self.chronic_load(day)
            + 0.5
        )

    def endurance_classification(self, score: int) -> int:
        return 1 + sum(1 for floor in ENDURANCE_FLOORS if score >= floor)

    def endurance_contributors(self, day: date) -> list[dict[str, Any]]:
        """Each sport's share of the last 28 days' load, like the recorded `contributors`."""
        by_sport: dict[str, float] = {}
        for k in range(CHRONIC_DAYS):
            for a in self.activities(day - timedelta(days=k)):
                by_sport[a.sport] = by_sport.get(a.sport, 0.0) + a.training_load
        total = sum(by_sport.values())
        return [
            {
                "activityTypeId": SPORTS[sport].type_id,
                "group": None,
                "contribution": round(100 * load / total, 2),
            }
            for sport, load in sorted(by_sport.items())
        ]

    def recent_runs(self, day: date) -> list[SyntheticActivity]:
        return [
            a
            for k in range(CHRONIC_DAYS)
            for a in self.activities(day - timedelta(days=k))
            if a.sport == "running"
        ]

    def hill_scores(self, day: date) -> dict[str, int] | None:
        """Strength from the climbing of the last 4 weeks' runs, endurance from VO2max; None
        until the watch has recorded a run."""
        runs = self.recent_runs(day)
        if not runs:
            return None
        climbed = sum(a.elevation_gain_m or 0.0 for a in runs)
        strength = int(clamp(climbed / 5, 1, 100))
        endurance = int(clamp((self.vo2max_running(day) - 30) * 2.5, 1, 100))
        overall = int(clamp(0.4 * strength + 0.6 * endurance + 0.5, 1, 100))
        classification = 1 + sum(1 for floor in (25, 50, 70, 85) if overall >= floor)
        return {
            "strengthScore": strength,
            "enduranceScore": endurance,
            "hillScoreClassificationId": classification,
            "overallScore": overall,
            "hillScoreFeedbackPhraseId": 1 + stable_int(self.profile.seed, "hill", day) % 12,
        }

    # ------------------------------------------------------------------ status
    def fitness_trend(self, day: date) -> int:
        change = self.vo2max_running(day) - self.vo2max_running(day - timedelta(days=7))
        return RISING if change >= 0.3 else FALLING if change <= -0.3 else STEADY

    def training_status(self, day: date) -> int:
        """Garmin-like rules on the load ratio and the VO2max trend (see the module's codes)."""
        if (day - self.athlete.first_day).days + 1 < STATUS_AFTER_DAYS:
            return NO_STATUS
        acute, chronic = self.acute_load(day), self.chronic_load(day)
        ratio = self.acwr(acute, chronic)
        trend = self.fitness_trend(day)
        if ratio is None or acute == 0 or (ratio < 0.8 and trend == FALLING):
            return DETRAINING
        if ratio < 0.8:
            return RECOVERY
        if trend == RISING:
            return PRODUCTIVE
        return MAINTAINING

    def status_phrase(self, day: date, status: int) -> str:
        name = STATUS_NAMES[status]
        if status in (NO_STATUS, DETRAINING):
            return name
        return f"{name}_{1 + stable_int(self.profile.seed, 'status phrase', day) % 6}"

    def status_time(self, day: date) -> datetime:
        """When the day's status was last computed: after its last activity, else at wake-up."""
        activities = self.activities(day)
        if activities:
            return max(a.end_time_utc for a in activities) + timedelta(minutes=4)
        return self.athlete.night(day).end_utc + timedelta(minutes=3)

    # ------------------------------------------------------------------ readiness
    def recovery_minutes(self, activity: SyntheticActivity) -> int:
        """Recovery time an activity asks for: its load and aerobic training effect."""
        return int(activity.training_load * 20 + activity.aerobic_training_effect * 400)

    def recovery_left(self, day: date, at: datetime) -> int:
        """Minutes of recovery still needed at `at`, from the last 4 days' activities."""
        left = 0
        for k in range(4):
            for a in self.activities(day - timedelta(days=k)):
                if a.end_time_utc <= at:
                    elapsed = int((at - a.end_time_utc).total_seconds()) // 60
                    left = max(left, self.recovery_minutes(a) - elapsed)
        return left

    def readiness_times(self, day: date) -> list[tuple[datetime, str]]:
        """(instant, inputContext): once after waking up, once after each activity."""
        times = [(self.athlete.night(day).end_utc + timedelta(minutes=2), "AFTER_WAKEUP_RESET")]
        times += [
            (a.end_time_utc + timedelta(minutes=3), "AFTER_POST_EXERCISE_RESET")
            for a in self.activities(day)
        ]
        return times

    def readiness(self, day: date, at: datetime) -> dict[str, Any]:
        """The readiness factors and score at an instant of `day`."""
        athlete = self.athlete
        night = athlete.night(day)
        sleep_pct = int(clamp(night.score, 0, 100))
        history = [athlete.night(day - timedelta(days=k)).score for k in range(3)]
        sleep_history_pct = int(sum(history) / len(history) + 0.5)
        nights = [athlete.night(day - timedelta(days=k)).hrv for k in range(7)]
        hrv_values = [h.last_night_avg for h in nights if h is not None]
        hrv_weekly = int(sum(hrv_values) / len(hrv_values) + 0.5) if hrv_values else None
        if night.hrv is not None and hrv_weekly is not None:
            hrv_pct = int(clamp(100 - 4 * abs(night.hrv.last_night_avg - hrv_weekly), 0, 100))
        else:
            hrv_pct = 0
        stress = [athlete.night(day - timedelta(days=k)).avg_sleep_stress for k in (1, 2, 3)]
        stress_pct = int(clamp(110 - 2.5 * sum(stress) / len(stress), 0, 100))
        recovery = self.recovery_left(day, at)
        recovery_pct = int(100 * 1650 / (1650 + recovery) + 0.5)
        acute = self.acute_load(day, until=at)
        chronic = self.chronic_load(day - timedelta(days=1))
        ratio = acute / chronic if chronic else 1.0
        acwr_pct = int(clamp(100 - max(0.0, ratio - 0.9) * 80, 0, 100))
        score = int(
            clamp(
                0.30 * sleep_pct
                + 0.25 * recovery_pct
                + 0.15 * acwr_pct
                + 0.15 * hrv_pct
                + 0.10 * sleep_history_pct
                + 0.05 * stress_pct
                + 0.5,
                1,
                100,
            )
        )
        return {
            "score": score,
            "level": readiness_level(score),
            "sleepScore": night.score,
            "sleepScoreFactorPercent": sleep_pct,
            "recoveryTime": recovery,
            "recoveryTimeFactorPercent": recovery_pct,
            "acwrFactorPercent": acwr_pct,
            "acuteLoad": acute,
            "stressHistoryFactorPercent": stress_pct,
            "hrvFactorPercent": hrv_pct,
            "hrvWeeklyAverage": hrv_weekly,
            "sleepHistoryFactorPercent": sleep_history_pct,
        }

    # ------------------------------------------------------------------ gear
    def gear(self) -> list[dict[str, Any]]:
        """Running shoes and a road bike, in use since the history began."""
        p = self.profile
        items = []
        for n, (kind, make, model, sport, max_m) in enumerate(
            (
                ("Shoes", "Asics", "Novablast 4", "running", 800_000),
                ("Bike", "Canyon", "Endurace CF 7", "cycling", 0),
            )
        ):
            items.append(
                {
                    "gearPk": 40_000_000 + stable_int(p.seed, "gear pk", n) % 1_000_000,
                    "uuid": _uuid(stable_hex(p.seed, "gear", n)),
                    "sport": sport,
                    "gearTypeName": kind,
                    "gearMakeName": make,
                    "gearModelName": model,
                    "displayName": f"{make} {model}",
                    "dateBegin": self.athlete.first_day,
                    "maximumMeters": float(max_m),
                }
            )
        return items

    def gear_totals(self, sport: str) -> tuple[float, int]:
        """(metres, activities) of the history's activities of that sport."""
        done = [a for a in self.athlete.activities() if a.sport == sport]
        return round(sum(a.distance_m for a in done), 2), len(done)


_METRICS: weakref.WeakKeyDictionary[SyntheticAthlete, AthleteMetrics] = weakref.WeakKeyDictionary()
_METRICS_LOCK = threading.Lock()


def metrics_of(athlete: SyntheticAthlete) -> AthleteMetrics:
    with _METRICS_LOCK:
        metrics = _METRICS.get(athlete)
        if metrics is None:
            metrics = _METRICS[athlete] = AthleteMetrics(athlete)
        return metrics


# ---------------------------------------------------------------------- bodies
def _recorded_days(athlete: SyntheticAthlete, days: list[date]) -> list[date]:
    return [day for day in days if athlete.in_history(day)]


def training_readiness(athlete: SyntheticAthlete, days: list[date]) -> list[dict[str, Any]]:
    """GET /metrics-service/metrics/trainingreadiness/{start}/{end}: the entries of each day,
    newest first within a day as recorded (garth data/test_training_readiness_data_get.yaml)."""
    m = metrics_of(athlete)
    p = athlete.profile
    body: list[dict[str, Any]] = []
    for day in _recorded_days(athlete, days):
        entries = []
        for at, context in m.readiness_times(day):
            r = m.readiness(day, at)
            after_exercise = context == "AFTER_POST_EXERCISE_RESET"
            entries.append(
                {
                    "userProfilePK": p.profile_id,
                    "calendarDate": day.isoformat(),
                    "timestamp": iso_tenths(at.replace(tzinfo=None)),
                    "timestampLocal": iso_tenths(athlete.clock.utc_to_local(at)),
                    "deviceId": p.device_id,
                    "level": r["level"],
                    "feedbackLong": f"{r['level'][:4]}_RT_"
                    f"{feedback(r['recoveryTimeFactorPercent'])}_SS_"
                    f"{feedback(r['sleepScoreFactorPercent'])}",
                    "feedbackShort": _FEEDBACK_SHORT[r["level"]],
                    "score": r["score"],
                    "sleepScore": r["sleepScore"],
                    "sleepScoreFactorPercent": r["sleepScoreFactorPercent"],
                    "sleepScoreFactorFeedback": feedback(r["sleepScoreFactorPercent"]),
                    "recoveryTime": r["recoveryTime"],
                    "recoveryTimeFactorPercent": r["recoveryTimeFactorPercent"],
                    "recoveryTimeFactorFeedback": feedback(r["recoveryTimeFactorPercent"]),
                    "acwrFactorPercent": r["acwrFactorPercent"],
                    "acwrFactorFeedback": feedback(r["acwrFactorPercent"]),
                    "acuteLoad": r["acuteLoad"],
                    "stressHistoryFactorPercent": r["stressHistoryFactorPercent"],
                    "stressHistoryFactorFeedback": feedback(r["stressHistoryFactorPercent"]),
                    "hrvFactorPercent": r["hrvFactorPercent"],
                    "hrvFactorFeedback": feedback(r["hrvFactorPercent"])
                    if r["hrvFactorPercent"]
                    else "NONE",
                    "hrvWeeklyAverage": r["hrvWeeklyAverage"],
                    "sleepHistoryFactorPercent": r["sleepHistoryFactorPercent"],
                    "sleepHistoryFactorFeedback": feedback(r["sleepHistoryFactorPercent"]),
                    "validSleep": True,
                    "inputContext": context,
                    "primaryActivityTracker": True,
                    "recoveryTimeChangePhrase": "NEW_EXERCISE" if after_exercise else None,
                    "sleepHistoryFactorFeedbackPhrase": None,
                    "hrvFactorFeedbackPhrase": None,
                    "stressHistoryFactorFeedbackPhrase": None,
                    "acwrFactorFeedbackPhrase": None,
                    "recoveryTimeFactorFeedbackPhrase": None,
                    "sleepScoreFactorFeedbackPhrase": None,
                }
            )
        body.extend(reversed(entries))
    return body


def status_entry(athlete: SyntheticAthlete, day: date) -> dict[str, Any]:
    """One day of `reportData[deviceId]` (garth stats/test_weekly_training_status.yaml)."""
    m = metrics_of(athlete)
    acute, chronic = m.acute_load(day), m.chronic_load(day)
    ratio = m.acwr(acute, chronic)
    status = m.training_status(day)
    return {
        "calendarDate": day.isoformat(),
        "sinceDate": None,
        "weeklyTrainingLoad": None,
        "trainingStatus": status,
        "timestamp": epoch_ms(m.status_time(day)),
        "deviceId": athlete.profile.device_id,
        "loadTunnelMin": None,
        "loadTunnelMax": None,
        "loadLevelTrend": None,
        "sport": "RUNNING",
        "subSport": "GENERIC",
        "fitnessTrendSport": "RUNNING",
        "fitnessTrend": None if status == NO_STATUS else m.fitness_trend(day),
        "trainingStatusFeedbackPhrase": m.status_phrase(day, status),
        "trainingPaused": False,
        "acuteTrainingLoadDTO": {
            "acwrPercent": None if ratio is None else int(clamp(ratio * 100 / 2.35 + 0.5, 0, 100)),
            "acwrStatus": acwr_status(ratio),
            "acwrStatusFeedback": "FEEDBACK_2",
            "dailyTrainingLoadAcute": acute,
            "maxTrainingLoadChronic": chronic * 1.5,
            "minTrainingLoadChronic": chronic * 0.8,
            "dailyTrainingLoadChronic": chronic,
            "dailyAcuteChronicWorkloadRatio": ratio,
        },
        "primaryTrainingDevice": True,
    }


def weekly_training_status(athlete: SyntheticAthlete, days: list[date]) -> dict[str, Any]:
    """GET /metrics-service/metrics/trainingstatus/weekly/{displayName}: the recorded
    `weeklyTrainingStatus.payload`, one entry per recorded day under the primary device."""
    p = athlete.profile
    return {
        "userId": p.profile_id,
        "fromCalendarDate": days[0].isoformat(),
        "toCalendarDate": days[-1].isoformat(),
        "showSelector": False,
        "recordedDevices": [
            {"deviceId": p.device_id, "imageURL": None, "deviceName": DEVICE_NAME, "category": 0}
        ],
        "reportData": {
            str(p.device_id): [status_entry(athlete, d) for d in _recorded_days(athlete, days)]
        },
    }


def max_metrics(athlete: SyntheticAthlete, days: list[date]) -> list[dict[str, Any]]:
    """GET /metrics-service/metrics/maxmet/daily/{start}/{end} (not recorded): the entry shape
    of the recorded `maxmet/latest` payload, one entry per day VO2max was updated, i.e. a day
    with a run (`generic`) or a ride (`cycling`); other days are absent, as observed upstream."""
    m = metrics_of(athlete)
    body = []
    for day in _recorded_days(athlete, days):
        sports = {a.sport for a in m.activities(day)}
        if not sports & {"running", "cycling"}:
            continue
        generic = cycling = None
        if "running" in sports:
            value = m.vo2max_running(day)
            generic = {
                "calendarDate": day.isoformat(),
                "vo2MaxPreciseValue": value,
                "vo2MaxValue": float(int(value + 0.5)),
                "fitnessAge": int(m.fitness_age(day) + 0.5),
                "fitnessAgeDescription": None,
                "maxMetCategory": 0,
            }
        if "cycling" in sports:
            value = m.vo2max_cycling(day)
            cycling = {
                "calendarDate": day.isoformat(),
                "vo2MaxPreciseValue": value,
                "vo2MaxValue": float(int(value + 0.5)),
                "fitnessAge": None,
                "fitnessAgeDescription": None,
                "maxMetCategory": 1,
            }
        body.append(
            {
                "userId": athlete.profile.profile_id,
                "generic": generic,
                "cycling": cycling,
                "heatAltitudeAcclimation": None,
            }
        )
    return body


def fitness_age_daily(athlete: SyntheticAthlete, days: list[date]) -> list[dict[str, Any]]:
    """GET /fitnessage-service/stats/daily/{start}/{end} (not recorded): `{calendarDate,
    values}` rows as public clients read them (fitnessAge, achievableFitnessAge, rhr, bmi,
    vigorousDaysAvg; no body fat, which this athlete never measures)."""
    m = metrics_of(athlete)
    rows = []
    for day in _recorded_days(athlete, days):
        age = m.fitness_age(day)
        rows.append(
            {
                "calendarDate": day.isoformat(),
                "values": {
                    "achievableFitnessAge": round(max(18.0, age - 2.0), 2),
                    "vigorousDaysAvg": m.vigorous_days_avg(day),
                    "fitnessAge": age,
                    "rhr": athlete.rest_hr(day),
                    "bmi": m.bmi(),
                },
            }
        )
    return rows


def race_predictions(athlete: SyntheticAthlete, days: list[date]) -> list[dict[str, Any]]:
    """GET /metrics-service/metrics/racepredictions/daily/{displayName} (not recorded): one
    entry per day with the keys public clients read (time5K ... timeMarathon, in seconds)."""
    m = metrics_of(athlete)
    return [
        {
            "userId": athlete.profile.profile_id,
            "fromCalendarDate": None,
            "toCalendarDate": None,
            "calendarDate": day.isoformat(),
            **m.race_predictions(day),
        }
        for day in _recorded_days(athlete, days)
    ]


def endurance_score_dto(athlete: SyntheticAthlete, day: date) -> dict[str, Any]:
    """The single-day body (garth data/test_garmin_scores_data_get.yaml, endurancescore)."""
    m = metrics_of(athlete)
    score = m.endurance_score(day)
    return {
        "userProfilePK": athlete.profile.profile_id,
        "deviceId": athlete.profile.device_id,
        "calendarDate": day.isoformat(),
        "overallScore": score,
        "classification": m.endurance_classification(score),
        "feedbackPhrase": 30,
        "primaryTrainingDevice": True,
        "gaugeLowerLimit": 3570,
        "classificationLowerLimitIntermediate": ENDURANCE_FLOORS[0],
        "classificationLowerLimitTrained": ENDURANCE_FLOORS[1],
        "classificationLowerLimitWellTrained": ENDURANCE_FLOORS[2],
        "classificationLowerLimitExpert": ENDURANCE_FLOORS[3],
        "classificationLowerLimitSuperior": ENDURANCE_FLOORS[4],
        "classificationLowerLimitElite": ENDURANCE_FLOORS[5],
        "gaugeUpperLimit": 10560,
        "contributors": m.endurance_contributors(day),
    }


def endurance_score_stats(athlete: SyntheticAthlete, days: list[date]) -> dict[str, Any]:
    """GET /metrics-service/metrics/endurancescore/stats?aggregation=daily: `groupMap` keyed
    by day (each day its own group, so average = max = the day's score), and the last day's
    single-day body as `enduranceScoreDTO`, as public clients read it."""
    m = metrics_of(athlete)
    recorded = _recorded_days(athlete, days)
    groups = {}
    for day in recorded:
        score = m.endurance_score(day)
        groups[day.isoformat()] = {
            "groupAverage": score,
            "groupMax": score,
            "enduranceContributorDTOList": m.endurance_contributors(day),
        }
    scores = [g["groupAverage"] for g in groups.values()]
    return {
        "userProfilePK": athlete.profile.profile_id,
        "startDate": days[0].isoformat(),
        "endDate": days[-1].isoformat(),
        "avg": int(sum(scores) / len(scores) + 0.5) if scores else None,
        "max": max(scores) if scores else None,
        "groupMap": groups,
        "enduranceScoreDTO": endurance_score_dto(athlete, recorded[-1]) if recorded else None,
    }


def hill_score_stats(athlete: SyntheticAthlete, days: list[date]) -> dict[str, Any]:
    """GET /metrics-service/metrics/hillscore/stats?aggregation=daily: `hillScoreDTOList` of
    single-day bodies (garth data/test_garmin_scores_data_get.yaml, hillscore); a day before the
    watch recorded any run has no entry."""
    m = metrics_of(athlete)
    entries = []
    for day in _recorded_days(athlete, days):
        scores = m.hill_scores(day)
        if scores is None:
            continue
        vo2 = m.vo2max_running(day)
        entries.append(
            {
                "userProfilePK": athlete.profile.profile_id,
                "deviceId": athlete.profile.device_id,
                "calendarDate": day.isoformat(),
                **scores,
                "vo2Max": float(int(vo2 + 0.5)),
                "vo2MaxPreciseValue": vo2,
                "primaryTrainingDevice": True,
            }
        )
    overall = [e["overallScore"] for e in entries]
    return {
        "userProfilePK": athlete.profile.profile_id,
        "startDate": days[0].isoformat(),
        "endDate": days[-1].isoformat(),
        "periodAvgScore": {"overallScore": int(sum(overall) / len(overall) + 0.5)}
        if overall
        else {},
        "maxScore": max(overall) if overall else None,
        "hillScoreDTOList": entries,
    }


def devices(athlete: SyntheticAthlete) -> list[dict[str, Any]]:
    """GET /device-service/deviceregistration/devices (not recorded): the watch and a chest
    strap, with the keys public clients read (deviceId, productDisplayName, displayName,
    serialNumber, currentFirmwareVersion, deviceStatus, lastSyncTime) and the app-info keys of
    the recorded `device_856399.json`. A sensor never syncs itself: its lastSyncTime is null."""
    p = athlete.profile
    strap_id = 3_500_000_000 + stable_int(p.seed, "strap id") % 100_000_000
    return [
        {
            "deviceId": p.device_id,
            "unitId": p.device_id,
            "applicationKey": DEVICE_KEY,
            "partNumber": "006-B3290-00",
            "productDisplayName": DEVICE_NAME,
            "displayName": DEVICE_NAME,
            "serialNumber": str(p.device_serial),
            "currentFirmwareVersion": f"{19 + p.seed % 5}.{10 + p.seed % 80}",
            "deviceStatus": "active",
            "primaryActivityTrackerIndicator": True,
            "registeredDate": epoch_ms(athlete.last_upload_utc - timedelta(days=athlete.days)),
            "lastSyncTime": iso_tenths(athlete.last_upload_utc.replace(tzinfo=None)),
        },
        {
            "deviceId": strap_id,
            "unitId": strap_id,
            "applicationKey": "hrmpro",
            "partNumber": "006-B3299-00",
            "productDisplayName": HRM_PRODUCT_NAME,
            "displayName": HRM_PRODUCT_NAME,
            "serialNumber": str(3_600_000_000 + stable_int(p.seed, "strap serial") % 100_000_000),
            "currentFirmwareVersion": "4.10",
            "deviceStatus": "active",
            "primaryActivityTrackerIndicator": False,
            "registeredDate": epoch_ms(athlete.last_upload_utc - timedelta(days=athlete.days)),
            "lastSyncTime": None,
        },
    ]


def gear(athlete: SyntheticAthlete) -> list[dict[str, Any]]:
    """GET /gear-service/gear/filterGear?userProfilePk= (not recorded): gear objects with the
    keys public clients read (uuid, gearPk, gearTypeName, gearStatusName, displayName, ...)."""
    p = athlete.profile
    return [
        {
            "gearPk": item["gearPk"],
            "uuid": item["uuid"],
            "userProfilePk": p.profile_id,
            "gearMakeName": item["gearMakeName"],
            "gearModelName": item["gearModelName"],
            "gearTypeName": item["gearTypeName"],
            "gearStatusName": "active",
            "displayName": item["displayName"],
            "customMakeModel": item["displayName"],
            "imageNameLarge": None,
            "imageNameMedium": None,
            "imageNameSmall": None,
            "dateBegin": f"{item['dateBegin']}T00:00:00.0",
            "dateEnd": None,
            "maximumMeters": item["maximumMeters"],
            "notified": False,
            "createDate": f"{item['dateBegin']}T00:00:00.0",
            "updateDate": f"{item['dateBegin']}T00:00:00.0",
        }
        for item in metrics_of(athlete).gear()
    ]


def gear_stats(athlete: SyntheticAthlete, uuid: str) -> dict[str, Any] | None:
    """GET /gear-service/gear/stats/{uuid} (not recorded; garminconnect: "statistics (e.g.
    distance)"): the history's distance and activity count of the gear's sport."""
    m = metrics_of(athlete)
    for item in m.gear():
        if item["uuid"] == uuid:
            metres, count = m.gear_totals(item["sport"])
            return {
                "uuid": uuid,
                "gearPk": item["gearPk"],
                "totalDistance": metres,
                "totalActivities": count,
                "processing": False,
            }
    return None
