"""Link the export's uploaded FIT files to the activities they recorded.

Garmin names an uploaded file by its *upload* id (`<email>_<uploadId>.fit`), which appears
nowhere in the activity summaries, so the name says nothing. A FIT file whose `file_id.type` is
`activity` is linked to the summarized activity whose start (startTimeGmt, epoch ms) is within
`MATCH_WINDOW` of the file's first session `start_time`, nearest first, and whose sport agrees
(`FIT_SPORT`: the FIT sport each activity type key records; a type key not listed, or a FIT
sport of `generic`, matches on time alone). Each activity takes one file; a second file for the
same activity (an upload made twice) stays unlinked with that reason.

Unlinked activity files (no activity within the window, or the sport disagrees) stay in raw,
inside the archive and copied beside its manifest, and are listed with the reason. A FIT file
that does not decode is quarantined with the decoder's reason.

Every other FIT file is one of the watch's wellness uploads (monitoring, sleep, HRV status),
which the wellness feed reads as Connect's per-day download: a zip of the day's files. So each
is given its local calendar day (`wellness_days`): a monitoring file the day its
`monitoring_info.local_timestamp` starts; any other file the local date of its last
timestamp (a night's sleep and HRV files end after waking, the day Garmin files the night
under), the local offset taken from the file's own `local_timestamp` fields, else from the
monitoring file nearest in time, else UTC. The files of a day are bundled monitoring first,
then sleep, then the rest, as the download orders them (`wellness_zip`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import fitdecode

from garmin_pipeline.fit.decode import (
    FitDecodeError,
    check_structure,
    fit_reader,
    guarded_frames,
    spec_violations_logged,
)
from garmin_pipeline.sources.export.discovery import Member
from garmin_pipeline.zips import stored_zip

MATCH_WINDOW = timedelta(seconds=60)
FIT_SPORT = {
    "running": "running",
    "trail_running": "running",
    "treadmill_running": "running",
    "track_running": "running",
    "street_running": "running",
    "cycling": "cycling",
    "road_biking": "cycling",
    "mountain_biking": "cycling",
    "gravel_cycling": "cycling",
    "indoor_cycling": "cycling",
    "virtual_ride": "cycling",
    "lap_swimming": "swimming",
    "open_water_swimming": "swimming",
    "walking": "walking",
    "hiking": "hiking",
    "strength_training": "training",
    "cardio": "training",
    "rowing": "rowing",
    "indoor_rowing": "rowing",
}


@dataclass(frozen=True)
class FitInfo:
    file_type: str | None
    start: datetime | None  # the first session's start, UTC
    sport: str | None


@dataclass
class Links:
    linked: dict[str, int] = field(default_factory=dict)  # member -> activity id
    unlinked: dict[str, str] = field(default_factory=dict)  # activity FIT member -> why
    wellness: list[str] = field(default_factory=list)  # non-activity FIT members
    wellness_days: dict[str, date] = field(default_factory=dict)  # wellness member -> day
    wellness_types: dict[str, str | None] = field(default_factory=dict)  # member -> file type
    quarantined: dict[str, str] = field(default_factory=dict)  # member -> why


def _file_type(file_id: fitdecode.FitDataMessage) -> str | None:
    """A `file_id` message's file type as fitdecode names it ("activity", "monitoring_b"...)."""
    value = file_id.get_value("type", fallback=None)
    return None if value is None else str(value)


def _unreadable(error: Exception) -> FitDecodeError:
    """What fitdecode failed with, in one line (`link` says the file is not readable)."""
    return FitDecodeError(" ".join(str(error).split()) or type(error).__name__)


def inspect(data: bytes) -> FitInfo:
    """The file type and the first session's start and sport (reading stops there), once the
    whole file's structure and CRCs are checked: a cut file is refused, whatever its kind.
    Read as the lake reads it (`fit_reader`), so a file the lake decodes is linked too."""
    check_structure(data, "the export (or this upload from the device)")
    file_type: str | None = None
    with spec_violations_logged(), fit_reader(data) as reader:
        for frame in guarded_frames(reader, _unreadable):
            if not isinstance(frame, fitdecode.FitDataMessage):
                continue
            if frame.name == "file_id" and file_type is None:
                file_type = _file_type(frame)
                if file_type != "activity":
                    return FitInfo(file_type, None, None)
            elif frame.name == "session":
                start = frame.get_value("start_time", fallback=None)
                sport = frame.get_value("sport", fallback=None)
                if isinstance(start, datetime):
                    start = start if start.tzinfo else start.replace(tzinfo=UTC)
                else:
                    start = None
                return FitInfo(file_type, start, None if sport is None else str(sport))
    return FitInfo(file_type, None, None)


def _start(entry: Mapping[str, Any]) -> datetime | None:
    value = entry.get("startTimeGMT")
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def sport_agrees(type_key: Any, fit_sport: str | None) -> bool:
    expected = FIT_SPORT.get(str(type_key))
    return expected is None or fit_sport in (None, "generic", expected)


def link(fits: list[Member], activities: Mapping[int, Mapping[str, Any]]) -> Links:
    """Which activity each activity FIT file recorded (by start time and sport)."""
    links = Links()
    starts = {
        activity_id: (start, (entry.get("activityType") or {}).get("typeKey"))
        for activity_id, entry in activities.items()
        if (start := _start(entry)) is not None
    }
    taken: dict[int, str] = {}
    for member in sorted(fits, key=lambda m: m.path):
        try:
            info = inspect(member.read())
        except (FitDecodeError, ValueError, EOFError, OSError) as error:
            reason = " ".join(str(error).split()) or type(error).__name__
            links.quarantined[member.path] = f"not a readable FIT file: {reason}"[:300]
            continue
        if info.file_type != "activity":
            links.wellness.append(member.path)
            continue
        if info.start is None:
            links.unlinked[member.path] = "an activity file without a session start time"
            continue
        candidates = sorted(
            (abs(start - info.start), activity_id)
            for activity_id, (start, type_key) in starts.items()
            if abs(start - info.start) <= MATCH_WINDOW and sport_agrees(type_key, info.sport)
        )
        if not candidates:
            links.unlinked[member.path] = (
                f"no activity of sport {info.sport} starts within "
                f"{int(MATCH_WINDOW.total_seconds())} s of {info.start:%Y-%m-%d %H:%M:%S} UTC"
            )
            continue
        activity_id = candidates[0][1]
        if activity_id in taken:
            links.unlinked[member.path] = (
                f"activity {activity_id} is already linked to {taken[activity_id]} "
                "(the same recording uploaded twice?)"
            )
            continue
        taken[activity_id] = member.path
        links.linked[member.path] = activity_id
    return links


FIT_EPOCH_S = 631_065_600  # 1989-12-31T00:00:00Z in Unix seconds
FIT_MIN_TIME = 0x10000000  # below: seconds since device power-on, not a date
MONITORING_FILES = {"monitoring_a", "monitoring_b", "monitoring_daily", "32", "15", "28"}
SLEEP_FILE_TYPES = {"sleep", "49"}


@dataclass(frozen=True)
class WellnessTimes:
    file_type: str | None
    day_start_local: int | None  # monitoring_info.local_timestamp (FIT seconds), first one
    last: int | None  # the latest full timestamp (FIT seconds, UTC)
    offset_s: int | None  # local minus UTC, from the file's own local_timestamp fields


def wellness_times(data: bytes) -> WellnessTimes:
    """The file type and times of a wellness file, once its structure and CRCs are checked
    (`fit_reader` leaves them to `check_structure`)."""
    check_structure(data, "the export (or this upload from the device)")
    file_type = day_start = last = offset = None
    with spec_violations_logged(), fit_reader(data) as reader:
        for frame in guarded_frames(reader, _unreadable):
            if not isinstance(frame, fitdecode.FitDataMessage):
                continue
            if frame.name == "file_id" and file_type is None:
                file_type = _file_type(frame)
                continue
            stamp = local = None
            for item in frame.fields:
                raw = item.raw_value
                if not isinstance(raw, int) or raw < FIT_MIN_TIME:
                    continue
                if item.def_num == 253:
                    stamp = raw
                elif item.name == "local_timestamp":
                    local = raw
            if stamp is not None:
                last = stamp if last is None else max(last, stamp)
                if local is not None:
                    offset = local - stamp if offset is None else offset
            if frame.name == "monitoring_info" and day_start is None and local is not None:
                day_start = local
    return WellnessTimes(file_type, day_start, last, offset)


def _fit_date(seconds: int) -> date:
    return datetime.fromtimestamp(seconds + FIT_EPOCH_S, UTC).date()


def wellness_days(members: list[Member], links: Links) -> None:
    """Give each wellness FIT member of `links.wellness` its local calendar day."""
    by_path = {m.path: m for m in members}
    times: dict[str, WellnessTimes] = {}
    for path in list(links.wellness):
        try:
            times[path] = wellness_times(by_path[path].read())
        except (FitDecodeError, ValueError, EOFError, OSError) as error:
            reason = " ".join(str(error).split()) or type(error).__name__
            links.quarantined[path] = f"not a readable FIT file: {reason}"[:300]
            links.wellness.remove(path)
    # (UTC FIT seconds, offset) of every file that knows its offset, to lend to the others.
    known = sorted(
        (t.last, t.offset_s) for t in times.values() if t.offset_s is not None and t.last
    )
    for path, t in sorted(times.items()):
        links.wellness_types[path] = t.file_type
        if t.day_start_local is not None:
            links.wellness_days[path] = _fit_date(t.day_start_local)
            continue
        last = t.last
        if last is None:
            links.quarantined[path] = "a wellness FIT file without any timestamp: no day to file"
            links.wellness.remove(path)
            continue
        offset = t.offset_s
        if offset is None and known:
            offset = min(known, key=lambda k: abs(k[0] - last))[1]
        links.wellness_days[path] = _fit_date(last + (offset or 0))


def _rank(file_type: str | None) -> int:
    if file_type in MONITORING_FILES:
        return 0
    return 1 if file_type in SLEEP_FILE_TYPES else 2


def wellness_zip(files: list[tuple[str, str | None, bytes]]) -> bytes:
    """A day's wellness FIT files `(name, file type, bytes)` as Connect's download: one
    stored zip, monitoring first, then sleep, then the rest, fixed member dates."""
    ordered = sorted(files, key=lambda f: (_rank(f[1]), f[0]))
    return stored_zip((name, data) for name, _, data in ordered)
