"""Incremental semantics: which days are fetched again, and which lake days are rebuilt.

The feeds here are small test feeds with their own fetch functions (a record of which days
were asked for), so the freshness rules can be pinned to exact instants; the same rules run
against the emulator in the end-to-end tests.
"""

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from garmin_pipeline.feeds import Dataset, Feed, RawPayload, Stored
from garmin_pipeline.lake.build import build_lake
from garmin_pipeline.lake.parsers import parse_json_day
from garmin_pipeline.lake.schema import Column
from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.raw.extract import extract
from garmin_pipeline.raw.freshness import Freshness
from garmin_pipeline.raw.store import RawStore

pytestmark = pytest.mark.fast

ACCOUNT = "test"
PARIS = ZoneInfo("Europe/Paris")
DAYS = [date(2024, 6, 1) + timedelta(days=n) for n in range(5)]  # June 1..5
VALUES = Dataset(
    name="values",
    description="One value per day.",
    key=("calendar_date",),
    columns=(
        Column("calendar_date", pl.Date, "The day.", nullable=False),
        Column("value", pl.Int64, "The value.", None),
    ),
)


class Recorder:
    """A stand-in source: answers `value` for each day and records what it was asked."""

    def __init__(self, value: int = 1, fail_on: date | None = None) -> None:
        self.value = value
        self.fail_on = fail_on
        self.asked: list[date] = []


def fetch_values(source: Recorder, days: Sequence[date], stored: Stored) -> Iterator[RawPayload]:
    for day in days:
        if day == source.fail_on:
            raise ConnectionError(f"cut off on {day}")
        source.asked.append(day)
        body = {"calendarDate": day.isoformat(), "value": source.value}
        yield RawPayload(day, "values.json", json.dumps(body).encode())


def build_values(payload: dict, day: date) -> pl.DataFrame:
    return pl.DataFrame(
        {"calendar_date": [day], "value": [payload["value"]]},
        schema={"calendar_date": pl.Date, "value": pl.Int64},
    )


def values_feed(**options) -> Feed:
    return Feed(
        name="values",
        description="test feed",
        fetch=fetch_values,
        parse=parse_json_day("values.json", build_values, "values"),
        datasets=(VALUES,),
        **{"provisional_days": 2, **options},
    )


def at(day: date, hour: int, tz=PARIS) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=tz)


def freshness(now: datetime, last_upload: datetime | None, **options) -> Freshness:
    return Freshness(timezone=PARIS, now=now, last_upload=last_upload, **options)


@pytest.fixture
def raw(tmp_path) -> RawStore:
    return RawStore(tmp_path / "raw")


def sync(feed: Feed, raw: RawStore, source: Recorder, fresh: Freshness) -> list[date]:
    extract(feed, source, raw, ACCOUNT, DAYS, fresh)
    return source.asked


def mark(raw: RawStore, feed: Feed, checked_at: datetime) -> None:
    """Pretend the last sync ran at `checked_at`."""
    for day in raw.days(feed.name, ACCOUNT):
        raw.mark_checked(feed.name, ACCOUNT, day, checked_at)


def test_first_sync_fetches_every_begun_day_up_to_the_last_upload(raw):
    # June 5 has begun in Paris but nothing was uploaded for it yet; June 6+ are not asked.
    fresh = freshness(now=at(DAYS[4], 10), last_upload=at(DAYS[3], 22))
    assert sync(values_feed(), raw, Recorder(), fresh) == DAYS[:4]


def test_today_follows_the_profile_timezone_not_utc(raw):
    # 23:30 UTC on June 4 is already June 5 in Paris: June 5 is today for this account.
    now = datetime(2024, 6, 4, 23, 30, tzinfo=UTC)
    fresh = freshness(now=now, last_upload=now)
    assert fresh.today == DAYS[4]
    assert sync(values_feed(), raw, Recorder(), fresh) == DAYS
    los_angeles = Freshness(timezone=ZoneInfo("America/Los_Angeles"), now=now, last_upload=now)
    assert los_angeles.today == DAYS[3]


def test_no_upload_since_the_last_sync_means_no_request(raw):
    feed = values_feed()
    sync(feed, raw, Recorder(), freshness(at(DAYS[4], 8), at(DAYS[4], 7)))
    mark(raw, feed, at(DAYS[4], 8))
    again = Recorder()
    assert sync(feed, raw, again, freshness(at(DAYS[4], 20), at(DAYS[4], 7))) == []


def test_after_an_upload_only_provisional_days_are_fetched_again(raw):
    feed = values_feed()  # two days' lag: June 1 and 2 are final when fetched on June 5
    sync(feed, raw, Recorder(), freshness(at(DAYS[4], 8), at(DAYS[4], 7)))
    mark(raw, feed, at(DAYS[4], 8))
    again = Recorder(value=2)
    assert sync(feed, raw, again, freshness(at(DAYS[4], 20), at(DAYS[4], 19))) == DAYS[2:]


def test_provisional_lag_is_configurable_per_feed(raw):
    feed = values_feed()
    sync(feed, raw, Recorder(), freshness(at(DAYS[4], 8), at(DAYS[4], 7)))
    mark(raw, feed, at(DAYS[4], 8))
    longer = freshness(at(DAYS[4], 20), at(DAYS[4], 19), provisional_overrides={"values": 4})
    assert sync(feed, raw, Recorder(), longer) == DAYS


def test_always_refreshed_feeds_ignore_uploads_but_not_finality(raw):
    feed = values_feed(refresh="always")
    sync(feed, raw, Recorder(), freshness(at(DAYS[4], 8), at(DAYS[4], 7)))
    mark(raw, feed, at(DAYS[4], 8))
    assert sync(feed, raw, Recorder(), freshness(at(DAYS[4], 9), at(DAYS[4], 7))) == DAYS[2:]


def test_refetch_asks_for_final_days_too(raw):
    feed = values_feed()
    sync(feed, raw, Recorder(), freshness(at(DAYS[4], 8), at(DAYS[4], 7)))
    mark(raw, feed, at(DAYS[4], 8))
    fresh = freshness(at(DAYS[4], 9), at(DAYS[4], 7), refetch=True)
    assert sync(feed, raw, Recorder(), fresh) == DAYS


def test_snapshots_are_fetched_once_a_day_or_after_an_upload(raw):
    feed = values_feed(snapshot=True)
    assert sync(feed, raw, Recorder(), freshness(at(DAYS[4], 8), at(DAYS[4], 7))) == [DAYS[4]]
    mark(raw, feed, at(DAYS[4], 8))
    assert sync(feed, raw, Recorder(), freshness(at(DAYS[4], 9), at(DAYS[4], 7))) == []
    assert sync(feed, raw, Recorder(), freshness(at(DAYS[4], 9), at(DAYS[4], 9))) == [DAYS[4]]


def test_a_day_cut_off_mid_fetch_stays_unchecked_and_is_fetched_next_time(raw):
    feed = values_feed()
    fresh = freshness(at(DAYS[4], 8), at(DAYS[4], 7))
    with pytest.raises(ConnectionError):
        sync(feed, raw, Recorder(fail_on=DAYS[2]), fresh)
    # A day counts as complete once the next day's first payload arrives, so the last day
    # reached (June 2) is not trusted either: it was stored, but is fetched again.
    checked = [raw.day_manifest("values", ACCOUNT, d).checked_at is not None for d in DAYS]
    assert checked == [True, False, False, False, False]
    assert raw.has("values", ACCOUNT, DAYS[1], "values.json")
    assert sync(feed, raw, Recorder(), fresh) == DAYS[1:]


def test_lake_days_are_rebuilt_only_when_their_raw_changes(tmp_path, raw):
    feed = values_feed()
    lake, quarantine = PartitionStore(tmp_path / "lake"), PartitionStore(tmp_path / "q")
    state = tmp_path / "lake" / "_built"
    sync(feed, raw, Recorder(value=1), freshness(at(DAYS[4], 8), at(DAYS[4], 7)))
    first = build_lake(feed, raw, lake, quarantine, ACCOUNT, DAYS, state_dir=state)
    assert first.days_built == DAYS and first.days_unchanged == []
    raw.put("values", ACCOUNT, DAYS[3], "values.json", b'{"value": 7}')
    second = build_lake(feed, raw, lake, quarantine, ACCOUNT, DAYS, state_dir=state)
    assert second.days_built == [DAYS[3]]
    assert second.days_unchanged == [d for d in DAYS if d != DAYS[3]]
    assert lake.read("values").sort("calendar_date")["value"].to_list() == [1, 1, 1, 7, 1]
    # Deleting the lake (and the build state inside it) rebuilds every day.
    for path in sorted((tmp_path / "lake").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    third = build_lake(feed, raw, lake, quarantine, ACCOUNT, DAYS, state_dir=state)
    assert third.days_built == DAYS
