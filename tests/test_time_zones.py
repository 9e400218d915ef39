"""Calendar days in the profile's zone, end to end, away from Europe/Paris.

Garmin files everything under the calendar day of the profile's time zone: an activity under
its local start date, a night under its local wake-up date, a wellness day between two local
midnights (23 or 25 hours apart on a DST change). Two athletes, each synced through the CLI
(real garminconnect over HTTP, real Dagster, real dbt into DuckDB):

- America/Los_Angeles over the spring-forward day (a 23-hour day), through Connect: an evening
  activity there already starts on the next UTC day, and every evening's samples do too;
- Pacific/Auckland over the end of DST (a 25-hour day), in hybrid mode (the Personal API where
  it serves): its mornings and nights end on the previous UTC day.

The oracle is the athlete's own values; local days are computed here from the UTC instants with
`zoneinfo`, not with the emulator's clock. Each test first checks that its range holds a value
whose UTC day differs from its local day, so it would fail if the days were counted in UTC.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pytest

from garmin_emulator import Emulator, SyntheticAthlete
from garmin_emulator.athlete import DayWellness
from garmin_emulator.timefmt import epoch_ms
from tests.conftest import pipeline_env, run_cli

pytestmark = pytest.mark.long_running

STRESS_STEP = timedelta(minutes=3)


@dataclass(frozen=True)
class Zone:
    """A profile zone and a short range across what makes it hard."""

    timezone: str
    seed: int
    first: date
    last: date
    source: str | None  # GARMIN_SOURCE; None is the default, Connect
    changeover: date  # the DST day inside the range
    changeover_hours: int


ZONES = (
    Zone(
        "America/Los_Angeles",
        seed=3,
        first=date(2024, 3, 9),
        last=date(2024, 3, 12),
        source=None,
        changeover=date(2024, 3, 10),
        changeover_hours=23,
    ),
    Zone(
        "Pacific/Auckland",
        seed=7,
        first=date(2024, 4, 5),
        last=date(2024, 4, 8),
        source="hybrid",
        changeover=date(2024, 4, 7),
        changeover_hours=25,
    ),
)


@dataclass(frozen=True)
class ZoneSync:
    zone: Zone
    tz: ZoneInfo
    athlete: SyntheticAthlete
    data_dir: Path

    @property
    def days(self) -> list[date]:
        return self.athlete.history()

    def bounds(self, day: date) -> tuple[datetime, datetime]:
        """[start, end) of the local day, as aware UTC instants."""
        start = datetime.combine(day, time(), self.tz).astimezone(UTC)
        return start, datetime.combine(day + timedelta(days=1), time(), self.tz).astimezone(UTC)

    def local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def wall_clock(self, instant: datetime) -> datetime:
        return instant.astimezone(self.tz).replace(tzinfo=None)

    def lake(self, dataset: str) -> pl.DataFrame:
        return pl.read_parquet(
            self.data_dir / "lake" / dataset / "**" / "*.parquet", hive_partitioning=True
        )

    def warehouse(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.data_dir / "warehouse.duckdb"), read_only=True)


@pytest.fixture(scope="module", params=ZONES, ids=[z.timezone for z in ZONES])
def zone_sync(request, tmp_path_factory) -> Iterator[ZoneSync]:
    """One CLI sync of the zone's range from an emulator serving an athlete living in it."""
    zone: Zone = request.param
    athlete = SyntheticAthlete(
        seed=zone.seed,
        end_date=zone.last,
        days=(zone.last - zone.first).days + 1,
        timezone=zone.timezone,
    )
    root = tmp_path_factory.mktemp(zone.timezone.replace("/", "-"))
    with Emulator(athlete, port=0) as emu:
        env = pipeline_env(emu, root, source=zone.source)
        completed = run_cli(env, "sync", "--start", str(zone.first), "--end", str(zone.last))
    assert completed.returncode == 0, completed.stderr[-3000:]
    yield ZoneSync(zone, ZoneInfo(zone.timezone), athlete, root / "data")


def test_the_pipeline_reads_the_zone_the_profile_names(zone_sync):
    profile = zone_sync.lake("profile")
    assert profile["time_zone"].to_list() == [zone_sync.zone.timezone]
    assert zone_sync.athlete.personal_information()["timeZone"] == zone_sync.zone.timezone
    assert not (zone_sync.data_dir / "quarantine").exists()


def test_activities_are_filed_under_their_local_start_day(zone_sync):
    activities = zone_sync.athlete.activities()
    local = {a.activity_id: zone_sync.local_day(a.start_time_utc) for a in activities}
    assert [a for a in activities if a.start_time_utc.date() != local[a.activity_id]], (
        "the range must hold an activity whose UTC day is not its local day"
    )

    listed = zone_sync.lake("activities")
    assert dict(zip(listed["activity_id"], listed["date"], strict=True)) == local
    assert {
        row["activity_id"]: (row["start_time"], row["start_time_local"])
        for row in listed.iter_rows(named=True)
    } == {
        a.activity_id: (a.start_time_utc, zone_sync.wall_clock(a.start_time_utc))
        for a in activities
    }
    sessions = zone_sync.lake("activity_sessions")
    assert dict(zip(sessions["activity_id"], sessions["date"], strict=True)) == local
    offsets = dict(zip(sessions["activity_id"], sessions["local_utc_offset_s"], strict=True))
    assert offsets == {
        a.activity_id: int(a.start_time_utc.astimezone(zone_sync.tz).utcoffset().total_seconds())
        for a in activities
    }
    with zone_sync.warehouse() as con:
        mart = dict(con.sql("select activity_id, activity_date from fct_activities").fetchall())
    assert mart == local


def asleep_within(zone_sync: ZoneSync, day: date) -> int:
    """Seconds asleep between the day's local midnights: the end of the night that wakes on it
    and the start of the next one (a day cut at UTC midnights would count other hours)."""
    first, last = zone_sync.bounds(day)
    total = 0
    for night in (zone_sync.athlete.night(day), zone_sync.athlete.night(day + timedelta(days=1))):
        overlap = min(night.end_utc, last) - max(night.start_utc, first)
        total += max(0, int(overlap.total_seconds()))
    return total


def test_daily_summaries_and_steps_count_the_local_day(zone_sync):
    athlete = zone_sync.athlete
    summaries = {d: athlete.daily_summary(d) for d in zone_sync.days}
    daily = zone_sync.lake("daily_summary")
    assert sorted(daily["date"]) == sorted(daily["calendar_date"]) == zone_sync.days
    totals = {
        row["date"]: (row["total_steps"], row["sleeping_s"]) for row in daily.iter_rows(named=True)
    }
    assert totals == {
        d: (s["totalSteps"], asleep_within(zone_sync, d)) for d, s in summaries.items()
    }
    steps = zone_sync.lake("daily_steps")
    assert dict(zip(steps["date"], steps["total_steps"], strict=True)) == {
        d: s["totalSteps"] for d, s in summaries.items()
    }


def test_each_night_is_filed_under_its_local_wake_up_day(zone_sync):
    nights = {d: zone_sync.athlete.night(d) for d in zone_sync.days}
    assert all(zone_sync.local_day(n.end_utc) == d for d, n in nights.items())
    assert [
        n
        for n in nights.values()
        if (n.start_utc.date(), n.end_utc.date())
        != (zone_sync.local_day(n.start_utc), zone_sync.local_day(n.end_utc))
    ], "the range must hold a night whose UTC days are not its local days"

    sleep = zone_sync.lake("sleep")
    assert {
        row["date"]: (
            row["calendar_date"],
            row["sleep_start"],
            row["sleep_end"],
            row["sleep_start_local"],
            row["sleep_end_local"],
            row["sleep_s"],
        )
        for row in sleep.iter_rows(named=True)
    } == {
        d: (
            d,
            n.start_utc,
            n.end_utc,
            zone_sync.wall_clock(n.start_utc),
            zone_sync.wall_clock(n.end_utc),
            n.sleep_s,
        )
        for d, n in nights.items()
    }
    # The wellness download's sleep stages: the same night under the same day.
    levels = zone_sync.lake("sleep_levels")
    for d, night in nights.items():
        stamps = levels.filter(pl.col("date") == d)["timestamp"]
        assert stamps.min() == night.start_utc
        assert stamps.max() <= night.end_utc


SERIES: dict[str, Callable[[DayWellness], Iterable[int]]] = {
    "heart_rate": lambda w: (ms for ms, bpm in w.hr_values if bpm is not None),
    "stress": lambda w: (ms for ms, _ in w.stress_values),
    "body_battery": lambda w: (ms for ms, _, level in w.body_battery if level is not None),
}


def samples_within(zone_sync: ZoneSync, day: date, series: str) -> set[int]:
    """The samples (epoch ms) the watch took between the day's local midnights, picked from the
    athlete's days around it by the zone's bounds, not by the emulator's."""
    first, last = (epoch_ms(bound) for bound in zone_sync.bounds(day))
    return {
        ms
        for near in (day - timedelta(days=1), day, day + timedelta(days=1))
        for ms in SERIES[series](zone_sync.athlete.wellness(near))
        if first <= ms < last
    }


@pytest.mark.parametrize("series", SERIES)
def test_wellness_series_hold_exactly_their_local_days_samples(zone_sync, series):
    """Intraday heart rate and stress from the day's wellness FIT files, body battery from its
    JSON: each day holds the samples between its own local midnights and no others, 23 or 25
    hours of them on the changeover day."""
    zone = zone_sync.zone
    start, end = zone_sync.bounds(zone.changeover)
    assert end - start == timedelta(hours=zone.changeover_hours)
    lake = zone_sync.lake(series)
    held = {
        d: {epoch_ms(ts) for ts in lake.filter(pl.col("date") == d)["timestamp"]}
        for d in zone_sync.days
    }
    expected = {d: samples_within(zone_sync, d, series) for d in zone_sync.days}
    for d, samples in expected.items():
        assert {datetime.fromtimestamp(ms / 1000, UTC).date() for ms in samples} != {d}, (
            f"{series} on {d}: every sample on the same UTC day, the check could not fail"
        )
    assert held == expected
    if series == "stress":  # every 3 minutes, worn or not: 460 or 500 on the changeover day
        assert len(held[zone.changeover]) == (end - start) // STRESS_STEP


def test_timestamped_events_fall_on_their_partitions_local_day(zone_sync):
    """Weigh-ins and training readiness: Garmin's calendarDate and Local fields, read back."""
    frames = [zone_sync.lake(dataset) for dataset in ("weigh_ins", "training_readiness")]
    assert all(frame.height for frame in frames)
    rows = [row for frame in frames for row in frame.iter_rows(named=True)]
    assert [row for row in rows if row["timestamp"].date() != row["date"]], (
        "the range must hold an event whose UTC day is not its local day"
    )
    for row in rows:
        assert row["date"] == row["calendar_date"] == zone_sync.local_day(row["timestamp"])
        assert row["timestamp_local"] == zone_sync.wall_clock(row["timestamp"])


def test_fct_daily_health_has_one_row_per_local_day(zone_sync):
    athlete = zone_sync.athlete
    with zone_sync.warehouse() as con:
        rows = con.sql(
            "select calendar_date, total_steps, heart_rate_samples, sleep_s, activity_count "
            "from fct_daily_health order by calendar_date"
        ).fetchall()
    assert rows == [
        (
            d,
            athlete.daily_summary(d)["totalSteps"],
            len(samples_within(zone_sync, d, "heart_rate")),
            athlete.night(d).sleep_s,
            sum(zone_sync.local_day(a.start_time_utc) == d for a in athlete.activities()),
        )
        for d in zone_sync.days
    ]
