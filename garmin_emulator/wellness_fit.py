"""The daily wellness download: a zip of FIT files built from the athlete's day, like Garmin's.

``GET /download-service/files/wellness/{date}`` answers ``{n}_WELLNESS.fit`` (monitoring_info,
monitoring steps/energy/ascent every 15 minutes and heart rate every 2 minutes with 16-bit
timestamps, stress_level, respiration_rate, spo2_data, monitoring_hr_data, the resting-HR
message 281 and nap_event), ``{n+1}_SLEEP_DATA.fit`` (sleep_level per stage change,
sleep_assessment, the sleep score message 521, skin_temp_overnight) and, on nights with an HRV
reading, ``{n+2}_HRV_STATUS.fit`` (hrv_status_summary, hrv_value).

The FIT SDK's encoder refuses messages outside its profile (281, 521), so files are written by
the small `FitWriter` below, from this module's own layout declarations (`MESSAGES`). They are
copied from the public FIT SDK profile, never from the decoder (the emulator does not import
``garmin_pipeline.fit``), so a wrong layout in the decoder fails the round-trip tests instead of
being written the same wrong way. Series the athlete does not model itself (respiration, SpO2,
steps per 15 minutes, naps, skin temperature) are drawn here, deterministically per (seed, day),
and exposed as functions so tests can use them as the oracle.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from garmin_fit_sdk.crc_calculator import CrcCalculator

from garmin_emulator.athlete import AWAKE, DEEP, LIGHT, REM
from garmin_emulator.determinism import clamp, jitter, stable_rng
from garmin_emulator.timefmt import epoch_ms, fit_time
from garmin_pipeline.zips import stored_zip

if TYPE_CHECKING:
    from garmin_emulator.athlete import SyntheticAthlete

# FIT base types: (id, struct format).
_BASE = {
    "enum": (0x00, "B"),
    "sint8": (0x01, "b"),
    "uint8": (0x02, "B"),
    "sint16": (0x83, "h"),
    "uint16": (0x84, "H"),
    "sint32": (0x85, "i"),
    "uint32": (0x86, "I"),
    "float32": (0x88, "f"),
    "uint32z": (0x8C, "I"),
}
_PROFILE_VERSION = 2194  # 21.94
GARMIN, PRODUCT = 1, 3290  # manufacturer garmin, fenix6 (as fitgen)
MONITORING_B = 32
# File types Garmin uses for sleep and HRV uploads are outside the public profile; the decoder
# never reads file_id.type, so these numbers only make the files look distinct.
SLEEP_FILE, HRV_FILE = 49, 68

Field = tuple[int, str, Any]  # (field number, base type, raw value)


# ---- layouts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitField:
    """How the writer stores one field: its name, base type, and the scale and units of the
    value callers hand it (stored = round(value * scale))."""

    name: str
    base: str
    scale: int = 1
    units: str = ""


@dataclass(frozen=True)
class FitMessage:
    """A message the writer writes; ``assumed`` when it is not in the public FIT profile."""

    name: str
    fields: Mapping[int, FitField]
    assumed: bool = False


_TIMESTAMP_S = FitField("timestamp", "uint32", units="s")
_TIMESTAMP = FitField("timestamp", "uint32")  # the profile leaves its units blank here
_HRV_MS = 128  # HRV values are stored as ms * 128

# Every message and field written, as the FIT SDK profile (21.x, Profile.xlsx; the same as
# garmin_fit_sdk.Profile) declares them, copied by hand; tests/test_wellness_profile.py checks
# each against garmin_fit_sdk.Profile. Names, scales and units are the profile's.
#
# Messages 281 and 521 are Garmin's own: in no public profile. What the writer assumes about
# them comes from what Garmin Connect reports for the same day rather than from any decoder: the
# daily summary has one resting heart rate (bpm, an integer) and the sleep endpoint one overall
# sleep score (0-100), so each message is a timestamp (FIT date_time, like every timestamped
# message) and one uint8 value at field 0. No device file has confirmed this layout.
MESSAGES: dict[int, FitMessage] = {
    0: FitMessage(
        "file_id",
        {
            0: FitField("type", "enum"),
            1: FitField("manufacturer", "uint16"),
            2: FitField("product", "uint16"),
            3: FitField("serial_number", "uint32z"),
            4: FitField("time_created", "uint32"),
        },
    ),
    103: FitMessage(
        "monitoring_info",
        {
            253: _TIMESTAMP_S,
            0: FitField("local_timestamp", "uint32", units="s"),
            5: FitField("resting_metabolic_rate", "uint16", units="kcal / day"),
        },
    ),
    55: FitMessage(
        "monitoring",
        {
            253: _TIMESTAMP_S,
            26: FitField("timestamp_16", "uint16", units="s"),
            27: FitField("heart_rate", "uint8", units="bpm"),
            5: FitField("activity_type", "enum"),
            3: FitField("cycles", "uint32", 2, "cycles"),
            19: FitField("active_calories", "uint16", units="kcal"),
            2: FitField("distance", "uint32", 100, "m"),
            31: FitField("ascent", "uint32", 1000, "m"),
            32: FitField("descent", "uint32", 1000, "m"),
        },
    ),
    227: FitMessage(
        "stress_level",
        {
            0: FitField("stress_level_value", "sint16"),
            1: FitField("stress_level_time", "uint32", units="s"),
        },
    ),
    297: FitMessage(
        "respiration_rate",
        {253: _TIMESTAMP, 0: FitField("respiration_rate", "sint16", 100, "breaths/min")},
    ),
    269: FitMessage(
        "spo2_data",
        {
            253: _TIMESTAMP_S,
            0: FitField("reading_spo2", "uint8", units="percent"),
            1: FitField("reading_confidence", "uint8"),
            2: FitField("mode", "enum"),
        },
    ),
    211: FitMessage(
        "monitoring_hr_data",
        {
            253: _TIMESTAMP_S,
            0: FitField("resting_heart_rate", "uint8", units="bpm"),
            1: FitField("current_day_resting_heart_rate", "uint8", units="bpm"),
        },
    ),
    281: FitMessage(
        "resting_heart_rate",
        {253: _TIMESTAMP_S, 0: FitField("resting_heart_rate", "uint8", units="bpm")},
        assumed=True,
    ),
    412: FitMessage(
        "nap_event",
        {
            253: _TIMESTAMP,
            0: FitField("start_time", "uint32", units="seconds"),
            1: FitField("start_timezone_offset", "sint16", units="minutes"),
            2: FitField("end_time", "uint32", units="seconds"),
            3: FitField("end_timezone_offset", "sint16", units="minutes"),
            4: FitField("feedback", "enum"),
            5: FitField("is_deleted", "enum"),
            6: FitField("source", "enum"),
            7: FitField("update_timestamp", "uint32"),
        },
    ),
    275: FitMessage("sleep_level", {253: _TIMESTAMP_S, 0: FitField("sleep_level", "enum")}),
    346: FitMessage(
        "sleep_assessment",
        {
            0: FitField("combined_awake_score", "uint8"),
            1: FitField("awake_time_score", "uint8"),
            2: FitField("awakenings_count_score", "uint8"),
            3: FitField("deep_sleep_score", "uint8"),
            4: FitField("sleep_duration_score", "uint8"),
            5: FitField("light_sleep_score", "uint8"),
            6: FitField("overall_sleep_score", "uint8"),
            7: FitField("sleep_quality_score", "uint8"),
            8: FitField("sleep_recovery_score", "uint8"),
            9: FitField("rem_sleep_score", "uint8"),
            10: FitField("sleep_restlessness_score", "uint8"),
            11: FitField("awakenings_count", "uint8"),
            14: FitField("interruptions_score", "uint8"),
            15: FitField("average_stress_during_sleep", "uint16", 100),
        },
    ),
    521: FitMessage(
        "sleep_score",
        {253: _TIMESTAMP_S, 0: FitField("overall_sleep_score", "uint8")},
        assumed=True,
    ),
    398: FitMessage(
        "skin_temp_overnight",
        {
            253: _TIMESTAMP,
            0: FitField("local_timestamp", "uint32"),
            1: FitField("average_deviation", "float32"),
            2: FitField("average_7_day_deviation", "float32"),
            4: FitField("nightly_value", "float32"),
        },
    ),
    371: FitMessage("hrv_value", {253: _TIMESTAMP, 0: FitField("value", "uint16", _HRV_MS, "ms")}),
    370: FitMessage(
        "hrv_status_summary",
        {
            253: _TIMESTAMP,
            0: FitField("weekly_average", "uint16", _HRV_MS, "ms"),
            1: FitField("last_night_average", "uint16", _HRV_MS, "ms"),
            2: FitField("last_night_5_min_high", "uint16", _HRV_MS, "ms"),
            3: FitField("baseline_low_upper", "uint16", _HRV_MS, "ms"),
            4: FitField("baseline_balanced_lower", "uint16", _HRV_MS, "ms"),
            5: FitField("baseline_balanced_upper", "uint16", _HRV_MS, "ms"),
            6: FitField("status", "enum"),
        },
    ),
}
RESTING_HR_MESG, SLEEP_SCORE_MESG = 281, 521


def encode(mesg: int, values: Mapping[int, Any]) -> list[Field]:
    """A message's fields from values in their declared units (times in FIT seconds), in the
    order given, each stored with its declared base type and scale."""
    declared = MESSAGES[mesg].fields
    fields = []
    for num, value in values.items():
        spec = declared[num]
        fields.append((num, spec.base, value if spec.scale == 1 else round(value * spec.scale)))
    return fields


class FitWriter:
    """A minimal FIT encoder: definitions are written whenever a message's layout changes."""

    def __init__(self) -> None:
        self._body = bytearray()
        self._slots: list[tuple[Any, ...] | None] = [None] * 16
        self._next = 0

    def message(self, mesg: int, values: Mapping[int, Any]) -> None:
        """Write a declared message (`MESSAGES`) from its fields' values (see `encode`)."""
        self.write(mesg, encode(mesg, values))

    def write(self, mesg: int, fields: Sequence[Field]) -> None:
        """Write any message from raw values with explicit base types."""
        layout = (mesg, tuple((num, base) for num, base, _ in fields))
        if layout in self._slots:
            local = self._slots.index(layout)
        else:
            local, self._next = self._next, (self._next + 1) % 16
            self._slots[local] = layout
            self._body += struct.pack("<BBBHB", 0x40 | local, 0, 0, mesg, len(fields))
            for num, base, _ in fields:
                base_id, fmt = _BASE[base]
                self._body += struct.pack("<BBB", num, struct.calcsize(fmt), base_id)
        self._body.append(local)
        for _, base, value in fields:
            self._body += struct.pack("<" + _BASE[base][1], value)

    def close(self) -> bytes:
        header = bytearray(
            struct.pack("<BBHI4s", 14, 0x20, _PROFILE_VERSION, len(self._body), b".FIT")
        )
        header += struct.pack("<H", CrcCalculator.calculate_crc(header, 0, 12))
        data = bytes(header) + bytes(self._body)
        return data + struct.pack("<H", CrcCalculator.calculate_crc(data, 0, len(data)))


def _file_id(writer: FitWriter, athlete: SyntheticAthlete, kind: int, created: datetime) -> None:
    writer.message(
        0,
        {
            0: kind,
            1: GARMIN,
            2: PRODUCT,
            3: athlete.profile.device_serial,
            4: fit_time(created),
        },
    )


# ---- series the athlete does not model -----------------------------------------------------

STEP = timedelta(minutes=15)  # monitoring activity snapshots
RESPIRATION_STEP = timedelta(minutes=2)
SPO2_STEP = timedelta(minutes=5)
WALKING, RUNNING = 6, 1  # FIT activity_type
_METRES_PER_FLOOR = 3.0


@dataclass(frozen=True)
class Snapshot:
    """A monitoring message: day totals so far for one activity type."""

    time: datetime
    activity_type: int
    steps: int
    active_kcal: int
    distance_cm: int
    ascent_mm: int | None
    descent_mm: int | None


def _asleep(athlete: SyntheticAthlete, day: date, ts: datetime) -> bool:
    night, bedtime = athlete.night(day), athlete.night(day + timedelta(days=1)).start_utc
    return night.start_utc <= ts < night.end_utc or ts >= bedtime


def monitoring_series(athlete: SyntheticAthlete, day: date) -> list[Snapshot]:
    """Walking totals every 15 minutes (steps spread over awake time), running within runs."""
    w = athlete.wellness(day)
    rng = stable_rng(athlete.seed, "wellness fit walking", day)
    slots: list[datetime] = []
    t = w.start_utc
    while t + STEP <= w.end_utc:
        slots.append(t)
        t += STEP

    def busy(a: datetime) -> bool:
        return any(x.start_time_utc < a + STEP and a < x.end_time_utc for x in w.activities)

    weights = [0.0 if _asleep(athlete, day, s) or busy(s) else rng.random() for s in slots]
    total = sum(weights) or 1.0
    runs = [a for a in w.activities if a.sport == "running" and a.steps]
    snapshots: list[Snapshot] = []
    done = 0.0
    for slot, weight in zip(slots, weights, strict=True):
        done += weight
        share = done / total
        steps = w.walking_steps if slot == slots[-1] else int(w.walking_steps * share)
        end = slot + STEP
        snapshots.append(
            Snapshot(
                end,
                WALKING,
                steps,
                int(steps * 0.04),
                steps * 75,
                int(w.floors_up * _METRES_PER_FLOOR * 1000 * share),
                int(w.floors_down * _METRES_PER_FLOOR * 1000 * share),
            )
        )
        if runs:
            ran = sum(_run_part(a, end) for a in runs)
            run_steps = int(sum(_run_part(a, end) * (a.steps or 0) for a in runs) + 1e-9)
            run_kcal = int(sum(_run_part(a, end) * a.calories for a in runs) + 1e-9)
            if ran > 0:
                snapshots.append(
                    Snapshot(
                        end,
                        RUNNING,
                        run_steps,
                        run_kcal,
                        int(sum(_run_part(a, end) * a.distance_m for a in runs) * 100),
                        None,
                        None,
                    )
                )
    return snapshots


def _run_part(activity: Any, until: datetime) -> float:
    """The fraction of a run done by ``until``."""
    span = (activity.end_time_utc - activity.start_time_utc).total_seconds()
    done = (min(until, activity.end_time_utc) - activity.start_time_utc).total_seconds()
    return max(0.0, min(1.0, done / span)) if span else 0.0


def respiration_series(athlete: SyntheticAthlete, day: date) -> list[tuple[datetime, float]]:
    """(time, breaths/min in 1/100 steps, the field's resolution) every 2 minutes the watch
    was worn."""
    w = athlete.wellness(day)
    rng = stable_rng(athlete.seed, "wellness fit respiration", day)
    worn = {ms for ms, bpm in w.hr_values if bpm is not None}
    series = []
    t = w.start_utc
    while t < w.end_utc:
        if epoch_ms(t) in worn:
            if _asleep(athlete, day, t):
                night = athlete.night(day)
                if t >= night.end_utc:  # asleep again: the night that ends tomorrow
                    night = athlete.night(day + timedelta(days=1))
                low, mid = night.lowest_respiration, night.avg_respiration
                high = night.highest_respiration
            else:
                low, mid, high = w.respiration_low, w.respiration_awake, w.respiration_high
            series.append((t, round(clamp(mid + jitter(rng, 1.5), low, high) * 100) / 100))
        t += RESPIRATION_STEP
    return series


def spo2_series(athlete: SyntheticAthlete, day: date) -> list[tuple[datetime, int, int]]:
    """(time, SpO2 %, confidence) every 5 minutes of the night that ends on ``day``."""
    night = athlete.night(day)
    rng = stable_rng(athlete.seed, "wellness fit spo2", day)
    series = []
    t = night.start_utc
    while t < night.end_utc:
        value = int(clamp(night.avg_spo2 + jitter(rng, 3), night.lowest_spo2, night.highest_spo2))
        series.append((t, value, 80 + rng.randrange(21)))
        t += SPO2_STEP
    return series


@dataclass(frozen=True)
class Nap:
    start: datetime
    end: datetime
    feedback: int  # nap_period_feedback
    source: int  # nap_source


def nap(athlete: SyntheticAthlete, day: date) -> Nap | None:
    """An early-afternoon nap on about a quarter of the days (never during an activity)."""
    rng = stable_rng(athlete.seed, "wellness fit nap", day)
    if rng.random() >= 0.25:
        return None
    start = athlete.clock.local_to_utc(
        datetime.combine(day, datetime.min.time()) + timedelta(minutes=810 + rng.randrange(90))
    )
    end = start + timedelta(minutes=20 + rng.randrange(26))
    if any(a.start_time_utc < end and start < a.end_time_utc for a in athlete.activities_on(day)):
        return None
    return Nap(start, end, 14 + rng.randrange(2), 0)


def skin_temperature(athlete: SyntheticAthlete, day: date) -> tuple[float, float, float]:
    """(night deviation, 7-day average deviation, nightly value) in °C, in 1/64 °C steps."""

    def deviation(d: date) -> float:
        return stable_rng(athlete.seed, "wellness fit skin temp", d).randrange(-48, 49) / 64

    week = sum(deviation(day - timedelta(days=k)) for k in range(7)) / 7
    tonight = deviation(day)
    return tonight, round(week * 64) / 64, 33.5 + tonight


SLEEP_LEVEL = {AWAKE: 1, LIGHT: 2, DEEP: 3, REM: 4}  # athlete stage -> FIT sleep_level


def sleep_assessment(athlete: SyntheticAthlete, day: date) -> dict[int, float]:
    """sleep_assessment (346) field values for the night that ends on ``day``."""
    night = athlete.night(day)
    sleep_s = max(1, night.sleep_s)

    def pct(part: float) -> int:
        return int(clamp(round(100 * part), 0, 100))

    return {
        0: pct(1 - night.awake_s / (night.awake_s + sleep_s) * 4),
        1: pct(1 - night.awake_s / 3600),
        2: pct(1 - night.awake_count / 8),
        3: pct(night.deep_s / sleep_s * 5),
        4: pct(sleep_s / (8 * 3600)),
        5: pct(night.light_s / sleep_s * 1.6),
        6: night.score,
        7: pct(night.score / 100 + 0.05),
        8: pct((night.deep_s + night.rem_s) / sleep_s * 2),
        9: pct(night.rem_s / sleep_s * 4.5),
        10: pct(1 - night.awake_count / 12),
        11: night.awake_count,
        14: pct(1 - night.awake_count / 10),
        15: night.avg_sleep_stress,
    }


HRV_STATUS = {"LOW": 2, "UNBALANCED": 3, "BALANCED": 4}


def hrv_summary_time(athlete: SyntheticAthlete, day: date) -> datetime:
    return athlete.night(day).end_utc + timedelta(minutes=63, seconds=11)


def sleep_score_time(athlete: SyntheticAthlete, day: date) -> datetime:
    return athlete.night(day).end_utc + timedelta(minutes=5)


def resting_hr_time(athlete: SyntheticAthlete, day: date) -> datetime:
    """When message 281 is written: the last minute of the day."""
    return athlete.wellness(day).end_utc - timedelta(minutes=1)


# ---- the files -----------------------------------------------------------------------------


def wellness_fit(athlete: SyntheticAthlete, day: date) -> bytes:
    w = athlete.wellness(day)
    writer = FitWriter()
    _file_id(writer, athlete, MONITORING_B, w.start_utc)
    writer.message(
        103,
        {
            253: fit_time(w.start_utc),
            0: athlete.clock.fit_local_time(w.start_utc),
            5: athlete.profile.bmr_kcal,
        },
    )
    # (time, order, message, field values) merged chronologically; ties keep this order.
    events: list[tuple[datetime, int, int, dict[int, Any]]] = []
    for ms, bpm in w.hr_values:
        if bpm is not None:
            t = w.start_utc + timedelta(milliseconds=ms - epoch_ms(w.start_utc))
            events.append((t, 0, 55, {26: fit_time(t) & 0xFFFF, 27: bpm}))
    for s in monitoring_series(athlete, day):
        values: dict[int, Any] = {
            26: fit_time(s.time) & 0xFFFF,
            5: s.activity_type,
            3: s.steps / 2,  # cycles: a step is half a cycle
            19: s.active_kcal,
            2: s.distance_cm / 100,
        }
        if s.ascent_mm is not None and s.descent_mm is not None:
            values |= {31: s.ascent_mm / 1000, 32: s.descent_mm / 1000}
        events.append((s.time, 1, 55, values))
    for ms, level in w.stress_values:
        t = w.start_utc + timedelta(milliseconds=ms - epoch_ms(w.start_utc))
        events.append((t, 2, 227, {0: level, 1: fit_time(t)}))
    for t, rate in respiration_series(athlete, day):
        events.append((t, 3, 297, {253: fit_time(t), 0: rate}))
    for t, value, confidence in spo2_series(athlete, day):
        events.append((t, 4, 269, {253: fit_time(t), 0: value, 1: confidence, 2: 2}))
    wake = athlete.night(day).end_utc
    events.append((wake, 5, 211, {253: fit_time(wake), 0: w.rest_hr_7d, 1: w.rest_hr}))
    t = resting_hr_time(athlete, day)
    events.append((t, 6, RESTING_HR_MESG, {253: fit_time(t), 0: athlete.rest_hr(day)}))
    napped = nap(athlete, day)
    if napped is not None:
        events.append(
            (
                napped.end,
                7,
                412,
                {
                    253: fit_time(napped.end),
                    0: fit_time(napped.start),
                    1: athlete.clock.offset_s(napped.start) // 60,
                    2: fit_time(napped.end),
                    3: athlete.clock.offset_s(napped.end) // 60,
                    4: napped.feedback,
                    5: 0,
                    6: napped.source,
                    7: fit_time(napped.end + timedelta(minutes=5)),
                },
            )
        )
    events.sort(key=lambda e: (e[0], e[1]))
    first_monitoring = True
    for t, _, mesg, values in events:
        if mesg == 55 and first_monitoring:
            # The first monitoring message carries a full timestamp, later ones 16 bits only.
            values = {253: fit_time(t)} | {k: v for k, v in values.items() if k != 26}
            first_monitoring = False
        writer.message(mesg, values)
    return writer.close()


def sleep_fit(athlete: SyntheticAthlete, day: date) -> bytes:
    night = athlete.night(day)
    writer = FitWriter()
    _file_id(writer, athlete, SLEEP_FILE, night.start_utc)
    for start, _, stage in night.segments:
        writer.message(275, {253: fit_time(start), 0: SLEEP_LEVEL[stage]})
    writer.message(275, {253: fit_time(night.end_utc), 0: SLEEP_LEVEL[AWAKE]})
    writer.message(346, sleep_assessment(athlete, day))
    writer.message(
        SLEEP_SCORE_MESG, {253: fit_time(sleep_score_time(athlete, day)), 0: night.score}
    )
    deviation, week, nightly = skin_temperature(athlete, day)
    writer.message(
        398,
        {
            253: fit_time(night.end_utc),
            0: athlete.clock.fit_local_time(night.end_utc),
            1: deviation,
            2: week,
            4: nightly,
        },
    )
    return writer.close()


def hrv_fit(athlete: SyntheticAthlete, day: date) -> bytes | None:
    body = athlete.hrv(day)
    night = athlete.night(day)
    if body is None or night.hrv is None:
        return None
    summary = body["hrvSummary"]
    baseline = summary["baseline"]
    writer = FitWriter()
    _file_id(writer, athlete, HRV_FILE, night.end_utc)
    for t, value in night.hrv.readings:
        writer.message(371, {253: fit_time(t), 0: value})
    values = (
        summary["weeklyAvg"],
        summary["lastNightAvg"],
        summary["lastNight5MinHigh"],
        baseline["lowUpper"],
        baseline["balancedLow"],
        baseline["balancedUpper"],
    )
    writer.message(
        370,
        {
            253: fit_time(hrv_summary_time(athlete, day)),
            **dict(enumerate(values)),
            6: HRV_STATUS[summary["status"]],
        },
    )
    return writer.close()


def wellness_zip(athlete: SyntheticAthlete, day: date) -> bytes:
    """The day's download: stored (not deflated) so the bytes are identical on every machine."""
    n = 20_000_000_000 + day.toordinal() * 10
    members = [
        (f"{n}_WELLNESS.fit", wellness_fit(athlete, day)),
        (f"{n + 1}_SLEEP_DATA.fit", sleep_fit(athlete, day)),
    ]
    hrv = hrv_fit(athlete, day)
    if hrv is not None:
        members.append((f"{n + 2}_HRV_STATUS.fit", hrv))
    stamp = athlete.clock.utc_to_local(athlete.wellness(day).start_utc).timetuple()[:6]
    return stored_zip(members, stamp)
