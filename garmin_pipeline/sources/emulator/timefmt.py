"""The athlete's clock: one fixed profile timezone and the timestamp spellings Garmin uses.

Garmin mixes several encodings in one body (epoch ms, "2025-06-13T22:00:00.0",
"2026-01-08 14:10:21", and "local epoch ms": the local wall clock read as if it were UTC); they are
all produced here so GMT and Local fields always agree. Integer arithmetic only, no wall clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PROFILE_TIMEZONE = "Europe/Paris"
# Garmin's own id for that zone (timeZoneId / timeZoneUnitDTO.unitId), as recorded in
# fixtures/garmin_connect/json/garmin-connect-export/activity_2541953812.json.
GARMIN_TIMEZONE_ID = 124
TZ = ZoneInfo(PROFILE_TIMEZONE)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_S = timedelta(seconds=1)


def local_to_utc(local: datetime) -> datetime:
    """A naive local wall-clock time in the profile zone -> aware UTC."""
    return local.replace(tzinfo=TZ).astimezone(UTC)


def utc_to_local(utc: datetime) -> datetime:
    """Aware UTC -> naive local wall-clock time in the profile zone."""
    return utc.astimezone(TZ).replace(tzinfo=None)


def local_midnight_utc(day: date) -> datetime:
    """The UTC instant at which the local calendar day starts."""
    return local_to_utc(datetime.combine(day, time()))


def day_bounds_utc(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day in UTC: 23, 24 or 25 hours long."""
    return local_midnight_utc(day), local_midnight_utc(day + timedelta(days=1))


def epoch_ms(utc: datetime) -> int:
    return (utc - _EPOCH) // _MS


def epoch_s(utc: datetime) -> int:
    return (utc - _EPOCH) // _S


def local_epoch_ms(utc: datetime) -> int:
    """Garmin's "*Local" epoch fields: the local wall clock encoded as if it were UTC."""
    return (utc_to_local(utc).replace(tzinfo=UTC) - _EPOCH) // _MS


def offset_s(utc: datetime) -> int:
    """Local minus UTC, in seconds, at that instant."""
    return (utc_to_local(utc).replace(tzinfo=UTC) - utc) // _S


def fit_time(utc: datetime) -> int:
    """Seconds since the FIT epoch (1989-12-31T00:00:00Z)."""
    return (utc - _FIT_EPOCH) // _S


def fit_local_time(utc: datetime) -> int:
    """The FIT ``local_date_time`` of that instant: local wall clock since the FIT epoch."""
    return fit_time(utc) + offset_s(utc)


def iso_tenths(dt: datetime) -> str:
    """ "2025-06-13T22:00:00.0" (naive fields; pass UTC for GMT or local for Local)."""
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 100_000}"


def iso_millis(dt: datetime) -> str:
    """ "2023-07-20T12:14:11.898"."""
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}"


def iso_seconds(dt: datetime) -> str:
    """ "2025-06-14T19:05:00"."""
    return f"{dt:%Y-%m-%dT%H:%M:%S}"


def spaced(dt: datetime) -> str:
    """ "2026-01-08 14:10:21", the activity list's format."""
    return f"{dt:%Y-%m-%d %H:%M:%S}"
