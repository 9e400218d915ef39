"""The athlete's clock: its profile timezone and the timestamp spellings Garmin uses.

Garmin mixes several encodings in one body (epoch ms, "2025-06-13T22:00:00.0",
"2026-01-08 14:10:21", and "local epoch ms": the local wall clock read as if it were UTC); they are
all produced here so GMT and Local fields always agree. Zone-dependent conversions are methods of
the athlete's `ProfileClock`; the zone-independent spellings are plain functions. Integer
arithmetic only, no wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Europe/Paris"
# Garmin's own zone ids (timeZoneId / timeZoneUnitDTO.unitId) are not derivable from the IANA
# name, so only ids seen in recorded responses are used: 124 in
# fixtures/garmin_connect/json/garmin-connect-export/activity_2541953812.json, 150 in
# fixtures/garmin_connect/cassettes/garth/data/test_activity_get.yaml. Any other zone's id is
# unknown and served as null.
GARMIN_TIMEZONE_IDS = {"Europe/Paris": 124, "America/Costa_Rica": 150}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_S = timedelta(seconds=1)


@dataclass(frozen=True)
class ProfileClock:
    """The wall clock of one profile timezone: Garmin counts the athlete's days in it.

    Local times are naive wall-clock datetimes; instants are aware UTC datetimes.
    """

    timezone: str
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", ZoneInfo(self.timezone))

    @property
    def garmin_id(self) -> int | None:
        """Garmin's id for the zone, None where no recorded response shows it."""
        return GARMIN_TIMEZONE_IDS.get(self.timezone)

    def local_to_utc(self, local: datetime) -> datetime:
        """A naive local wall-clock time -> aware UTC (a time skipped by DST reads as before it)."""
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def utc_to_local(self, utc: datetime) -> datetime:
        """Aware UTC -> naive local wall-clock time."""
        return utc.astimezone(self.zone).replace(tzinfo=None)

    def local_midnight_utc(self, day: date) -> datetime:
        """The UTC instant at which the local calendar day starts."""
        return self.local_to_utc(datetime.combine(day, time()))

    def day_bounds_utc(self, day: date) -> tuple[datetime, datetime]:
        """[start, end) of a local calendar day in UTC: 23, 24 or 25 hours long."""
        return self.local_midnight_utc(day), self.local_midnight_utc(day + timedelta(days=1))

    def local_epoch_ms(self, utc: datetime) -> int:
        """Garmin's "*Local" epoch fields: the local wall clock encoded as if it were UTC."""
        return (self.utc_to_local(utc).replace(tzinfo=UTC) - _EPOCH) // _MS

    def offset_s(self, utc: datetime) -> int:
        """Local minus UTC, in seconds, at that instant."""
        return (self.utc_to_local(utc).replace(tzinfo=UTC) - utc) // _S

    def fit_local_time(self, utc: datetime) -> int:
        """The FIT ``local_date_time`` of that instant: local wall clock since the FIT epoch."""
        return fit_time(utc) + self.offset_s(utc)


def epoch_ms(utc: datetime) -> int:
    return (utc - _EPOCH) // _MS


def epoch_s(utc: datetime) -> int:
    return (utc - _EPOCH) // _S


def fit_time(utc: datetime) -> int:
    """Seconds since the FIT epoch (1989-12-31T00:00:00Z)."""
    return (utc - _FIT_EPOCH) // _S


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
