"""FIT files with the quirks real devices write, generated: the corpus's hard cases on demand.

``quirk_files()`` gives ``{file name: bytes}``, the same bytes on every call and machine (Garmin's
own encoder, ``garmin_fit_sdk.Encoder``, integer arithmetic only); ``QUIRKS`` says for each what
is odd about it and what the pipeline is expected to do with it. Serve them as activities with
``RecordedAthlete(quirk_files(), ...)`` (``recorded``), or ``garmin-pipeline emulator --quirks``.
Each starts at its own time in March 2025 (UTC below; the activity files carry a UTC+1 local
offset, Paris in winter), so the e2e sync has to cover 2025-03-01..2025-03-25:

=======================================  ================  ======================================
file                                     start (UTC)       quirk -> expected of the pipeline
=======================================  ================  ======================================
``quirk_run_27-days-left-running.fit``   03-01 08:00:00    a walk whose recording was left running
                                                           27 days (one record per 10 min) -> one
                                                           activity, every record kept, all under
                                                           its start day; the 27-day duration is
                                                           the duration plausibility bound's call
``quirk_rowing_hr-0.fit``                03-03 17:30:00    heart_rate 0 on every record and in the
                                                           session (no strap) -> rows kept, heart
                                                           rate null (a "no sensor" sentinel)
``quirk_bike-indoor_hr-1.fit``           03-05 06:45:00    heart_rate 1 on every record -> rows
                                                           kept, heart rate null (implausible)
``quirk_ride_sentinels.fit``             03-08 09:15:00    raw 0xFF / 0xFFFF in uint8 / uint16
                                                           fields (heart_rate, cadence, power,
                                                           speed, altitude: fitdecode reads None)
                                                           and 0xFE / 0xFFFE just below them (254
                                                           bpm, 65534 W, 65.534 m/s, 12606.8 m:
                                                           read as numbers) -> rows kept, both
                                                           kinds null
``quirk_run_timestamps-backwards.fit``   03-11 17:05:00    ten records 60 s earlier than the one
                                                           before, and one record repeating its
                                                           predecessor's timestamp -> every row
                                                           kept, in file order
``quirk_run_no-file-type.fit``           03-14 06:30:00    file_id without ``type`` on an
                                                           otherwise normal run -> decoded as the
                                                           activity it is
``quirk_course.fit``                     03-18 19:00:00    a course (file_id.type course, course,
                                                           course_point, timed records) served as
                                                           an activity -> quarantined, one-line
                                                           reason: not an activity
``quirk_settings.fit``                   03-21 20:00:00    a settings file (user_profile,
                                                           zones_target, hr_zone, device_settings)
                                                           -> quarantined, not an activity
``quirk_locations.fit``                  03-25 12:00:00    a Locations.fit (file type 8 and
                                                           message 29, both outside the public
                                                           profile) -> quarantined, not an
                                                           activity
=======================================  ================  ======================================

How many ``record`` messages each holds is fitdecode's to say: ``recorded.fitdecode_record_count``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from garmin_fit_sdk import Profile
from garmin_fit_sdk import fit as sdk_fit
from garmin_fit_sdk.mesg_definition import _MesgDefinition

from garmin_emulator.fitgen import DefinitionReusingEncoder
from garmin_emulator.timefmt import fit_time

MESG = Profile["mesg_num"]
PRODUCT = 3290  # fenix6, the synthetic athlete's watch
SERIAL = 3_412_345_678
LOCAL_OFFSET_S = 3600  # Paris in March before the DST change: what local_timestamp carries
# Garmin's Locations.fit: file type 8 ("waypoints") and its location message 29 and waypoint
# settings message 189 are not in the public FIT profile. Field numbers as Garmin-FIT (Perl)
# decodes message 29 and as a Garmin forum answer describes the file (forums.garmin.com,
# "Read and Write Locations.fit").
LOCATIONS_FILE_TYPE = 8
LOCATION_MESG = 29
WAYPOINT_SETTINGS_MESG = 189
_UNPROFILED: dict[int, dict[str, tuple[int, str]]] = {
    LOCATION_MESG: {
        "message_index": (254, "uint16"),
        "timestamp": (253, "uint32"),
        "name": (0, "string"),
        "position_lat": (1, "sint32"),
        "position_long": (2, "sint32"),
        "description": (6, "string"),
    },
    WAYPOINT_SETTINGS_MESG: {"waypoint_setting": (0, "uint8")},  # 0: add to the saved ones
}


class _Encoder(DefinitionReusingEncoder):
    """The SDK's encoder, which also writes the messages ``_UNPROFILED`` describes: the SDK
    refuses any message its profile does not name, though the file format takes any."""

    def _create_mesg_definition(self, mesg_num: int, mesg: dict[str, Any]) -> Any:
        fields = _UNPROFILED.get(mesg_num)
        if fields is None:
            return super()._create_mesg_definition(mesg_num, mesg)
        definition = object.__new__(_MesgDefinition)
        definition.global_message_number = mesg_num
        definition.local_mesg_num = 0
        definition.developer_field_definitions = []
        definition.field_definitions = []
        for name, value in mesg.items():
            if name == "mesg_num" or value is None:
                continue
            num, type_name = fields[name]
            base_type = sdk_fit.FIELD_TYPE_TO_BASE_TYPE[type_name]
            base = sdk_fit.BASE_TYPE_DEFINITIONS[base_type]
            definition.field_definitions.append(
                {
                    "name": name,
                    "num": num,
                    "size": _MesgDefinition._field_size(value, base),
                    "base_type": base_type,
                    "base_type_endian_flag": base["endian_flag"],
                    "type": type_name,
                    "scale": sdk_fit.FIELD_DEFAULT_SCALE,
                    "offset": sdk_fit.FIELD_DEFAULT_OFFSET,
                    "components": [],
                }
            )
        return definition


@dataclass(frozen=True)
class Quirk:
    """One generated file: what is odd about it and what the pipeline should make of it."""

    file_name: str
    start_utc: datetime
    what: str
    expected: str
    is_activity: bool  # False: the pipeline must quarantine it as "not an activity"
    build: Callable[[], bytes]


def _utc(month_day_hm: str) -> datetime:
    return datetime.fromisoformat(f"2025-{month_day_hm}:00").replace(tzinfo=UTC)


def _header(enc: _Encoder, start: int, file_type: str | int | None = "activity") -> None:
    file_id: dict[str, Any] = {
        "mesg_num": MESG["FILE_ID"],
        "type": file_type,
        "manufacturer": "garmin",
        "product": PRODUCT,
        "serial_number": SERIAL,
        "time_created": start,
    }
    enc.write_mesg(file_id)  # a None type is left out of the message
    enc.write_mesg({"mesg_num": MESG["FILE_CREATOR"], "software_version": 2660})


def _timer(enc: _Encoder, timestamp: int, event_type: str) -> None:
    enc.write_mesg(
        {
            "mesg_num": MESG["EVENT"],
            "timestamp": timestamp,
            "event": "timer",
            "event_type": event_type,
            "event_group": 0,
            "timer_trigger": "manual",
        }
    )


def _summary(records: list[dict[str, Any]], name: str) -> tuple[int | None, int | None]:
    """(average, maximum) of a record field over the records holding a valid value."""
    invalid = {"heart_rate": 0xFF, "cadence": 0xFF, "power": 0xFFFF}[name]
    values = [r[name] for r in records if r.get(name) is not None and r[name] != invalid]
    if not values:
        return None, None
    return (sum(values) + len(values) // 2) // len(values), max(values)


def activity_fit(
    start_utc: datetime,
    sport: str,
    sub_sport: str,
    records: list[dict[str, Any]],
    file_type: str | None = "activity",
) -> bytes:
    """A one-session activity around ``records`` (each with its own ``timestamp``): file_id,
    timer start, the records, timer stop, lap, session and the activity message."""
    start = fit_time(start_utc)
    end = max(r["timestamp"] for r in records)
    enc = _Encoder()
    _header(enc, start, file_type)
    _timer(enc, start, "start")
    for record in records:
        enc.write_mesg({"mesg_num": MESG["RECORD"], **record})
    _timer(enc, end, "stop_all")
    elapsed = float(end - start)
    totals: dict[str, Any] = {
        "start_time": start,
        "timestamp": end,
        "total_elapsed_time": elapsed,
        "total_timer_time": elapsed,
        "sport": sport,
        "sub_sport": sub_sport,
    }
    distances = [r["distance"] for r in records if "distance" in r]
    if distances:
        totals["total_distance"] = max(distances)
        totals["avg_speed"] = round(max(distances) / elapsed, 3)
    for field, (avg, top) in (
        ("heart_rate", _summary(records, "heart_rate")),
        ("cadence", _summary(records, "cadence")),
        ("power", _summary(records, "power")),
    ):
        totals[f"avg_{field}"], totals[f"max_{field}"] = avg, top
    totals["total_calories"] = int(elapsed / 60 * 9) if elapsed < 86_400 else 1800
    enc.write_mesg(
        {"mesg_num": MESG["LAP"], "message_index": 0, "event": "lap", "event_type": "stop"}
        | totals
        | {"lap_trigger": "session_end"}
    )
    enc.write_mesg(
        {"mesg_num": MESG["SESSION"], "message_index": 0, "event": "lap", "event_type": "stop"}
        | totals
        | {"first_lap_index": 0, "num_laps": 1, "trigger": "activity_end"}
    )
    enc.write_mesg(
        {
            "mesg_num": MESG["ACTIVITY"],
            "timestamp": end,
            "total_timer_time": elapsed,
            "num_sessions": 1,
            "type": "manual",
            "event": "activity",
            "event_type": "stop",
            "local_timestamp": end + LOCAL_OFFSET_S,
        }
    )
    return bytes(enc.close())


# Paris, for the outdoor quirks' tracks: semicircles, moving north-east a little each second.
_LAT0, _LON0 = 582_900_000, 28_060_000


def _position(i: int) -> dict[str, int]:
    return {"position_lat": _LAT0 + 37 * i, "position_long": _LON0 + 53 * i}


# ---------------------------------------------------------------------- the quirks
def heart_rate_constant(start_utc: datetime, bpm: int, sport: str, sub_sport: str) -> bytes:
    """An indoor session with power and cadence whose every record has ``heart_rate`` ``bpm``."""
    start = fit_time(start_utc)
    rowing = sub_sport == "indoor_rowing"
    records = [
        {
            "timestamp": start + i,
            "distance": round(i * (4.1 if rowing else 8.3), 2),
            "speed": 4.1 if rowing else 8.3,
            "heart_rate": bpm,
            "cadence": (24 + i % 5) if rowing else (84 + i % 9),
            "power": (150 + (i * 7) % 41) if rowing else (190 + (i * 11) % 61),
        }
        for i in range(1200 if rowing else 1800)
    ]
    return activity_fit(start_utc, sport, sub_sport, records)


def left_running(start_utc: datetime, days: int = 27, step_s: int = 600) -> bytes:
    """A walk recorded for 20 min, then left running ``days`` days at rest: a record per
    ``step_s`` seconds (smart recording has nothing to record), so the file stays small."""
    start = fit_time(start_utc)
    records = []
    for i in range(days * 86_400 // step_s + 1):
        moving = i <= 2
        records.append(
            {
                "timestamp": start + i * step_s,
                **_position(min(i, 2) * 400),
                "distance": round(min(i, 2) * 780.0, 2),
                "speed": 1.3 if moving else 0.0,
                "heart_rate": 96 if moving else 58 + i % 9,
            }
        )
    return activity_fit(start_utc, "walking", "generic", records)


def sentinels(start_utc: datetime) -> bytes:
    """A ride whose uint8/uint16 fields hold the FIT "invalid" values, and values just below.

    Every 60 s, at second 17: heart_rate 0xFF, cadence 0xFF, power 0xFFFF, speed and altitude
    raw 0xFFFF (fitdecode reads all of them as None); at second 43: 0xFE, 0xFE, 0xFFFE and raw
    0xFFFE speed and altitude (254 bpm, 254 rpm, 65534 W, 65.534 m/s, 12606.8 m: real numbers,
    absurd ones). From second 600 to 629 the strap drops out: heart_rate 0xFF only.
    """
    start = fit_time(start_utc)
    records = []
    for i in range(1200):
        record: dict[str, Any] = {
            "timestamp": start + i,
            **_position(i),
            "distance": round(i * 8.5, 2),
            "speed": 8.5,
            "altitude": 35.0 + (i % 120) / 5,
            "heart_rate": 128 + i % 23,
            "cadence": 86 + i % 7,
            "power": 205 + (i * 13) % 57,
        }
        if i % 60 == 17:
            # raw 0xFFFF: speed is stored x1000, altitude as (value + 500) x 5
            record.update(heart_rate=0xFF, cadence=0xFF, power=0xFFFF)
            record.update(speed=65.535, altitude=0xFFFF / 5 - 500)
        elif i % 60 == 43:
            record.update(heart_rate=0xFE, cadence=0xFE, power=0xFFFE)
            record.update(speed=65.534, altitude=0xFFFE / 5 - 500)
        elif 600 <= i < 630:
            record["heart_rate"] = 0xFF
        records.append(record)
    return activity_fit(start_utc, "cycling", "road", records)


def timestamps_backwards(start_utc: datetime) -> bytes:
    """A run whose records 300..309 are stamped 60 s earlier than record 299 (a clock fix),
    and whose record 700 repeats record 699's timestamp."""
    start = fit_time(start_utc)
    records = []
    for i in range(900):
        t = start + i
        if 300 <= i < 310:
            t -= 60
        elif i == 700:
            t -= 1
        records.append(
            {
                "timestamp": t,
                **_position(i),
                "distance": round(i * 3.1, 2),
                "speed": 3.1,
                "heart_rate": 139 + i % 17,
                "cadence": 84 + i % 4,
            }
        )
    return activity_fit(start_utc, "running", "generic", records)


def without_file_type(start_utc: datetime) -> bytes:
    """A normal 10-minute run whose file_id has no ``type`` field."""
    start = fit_time(start_utc)
    records = [
        {
            "timestamp": start + i,
            **_position(i),
            "distance": round(i * 2.9, 2),
            "speed": 2.9,
            "heart_rate": 131 + i % 19,
            "cadence": 82 + i % 5,
        }
        for i in range(600)
    ]
    return activity_fit(start_utc, "running", "generic", records, file_type=None)


def course(start_utc: datetime) -> bytes:
    """A course as Connect exports one: course, lap, timer events, timed records, course points."""
    start = fit_time(start_utc)
    enc = _Encoder()
    _header(enc, start, "course")
    enc.write_mesg({"mesg_num": MESG["COURSE"], "name": "Loop", "sport": "cycling"})
    points = 120
    step_s, step_m = 15, 100.0
    end = start + (points - 1) * step_s
    enc.write_mesg(
        {
            "mesg_num": MESG["LAP"],
            "timestamp": end,
            "start_time": start,
            "total_elapsed_time": float(end - start),
            "total_timer_time": float(end - start),
            "total_distance": (points - 1) * step_m,
            **{f"start_{k}": v for k, v in _position(0).items()},
            **{f"end_{k}": v for k, v in _position(10 * (points - 1)).items()},
        }
    )
    _timer(enc, start, "start")
    for i in range(points):
        enc.write_mesg(
            {
                "mesg_num": MESG["RECORD"],
                "timestamp": start + i * step_s,
                **_position(10 * i),
                "distance": i * step_m,
                "enhanced_altitude": 40.0 + i % 30,
            }
        )
    for n, (i, kind, name) in enumerate(((30, "left", "Turn"), (80, "summit", "Hill"))):
        enc.write_mesg(
            {
                "mesg_num": MESG["COURSE_POINT"],
                "message_index": n,
                "timestamp": start + i * step_s,
                **_position(10 * i),
                "distance": i * step_m,
                "type": kind,
                "name": name,
            }
        )
    _timer(enc, end, "stop_disable_all")
    return bytes(enc.close())


def settings(start_utc: datetime) -> bytes:
    """A device settings file: the user's profile, heart-rate zones and device settings."""
    enc = _Encoder()
    _header(enc, fit_time(start_utc), "settings")
    enc.write_mesg(
        {
            "mesg_num": MESG["USER_PROFILE"],
            "friendly_name": "Synthetic",
            "gender": "female",
            "age": 38,
            "height": 1.68,
            "weight": 61.5,
            "resting_heart_rate": 52,
            "default_max_heart_rate": 184,
        }
    )
    enc.write_mesg(
        {
            "mesg_num": MESG["ZONES_TARGET"],
            "max_heart_rate": 184,
            "threshold_heart_rate": 168,
            "functional_threshold_power": 225,
            "hr_calc_type": "percent_max_hr",
        }
    )
    for n, high in enumerate((110, 128, 147, 165, 184)):
        enc.write_mesg({"mesg_num": MESG["HR_ZONE"], "message_index": n, "high_bpm": high})
    enc.write_mesg(
        {"mesg_num": MESG["DEVICE_SETTINGS"], "active_time_zone": 0, "time_zone_offset": [1.0]}
    )
    return bytes(enc.close())


def locations(start_utc: datetime) -> bytes:
    """A Locations.fit: saved waypoints, as Garmin devices and BaseCamp write them."""
    start = fit_time(start_utc)
    enc = _Encoder()
    _header(enc, start, LOCATIONS_FILE_TYPE)
    enc.write_mesg({"mesg_num": WAYPOINT_SETTINGS_MESG, "waypoint_setting": 0})
    for n, (name, description) in enumerate(
        (("Home", "Front door"), ("Pool", "Piscine"), ("Track", "Stade, lane 1"))
    ):
        enc.write_mesg(
            {
                "mesg_num": LOCATION_MESG,
                "message_index": n,
                "timestamp": start - 86_400 * (30 - n),
                "name": name,
                **_position(5000 * n),
                "description": description,
            }
        )
    return bytes(enc.close())


QUIRKS: tuple[Quirk, ...] = (
    Quirk(
        "quirk_run_27-days-left-running.fit",
        _utc("03-01T08:00"),
        "a walk left recording for 27 days, one record per 10 min",
        "one activity, every record kept under its start day",
        True,
        lambda: left_running(_utc("03-01T08:00")),
    ),
    Quirk(
        "quirk_rowing_hr-0.fit",
        _utc("03-03T17:30"),
        "indoor rowing, heart_rate 0 on every record and in the session",
        "rows kept, heart rate null",
        True,
        lambda: heart_rate_constant(_utc("03-03T17:30"), 0, "fitness_equipment", "indoor_rowing"),
    ),
    Quirk(
        "quirk_bike-indoor_hr-1.fit",
        _utc("03-05T06:45"),
        "indoor cycling, heart_rate 1 on every record and in the session",
        "rows kept, heart rate null",
        True,
        lambda: heart_rate_constant(_utc("03-05T06:45"), 1, "cycling", "indoor_cycling"),
    ),
    Quirk(
        "quirk_ride_sentinels.fit",
        _utc("03-08T09:15"),
        "raw 0xFF/0xFFFF (invalid) and 0xFE/0xFFFE (absurd) in record fields",
        "rows kept, both kinds null",
        True,
        lambda: sentinels(_utc("03-08T09:15")),
    ),
    Quirk(
        "quirk_run_timestamps-backwards.fit",
        _utc("03-11T17:05"),
        "ten records 60 s earlier than their predecessor, one duplicate timestamp",
        "every row kept, in file order",
        True,
        lambda: timestamps_backwards(_utc("03-11T17:05")),
    ),
    Quirk(
        "quirk_run_no-file-type.fit",
        _utc("03-14T06:30"),
        "file_id without a type field",
        "decoded as the activity it is",
        True,
        lambda: without_file_type(_utc("03-14T06:30")),
    ),
    Quirk(
        "quirk_course.fit",
        _utc("03-18T19:00"),
        "a course file served as an activity",
        "quarantined: not an activity (file type course)",
        False,
        lambda: course(_utc("03-18T19:00")),
    ),
    Quirk(
        "quirk_settings.fit",
        _utc("03-21T20:00"),
        "a settings file served as an activity",
        "quarantined: not an activity (file type settings)",
        False,
        lambda: settings(_utc("03-21T20:00")),
    ),
    Quirk(
        "quirk_locations.fit",
        _utc("03-25T12:00"),
        "a Locations.fit (file type 8) served as an activity",
        "quarantined: not an activity (file type 8)",
        False,
        lambda: locations(_utc("03-25T12:00")),
    ),
)


def quirk_files() -> dict[str, bytes]:
    """Every quirk file, by name (built anew on each call: a few hundred ms)."""
    return {quirk.file_name: quirk.build() for quirk in QUIRKS}
