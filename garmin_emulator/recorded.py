"""Recorded FIT files served as an account's activities: a real-device corpus through Connect.

``RecordedAthlete(files, seed=..., end_date=..., days=...)`` is a ``SyntheticAthlete`` whose Garmin
Connect activities are the given FIT files (a folder, file paths, ``(name, bytes)`` pairs or a
``{name: bytes}`` mapping, mixed at will) instead of its synthetic ones. ``Emulator`` serves it
like any athlete: the activity list (``activitylist-service``: pages, dates, sort order), the
ORIGINAL download and the Personal API's copies of both and its activity summary show the files;
the wellness days (sleep, heart rate, stress, body battery, metrics) stay the synthetic
athlete's, made of its own synthetic training as before. The export archive packs the synthetic
activities, not the files.

What each file becomes, read with ``fitdecode`` (never ``garmin_pipeline.fit``: that is the
decoder the corpus tests), taking what can be read when the file breaks off; reading never raises:

- ``activityId``: from the SHA-256 of the bytes, an 11-digit id in [2e10, 3e10) like Garmin's (and
  clear of the synthetic ids, ~1.0007e10); the same file keeps its id in any folder. Should two
  files' ids collide, the one with the larger digest takes the next free id. Identical bytes given
  twice are one activity (Connect refuses a duplicate upload); the first name given wins.
- start: the first session's ``start_time``; else the first record's ``timestamp``; else, for a
  device that counts time from power-on (``timestamp`` < 0x10000000, e.g. a Forerunner 70), the
  activity message's ``local_timestamp`` taken back to the first session's (or record's) relative
  time, read in ``zone``; else ``file_id.time_created``; else, for a file nothing could be read
  from, ``FALLBACK_START`` of the athlete's last day (in ``zone``): it is still listed and served,
  and the pipeline has to quarantine it.
- ``startTimeLocal``: the start plus the file's own UTC offset (activity message
  ``local_timestamp`` - ``timestamp``, when both are real and within UTC-12..UTC+14), else the start
  in ``zone`` (by default the athlete profile's time zone).
- ``activityType``: the session's sport and sub-sport mapped to Connect's type keys (``TYPE_KEYS``,
  ``SUB_SPORT_KEYS``); several sessions (a triathlon) are ``multi_sport``; anything unmapped, and a
  file without sessions (a course, a settings file), is ``other``. Type ids and parents are Garmin's
  (``ACTIVITY_TYPES``, from the recorded ``activityTypes.json``).
- summary values: summed or combined over the sessions as Connect shows a multisport parent;
  keys whose value the file does not hold are left out, as the real list and the synthetic items
  leave out null values. ``activityName`` is the type's name with no place (Connect prefixes a
  reverse-geocoded city, which the emulator has none of): "Running", "Pool Swim", "Yoga".
- ORIGINAL download: a stored zip holding ``{activityId}_ACTIVITY.fit`` with the file's exact
  bytes, dated at the local start.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import fitdecode

from garmin_emulator.activity import ActivityPlan
from garmin_emulator.athlete import SyntheticAthlete
from garmin_emulator.timefmt import epoch_ms, spaced
from garmin_pipeline.zips import stored_zip

if TYPE_CHECKING:
    from garmin_emulator.activity import SyntheticActivity, Track
    from garmin_emulator.athlete import AthleteProfile

# Anything given as activity files: a folder (every *.fit under it), a file, (name, bytes), or many.
ActivityFiles = (
    str
    | os.PathLike[str]
    | Mapping[str, bytes]
    | Iterable[str | os.PathLike[str] | Mapping[str, bytes] | tuple[str, bytes]]
)

ID_BASE = 20_000_000_000
ID_SPAN = 10_000_000_000
FALLBACK_START = time(12)  # local noon of the athlete's last day, for a file with no readable time
_RELATIVE_TIME_LIMIT = 0x10000000  # FIT date_time values below this count from device power-on
_MIN_UTC_OFFSET_S, _MAX_UTC_OFFSET_S = -12 * 3600, 14 * 3600
_SEMICIRCLE_DEGREES = 180 / 2**31

# Connect's activity types: key -> (typeId, parentTypeId, trimmable), as recorded in
# fixtures/garmin_connect/json/garmin-connect-export/activityTypes.json (every key served here).
ACTIVITY_TYPES: dict[str, tuple[int, int, bool]] = {
    "running": (1, 17, True),
    "trail_running": (6, 1, True),
    "street_running": (7, 1, True),
    "track_running": (8, 1, True),
    "treadmill_running": (18, 1, True),
    "indoor_running": (156, 1, True),
    "virtual_run": (153, 1, True),
    "ultra_run": (181, 1, True),
    "obstacle_run": (154, 1, True),
    "cycling": (2, 17, True),
    "road_biking": (10, 2, True),
    "mountain_biking": (5, 2, True),
    "downhill_biking": (20, 2, True),
    "recumbent_cycling": (22, 2, True),
    "cyclocross": (19, 2, True),
    "track_cycling": (21, 2, True),
    "indoor_cycling": (25, 2, True),
    "virtual_ride": (152, 2, True),
    "gravel_cycling": (143, 2, True),
    "e_bike_mountain": (175, 2, True),
    "e_bike_fitness": (176, 2, True),
    "bmx": (131, 2, True),
    "hand_cycling": (197, 2, True),
    "indoor_hand_cycling": (198, 2, True),
    "swimming": (26, 17, True),
    "lap_swimming": (27, 26, False),
    "open_water_swimming": (28, 26, True),
    "multi_sport": (89, 17, True),
    "transition_v2": (189, 4, True),
    "fitness_equipment": (29, 17, True),
    "indoor_rowing": (32, 29, True),
    "elliptical": (30, 29, True),
    "stair_climbing": (31, 29, True),
    "strength_training": (13, 29, False),
    "indoor_cardio": (11, 29, True),
    "yoga": (163, 29, False),
    "pilates": (160, 29, False),
    "hiit": (180, 29, False),
    "breathwork": (164, 4, False),
    "indoor_climbing": (173, 29, False),
    "bouldering": (174, 29, False),
    "walking": (9, 17, True),
    "casual_walking": (15, 9, True),
    "speed_walking": (16, 9, True),
    "hiking": (3, 17, True),
    "rowing_v2": (237, 228, True),
    "paddling_v2": (235, 228, True),
    "kayaking_v2": (231, 228, True),
    "stand_up_paddleboarding_v2": (239, 228, True),
    "surfing_v2": (240, 228, False),
    "sailing_v2": (238, 228, True),
    "windsurfing_v2": (242, 228, True),
    "kiteboarding_v2": (232, 228, True),
    "rock_climbing": (139, 4, False),
    "mountaineering": (37, 4, True),
    "inline_skating": (63, 4, True),
    "golf": (88, 4, False),
    "resort_skiing": (251, 165, True),
    "resort_snowboarding": (252, 165, True),
    "cross_country_skiing_ws": (171, 165, True),
    "snow_shoe_ws": (167, 165, True),
    "tennis_v2": (227, 219, True),
    "soccer": (215, 206, True),
    "basketball": (217, 206, True),
    "boxing": (246, 4, True),
    "floor_climbing": (150, 4, True),
    "meditation": (202, 4, False),
    "other": (4, 17, True),
}
FALLBACK_TYPE = "other"
MULTI_SPORT = "multi_sport"

# FIT sport (fitdecode's names) -> Connect type key, for a sub-sport SUB_SPORT_KEYS does not name.
TYPE_KEYS: dict[str, str] = {
    "running": "running",
    "cycling": "cycling",
    "swimming": "swimming",
    "walking": "walking",
    "hiking": "hiking",
    "fitness_equipment": "fitness_equipment",
    "multisport": MULTI_SPORT,
    "transition": "transition_v2",
    "rowing": "rowing_v2",
    "paddling": "paddling_v2",
    "kayaking": "kayaking_v2",
    "stand_up_paddleboarding": "stand_up_paddleboarding_v2",
    "surfing": "surfing_v2",
    "sailing": "sailing_v2",
    "windsurfing": "windsurfing_v2",
    "kitesurfing": "kiteboarding_v2",
    "rock_climbing": "rock_climbing",
    "mountaineering": "mountaineering",
    "inline_skating": "inline_skating",
    "golf": "golf",
    "alpine_skiing": "resort_skiing",
    "snowboarding": "resort_snowboarding",
    "cross_country_skiing": "cross_country_skiing_ws",
    "snowshoeing": "snow_shoe_ws",
    "tennis": "tennis_v2",
    "soccer": "soccer",
    "basketball": "basketball",
    "boxing": "boxing",
    "floor_climbing": "floor_climbing",
    "e_biking": "e_bike_fitness",
    "hiit": "hiit",
    "meditation": "meditation",
}
# (FIT sport, FIT sub-sport) -> Connect type key.
SUB_SPORT_KEYS: dict[tuple[str, str], str] = {
    ("running", "treadmill"): "treadmill_running",
    ("running", "street"): "street_running",
    ("running", "trail"): "trail_running",
    ("running", "track"): "track_running",
    ("running", "indoor_running"): "indoor_running",
    ("running", "virtual_activity"): "virtual_run",
    ("running", "ultra"): "ultra_run",
    ("running", "obstacle"): "obstacle_run",
    ("cycling", "road"): "road_biking",
    ("cycling", "mountain"): "mountain_biking",
    ("cycling", "downhill"): "downhill_biking",
    ("cycling", "recumbent"): "recumbent_cycling",
    ("cycling", "cyclocross"): "cyclocross",
    ("cycling", "track_cycling"): "track_cycling",
    ("cycling", "indoor_cycling"): "indoor_cycling",
    ("cycling", "spin"): "indoor_cycling",
    ("cycling", "virtual_activity"): "virtual_ride",
    ("cycling", "gravel_cycling"): "gravel_cycling",
    ("cycling", "e_bike_mountain"): "e_bike_mountain",
    ("cycling", "e_bike_fitness"): "e_bike_fitness",
    ("cycling", "bmx"): "bmx",
    ("cycling", "hand_cycling"): "hand_cycling",
    ("cycling", "indoor_hand_cycling"): "indoor_hand_cycling",
    ("swimming", "lap_swimming"): "lap_swimming",
    ("swimming", "open_water"): "open_water_swimming",
    ("fitness_equipment", "indoor_rowing"): "indoor_rowing",
    ("fitness_equipment", "elliptical"): "elliptical",
    ("fitness_equipment", "stair_climbing"): "stair_climbing",
    ("fitness_equipment", "treadmill"): "treadmill_running",
    ("fitness_equipment", "indoor_cycling"): "indoor_cycling",
    ("fitness_equipment", "strength_training"): "strength_training",
    ("fitness_equipment", "cardio_training"): "indoor_cardio",
    ("training", "strength_training"): "strength_training",
    ("training", "cardio_training"): "indoor_cardio",
    ("training", "yoga"): "yoga",
    ("training", "pilates"): "pilates",
    ("training", "hiit"): "hiit",
    ("training", "breathing"): "breathwork",
    ("walking", "casual_walking"): "casual_walking",
    ("walking", "speed_walking"): "speed_walking",
    ("rowing", "indoor_rowing"): "indoor_rowing",
    ("rock_climbing", "indoor_climbing"): "indoor_climbing",
    ("rock_climbing", "bouldering"): "bouldering",
}
# Connect's names where they are not the key read aloud ("open_water_swimming" is "Open Water
# Swimming"); "Pool Swim" as the synthetic athlete's swims are named.
_TYPE_NAMES = {
    "lap_swimming": "Pool Swim",
    "multi_sport": "Multisport",
    "virtual_ride": "Virtual Cycling",
    "road_biking": "Road Cycling",
    "indoor_cardio": "Cardio",
    "e_bike_fitness": "E-Bike",
    "e_bike_mountain": "E-Mountain Bike",
    "hiit": "HIIT",
    "bmx": "BMX",
}
# Connect's sportTypeId of a type's family, where recorded lists show it (running 1, cycling 2,
# swimming 5, walking 11, hiking 17, multisport 18); other families leave the key out.
_SPORT_TYPE_ID_OF_FAMILY = {1: 1, 2: 2, 26: 5, 9: 11, 3: 17, 89: 18}
# Garmin's timeZoneId for a zone, as recorded (activity_2541953812.json); others leave it out.
_GARMIN_ZONE_IDS = {"Europe/Paris": 124}
_EVENT_TYPE = {"typeId": 9, "typeKey": "uncategorized", "sortOrder": 10}
_PRIVATE = {"typeId": 2, "typeKey": "private"}


# ---------------------------------------------------------------------- reading a FIT file
@dataclass(frozen=True)
class SessionFacts:
    """One session message's summary, in Connect's units (s, m, m/s, kcal, bpm, degrees)."""

    sport: str | int | None
    sub_sport: str | int | None
    start: datetime | int | None  # aware UTC; an int is a device-relative time
    timer_s: float | None
    elapsed_s: float | None
    moving_s: float | None
    distance_m: float | None
    calories: float | None
    avg_hr: float | None
    max_hr: float | None
    avg_speed: float | None
    max_speed: float | None
    ascent_m: float | None
    descent_m: float | None
    avg_power: float | None
    max_power: float | None
    normalized_power: float | None
    avg_cadence: float | None
    max_cadence: float | None
    start_lat: float | None
    start_lon: float | None


@dataclass(frozen=True)
class FitFacts:
    """What a FIT file says about itself, as far as fitdecode could read it."""

    file_type: str | int | None = None
    manufacturer: str | int | None = None
    time_created: datetime | int | None = None
    first_record: datetime | int | None = None
    activity_time: datetime | int | None = None  # the activity message's timestamp
    local_time: datetime | None = None  # its local_timestamp (a wall clock, tagged UTC)
    sessions: tuple[SessionFacts, ...] = ()
    records: int = 0
    laps: int = 0
    has_position: bool = False
    error: str | None = None  # why fitdecode stopped before the end (None: read through)

    @property
    def utc_offset_s(self) -> int | None:
        """``local_timestamp - timestamp`` of the activity message, if both are real and sane
        (Zwift writes local_timestamp 0, i.e. 1989-12-31)."""
        utc, local = self.activity_time, self.local_time
        if not isinstance(utc, datetime) or not isinstance(local, datetime):
            return None
        offset = (local - utc) // timedelta(seconds=1)
        return offset if _MIN_UTC_OFFSET_S <= offset <= _MAX_UTC_OFFSET_S else None


def _reader(data: bytes) -> fitdecode.FitReader:
    # No CRC check and recoverable errors ignored: take what a broken file still holds.
    return fitdecode.FitReader(
        io.BytesIO(data),
        check_crc=fitdecode.CrcCheck.DISABLED,
        error_handling=fitdecode.ErrorHandling.IGNORE,
    )


def _value(message: fitdecode.FitDataMessage, *names: str) -> Any:
    """The first of ``names`` the message holds a value for (enhanced_* before the 16-bit one)."""
    for name in names:
        value = message.get_value(name, fallback=None)
        if value is not None:
            return value
    return None


def _number(message: fitdecode.FitDataMessage, *names: str) -> float | None:
    value = _value(message, *names)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _degrees(message: fitdecode.FitDataMessage, name: str) -> float | None:
    value = message.get_value(name, fallback=None)
    return value * _SEMICIRCLE_DEGREES if isinstance(value, int) else None


def _session(message: fitdecode.FitDataMessage) -> SessionFacts:
    return SessionFacts(
        sport=message.get_value("sport", fallback=None),
        sub_sport=message.get_value("sub_sport", fallback=None),
        start=message.get_value("start_time", fallback=None),
        timer_s=_number(message, "total_timer_time"),
        elapsed_s=_number(message, "total_elapsed_time"),
        moving_s=_number(message, "total_moving_time"),
        distance_m=_number(message, "total_distance"),
        calories=_number(message, "total_calories"),
        avg_hr=_number(message, "avg_heart_rate"),
        max_hr=_number(message, "max_heart_rate"),
        avg_speed=_number(message, "enhanced_avg_speed", "avg_speed"),
        max_speed=_number(message, "enhanced_max_speed", "max_speed"),
        ascent_m=_number(message, "total_ascent"),
        descent_m=_number(message, "total_descent"),
        avg_power=_number(message, "avg_power"),
        max_power=_number(message, "max_power"),
        normalized_power=_number(message, "normalized_power"),
        avg_cadence=_number(message, "avg_cadence"),
        max_cadence=_number(message, "max_cadence"),
        start_lat=_degrees(message, "start_position_lat"),
        start_lon=_degrees(message, "start_position_long"),
    )


def read_fit(data: bytes) -> FitFacts:
    """The facts the emulator lists a file by; never raises (a broken file gives what was read)."""
    facts: dict[str, Any] = {}
    sessions: list[SessionFacts] = []
    records = laps = 0
    has_position = False
    error: str | None = None
    try:
        with _reader(data) as reader:
            for frame in reader:
                if not isinstance(frame, fitdecode.FitDataMessage):
                    continue
                name = frame.name
                if name == "record":
                    records += 1
                    if "first_record" not in facts:
                        facts["first_record"] = frame.get_value("timestamp", fallback=None)
                    if not has_position:
                        has_position = frame.get_value("position_lat", fallback=None) is not None
                elif name == "session":
                    sessions.append(_session(frame))
                elif name == "lap":
                    laps += 1
                elif name == "file_id" and "file_type" not in facts:
                    facts["file_type"] = frame.get_value("type", fallback=None)
                    facts["manufacturer"] = frame.get_value("manufacturer", fallback=None)
                    facts["time_created"] = frame.get_value("time_created", fallback=None)
                elif name == "activity" and "activity_time" not in facts:
                    facts["activity_time"] = frame.get_value("timestamp", fallback=None)
                    local = frame.get_value("local_timestamp", fallback=None)
                    facts["local_time"] = local if isinstance(local, datetime) else None
    except Exception as exc:  # any failure on malformed bytes: keep what came before it
        error = f"{type(exc).__name__}: {exc}"
    return FitFacts(
        **facts,
        sessions=tuple(sessions),
        records=records,
        laps=laps,
        has_position=has_position,
        error=error,
    )


def fitdecode_record_count(data: bytes) -> int | None:
    """fitdecode's own count of ``record`` messages, the oracle for what a decoder must keep;
    None when fitdecode cannot read the file through (CRC and spec violations only warned about,
    as the manifest's "warn mode" characterised the corpus)."""
    count = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with fitdecode.FitReader(
                io.BytesIO(data),
                check_crc=fitdecode.CrcCheck.WARN,
                error_handling=fitdecode.ErrorHandling.WARN,
            ) as reader:
                for frame in reader:
                    if isinstance(frame, fitdecode.FitDataMessage) and frame.name == "record":
                        count += 1
        except Exception:
            return None
    return count


# ---------------------------------------------------------------------- what Connect shows
def type_key(sessions: tuple[SessionFacts, ...]) -> str:
    """Connect's type key for the sessions' sport (``multi_sport`` for several sessions)."""
    if len(sessions) > 1:
        return MULTI_SPORT
    if not sessions:
        return FALLBACK_TYPE
    sport, sub_sport = sessions[0].sport, sessions[0].sub_sport
    if isinstance(sport, str) and isinstance(sub_sport, str):
        key = SUB_SPORT_KEYS.get((sport, sub_sport))
        if key is not None:
            return key
    return TYPE_KEYS.get(sport, FALLBACK_TYPE) if isinstance(sport, str) else FALLBACK_TYPE


def type_name(key: str) -> str:
    """The name Connect gives an activity of that type when it has no place to prefix."""
    named = _TYPE_NAMES.get(key)
    if named is not None:
        return named
    return key.removesuffix("_v2").removesuffix("_ws").replace("_", " ").title()


def _start(facts: FitFacts, zone: ZoneInfo, fallback: datetime) -> tuple[datetime, str]:
    """(aware UTC start, where it came from): see the module docstring for the order."""
    first_session = facts.sessions[0].start if facts.sessions else None
    for source, value in (("session", first_session), ("record", facts.first_record)):
        if isinstance(value, datetime):
            return value, source
    relative = next(
        (v for v in (first_session, facts.first_record) if isinstance(v, int)),
        facts.time_created if isinstance(facts.time_created, int) else None,
    )
    end = facts.activity_time
    if (
        facts.local_time is not None
        and isinstance(end, int)
        and relative is not None
        and 0 <= end - relative < _RELATIVE_TIME_LIMIT
    ):
        local = facts.local_time.replace(tzinfo=None) - timedelta(seconds=end - relative)
        return local.replace(tzinfo=zone).astimezone(UTC), "local_timestamp"
    if isinstance(facts.time_created, datetime):
        return facts.time_created, "time_created"
    return fallback, "fallback"


def _sum(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(sum(present)) if present else None


def _max(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(max(present)) if present else None


def _doubled(value: float | None) -> float | None:
    return None if value is None else 2 * value


def _weighted(sessions: tuple[SessionFacts, ...], name: str) -> float | None:
    """A session average over several sessions, weighted by their timer time."""
    pairs = [(getattr(s, name), s.timer_s or s.elapsed_s or 0.0) for s in sessions]
    pairs = [(v, w) for v, w in pairs if v is not None]
    if not pairs:
        return None
    if len(pairs) == 1:
        return float(pairs[0][0])
    total = sum(w for _, w in pairs)
    mean = sum(v * w for v, w in pairs) / total if total else sum(v for v, _ in pairs) / len(pairs)
    return float(round(mean))


@dataclass(frozen=True)
class RecordedActivity:
    """One file as the account's activity: its id, when it started, what Connect calls it."""

    activity_id: int
    file_name: str
    sha256: str
    facts: FitFacts
    start_utc: datetime  # aware UTC
    start_local: datetime  # naive wall clock
    start_source: str  # session | record | local_timestamp | time_created | fallback
    type_key: str
    data: bytes = field(repr=False)

    @property
    def plan(self) -> ActivityPlan:
        """The list's view of it, as the synthetic athlete's plans give one (sport: type key)."""
        return ActivityPlan(
            activity_id=self.activity_id,
            sport=self.type_key,
            start_time_utc=self.start_utc,
            start_time_local=self.start_local,
            planned_duration_s=int(self.elapsed_s or 0),
            intensity=0.0,
            route_index=0,
        )

    @property
    def elapsed_s(self) -> float | None:
        return _sum(s.elapsed_s for s in self.facts.sessions)

    def _local_in(self, zone: ZoneInfo) -> bool:
        """Whether the local start is the zone's wall clock (not a file's own other offset)."""
        return self.start_local == self.start_utc.astimezone(zone).replace(tzinfo=None)

    def original_zip(self) -> bytes:
        """The ORIGINAL download: the file's exact bytes as ``{id}_ACTIVITY.fit``."""
        member = f"{self.activity_id}_ACTIVITY.fit"
        return stored_zip([(member, self.data)], self.start_local.timetuple()[:6])

    def list_item(
        self, owner: AthleteProfile, zone: ZoneInfo, name: str | None = None
    ) -> dict[str, Any]:
        """One element of the activity search, keys in the synthetic items' order; values the
        file does not hold are left out (``manufacturer`` and ``lapCount`` always show)."""
        sessions = self.facts.sessions
        key = self.type_key
        type_id, parent_id, trimmable = ACTIVITY_TYPES[key]
        duration = _sum(s.timer_s for s in sessions)
        elapsed = self.elapsed_s
        distance = _sum(s.distance_m for s in sessions)
        if len(sessions) == 1:
            avg_speed = sessions[0].avg_speed
        else:
            avg_speed = distance / duration if distance is not None and duration else None
        first = sessions[0] if sessions else None
        family = parent_id if parent_id != 17 else type_id  # 17 is "all": a top-level type
        values: dict[str, Any] = {
            "activityId": self.activity_id,
            "activityName": name if name is not None else type_name(key),
            "startTimeLocal": spaced(self.start_local),
            "startTimeGMT": spaced(self.start_utc.replace(tzinfo=None)),
            "activityType": {
                "typeId": type_id,
                "typeKey": key,
                "parentTypeId": parent_id,
                "isHidden": False,
                "restricted": False,
                "trimmable": trimmable,
            },
            "eventType": dict(_EVENT_TYPE),
            "distance": distance,
            "duration": duration,
            "elapsedDuration": elapsed,
            "movingDuration": _sum(s.moving_s for s in sessions),
            "elevationGain": _sum(s.ascent_m for s in sessions),
            "elevationLoss": _sum(s.descent_m for s in sessions),
            "averageSpeed": avg_speed,
            "maxSpeed": _max(s.max_speed for s in sessions),
            "startLatitude": first.start_lat if first else None,
            "startLongitude": first.start_lon if first else None,
            "hasPolyline": self.facts.has_position,
            "hasImages": False,
            "ownerId": owner.profile_id,
            "ownerDisplayName": owner.display_name,
            "ownerFullName": owner.full_name,
            "calories": _sum(s.calories for s in sessions),
            "averageHR": _weighted(sessions, "avg_hr"),
            "maxHR": _max(s.max_hr for s in sessions),
        }
        cadence, top = _weighted(sessions, "avg_cadence"), _max(s.max_cadence for s in sessions)
        if family == 1:  # FIT counts strides, Connect steps
            values["averageRunningCadenceInStepsPerMinute"] = _doubled(cadence)
            values["maxRunningCadenceInStepsPerMinute"] = _doubled(top)
        elif family == 2:
            values["averageBikingCadenceInRevPerMinute"] = cadence
            values["maxBikingCadenceInRevPerMinute"] = top
        elif family == 26:
            values["averageSwimCadenceInStrokesPerMinute"] = cadence
            values["maxSwimCadenceInStrokesPerMinute"] = top
        values.update(
            privacy=dict(_PRIVATE),
            userPro=False,
            hasVideo=False,
            timeZoneId=_GARMIN_ZONE_IDS.get(zone.key) if self._local_in(zone) else None,
            beginTimestamp=epoch_ms(self.start_utc),
            sportTypeId=_SPORT_TYPE_ID_OF_FAMILY.get(family),
            avgPower=_weighted(sessions, "avg_power"),
            maxPower=_max(s.max_power for s in sessions),
            normPower=first.normalized_power if len(sessions) == 1 and first else None,
        )
        item = {k: v for k, v in values.items() if v is not None}
        manufacturer = self.facts.manufacturer
        item.update(
            summarizedDiveInfo={"summarizedDiveGases": []},
            manufacturer=manufacturer.upper() if isinstance(manufacturer, str) else None,
            lapCount=self.facts.laps,
            splitSummaries=[],
            hasSplits=False,
        )
        if elapsed is not None:
            end = self.start_utc + timedelta(seconds=elapsed)
            item["endTimeGMT"] = spaced(end.replace(tzinfo=None, microsecond=0))
        item.update(manualActivity=False, pr=False, parent=key == MULTI_SPORT)
        return item


# ---------------------------------------------------------------------- a folder of files
def collect_files(sources: ActivityFiles) -> list[tuple[str, bytes]]:
    """``(name, bytes)`` for every file given, in the order given: a folder gives each ``*.fit``
    under it (any case), named by its path inside the folder and sorted by it; a file is named
    by its file name; a mapping or a ``(name, bytes)`` pair names its own."""
    if isinstance(sources, str | os.PathLike):
        return list(_files_at(Path(sources)))
    if isinstance(sources, Mapping):
        return [(str(name), bytes(data)) for name, data in sources.items()]
    files: list[tuple[str, bytes]] = []
    for source in sources:
        if isinstance(source, tuple) and len(source) == 2 and isinstance(source[1], bytes):
            files.append((str(source[0]), source[1]))
        else:
            files.extend(collect_files(source))
    return files


def _files_at(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        found = [p for p in path.rglob("*") if p.suffix.lower() == ".fit" and p.is_file()]
        for p in sorted(found, key=lambda p: p.relative_to(path).as_posix()):
            yield p.relative_to(path).as_posix(), p.read_bytes()
    elif path.is_file():
        yield path.name, path.read_bytes()
    else:
        raise FileNotFoundError(f"no FIT file or folder at {path}")


def _candidate_id(digest: bytes) -> int:
    return ID_BASE + int.from_bytes(digest[:8], "big") % ID_SPAN


class RecordedActivities:
    """FIT files as one account's activities, oldest first (ties by id)."""

    def __init__(
        self, files: Iterable[tuple[str, bytes]], zone: ZoneInfo, fallback_start: datetime
    ) -> None:
        if fallback_start.tzinfo is None:
            raise ValueError("fallback_start must be timezone-aware")
        self.zone = zone
        unique: dict[bytes, tuple[str, bytes]] = {}
        for name, data in files:
            unique.setdefault(hashlib.sha256(data).digest(), (name, data))
        ids: dict[bytes, int] = {}
        taken: set[int] = set()
        for digest in sorted(unique):
            activity_id = _candidate_id(digest)
            while activity_id in taken:
                activity_id = ID_BASE + (activity_id - ID_BASE + 1) % ID_SPAN
            taken.add(activity_id)
            ids[digest] = activity_id
        built = []
        for digest, (name, data) in unique.items():
            facts = read_fit(data)
            start, source = _start(facts, zone, fallback_start.astimezone(UTC))
            offset = facts.utc_offset_s if source != "local_timestamp" else None
            if offset is not None:
                local = start.replace(tzinfo=None) + timedelta(seconds=offset)
            else:
                local = start.astimezone(zone).replace(tzinfo=None)
            built.append(
                RecordedActivity(
                    activity_id=ids[digest],
                    file_name=name,
                    sha256=digest.hex(),
                    facts=facts,
                    start_utc=start.astimezone(UTC),
                    start_local=local,
                    start_source=source,
                    type_key=type_key(facts.sessions),
                    data=data,
                )
            )
        built.sort(key=lambda a: (a.start_utc, a.activity_id))
        self.activities: tuple[RecordedActivity, ...] = tuple(built)
        self._by_id = {a.activity_id: a for a in built}

    def __len__(self) -> int:
        return len(self.activities)

    def __iter__(self) -> Iterator[RecordedActivity]:
        return iter(self.activities)

    def get(self, activity_id: int) -> RecordedActivity | None:
        return self._by_id.get(activity_id)

    def by_name(self, file_name: str) -> RecordedActivity:
        for activity in self.activities:
            if activity.file_name == file_name:
                return activity
        raise KeyError(f"no recorded activity from {file_name!r}")


# ---------------------------------------------------------------------- the athlete
class RecordedAthlete(SyntheticAthlete):
    """A synthetic athlete whose Connect activities are recorded FIT files (module docstring).

    ``activity_files`` are read and decoded when the athlete is made (a few seconds for the
    corpus), so no request waits for it and a missing path fails here. ``zone`` is where a file
    without its own UTC offset was recorded (default: the profile's time zone); the other keyword
    arguments are ``SyntheticAthlete``'s. Connect edits work on the files' activities as on
    synthetic ones (``rename_activity``, ``delete_activity``).
    """

    def __init__(
        self, activity_files: ActivityFiles, *, zone: ZoneInfo | None = None, **athlete: Any
    ) -> None:
        super().__init__(**athlete)
        zone = zone or ZoneInfo(self.profile.timezone)
        fallback = datetime.combine(self.last_day, FALLBACK_START).replace(tzinfo=zone)
        self.recorded = RecordedActivities(collect_files(activity_files), zone, fallback)

    def _recorded(self, activity_id: int) -> RecordedActivity | None:
        return self.recorded.get(activity_id)

    # What Connect lists: the files.
    def all_plans(self) -> list[ActivityPlan]:
        """Every listed activity (the files), oldest first."""
        return [activity.plan for activity in self.recorded]

    def plan(self, activity_id: int) -> ActivityPlan | None:
        recorded = self._recorded(activity_id)
        return recorded.plan if recorded is not None else super().plan(activity_id)

    def listed(self, activity_id: int) -> bool:
        return self._recorded(activity_id) is not None and activity_id not in self._deleted

    def _require_listed(self, activity_id: int) -> None:
        if self._recorded(activity_id) is None:
            raise KeyError(f"no recorded activity {activity_id}")
        if activity_id in self._deleted:
            raise KeyError(f"activity {activity_id} was deleted")

    def activity_list_item(self, activity_id: int) -> dict[str, Any]:
        recorded = self._require_recorded(activity_id)
        name = self._renamed.get(activity_id)
        return recorded.list_item(self.profile, self.recorded.zone, name)

    def activity_zip(self, activity_id: int) -> bytes:
        return self._require_recorded(activity_id).original_zip()

    def fit_bytes(self, activity_id: int) -> bytes:
        recorded = self._recorded(activity_id)
        return recorded.data if recorded is not None else super().fit_bytes(activity_id)

    # What the watch did for the wellness days: the synthetic training, as before.
    def activities(self) -> list[SyntheticActivity]:
        """The synthetic athlete's own activities (which the wellness days are made of)."""
        return [
            self.activity(plan.activity_id) for day in self.history() for plan in self.plans_on(day)
        ]

    def activity(self, activity_id: int) -> SyntheticActivity:
        self._refuse_recorded(activity_id)
        return super().activity(activity_id)

    def track(self, activity_id: int) -> Track:
        self._refuse_recorded(activity_id)
        return super().track(activity_id)

    def _require_recorded(self, activity_id: int) -> RecordedActivity:
        recorded = self._recorded(activity_id)
        if recorded is None:
            raise KeyError(f"no recorded activity {activity_id}")
        return recorded

    def _refuse_recorded(self, activity_id: int) -> None:
        if self._recorded(activity_id) is not None:
            raise KeyError(
                f"activity {activity_id} is a recorded file, not a synthetic activity: "
                "see .recorded.get(id)"
            )
