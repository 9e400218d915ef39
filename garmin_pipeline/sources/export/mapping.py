"""The export's JSON members, converted to the per-day payloads the feeds' parsers already read.

Each feed keeps one parser for every source, so the export is converted to the shape Garmin
Connect's API serves for one day (the `garminconnect` answer the feed stores), not parsed on its
own. Units are converted on the way: epoch milliseconds and ISO GMT strings to what the API
sends, ms to s, cm to m, (m/s)/10 to m/s (scaling the decimal spelling, so 812345 cm is exactly
the 8123.45 m the API sends), floors from metres (3.048 m a floor; the export has no count).

    export member (pattern)              -> feed (payload)                  what of it
    UDSFile*.json                        -> daily_summary                   the day's summary
                                            daily_steps, daily_stress,     the same figures as
                                            daily_intensity_minutes,       the API's range
                                            daily_floors, resting_heart_rate, series serve them
                                            daily_respiration (+ sleep file), hydration,
                                            body_battery (charged/drained only)
    *sleepData*.json                     -> sleep                           night summary, score
    *healthStatusData*.json              -> hrv                             nightly mean + range
    TrainingReadinessDTO*.json           -> training_readiness              entries as they are
    TrainingHistory*.json + MetricsAcuteTrainingLoad*.json -> training_status
    MetricsMaxMetData*.json              -> max_metrics                     VO2max updates
    *summarizedActivities*.json          -> activities (activity_list.json) the activity list
    UploadedFiles*.zip / *.fit           -> activities (activity-<id>.zip), wellness (wellness.zip)
                                            (see `fitlink`: linked by start time and sport, or
                                            filed under their local day)

What the export does not carry stays empty rather than guessed: sleep stage intervals
(`sleepLevels`), Garmin's qualifier keys and stage percentages of the sleep score, local sleep
times, the HRV weekly mean, 5-minute high, low baseline and status, intraday Body Battery
levels and events. Floors are converted from metres (rounded to the mm by Garmin), so they can
differ from the API's count in the fourth decimal.

Several members can hold the same day (sleep ranges overlap by a night; a re-cut export): the
member sorted last wins, which is deterministic. A day a member covers (the range its file name
states, else its entries' first to last day; the activity list covers the whole export) but
has no entry for gets the API's "nothing that day" (`null`, or an empty activity list), so the
lake holds the same empty partitions a sync makes; it never replaces what raw already holds.

An entry without a readable date, or dated outside 1970..today+2, is left out with its reason;
a member that is not JSON, or not the list it should be, is quarantined whole with the reason
and every other member still lands.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from garmin_pipeline.errors import UnsafeValueError
from garmin_pipeline.raw.store import check_day
from garmin_pipeline.sources.export.discovery import Archive, Member

METRES_PER_FLOOR = Decimal("3.048")  # Garmin counts a floor as 10 ft
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GMT_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class DayPayload:
    """One payload of one feed's day, in the API's shape, and the members it came from."""

    feed: str
    day: date
    name: str
    value: Any  # bytes, a JSON value, or a callable giving the bytes when they are landed
    members: tuple[str, ...]
    # A day of the export's span this feed has no entry for: Garmin had nothing that day.
    # Landed (as the API's "nothing": null) only where raw holds nothing for it at all.
    fill: bool = False


@dataclass
class Mapped:
    payloads: list[DayPayload] = field(default_factory=list)
    quarantined: dict[str, str] = field(default_factory=dict)  # member -> why, whole
    skipped: dict[str, str] = field(default_factory=dict)  # "member#i" -> why, one entry
    activities: dict[int, tuple[date, dict[str, Any], str]] = field(default_factory=dict)
    activity_members: list[str] = field(default_factory=list)  # read as activity lists
    span: tuple[date, date] | None = None  # the first and last day the export holds
    # kind -> the days its readable members cover (their file names' ranges, else their
    # entries' first to last day): only there does a missing day mean "Garmin had nothing".
    coverage: dict[str, set[date]] = field(default_factory=dict)


class MemberError(ValueError):
    """A member that cannot be read as the kind its name says."""


# ---------------------------------------------------------------------- reading values
def scaled(value: Any, factor: str) -> float | None:
    """`value * factor` on its decimal spelling; None stays None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        spelled = repr(value) if isinstance(value, float) else str(value)
        return float(Decimal(spelled) * Decimal(factor))
    except InvalidOperation:
        return None


def day_of(value: Any) -> date:
    """A calendarDate: "YYYY-MM-DD[...]" or epoch ms (the UTC midnight Garmin stores)."""
    if isinstance(value, bool) or value in (None, ""):
        raise ValueError("no calendarDate")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC).date()
    return date.fromisoformat(str(value)[:10])


def gmt_ms(value: Any) -> int | None:
    """A GMT time (epoch ms, or Garmin's "2024-06-09T20:31:00.0") as epoch ms."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    for pattern in GMT_FORMATS:
        try:
            stamp = datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
        delta = stamp - EPOCH
        return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
    raise ValueError(f"unreadable GMT time {text[:40]!r}")


def spaced(epoch_ms: Any) -> str | None:
    """Epoch ms as the activity list's "YYYY-MM-DD HH:MM:SS" (a *Local value stays local)."""
    if epoch_ms is None or isinstance(epoch_ms, bool):
        return None
    return datetime.fromtimestamp(int(epoch_ms) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def load_json(member: Member) -> Any:
    try:
        return json.loads(member.read().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MemberError(f"not JSON: {' '.join(str(error).split())}") from None


def entries(member: Member) -> list[Any]:
    """A member's entries: a JSON list (a single object counts as a list of one)."""
    value = load_json(member)
    if isinstance(value, Mapping):
        return [value]
    if not isinstance(value, list):
        raise MemberError(f"expected a JSON list of entries, got {type(value).__name__}")
    return value


def activity_entries(member: Member) -> list[Any]:
    """summarizedActivities: `[{"summarizedActivitiesExport": [...]}]` (or the bare list)."""
    found: list[Any] = []
    for chunk in entries(member):
        if isinstance(chunk, Mapping) and "summarizedActivitiesExport" in chunk:
            inner = chunk["summarizedActivitiesExport"]
            if not isinstance(inner, list):
                raise MemberError("summarizedActivitiesExport is not a list")
            found += inner
        else:
            found.append(chunk)
    return found


# ---------------------------------------------------------------------- collecting by day
class ByDay:
    """Entries of one kind by day; a later member replaces an earlier one's day."""

    def __init__(self) -> None:
        self.days: dict[date, tuple[dict[str, Any], str]] = {}

    def get(self, day: date) -> dict[str, Any] | None:
        found = self.days.get(day)
        return found[0] if found else None

    def member(self, day: date) -> str | None:
        found = self.days.get(day)
        return found[1] if found else None


def collect(
    archive: Archive,
    kind: str,
    mapped: Mapped,
    read: Callable[[Member], list[Any]] = entries,
    date_key: str = "calendarDate",
) -> list[tuple[date, dict[str, Any], str]]:
    """Every dated entry of the members of `kind` as (day, entry, member), in member order."""
    found: list[tuple[date, dict[str, Any], str]] = []
    for member in sorted(archive.of(kind), key=lambda m: m.path):
        try:
            items = read(member)
        except MemberError as error:
            mapped.quarantined[member.path] = str(error)
            continue
        first_found = len(found)
        for i, entry in enumerate(items):
            where = f"{member.path}#{i}"
            if not isinstance(entry, Mapping):
                mapped.skipped[where] = f"not an object ({type(entry).__name__})"
                continue
            try:
                day = check_day(day_of(entry.get(date_key)))
            except (ValueError, TypeError, OverflowError, UnsafeValueError) as error:
                mapped.skipped[where] = f"{date_key} {entry.get(date_key)!r}: {error}"[:200]
                continue
            found.append((day, dict(entry), member.path))
        days = [d for d, _, _ in found[first_found:]]
        covered = name_range(member.name) or ((min(days), max(days)) if days else None)
        if covered is not None:
            first, last = covered
            mapped.coverage.setdefault(kind, set()).update(
                first + timedelta(days=i) for i in range((last - first).days + 1)
            )
    return found


DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")


def name_range(name: str) -> tuple[date, date] | None:
    """The first..last day a file name states (`UDSFile_2024-06-10_2024-06-19.json`,
    `MetricsMaxMetData_20240610_20240619_<user>.json`), if it states two dates."""
    found = []
    for match in DATE_IN_NAME.finditer(name):
        try:
            found.append(date(*map(int, match.groups())))
        except ValueError:
            continue
    if len(found) < 2 or found[0] > found[1] or (found[1] - found[0]).days > 3660:
        return None
    return found[0], found[1]


def by_day(found: Iterable[tuple[date, dict[str, Any], str]]) -> ByDay:
    collected = ByDay()
    for day, entry, member in found:
        collected.days[day] = (entry, member)
    return collected


# ---------------------------------------------------------------------- daily summaries
def _stress_total(entry: Mapping[str, Any]) -> dict[str, Any]:
    stress = entry.get("allDayStress")
    for agg in (stress.get("aggregatorList") if isinstance(stress, Mapping) else None) or []:
        if isinstance(agg, Mapping) and agg.get("type") == "TOTAL":
            return dict(agg)
    return {}


def _battery(entry: Mapping[str, Any]) -> dict[str, Any]:
    battery = entry.get("bodyBattery")
    stats = (battery.get("bodyBatteryStatList") if isinstance(battery, Mapping) else None) or []
    return {
        str(s.get("bodyBatteryStatType")).upper(): s.get("statsValue")
        for s in stats
        if isinstance(s, Mapping) and s.get("bodyBatteryStatType")
    }


def _object(entry: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = entry.get(key)
    return dict(value) if isinstance(value, Mapping) else {}


def floors(metres: Any) -> float | None:
    value = scaled(metres, "1")
    return None if value is None else round(float(Decimal(repr(value)) / METRES_PER_FLOOR), 5)


def daily_summary(entry: Mapping[str, Any], day: date) -> dict[str, Any]:
    """The UDS entry as `get_daily_summaries` serves a day: its scalars, and the nested stress,
    Body Battery and respiration figures under the API's names."""
    scalars = {k: v for k, v in entry.items() if not isinstance(v, Mapping | list)}
    stress, battery = _stress_total(entry), _battery(entry)
    respiration = _object(entry, "respiration")
    return {
        **scalars,
        "calendarDate": day.isoformat(),
        "averageStressLevel": stress.get("averageStressLevel"),
        "maxStressLevel": stress.get("maxStressLevel"),
        "restStressDuration": stress.get("restDuration"),
        "lowStressDuration": stress.get("lowDuration"),
        "mediumStressDuration": stress.get("mediumDuration"),
        "highStressDuration": stress.get("highDuration"),
        "bodyBatteryHighestValue": battery.get("HIGHEST"),
        "bodyBatteryLowestValue": battery.get("LOWEST"),
        "bodyBatteryChargedValue": _object(entry, "bodyBattery").get("chargedValue"),
        "bodyBatteryDrainedValue": _object(entry, "bodyBattery").get("drainedValue"),
        "floorsAscended": floors(entry.get("floorsAscendedInMeters")),
        "floorsDescended": floors(entry.get("floorsDescendedInMeters")),
        "averageSpo2": entry.get("averageSpo2Value", entry.get("averageSpo2")),
        "lowestSpo2": entry.get("lowestSpo2Value", entry.get("lowestSpo2")),
        "avgWakingRespirationValue": respiration.get("avgWakingRespirationValue"),
        "highestRespirationValue": respiration.get("highestRespirationValue"),
        "lowestRespirationValue": respiration.get("lowestRespirationValue"),
    }


def uds_series(
    summary: Mapping[str, Any], entry: Mapping[str, Any], sleep: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The range series' per-day entries (feed -> entry) the API serves from the same figures."""
    day = summary["calendarDate"]
    out: dict[str, Any] = {
        "daily_steps": {
            "calendarDate": day,
            "totalSteps": summary.get("totalSteps"),
            "totalDistance": summary.get("totalDistanceMeters"),
            "stepGoal": summary.get("dailyStepGoal"),
        },
        "daily_stress": {
            "calendarDate": day,
            "values": {
                "overallStressLevel": summary.get("averageStressLevel"),
                "restStressDuration": summary.get("restStressDuration"),
                "lowStressDuration": summary.get("lowStressDuration"),
                "mediumStressDuration": summary.get("mediumStressDuration"),
                "highStressDuration": summary.get("highStressDuration"),
            },
        },
        "daily_intensity_minutes": {
            "calendarDate": day,
            "moderateValue": summary.get("moderateIntensityMinutes"),
            "vigorousValue": summary.get("vigorousIntensityMinutes"),
            "weeklyGoal": entry.get("userIntensityMinutesGoal"),
        },
        "daily_floors": {
            "calendarDate": day,
            "values": {
                "wellnessFloorsAscended": summary.get("floorsAscended"),
                "wellnessFloorsDescended": summary.get("floorsDescended"),
                "wellnessUserFloorsAscendedGoal": entry.get("userFloorsAscendedGoal"),
            },
        },
        "daily_respiration": {
            "calendarDate": day,
            "values": {
                "avgWakingRespiration": summary.get("avgWakingRespirationValue"),
                "avgSleepRespiration": (sleep or {}).get("averageRespiration"),
            },
        },
    }
    battery = _object(entry, "bodyBattery")
    if battery.get("chargedValue") is not None or battery.get("drainedValue") is not None:
        # The day's charge and drain only: the export has no intraday levels or events.
        out["body_battery"] = {
            "date": day,
            "charged": battery.get("chargedValue"),
            "drained": battery.get("drainedValue"),
        }
    if summary.get("restingHeartRate") is not None:
        out["resting_heart_rate"] = {"calendarDate": day, "value": summary["restingHeartRate"]}
    hydration = _object(entry, "hydration")
    if hydration.get("valueInML") is not None or hydration.get("goalInML") is not None:
        out["hydration"] = {
            "calendarDate": day,
            "valueInML": hydration.get("valueInML"),
            "goalInML": hydration.get("goalInML"),
        }
    return out


def uds_entries(member: Member) -> list[Any]:
    """UDS entries; some are only `{"hydration": {calendarDate, ...}}`, dated by it."""
    found = entries(member)
    for i, entry in enumerate(found):
        inner = entry.get("hydration") if isinstance(entry, Mapping) else None
        if isinstance(inner, Mapping) and not entry.get("calendarDate"):
            found[i] = {**entry, "calendarDate": inner.get("calendarDate")}
    return found


def hydration_only(entry: Mapping[str, Any]) -> bool:
    return set(entry) <= {"hydration", "calendarDate"}


# ---------------------------------------------------------------------- sleep, HRV
def sleep_payload(
    entry: Mapping[str, Any],
    day: date,
    uds: Mapping[str, Any] | None,
    hrv: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """A sleepData night as `get_sleep_data` answers it; None for a night without sleep."""
    start, end = (
        gmt_ms(entry.get("sleepStartTimestampGMT")),
        gmt_ms(entry.get("sleepEndTimestampGMT")),
    )
    stages = [entry.get(k) for k in ("deepSleepSeconds", "lightSleepSeconds", "remSleepSeconds")]
    if start is None and not any(stages):
        return None
    scores = _object(entry, "sleepScores")
    spo2 = _object(entry, "spo2SleepSummary")
    overall = scores.get("overallScore")
    dto = {
        "calendarDate": day.isoformat(),
        "sleepTimeSeconds": sum(s for s in stages if isinstance(s, int | float))
        if any(s is not None for s in stages)
        else None,
        "sleepStartTimestampGMT": start,
        "sleepEndTimestampGMT": end,
        "sleepStartTimestampLocal": None,
        "sleepEndTimestampLocal": None,
        "sleepWindowConfirmationType": entry.get("sleepWindowConfirmationType"),
        "deepSleepSeconds": stages[0],
        "lightSleepSeconds": stages[1],
        "remSleepSeconds": stages[2],
        "awakeSleepSeconds": entry.get("awakeSleepSeconds"),
        "unmeasurableSleepSeconds": entry.get("unmeasurableSeconds"),
        "retro": entry.get("retro"),
        "averageSpO2Value": spo2.get("averageSPO2"),
        "lowestSpO2Value": spo2.get("lowestSPO2"),
        "averageSpO2HRSleep": spo2.get("averageHR"),
        "averageRespirationValue": entry.get("averageRespiration"),
        "lowestRespirationValue": entry.get("lowestRespiration"),
        "highestRespirationValue": entry.get("highestRespiration"),
        "awakeCount": entry.get("awakeCount"),
        "avgSleepStress": entry.get("avgSleepStress"),
        "sleepScoreFeedback": scores.get("feedback"),
        "sleepScoreInsight": scores.get("insight"),
        "sleepScores": {"overall": {"value": overall}} if overall is not None else None,
    }
    battery = _battery(uds) if uds else {}
    return {
        "dailySleepDTO": dto,
        "sleepLevels": [],  # the export keeps no stage intervals
        "restlessMomentsCount": entry.get("restlessMomentCount"),
        # The same figures the API's sleep answer repeats from the day and the night's HRV.
        "avgOvernightHrv": (hrv or {}).get("lastNightAvg"),
        "bodyBatteryChange": battery.get("DURINGSLEEP"),
        "restingHeartRate": (uds or {}).get("restingHeartRate"),
    }


def hrv_payload(entry: Mapping[str, Any], day: date) -> dict[str, Any] | None:
    """healthStatusData's HRV metric as an `hrvSummaries` entry: the nightly mean and the
    balanced range (the baseline limits); no HRV metric that day, no payload."""
    for metric in entry.get("metrics") or []:
        if isinstance(metric, Mapping) and str(metric.get("type")).upper() == "HRV":
            if metric.get("value") is None:
                return None
            return {
                "calendarDate": day.isoformat(),
                "lastNightAvg": metric.get("value"),
                "baseline": {
                    "balancedLow": metric.get("baselineLowerLimit"),
                    "balancedUpper": metric.get("baselineUpperLimit"),
                },
            }
    return None


# ---------------------------------------------------------------------- training metrics
LOAD_KEYS = (
    "acwrPercent",
    "acwrStatus",
    "acwrStatusFeedback",
    "dailyTrainingLoadAcute",
    "dailyTrainingLoadChronic",
    "dailyAcuteChronicWorkloadRatio",
    "minTrainingLoadChronic",
    "maxTrainingLoadChronic",
)


def training_status(
    day: date, history: Mapping[str, Any] | None, load: Mapping[str, Any] | None
) -> dict[str, Any]:
    """TrainingHistory and MetricsAcuteTrainingLoad of a day as one `reportData` entry."""
    entry = {k: v for k, v in (history or {}).items() if k != "userProfilePK"}
    entry["calendarDate"] = day.isoformat()
    if entry.get("timestamp") is None and load:
        entry["timestamp"] = load.get("timestamp")
    if entry.get("deviceId") is None and load:
        entry["deviceId"] = load.get("deviceId")
    entry["acuteTrainingLoadDTO"] = {k: (load or {}).get(k) for k in LOAD_KEYS}
    return entry


def max_metrics(found: list[dict[str, Any]], day: date) -> dict[str, Any]:
    """MetricsMaxMetData's entries of a day (one per sport) as a `maxmet` entry."""
    entry: dict[str, Any] = {"generic": None, "cycling": None}
    for item in found:
        key = "cycling" if str(item.get("sport")).upper() == "CYCLING" else "generic"
        value = item.get("vo2MaxValue")
        entry[key] = {
            "calendarDate": day.isoformat(),
            "vo2MaxPreciseValue": value,
            "vo2MaxValue": None if value is None else float(int(value + 0.5)),
            "fitnessAge": item.get("fitnessAge"),
        }
    return entry


# ---------------------------------------------------------------------- activities
def activity_entry(item: Mapping[str, Any]) -> dict[str, Any]:
    """A summarizedActivitiesExport item as an activity list entry (Connect's names, units)."""
    kind = item.get("activityType")
    type_key = kind.get("typeKey") if isinstance(kind, Mapping) else kind
    start = item.get("startTimeGmt", item.get("beginTimestamp"))
    entry = {
        "activityId": item.get("activityId"),
        "activityName": item.get("name"),
        "activityType": {"typeKey": type_key},
        "startTimeGMT": spaced(start),
        "startTimeLocal": spaced(item.get("startTimeLocal")),
        "beginTimestamp": item.get("beginTimestamp", start),
        "duration": scaled(item.get("duration"), "0.001"),
        "elapsedDuration": scaled(item.get("elapsedDuration"), "0.001"),
        "movingDuration": scaled(item.get("movingDuration"), "0.001"),
        "distance": scaled(item.get("distance"), "0.01"),
        "calories": item.get("calories"),
        "bmrCalories": item.get("bmrCalories"),
        "averageHR": item.get("avgHr"),
        "maxHR": item.get("maxHr"),
        "averageSpeed": scaled(item.get("avgSpeed"), "10"),
        "maxSpeed": scaled(item.get("maxSpeed"), "10"),
        "elevationGain": scaled(item.get("elevationGain"), "0.01"),
        "elevationLoss": scaled(item.get("elevationLoss"), "0.01"),
        "minElevation": scaled(item.get("minElevation"), "0.01"),
        "maxElevation": scaled(item.get("maxElevation"), "0.01"),
        "steps": item.get("steps"),
        "aerobicTrainingEffect": item.get("aerobicTrainingEffect"),
        "anaerobicTrainingEffect": item.get("anaerobicTrainingEffect"),
        "activityTrainingLoad": item.get("activityTrainingLoad"),
        "lapCount": item.get("lapCount"),
        "deviceId": item.get("deviceId"),
    }
    return {k: v for k, v in entry.items() if v is not None}


def local_start_day(item: Mapping[str, Any]) -> date:
    value = item.get("startTimeLocal")
    if value is None or isinstance(value, bool):
        raise ValueError("no startTimeLocal")
    return datetime.fromtimestamp(int(value) / 1000, UTC).date()


# ---------------------------------------------------------------------- the whole archive
def map_archive(archive: Archive) -> Mapped:
    """Every per-day payload the archive's JSON members give (activity FIT files aside)."""
    mapped = Mapped()
    uds_found = collect(archive, "daily_summaries", mapped, read=uds_entries)
    uds = by_day(e for e in uds_found if not hydration_only(e[1]))
    for day, entry, member in uds_found:  # hydration-only entries join their day's entry
        if hydration_only(entry):
            if uds.get(day) is None:
                uds.days[day] = (dict(entry), member)
            else:
                uds.days[day][0]["hydration"] = entry["hydration"]
    sleep = by_day(collect(archive, "sleep", mapped))
    health = by_day(collect(archive, "health_status", mapped))
    hrv = {d: p for d in health.days if (p := hrv_payload(health.get(d) or {}, d))}

    def add(feed: str, day: date, value: Any, *members: str | None) -> None:
        mapped.payloads.append(
            DayPayload(feed, day, f"{feed}.json", value, tuple(m for m in members if m))
        )

    for day in sorted(uds.days):
        entry, member = uds.days[day]
        summary = daily_summary(entry, day)
        series = uds_series(summary, entry, sleep.get(day))
        if hydration_only(entry):  # a day known only by its water log
            series = {k: v for k, v in series.items() if k == "hydration"}
        else:
            add("daily_summary", day, summary, member)
        for feed, value in series.items():
            extra = sleep.member(day) if feed == "daily_respiration" else None
            add(feed, day, value, member, extra)
    for day in sorted(sleep.days):
        payload = sleep_payload(sleep.get(day) or {}, day, uds.get(day), hrv.get(day))
        if payload is not None:
            add("sleep", day, payload, sleep.member(day), uds.member(day), health.member(day))
    for day in sorted(hrv):
        add("hrv", day, hrv[day], health.member(day))

    readiness: dict[date, dict[Any, tuple[dict[str, Any], str]]] = {}
    for day, entry, member in collect(archive, "training_readiness", mapped):
        readiness.setdefault(day, {})[entry.get("timestamp")] = (entry, member)
    for day in sorted(readiness):
        found = sorted(readiness[day].items(), key=lambda kv: str(kv[0]), reverse=True)
        add(
            "training_readiness",
            day,
            [e for _, (e, _) in found],
            *sorted({m for _, (_, m) in found}),
        )

    history = by_day(collect(archive, "training_history", mapped))
    load = by_day(collect(archive, "acute_load", mapped))
    for day in sorted(set(history.days) | set(load.days)):
        add(
            "training_status",
            day,
            training_status(day, history.get(day), load.get(day)),
            history.member(day),
            load.member(day),
        )

    vo2: dict[date, dict[str, tuple[dict[str, Any], str]]] = {}
    for day, entry, member in collect(archive, "max_met", mapped):
        vo2.setdefault(day, {})[str(entry.get("sport")).upper()] = (entry, member)
    for day in sorted(vo2):
        items = [vo2[day][sport] for sport in sorted(vo2[day])]
        add(
            "max_metrics",
            day,
            max_metrics([e for e, _ in items], day),
            *sorted({m for _, m in items}),
        )

    for activities_member in sorted(archive.of("activities"), key=lambda m: m.path):
        try:
            summaries = activity_entries(activities_member)
        except MemberError as error:
            mapped.quarantined[activities_member.path] = str(error)
            continue
        mapped.activity_members.append(activities_member.path)
        for i, item in enumerate(summaries):
            where = f"{activities_member.path}#{i}"
            try:
                if not isinstance(item, Mapping):
                    raise ValueError(f"not an object ({type(item).__name__})")
                entry = activity_entry(item)
                activity_id = entry.get("activityId")
                if isinstance(activity_id, bool) or not isinstance(activity_id, int):
                    raise ValueError(f"activityId {activity_id!r} is not an integer")
                if not entry.get("startTimeGMT"):
                    raise ValueError("no startTimeGmt")
                day = check_day(local_start_day(item))
            except (ValueError, TypeError, OverflowError, OSError, UnsafeValueError) as error:
                mapped.skipped[where] = str(error)[:200]
                continue
            mapped.activities[activity_id] = (day, entry, activities_member.path)
    fill_span(mapped)
    return mapped


def fill_span(mapped: Mapped) -> None:
    """The export covers its whole span: a day a mapped feed has no entry for is a day Garmin
    had nothing (as the API's range answers say with `null`), so the lake gets the empty
    partition a sync makes, and completeness checks see the day as fetched. Feeds the export
    holds nothing for at all are left alone (a file missing from this export is unknown)."""
    days = [p.day for p in mapped.payloads] + [d for d, _, _ in mapped.activities.values()]
    if not days:
        return
    mapped.span = (min(days), max(days))
    present: dict[str, tuple[set[date], str]] = {}
    for item in mapped.payloads:
        present.setdefault(item.feed, (set(), item.members[0]))[0].add(item.day)
    for feed, (have, member) in sorted(present.items()):
        kinds = FEED_KINDS.get(feed, ())
        covered = set.intersection(*(mapped.coverage.get(k, set()) for k in kinds or ("",)))
        for day in sorted(covered - have):
            mapped.payloads.append(
                DayPayload(feed, day, f"{feed}.json", None, (member,), fill=True)
            )


# The kinds of member each feed's days come from (all of them must cover a day to fill it).
FEED_KINDS: dict[str, tuple[str, ...]] = {
    **{
        feed: ("daily_summaries",)
        for feed in (
            "daily_summary",
            "daily_steps",
            "daily_stress",
            "daily_intensity_minutes",
            "daily_floors",
            "daily_respiration",
            "resting_heart_rate",
            "hydration",
            "body_battery",
        )
    },
    "sleep": ("sleep",),
    "hrv": ("health_status",),
    "training_readiness": ("training_readiness",),
    "training_status": ("training_history", "acute_load"),
    "max_metrics": ("max_met",),
}
