"""The daily wellness download: a zip of FIT files built from the athlete's day, like Garmin's.

``GET /download-service/files/wellness/{date}`` answers ``{n}_WELLNESS.fit`` (monitoring_info,
monitoring steps/energy/ascent every 15 minutes and heart rate every 2 minutes with 16-bit
timestamps, stress_level, respiration_rate, spo2_data, monitoring_hr_data, the resting-HR
message 281 and nap_event), ``{n+1}_SLEEP_DATA.fit`` (sleep_level per stage change,
sleep_assessment, the sleep score message 521, skin_temp_overnight) and, on nights with an HRV
reading, ``{n+2}_HRV_STATUS.fit`` (hrv_status_summary, hrv_value).

The FIT SDK's encoder refuses messages outside its profile (281, 521), so files are written by
the small `FitWriter` below. Series the athlete does not model itself (respiration, SpO2,
steps per 15 minutes, naps, skin temperature) are drawn here, deterministically per (seed, day),
and exposed as functions so tests can use them as the oracle.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from garmin_fit_sdk.crc_calculator import CrcCalculator

from garmin_pipeline.fit.wellness import ASSUMED_LAYOUTS, RESTING_HR_MESG, SLEEP_SCORE_MESG
from garmin_pipeline.sources.emulator.athlete import AWAKE, DEEP, LIGHT, REM
from garmin_pipeline.sources.emulator.determinism import clamp, jitter, stable_rng
from garmin_pipeline.sources.emulator.timefmt import epoch_ms, fit_time
from garmin_pipeline.zips import stored_zip

if TYPE_CHECKING:
    from garmin_pipeline.sources.emulator.athlete import SyntheticAthlete

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
}
_PROFILE_VERSION = 2194  # 21.94
GARMIN, PRODUCT = 1, 3290  # manufacturer garmin, fenix6 (as fitgen)
MONITORING_B = 32
# File types Garmin uses for sleep and HRV uploads are outside the public profile; the decoder
# never reads file_id.type, so these numbers only make the files look distinct.
SLEEP_FILE, HRV_FILE = 49, 68

Field = tuple[int, str, Any]  # (field number, base type, raw value)


class FitWriter:
    """A minimal FIT encoder: definitions are written whenever a message's layout changes."""

    def __init__(self) -> None:
        self._body = bytearray()
        self._slots: list[tuple[Any, ...] | None] = [None] * 16
        self._next = 0

    def write(self, mesg: int, fields: Sequence[Field]) -> None:
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
    writer.write(
        0,
        [
            (0, "enum", kind),
            (1, "uint16", GARMIN),
            (2, "uint16", PRODUCT),
            (3, "uint32", athlete.profile.device_serial),
            (4, "uint32", fit_time(created)),
        ],
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


def respiration_series(athlete: SyntheticAthlete, day: date) -> list[tuple[datetime, int]]:
    """(time, breaths/min * 100) every 2 minutes the watch was worn."""
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
            series.append((t, round(clamp(mid + jitter(rng, 1.5), low, high) * 100)))
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


def sleep_assessment(athlete: SyntheticAthlete, day: date) -> dict[int, int]:
    """sleep_assessment (346) raw field values for the night that ends on ``day``."""
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
        15: round(night.avg_sleep_stress * 100),
    }


_ASSESSMENT_TYPES = {15: "uint16"}
HRV_STATUS = {"LOW": 2, "UNBALANCED": 3, "BALANCED": 4}


def hrv_summary_time(athlete: SyntheticAthlete, day: date) -> datetime:
    return athlete.night(day).end_utc + timedelta(minutes=63, seconds=11)


def sleep_score_time(athlete: SyntheticAthlete, day: date) -> datetime:
    return athlete.night(day).end_utc + timedelta(minutes=5)


def resting_hr_time(athlete: SyntheticAthlete, day: date) -> datetime:
    """When message 281 is written: the last minute of the day."""
    return athlete.wellness(day).end_utc - timedelta(minutes=1)


# ---- the files -----------------------------------------------------------------------------


def _layout_type(mesg: int, num: int) -> str:
    return ASSUMED_LAYOUTS[mesg][num][1]


def wellness_fit(athlete: SyntheticAthlete, day: date) -> bytes:
    w = athlete.wellness(day)
    writer = FitWriter()
    _file_id(writer, athlete, MONITORING_B, w.start_utc)
    writer.write(
        103,
        [
            (253, "uint32", fit_time(w.start_utc)),
            (0, "uint32", athlete.clock.fit_local_time(w.start_utc)),
            (5, "uint16", athlete.profile.bmr_kcal),
        ],
    )
    # (time, order, fields-maker) merged chronologically; ties keep this order.
    events: list[tuple[datetime, int, int, list[Field]]] = []
    for ms, bpm in w.hr_values:
        if bpm is not None:
            t = w.start_utc + timedelta(milliseconds=ms - epoch_ms(w.start_utc))
            events.append((t, 0, 55, [(26, "uint16", fit_time(t) & 0xFFFF), (27, "uint8", bpm)]))
    for s in monitoring_series(athlete, day):
        fields: list[Field] = [
            (26, "uint16", fit_time(s.time) & 0xFFFF),
            (5, "enum", s.activity_type),
            (3, "uint32", s.steps),
            (19, "uint16", s.active_kcal),
            (2, "uint32", s.distance_cm),
        ]
        if s.ascent_mm is not None and s.descent_mm is not None:
            fields += [(31, "uint32", s.ascent_mm), (32, "uint32", s.descent_mm)]
        events.append((s.time, 1, 55, fields))
    for ms, level in w.stress_values:
        t = w.start_utc + timedelta(milliseconds=ms - epoch_ms(w.start_utc))
        events.append((t, 2, 227, [(0, "sint16", level), (1, "uint32", fit_time(t))]))
    for t, raw in respiration_series(athlete, day):
        events.append((t, 3, 297, [(253, "uint32", fit_time(t)), (0, "sint16", raw)]))
    for t, value, confidence in spo2_series(athlete, day):
        events.append(
            (
                t,
                4,
                269,
                [
                    (253, "uint32", fit_time(t)),
                    (0, "uint8", value),
                    (1, "uint8", confidence),
                    (2, "enum", 2),
                ],
            )
        )
    wake = athlete.night(day).end_utc
    events.append(
        (
            wake,
            5,
            211,
            [(253, "uint32", fit_time(wake)), (0, "uint8", w.rest_hr_7d), (1, "uint8", w.rest_hr)],
        )
    )
    t = resting_hr_time(athlete, day)
    events.append(
        (
            t,
            6,
            RESTING_HR_MESG,
            [
                (253, _layout_type(RESTING_HR_MESG, 253), fit_time(t)),
                (0, _layout_type(RESTING_HR_MESG, 0), athlete.rest_hr(day)),
            ],
        )
    )
    napped = nap(athlete, day)
    if napped is not None:
        events.append(
            (
                napped.end,
                7,
                412,
                [
                    (253, "uint32", fit_time(napped.end)),
                    (0, "uint32", fit_time(napped.start)),
                    (1, "sint16", athlete.clock.offset_s(napped.start) // 60),
                    (2, "uint32", fit_time(napped.end)),
                    (3, "sint16", athlete.clock.offset_s(napped.end) // 60),
                    (4, "enum", napped.feedback),
                    (5, "enum", 0),
                    (6, "enum", napped.source),
                    (7, "uint32", fit_time(napped.end + timedelta(minutes=5))),
                ],
            )
        )
    events.sort(key=lambda e: (e[0], e[1]))
    first_monitoring = True
    for t, _, mesg, fields in events:
        if mesg == 55 and first_monitoring:
            # The first monitoring message carries a full timestamp, later ones 16 bits only.
            fields = [(253, "uint32", fit_time(t)), *fields[1:]]
            first_monitoring = False
        writer.write(mesg, fields)
    return writer.close()


def sleep_fit(athlete: SyntheticAthlete, day: date) -> bytes:
    night = athlete.night(day)
    writer = FitWriter()
    _file_id(writer, athlete, SLEEP_FILE, night.start_utc)
    for start, _, stage in night.segments:
        writer.write(275, [(253, "uint32", fit_time(start)), (0, "enum", SLEEP_LEVEL[stage])])
    writer.write(275, [(253, "uint32", fit_time(night.end_utc)), (0, "enum", SLEEP_LEVEL[AWAKE])])
    writer.write(
        346,
        [
            (num, _ASSESSMENT_TYPES.get(num, "uint8"), v)
            for num, v in sleep_assessment(athlete, day).items()
        ],
    )
    t = sleep_score_time(athlete, day)
    writer.write(
        SLEEP_SCORE_MESG,
        [
            (253, _layout_type(SLEEP_SCORE_MESG, 253), fit_time(t)),
            (0, _layout_type(SLEEP_SCORE_MESG, 0), night.score),
        ],
    )
    deviation, week, nightly = skin_temperature(athlete, day)
    writer.write(
        398,
        [
            (253, "uint32", fit_time(night.end_utc)),
            (0, "uint32", athlete.clock.fit_local_time(night.end_utc)),
            (1, "float32", deviation),
            (2, "float32", week),
            (4, "float32", nightly),
        ],
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
        writer.write(371, [(253, "uint32", fit_time(t)), (0, "uint16", value * 128)])
    values = (
        summary["weeklyAvg"],
        summary["lastNightAvg"],
        summary["lastNight5MinHigh"],
        baseline["lowUpper"],
        baseline["balancedLow"],
        baseline["balancedUpper"],
    )
    writer.write(
        370,
        [
            (253, "uint32", fit_time(hrv_summary_time(athlete, day))),
            *((num, "uint16", v * 128) for num, v in enumerate(values)),
            (6, "enum", HRV_STATUS[summary["status"]]),
        ],
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
