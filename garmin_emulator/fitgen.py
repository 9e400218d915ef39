"""FIT files written with Garmin's official encoder (``garmin_fit_sdk.Encoder``), plus the zip
``download-service`` wraps them in.

Message layout follows a modern Garmin watch: file_id, file_creator, timer start event,
device_info (the watch, plus the heart rate strap on runs), records (each followed, on runs, by
hrv messages with the strap's RR intervals, then lap and, for pool swims, length messages at
their end times), timer stop event, one session and the activity message with
``local_timestamp`` (so the UTC offset is recoverable). Every timestamp is an integer derived
from the activity start: no wall clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from garmin_fit_sdk import Encoder, Profile

from garmin_emulator.activity import (
    POOL_LENGTH_M,
    SPORTS,
    Lap,
    SyntheticActivity,
    Track,
)
from garmin_emulator.timefmt import fit_time
from garmin_pipeline.zips import stored_zip

if TYPE_CHECKING:
    from garmin_emulator.athlete import AthleteProfile

MESG = Profile["mesg_num"]
GARMIN_PRODUCT = 3290  # fenix6, as in shapes.DEVICE_PRODUCT
SOFTWARE_VERSION = 2660  # file_creator units (26.60)
HRM_PRODUCT = 2327  # hrm4_run, the chest strap runs are recorded with
HRV_VALUES_PER_MESSAGE = 5  # hrv.time holds up to five intervals


def _slice_stats(values: list[int], lo: int, hi: int) -> tuple[int, int]:
    part = values[lo : hi + 1]
    return int(sum(part) / len(part) + 0.5), max(part)


def _climb(q: list[int], lo: int, hi: int) -> tuple[int, int]:
    up = down = 0
    for i in range(lo + 1, hi + 1):
        d = q[i] - q[i - 1]
        if d > 0:
            up += d
        else:
            down -= d
    return up // 5, down // 5


def _lap_message(
    index: int, lap: Lap, a: SyntheticActivity, track: Track, start: int, last: bool
) -> dict[str, Any]:
    spec = SPORTS[a.sport]
    lo = lap.start_index if index == 0 else lap.start_index + 1
    hi = max(lo, lap.end_index)
    elapsed = lap.end_s - lap.start_s
    avg_hr, max_hr = _slice_stats(track.heart_rate, lo, hi)
    speed = lap.distance_cm * 10 // max(1, elapsed) / 1000
    max_speed = max(track.speed_mm_s[lo : hi + 1]) / 1000
    mesg: dict[str, Any] = {
        "mesg_num": MESG["LAP"],
        "message_index": index,
        "timestamp": start + lap.end_s,
        "event": "lap",
        "event_type": "stop",
        "start_time": start + lap.start_s,
        "total_elapsed_time": float(elapsed),
        "total_timer_time": float(elapsed),
        "total_distance": lap.distance_cm / 100,
        "total_calories": int(a.calories * elapsed / a.duration_s + 0.5),
        "avg_speed": speed,
        "max_speed": max_speed,
        "enhanced_avg_speed": speed,
        "enhanced_max_speed": max_speed,
        "avg_heart_rate": avg_hr,
        "max_heart_rate": max_hr,
        "lap_trigger": "session_end" if last else ("distance" if spec.auto_lap_m else "manual"),
        "sport": spec.fit_sport,
        "sub_sport": spec.fit_sub_sport,
    }
    if track.lat_sc is not None and track.lon_sc is not None:
        mesg.update(
            start_position_lat=track.lat_sc[lap.start_index],
            start_position_long=track.lon_sc[lap.start_index],
            end_position_lat=track.lat_sc[lap.end_index],
            end_position_long=track.lon_sc[lap.end_index],
        )
    if track.cadence is not None:
        mesg["avg_cadence"], mesg["max_cadence"] = _slice_stats(track.cadence, lo, hi)
    if track.power_w is not None:
        mesg["avg_power"], mesg["max_power"] = _slice_stats(track.power_w, lo, hi)
    if track.altitude_q is not None:
        mesg["total_ascent"], mesg["total_descent"] = _climb(
            track.altitude_q, lo - 1 if lo else 0, hi
        )
    if track.lengths is not None:
        mesg.update(
            num_lengths=lap.num_lengths,
            first_length_index=lap.first_length,
            num_active_lengths=lap.active_lengths,
            total_cycles=lap.strokes,
            swim_stroke="freestyle",
            avg_stroke_distance=(
                round(lap.distance_cm / 100 / lap.strokes, 2) if lap.strokes else 0.0
            ),
        )
    return mesg


class DefinitionReusingEncoder(Encoder):
    """The FIT SDK's encoder, which builds a message definition for every message it writes
    and then compares it with the 16 it holds: most of its time for an activity's thousands of
    records of one arrangement. A definition depends only on the message number and each
    field's name and size, so this keeps one per arrangement and hands back the one still in
    its local slot; anything else goes the SDK's way. The bytes are the SDK's (tested)."""

    def __init__(self) -> None:
        super().__init__()
        self._by_arrangement: dict[tuple[Any, ...], Any] = {}

    def _live(self, definition: Any) -> bool:
        return self._local_mesg_definitions[definition.local_mesg_num] is definition

    def _create_mesg_definition(self, mesg_num: int, mesg: dict[str, Any]) -> Any:
        arrangement = (mesg_num, *((name, _size_of(value)) for name, value in mesg.items()))
        known = self._by_arrangement.get(arrangement)
        if known is not None and self._live(known):
            return known
        definition = super()._create_mesg_definition(mesg_num, mesg)
        self._by_arrangement[arrangement] = definition
        return definition

    def _find_local_mesg_definition(self, mesg_definition: Any) -> Any:
        if self._live(mesg_definition):
            return mesg_definition
        return super()._find_local_mesg_definition(mesg_definition)


def _size_of(value: Any) -> int | None:
    """What of a value decides its field's size in a definition (None: the field is left out)."""
    if value is None:
        return None
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    return len(value) if isinstance(value, list | tuple | bytes) else -1


def encode_activity(a: SyntheticActivity, track: Track, profile: AthleteProfile) -> bytes:
    """The activity as a FIT file; figures agree with ``a`` (counts, distance, duration)."""
    spec = SPORTS[a.sport]
    start = fit_time(a.start_time_utc)
    end = start + int(a.duration_s)
    enc = DefinitionReusingEncoder()
    enc.write_mesg(
        {
            "mesg_num": MESG["FILE_ID"],
            "type": "activity",
            "manufacturer": "garmin",
            "product": GARMIN_PRODUCT,
            "serial_number": profile.device_serial,
            "time_created": start,
        }
    )
    enc.write_mesg({"mesg_num": MESG["FILE_CREATOR"], "software_version": SOFTWARE_VERSION})
    enc.write_mesg(
        {
            "mesg_num": MESG["EVENT"],
            "timestamp": start,
            "event": "timer",
            "event_type": "start",
            "event_group": 0,
            "timer_trigger": "manual",
        }
    )
    enc.write_mesg(
        {
            "mesg_num": MESG["DEVICE_INFO"],
            "timestamp": start,
            "device_index": "creator",
            "manufacturer": "garmin",
            "product": GARMIN_PRODUCT,
            "serial_number": profile.device_serial,
            "software_version": SOFTWARE_VERSION / 100,
            "source_type": "local",
        }
    )

    if track.rr_ms is not None:
        enc.write_mesg(
            {
                "mesg_num": MESG["DEVICE_INFO"],
                "timestamp": start,
                "device_index": 1,
                "device_type": 120,  # antplus heart_rate
                "manufacturer": "garmin",
                "product": HRM_PRODUCT,
                "serial_number": profile.device_serial + 1,
                "software_version": 3.0,
                "source_type": "antplus",
                "ant_device_number": profile.device_serial % 65_000 + 1,
                "ant_network": "antplus",
            }
        )

    # Lap and length messages go out right after the record at which they end.
    pending: list[tuple[int, int, dict[str, Any]]] = []  # (end second, order, message)
    for i, lap in enumerate(track.laps):
        last = i == len(track.laps) - 1
        pending.append((lap.end_s, 1, _lap_message(i, lap, a, track, start, last)))
    if track.lengths is not None:
        for i, length in enumerate(track.lengths):
            elapsed = float(length.end_s - length.start_s)
            msg: dict[str, Any] = {
                "mesg_num": MESG["LENGTH"],
                "message_index": i,
                "timestamp": start + length.end_s,
                "event": "length",
                "event_type": "stop",
                "start_time": start + length.start_s,
                "total_elapsed_time": elapsed,
                "total_timer_time": elapsed,
                "length_type": "active" if length.active else "idle",
            }
            if length.active:
                msg.update(
                    total_strokes=length.strokes,
                    avg_speed=POOL_LENGTH_M * 1000 // int(elapsed) / 1000,
                    swim_stroke="freestyle",
                    avg_swimming_cadence=int(length.strokes * 60 / elapsed),
                )
            pending.append((length.end_s, 0, msg))
    pending.sort(key=lambda item: (item[0], item[1]))

    cursor = 0
    record_num = MESG["RECORD"]
    columns: list[tuple[str, list[Any]]] = []
    if track.lat_sc is not None and track.lon_sc is not None:
        columns += [("position_lat", track.lat_sc), ("position_long", track.lon_sc)]
    columns += [
        ("distance", [cm / 100 for cm in track.distance_cm]),
        ("enhanced_speed", [mm / 1000 for mm in track.speed_mm_s]),
    ]
    if track.altitude_q is not None:
        columns.append(("enhanced_altitude", [q / 5 - 500 for q in track.altitude_q]))
    columns.append(("heart_rate", track.heart_rate))
    if track.cadence is not None:
        columns.append(("cadence", track.cadence))
    if track.power_w is not None:
        columns.append(("power", track.power_w))
    rr, rr_record = track.rr_ms or [], track.rr_record or []
    beat = 0
    hrv_num = MESG["HRV"]
    for i, t in enumerate(track.t_s):
        record: dict[str, Any] = {"mesg_num": record_num, "timestamp": start + t}
        for name, values in columns:
            record[name] = values[i]
        enc.write_mesg(record)
        first = beat
        while beat < len(rr) and rr_record[beat] == i:
            beat += 1
        for k in range(first, beat, HRV_VALUES_PER_MESSAGE):
            chunk = rr[k : min(beat, k + HRV_VALUES_PER_MESSAGE)]
            enc.write_mesg({"mesg_num": hrv_num, "time": [ms / 1000 for ms in chunk]})
        while cursor < len(pending) and pending[cursor][0] <= t:
            enc.write_mesg(pending[cursor][2])
            cursor += 1
    for _, _, msg in pending[cursor:]:
        enc.write_mesg(msg)

    enc.write_mesg(
        {
            "mesg_num": MESG["EVENT"],
            "timestamp": end,
            "event": "timer",
            "event_type": "stop_all",
            "event_group": 0,
            "timer_trigger": "manual",
        }
    )
    session: dict[str, Any] = {
        "mesg_num": MESG["SESSION"],
        "message_index": 0,
        "timestamp": end,
        "event": "lap",
        "event_type": "stop",
        "start_time": start,
        "sport": spec.fit_sport,
        "sub_sport": spec.fit_sub_sport,
        "total_elapsed_time": a.duration_s,
        "total_timer_time": a.duration_s,
        "total_distance": a.distance_m,
        "total_calories": a.calories,
        "avg_speed": a.avg_speed_m_s,
        "max_speed": a.max_speed_m_s,
        "enhanced_avg_speed": a.avg_speed_m_s,
        "enhanced_max_speed": a.max_speed_m_s,
        "avg_heart_rate": a.avg_hr,
        "max_heart_rate": a.max_hr,
        "total_training_effect": a.aerobic_training_effect,
        "total_anaerobic_training_effect": a.anaerobic_training_effect,
        "first_lap_index": 0,
        "num_laps": a.lap_count,
        "trigger": "activity_end",
    }
    if track.lat_sc is not None and track.lon_sc is not None:
        session.update(start_position_lat=track.lat_sc[0], start_position_long=track.lon_sc[0])
    if a.avg_cadence is not None:
        session.update(avg_cadence=a.avg_cadence, max_cadence=a.max_cadence)
    if a.avg_power_w is not None:
        session.update(
            avg_power=a.avg_power_w,
            max_power=a.max_power_w,
            normalized_power=a.normalized_power_w,
        )
    if a.elevation_gain_m is not None:
        session.update(
            total_ascent=int(a.elevation_gain_m), total_descent=int(a.elevation_loss_m or 0)
        )
    if track.lengths is not None:
        strokes = a.total_strokes or 0
        session.update(
            pool_length=float(POOL_LENGTH_M),
            pool_length_unit="metric",
            num_lengths=len(track.lengths),
            num_active_lengths=a.active_lengths,
            total_cycles=strokes,
            swim_stroke="freestyle",
            avg_stroke_distance=round(a.distance_m / strokes, 2) if strokes else 0.0,
        )
    enc.write_mesg(session)
    enc.write_mesg(
        {
            "mesg_num": MESG["ACTIVITY"],
            "timestamp": end,
            "total_timer_time": a.duration_s,
            "num_sessions": 1,
            "type": "manual",
            "event": "activity",
            "event_type": "stop",
            "local_timestamp": profile.clock.fit_local_time(a.end_time_utc),
        }
    )
    return bytes(enc.close())


def zip_fit(a: SyntheticActivity, fit: bytes) -> bytes:
    """The ORIGINAL download: a zip holding ``{id}_ACTIVITY.fit``, byte-identical on every
    machine (`stored_zip`), its entry dated at the activity's local start time."""
    return stored_zip([(f"{a.activity_id}_ACTIVITY.fit", fit)], a.start_time_local.timetuple()[:6])
