"""The lake's promises: deterministic bytes, untouched unchanged partitions, quarantine not loss."""

import dataclasses
import json
from datetime import date, timedelta

import polars as pl
import pytest

from garmin_pipeline.catalog import dataset, feed
from garmin_pipeline.lake import build
from garmin_pipeline.lake.build import build_lake
from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.lake.validate import QUARANTINE_REASON, validate, validate_days
from garmin_pipeline.raw.store import RawStore

DAY = date(2024, 3, 5)
ACCOUNT = "test"


def summary_payload(steps: object, resting_hr: object = 52) -> bytes:
    body = {"calendarDate": DAY.isoformat(), "totalSteps": steps, "restingHeartRate": resting_hr}
    return json.dumps(body).encode()


@pytest.fixture
def stores(tmp_path):
    return (
        RawStore(tmp_path / "raw"),
        PartitionStore(tmp_path / "lake"),
        PartitionStore(tmp_path / "quarantine"),
    )


@pytest.mark.fast
def test_partition_bytes_are_deterministic_and_unchanged_files_are_not_rewritten(tmp_path):
    frame = pl.DataFrame({"k": [3, 1, 2], "v": ["c", "a", "b"]})
    first, second = PartitionStore(tmp_path / "a"), PartitionStore(tmp_path / "b")
    assert first.write("ds", ACCOUNT, DAY, frame, ["k"]) is True
    assert second.write("ds", ACCOUNT, DAY, frame.reverse(), ["k"]) is True
    path = first.partition_file("ds", ACCOUNT, DAY)
    assert path.read_bytes() == second.partition_file("ds", ACCOUNT, DAY).read_bytes()
    assert path.as_posix().endswith(f"ds/account={ACCOUNT}/date=2024-03-05/part-0.parquet")
    mtime = path.stat().st_mtime_ns
    assert first.write("ds", ACCOUNT, DAY, frame, ["k"]) is False
    assert path.stat().st_mtime_ns == mtime
    assert first.read("ds")["k"].to_list() == [1, 2, 3]


@pytest.mark.fast
def test_an_implausible_value_is_nulled_and_counted_and_an_unplaceable_row_quarantined():
    """A measurement outside its range loses only that value; a row without its timestamp
    (identity) cannot be placed and goes to quarantine with the reason."""
    frame = pl.DataFrame(
        {
            "calendar_date": [DAY] * 4,
            "timestamp": pl.Series([1, 2, 3, None]).cast(pl.Datetime("us", "UTC")),
            "heart_rate_bpm": pl.Series([60, 400, 70, 65], dtype=pl.Int32),
        }
    )
    result = validate(frame, dataset("heart_rate"))
    assert result.valid["heart_rate_bpm"].to_list() == [60, None, 70]
    assert result.valid["timestamp"].dt.epoch("us").to_list() == [1, 2, 3]
    assert result.nulled == {"heart_rate_bpm": 1}
    assert result.quarantined["heart_rate_bpm"].to_list() == [65]
    assert "timestamp: not_nullable" in result.quarantined[QUARANTINE_REASON][0]
    assert result.failures.row(0, named=True)["failing_rows"] == 1


def heart_rate_frame(day: date, beats: list[object], seconds: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "calendar_date": [day] * len(beats),
            "timestamp": pl.Series(seconds).cast(pl.Datetime("us", "UTC")),
            "heart_rate_bpm": pl.Series(beats, dtype=pl.Int32),
        }
    )


@pytest.mark.fast
def test_days_validated_together_get_exactly_what_each_gets_alone():
    """The oracle is `validate` day by day: implausible values (nulled), a key repeated within
    a day (but not across days), a day with no rows and a day whose types drifted."""
    hr = dataset("heart_rate")
    days = [DAY + timedelta(days=n) for n in range(5)]
    drifted = pl.DataFrame(
        {"calendar_date": [days[4]], "timestamp": ["not a time"], "heart_rate_bpm": [1]}
    )
    frames = {
        days[0]: heart_rate_frame(days[0], [60, 400, 70], [1, 2, 3]),
        days[1]: heart_rate_frame(days[1], [61, 62, 63], [1, 1, 2]),  # timestamp 1 twice
        days[2]: heart_rate_frame(days[2], [], []),
        days[3]: heart_rate_frame(days[3], [64, None, 10], [1, 2, 3]),
        days[4]: drifted,
    }
    together = validate_days(frames, hr)
    assert list(together) == days
    for day, frame in frames.items():
        alone = validate(frame, hr)
        assert together[day].valid.equals(alone.valid), day
        assert together[day].quarantined.equals(alone.quarantined), day
        assert together[day].failures.equals(alone.failures), day
        assert together[day].nulled == alone.nulled, day
    assert together[days[0]].valid["heart_rate_bpm"].to_list() == [60, None, 70]
    assert together[days[0]].nulled == {"heart_rate_bpm": 1}
    assert together[days[1]].valid.height == 1  # both rows of the repeated timestamp go
    assert together[days[1]].nulled == {}
    assert "__day" not in together[days[1]].quarantined[QUARANTINE_REASON][0]
    assert together[days[3]].valid["heart_rate_bpm"].to_list() == [64, None, None]
    assert together[days[3]].nulled == {"heart_rate_bpm": 1}  # the null was no measurement
    assert together[days[4]].valid.height == 0


def test_a_long_range_built_over_worker_processes_lands_the_same_bytes(
    stores, tmp_path, monkeypatch
):
    """Real worker processes (spawned) build most of the range; the bytes, the report and the
    build state equal a build in one process."""
    raw, _, _ = stores
    daily = feed("daily_summary")
    days = [DAY + timedelta(days=n) for n in range(12)]
    for n, day in enumerate(days):
        body = {"calendarDate": day.isoformat(), "totalSteps": 1000 + n, "restingHeartRate": 50}
        raw.put(daily.name, ACCOUNT, day, "daily_summary.json", json.dumps(body).encode())
    raw.put(daily.name, ACCOUNT, days[5], "daily_summary.json", b"{not json")
    # Any projected time is worth the pool here: only how the work is split is under test.
    monkeypatch.setattr(build, "POOL_WORTH_S", 0.0)
    reports = {}
    for workers in (1, 2):
        root = tmp_path / f"workers-{workers}"
        reports[workers] = build_lake(
            daily,
            raw,
            PartitionStore(root / "lake"),
            PartitionStore(root / "quarantine"),
            ACCOUNT,
            days,
            state_dir=root / "state",
            workers=workers,
            find_feed=feed,
        )
    one, two = reports[1], reports[2]
    assert len(build.batches(days, 2)) > 2  # the pool had batches to share
    assert one.days_built == two.days_built == days
    assert one.rejected_payloads == two.rejected_payloads
    assert list(one.rejected_payloads) == [f"{days[5]}/daily_summary.json"]
    assert one.datasets["daily_summary"].rows == two.datasets["daily_summary"].rows == 11
    for name in ("lake", "quarantine", "state"):
        first = sorted(p for p in (tmp_path / "workers-1" / name).rglob("*") if p.is_file())
        second = sorted(p for p in (tmp_path / "workers-2" / name).rglob("*") if p.is_file())
        assert [p.relative_to(tmp_path / "workers-1") for p in first] == [
            p.relative_to(tmp_path / "workers-2") for p in second
        ]
        assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_feeds_of_two_accounts_share_one_pool_and_land_what_one_process_lands(
    stores, tmp_path, monkeypatch
):
    """`build_feeds` spreads the batches of every feed and account over one pool; the files,
    reports and build state equal a build in one process, and days come back in order."""
    raw, _, _ = stores
    feeds = [feed("daily_summary"), feed("daily_steps")]
    days = [DAY + timedelta(days=n) for n in range(9)]
    for account in ("alice", "bob"):
        for n, day in enumerate(days):
            summary = {
                "calendarDate": day.isoformat(),
                "totalSteps": 100 * n,
                "restingHeartRate": 50,
            }
            steps = {"calendarDate": day.isoformat(), "totalSteps": 100 * n, "stepGoal": 8000}
            raw.put(
                "daily_summary", account, day, "daily_summary.json", json.dumps(summary).encode()
            )
            raw.put("daily_steps", account, day, "daily_steps.json", json.dumps(steps).encode())
    monkeypatch.setattr(build, "POOL_WORTH_S", 0.0)
    built = {}
    for workers in (1, 2):
        root = tmp_path / f"workers-{workers}"
        built[workers] = build.build_feeds(
            feeds,
            raw,
            PartitionStore(root / "lake"),
            PartitionStore(root / "quarantine"),
            {"alice": days, "bob": days},
            state_dir=root / "state",
            workers=workers,
            find_feed=feed,
        )
    assert built[1].failed == built[2].failed == {}
    for name in ("daily_summary", "daily_steps"):
        for account in ("alice", "bob"):
            one, two = built[1].reports[name][account], built[2].reports[name][account]
            assert one.days_built == two.days_built == days
            assert one.datasets[name].rows == two.datasets[name].rows == 9
    files = {
        workers: {
            p.relative_to(tmp_path / f"workers-{workers}"): p.read_bytes()
            for p in (tmp_path / f"workers-{workers}").rglob("*")
            if p.is_file()
        }
        for workers in (1, 2)
    }
    assert len(files[1]) == 2 * 2 * 9 + 2 * 2  # a file per dataset, account and day; states
    assert files[1] == files[2]


@pytest.mark.fast
def test_workers_build_only_the_feeds_they_can_find_by_name(stores):
    """The lake does not import the catalog: a worker finds a feed through the `find_feed`
    it is given. Without one, or for a feed it would find another of, batches stay here."""
    raw, lake, quarantine = stores
    daily = feed("daily_summary")
    altered = dataclasses.replace(daily, provisional_days=9)  # same name, not the catalog's
    assert build._poolable([daily], (raw, lake, quarantine), feed)
    assert not build._poolable([daily], (raw, lake, quarantine), None)
    assert not build._poolable([daily, altered], (raw, lake, quarantine), feed)
    in_memory = PartitionStore("memory://lake")
    assert not build._poolable([daily], (raw, in_memory, quarantine), feed)


@pytest.mark.fast
def test_a_feed_that_fails_unexpectedly_does_not_stop_the_others(stores):
    """A bug in one feed's parser (not bad input, which is quarantined) fails that feed alone:
    the others are built and their build state saved, and the failure names the feed."""
    raw, lake, quarantine = stores
    good = feed("daily_summary")

    def broken_parse(bundle, day):
        raise RuntimeError("a parser bug")

    broken = dataclasses.replace(feed("daily_steps"), parse=broken_parse)
    for name in (good.name, broken.name):
        raw.put(name, ACCOUNT, DAY, f"{name}.json", summary_payload(1000))
    built = build.build_feeds([broken, good], raw, lake, quarantine, {ACCOUNT: [DAY]})
    assert list(built.failed) == ["daily_steps"]
    assert str(built.failed["daily_steps"]) == "a parser bug"
    assert built.reports["daily_summary"][ACCOUNT].days_built == [DAY]
    assert lake.partition_file("daily_summary", ACCOUNT, DAY).exists()
    assert not lake.partition_file("daily_steps", ACCOUNT, DAY).exists()
    with pytest.raises(RuntimeError, match="a parser bug"):
        build_lake(broken, raw, lake, quarantine, ACCOUNT, [DAY])


@pytest.mark.fast
def test_a_wrong_type_condemns_the_whole_frame_to_quarantine():
    frame = pl.DataFrame(
        {"calendar_date": [DAY], "timestamp": ["not a time"], "heart_rate_bpm": [1]}
    )
    result = validate(frame, dataset("heart_rate"))
    assert result.valid.height == 0
    assert result.quarantined.height == 1
    assert "timestamp" in result.quarantined[QUARANTINE_REASON][0]


@pytest.mark.fast
def test_a_measurement_drifted_to_text_condemns_the_frame_not_the_build():
    frame = pl.DataFrame(
        {
            "calendar_date": [DAY],
            "timestamp": pl.Series([1]).cast(pl.Datetime("us", "UTC")),
            "heart_rate_bpm": ["sixty"],
        }
    )
    result = validate(frame, dataset("heart_rate"))
    assert (result.valid.height, result.quarantined.height, result.nulled) == (0, 1, {})
    assert "heart_rate_bpm" in result.quarantined[QUARANTINE_REASON][0]


@pytest.mark.fast
def test_bad_payloads_are_quarantined_and_raw_is_kept(stores):
    raw, lake, quarantine = stores
    daily = feed("daily_summary")
    raw.put("daily_summary", ACCOUNT, DAY, "daily_summary.json", b"{not json")
    good_day = date(2024, 3, 6)
    raw.put("daily_summary", ACCOUNT, good_day, "daily_summary.json", summary_payload(1234))
    report = build_lake(daily, raw, lake, quarantine, ACCOUNT, [DAY, good_day])
    assert list(report.rejected_payloads) == ["2024-03-05/daily_summary.json"]
    rejected = quarantine.read("daily_summary_payloads")
    assert rejected["payload"].to_list() == ["daily_summary.json"]
    assert rejected["reason"][0].startswith("cannot parse daily_summary.json")
    assert raw.get("daily_summary", ACCOUNT, DAY, "daily_summary.json") == b"{not json"
    assert lake.read("daily_summary")["total_steps"].to_list() == [1234]


@pytest.mark.fast
def test_out_of_range_values_are_nulled_the_day_lands_and_raw_keeps_them(stores):
    raw, lake, quarantine = stores
    raw.put("daily_summary", ACCOUNT, DAY, "daily_summary.json", summary_payload(-5, 300))
    report = build_lake(feed("daily_summary"), raw, lake, quarantine, ACCOUNT, [DAY])
    built = report.datasets["daily_summary"]
    assert built.quarantined_rows == 0
    assert built.nulled == {DAY: {"total_steps": 1, "resting_heart_rate_bpm": 1}}
    assert built.nulled_summary.select("column", "values", "days").rows() == [
        ("resting_heart_rate_bpm", 1, 1),
        ("total_steps", 1, 1),
    ]
    row = lake.read("daily_summary").row(0, named=True)
    assert (row["calendar_date"], row["total_steps"], row["resting_heart_rate_bpm"]) == (
        DAY,
        None,
        None,
    )
    kept = json.loads(raw.get("daily_summary", ACCOUNT, DAY, "daily_summary.json"))
    assert (kept["totalSteps"], kept["restingHeartRate"]) == (-5, 300)
    assert not quarantine.partition_file("daily_summary", ACCOUNT, DAY).exists()


@pytest.mark.fast
def test_rebuilding_from_raw_gives_identical_bytes(stores, tmp_path):
    raw, lake, quarantine = stores
    raw.put("daily_summary", ACCOUNT, DAY, "daily_summary.json", summary_payload(4321))
    build_lake(feed("daily_summary"), raw, lake, quarantine, ACCOUNT, [DAY])
    before = lake.partition_file("daily_summary", ACCOUNT, DAY).read_bytes()
    rebuilt = PartitionStore(tmp_path / "rebuilt")
    build_lake(feed("daily_summary"), raw, rebuilt, quarantine, ACCOUNT, [DAY])
    assert rebuilt.partition_file("daily_summary", ACCOUNT, DAY).read_bytes() == before


@pytest.mark.fast
def test_raw_put_of_identical_payload_writes_nothing(tmp_path):
    raw = RawStore(tmp_path)
    assert raw.put("f", ACCOUNT, DAY, "p.json", b"[1]") is True
    manifest = raw.day_dir("f", ACCOUNT, DAY) / "_manifest.json"
    mtime = manifest.stat().st_mtime_ns
    assert raw.put("f", ACCOUNT, DAY, "p.json", b"[1]") is False
    assert manifest.stat().st_mtime_ns == mtime
    entry = raw.manifest("f", ACCOUNT, DAY)["p.json"]
    assert entry.sha256 == "080a9ed428559ef602668b4c00f114f1a11c3f6b02a435f0bdc154578e4d7f22"
    assert entry.size == 3
    with pytest.raises(ValueError, match="invalid raw payload name"):
        raw.put("f", ACCOUNT, DAY, "../escape", b"x")


@pytest.mark.fast
def test_a_manual_activity_lands_whole_without_a_file_and_a_missing_file_holds_its_activity(
    stores,
):
    """An activity typed in by hand has no FIT file: it is whole as listed. A recorded one
    whose file is not in raw is held back from every activity dataset, with one reason."""
    raw, lake, quarantine = stores
    entries = [
        {
            "activityId": activity_id,
            "activityName": name,
            "activityType": {"typeKey": "strength_training"},
            "startTimeGMT": "2024-03-05 17:00:00",
            "startTimeLocal": "2024-03-05 18:00:00",
            "duration": 1800.0,
            "manualActivity": manual,
        }
        for activity_id, name, manual in ((1, "Gym", True), (2, "Recorded", False))
    ]
    raw.put("activities", ACCOUNT, DAY, "activity_list.json", json.dumps(entries).encode())
    report = build_lake(feed("activities"), raw, lake, quarantine, ACCOUNT, [DAY])
    assert lake.read("activities")["activity_name"].to_list() == ["Gym"]
    held = quarantine.read("activities")
    assert held["activity_id"].to_list() == [2]
    assert held[QUARANTINE_REASON].to_list() == [
        "activity_id 2: activity 2 is listed but its file is not in raw"
    ]
    assert report.rejected_payloads == {
        "2024-03-05/activity-2.zip": "activity 2 is listed but its file is not in raw"
    }
