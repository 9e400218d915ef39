"""Bad input gets a clear reason and loses nothing: malformed payloads, schema drift, hostile
values and huge payloads are quarantined with their reason, raw keeps them, everything else
lands, and nothing is written outside GARMIN_DATA_DIR.

The first tests drive the library in-process with a scripted source (fast); the last ones run
the real CLI against the emulator and assert the end state."""

import io
import json
import re
import zipfile
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from garmin_emulator.faults import drift
from garmin_pipeline.catalog import feed as catalog_feed
from garmin_pipeline.domains import activities as act
from garmin_pipeline.domains.fetching import per_day
from garmin_pipeline.domains.health import DAILY_SUMMARY_FEED
from garmin_pipeline.errors import MalformedPayloadError, UnsafeValueError
from garmin_pipeline.feeds import Feed
from garmin_pipeline.fit import FitDecodeError, decode_activity
from garmin_pipeline.fit.wellness import decode_wellness
from garmin_pipeline.lake.build import build_lake, rejected_dataset_name
from garmin_pipeline.lake.parsers import fit_from_zip, parse_json_day
from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.raw.extract import extract
from garmin_pipeline.raw.store import RawStore
from tests.conftest import latest_check, pipeline_env, run_cli

ACCOUNT = "t"
DAY = date(2024, 3, 5)
DAYS = [DAY + timedelta(days=n) for n in range(3)]


# ------------------------------------------------------------------ the stores' last defence
@pytest.mark.fast
def test_the_stores_refuse_any_path_outside_their_root(tmp_path):
    raw = RawStore(tmp_path / "raw")
    for name in ("../escape", "a/b", "..", "x\0y", "a\\b", ".hidden", "_manifest.json", ""):
        with pytest.raises(UnsafeValueError, match="invalid raw payload name"):
            raw.put("f", ACCOUNT, DAY, name, b"x")
    for day in (date(1800, 1, 1), date(9999, 12, 31), date.today() + timedelta(days=30)):
        with pytest.raises(UnsafeValueError, match=r"raw days must lie within 1970-01-01\.\."):
            raw.put("f", ACCOUNT, day, "p.json", b"x")
    # A symlink planted inside the root cannot lead a write out of it.
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "raw").mkdir(exist_ok=True)
    (tmp_path / "raw" / "evil").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafeValueError, match="resolves outside"):
        raw.put("evil", ACCOUNT, DAY, "p.json", b"x")
    lake = PartitionStore(tmp_path / "lake")
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "evil").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafeValueError, match="resolves outside"):
        lake.write("evil", ACCOUNT, DAY, pl.DataFrame({"a": [1]}), ("a",))
    assert list(outside.iterdir()) == []
    assert str(UnsafeValueError("x")).count("\n") == 0


# ------------------------------------------------------------------ a scripted source
class Source:
    """Answers `json` from `answers[(method, first_arg)]`; a bytes answer is sent as a body
    that is not JSON (what the connect source turns into MalformedPayloadError)."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def json(self, what, method, *args, **kwargs):
        self.calls.append((method, args))
        answer = self.answers[(method, args[0] if args else None)]
        if isinstance(answer, bytes):
            raise MalformedPayloadError(f"Garmin sent a body that is not JSON for {what}", answer)
        return answer


def _sleepy_feed() -> Feed:
    def build(payload, day):
        return pl.DataFrame({"calendar_date": [day], "score": [payload["score"]]})

    from garmin_pipeline.domains.health import SLEEP_FEED

    # A per-day feed whose payload is one small JSON object (the shape does not matter here).
    return Feed(
        name="sleep_like",
        description="test",
        fetch=per_day("get_sleep_data", "sleep.json"),
        parse=parse_json_day("sleep.json", build, "sleep_like"),
        datasets=SLEEP_FEED.datasets[:0],
    )


@pytest.mark.fast
def test_a_malformed_body_is_kept_aside_not_checked_and_dropped_once_a_good_copy_arrives(
    tmp_path,
):
    feed = _sleepy_feed()
    raw = RawStore(tmp_path / "raw")
    good = {("get_sleep_data", d.isoformat()): {"score": 80} for d in DAYS}
    bad_day = DAYS[1]
    first = Source({**good, ("get_sleep_data", bad_day.isoformat()): b"<html>oops</html>"})
    report = extract(feed, first, raw, ACCOUNT, DAYS)
    # Every day was asked for once; the bad one is kept as received under a marked name.
    assert [c[1][0] for c in first.calls] == [d.isoformat() for d in DAYS]
    assert raw.get(feed.name, ACCOUNT, bad_day, "sleep.json.malformed") == b"<html>oops</html>"
    entry = raw.manifest(feed.name, ACCOUNT, bad_day)["sleep.json.malformed"]
    assert entry.reason == f"Garmin sent a body that is not JSON for get_sleep_data {bad_day}"
    assert report.refused == {f"{bad_day}/sleep.json.malformed": entry.reason}
    checked = {d: raw.day_manifest(feed.name, ACCOUNT, d).checked_at for d in DAYS}
    assert checked[bad_day] is None and checked[DAYS[0]] and checked[DAYS[2]]

    # The lake quarantines the body with its reason; the other days land.
    built = build_lake(
        feed,
        raw,
        PartitionStore(tmp_path / "lake"),
        q := PartitionStore(tmp_path / "quarantine"),
        ACCOUNT,
        DAYS,
    )
    assert built.rejected_payloads == {f"{bad_day}/sleep.json.malformed": entry.reason}
    rejected = q.read(rejected_dataset_name(feed))
    assert rejected.select("payload", "reason").rows() == [("sleep.json.malformed", entry.reason)]

    # The next sync asks again; the good copy replaces the refused one and the quarantine clears.
    second = Source(good)
    extract(feed, second, raw, ACCOUNT, DAYS)
    assert not raw.has(feed.name, ACCOUNT, bad_day, "sleep.json.malformed")
    assert not (raw.day_dir(feed.name, ACCOUNT, bad_day) / "sleep.json.malformed").exists()
    assert raw.day_manifest(feed.name, ACCOUNT, bad_day).checked_at is not None
    built = build_lake(feed, raw, PartitionStore(tmp_path / "lake"), q, ACCOUNT, DAYS)
    assert built.rejected_payloads == {}
    assert not list((tmp_path / "quarantine").rglob("*.parquet"))


@pytest.mark.fast
def test_a_payload_over_the_size_limit_is_refused_and_only_a_sample_is_kept(tmp_path):
    feed = _sleepy_feed()
    raw = RawStore(tmp_path / "raw")
    answers = {("get_sleep_data", d.isoformat()): {"score": 80} for d in DAYS}
    answers[("get_sleep_data", DAYS[0].isoformat())] = {"score": 80, "pad": "x" * 50_000}
    report = extract(feed, Source(answers), raw, ACCOUNT, DAYS, max_bytes=10_000)
    (key,) = report.refused
    assert key == f"{DAYS[0]}/sleep.json.oversized"
    assert re.match(
        r"sleep\.json is 0\.0 MB, over GARMIN_MAX_PAYLOAD_MB=0\.0095\d*;", report.refused[key]
    )
    assert len(raw.get(feed.name, ACCOUNT, DAYS[0], "sleep.json.oversized")) == 4096
    assert not raw.has(feed.name, ACCOUNT, DAYS[0], "sleep.json")
    assert raw.has(feed.name, ACCOUNT, DAYS[1], "sleep.json")


@pytest.mark.fast
def test_a_range_answer_that_cannot_be_split_by_day_is_kept_whole_and_names_the_field(tmp_path):
    raw = RawStore(tmp_path / "raw")
    entries = [{"date": d.isoformat(), "totalSteps": 1000} for d in DAYS]  # calendarDate renamed
    source = Source({("get_daily_summaries", DAYS[0].isoformat()): {"data": entries}})
    report = extract(DAILY_SUMMARY_FEED, source, raw, ACCOUNT, DAYS)
    assert len(source.calls) == 1
    assert sorted(report.refused) == [f"{d}/daily_summary.json.malformed" for d in DAYS]
    reason = report.refused[f"{DAYS[0]}/daily_summary.json.malformed"]
    assert "'calendarDate'" in reason and "cannot split the answer" in reason
    kept = json.loads(raw.get("daily_summary", ACCOUNT, DAYS[0], "daily_summary.json.malformed"))
    assert kept == {"data": entries}  # the whole answer, nothing guessed or lost
    for day in DAYS:
        assert raw.day_manifest("daily_summary", ACCOUNT, day).checked_at is None


@pytest.mark.fast
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10007390480, 10007390480),
        ("10007390480", 10007390480),
        ("../../etc", None),
        ("1/2", None),
        (-5, None),
        (0, None),
        (10**30, None),
        (2**63, None),
        (2**63 - 1, 2**63 - 1),
        (True, None),
        (1.5, None),
        (None, None),
        ("١٢", None),  # non-ASCII digits
    ],
)
def test_only_positive_64_bit_integers_are_activity_ids(value, expected):
    assert act.activity_id_of({"activityId": value}) == expected


@pytest.mark.fast
def test_hostile_list_entries_are_quarantined_by_name_and_the_rest_land():
    good = {
        "activityId": 11,
        "activityName": "../../x/..\0name",
        "startTimeGMT": "2024-03-05 08:00:00",
        "startTimeLocal": "2024-03-05 09:00:00",
    }
    hostile = [
        {**good, "activityId": "../../etc"},
        {**good, "activityId": 12, "startTimeGMT": None},
        {k: v for k, v in good.items() if k != "startTimeLocal"} | {"activityId": 13},
        "not an object",
    ]
    raw = {act.ACTIVITY_LIST: json.dumps([good, *hostile]).encode()}
    parsed = act.parse_activities(raw, DAY)
    assert parsed.frames["activities"]["activity_name"].to_list() == ["../../x/..\0name"]
    reason = parsed.rejected[act.ACTIVITY_LIST]
    assert reason.startswith("4 entries of activity_list.json left out: ")
    assert "entry 1: activityId '../../etc' is not an integer in 1..2**63-1" in reason
    assert "entry 2: activity 12: no 'startTimeGMT' (required)" in reason
    assert "entry 3: activity 13: no 'startTimeLocal' (required)" in reason
    assert "entry 4: not an object ('not an object')" in reason
    assert "\n" not in reason
    # The listed activity's FIT is missing from raw: that is its own quarantine entry.
    assert "activity-11.zip" in parsed.rejected


# ------------------------------------------------------------------ through the real CLI
def sync(env, first: date, last: date, *extra: str, partial: tuple[str, ...] = ()):
    """A sync through the CLI; with `partial`, the raw feeds that must end it partial (exit 3),
    each on its own line, what arrived unusable kept aside."""
    completed = run_cli(env, "sync", "--start", str(first), "--end", str(last), *extra)
    assert completed.returncode == (3 if partial else 0), completed.stderr[-3000:]
    lines = [x for x in completed.stderr.splitlines() if x.startswith("sync partial: ")]
    assert [x.split(": ", 2)[1] for x in lines] == [f"raw/{feed}" for feed in partial]
    assert all(": kept aside " in x for x in lines), lines
    return completed


def read(data: Path, zone: str, dataset: str) -> pl.DataFrame:
    if not list((data / zone / dataset).rglob("*.parquet")):
        return pl.DataFrame()
    return pl.read_parquet(str(data / zone / dataset / "**" / "*.parquet"), hive_partitioning=True)


def quarantined(data: Path, dataset: str) -> list[tuple[str, str, str]]:
    frame = read(data, "quarantine", dataset)
    if frame.is_empty():
        return []
    return sorted(
        (str(d), p, r) for d, p, r in frame.select("date", "payload", "reason").iter_rows()
    )


@pytest.mark.fast
def test_an_unplaced_list_that_is_not_a_list_is_quarantined_with_its_reason():
    parsed = act.parse_activities({act.UNPLACED_LIST: b"5"}, date(2024, 3, 5))
    assert parsed.rejected == {
        act.UNPLACED_LIST: f"1 entries of {act.UNPLACED_LIST} left out: not an object (5)"
    }


@pytest.mark.fast
def test_a_night_whose_start_field_was_renamed_is_quarantined_not_read_as_no_sleep(athlete):
    """Garmin renaming sleepStartTimestampGMT must not pass for a night without sleep."""
    feed = catalog_feed("sleep")
    night = athlete.sleep(athlete.first_day)
    assert night["dailySleepDTO"]["sleepTimeSeconds"] > 0
    drifted = drift(rename={"sleepStartTimestampGMT": "sleepStartTimestampUTC"})(night)
    parsed = feed.parse({"sleep.json": json.dumps(drifted).encode()}, athlete.first_day)
    assert list(parsed.rejected) == ["sleep.json"]
    assert "no sleepStartTimestampGMT" in parsed.rejected["sleep.json"]
    empty = athlete.sleep(athlete.first_day - timedelta(days=3))  # before the history: no sleep
    parsed = feed.parse({"sleep.json": json.dumps(empty).encode()}, athlete.first_day)
    assert parsed.rejected == {} and parsed.frames["sleep"].height == 0


@pytest.mark.fast
def test_a_zip_bomb_is_refused_before_it_is_unpacked(monkeypatch):
    """2 MB of zeros deflate to a few kB; with a 1 MB limit neither decoder unpacks them."""
    monkeypatch.setenv("GARMIN_MAX_PAYLOAD_MB", "1")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("123.fit", bytes(2 * 2**20))
    bomb = buffer.getvalue()
    assert len(bomb) < 20_000
    refused = r"unpacks 123\.fit to 2\.0 MB, over GARMIN_MAX_PAYLOAD_MB=1; raise the limit"
    with pytest.raises(FitDecodeError, match=refused):
        decode_activity(fit_from_zip(bomb))
    with pytest.raises(FitDecodeError, match=refused):
        decode_wellness(bomb)


def latest_materialization(dagster_home: Path, key: list[str]) -> dg.AssetMaterialization:
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        return event.asset_materialization


@pytest.fixture
def env(emulator, tmp_path):
    emulator.faults.clear()
    try:
        yield pipeline_env(emulator, tmp_path)
    finally:
        emulator.faults.clear()


def test_malformed_json_for_one_day_is_quarantined_kept_and_fetched_again(
    emulator, athlete, env, tmp_path
):
    first, last = athlete.first_day, athlete.first_day + timedelta(days=2)
    days = [str(first + timedelta(days=n)) for n in range(3)]
    sleep_path = "/wellness-service/wellness/dailySleepData/"
    # Sleep is asked for a night at a time, in order: the first night's answer is not JSON.
    emulator.faults.add(sleep_path, malformed=True, times=1)
    emulator.clear_request_log()
    sync(env, first, last, partial=("sleep",))
    data = tmp_path / "data"
    sleeps = [r for r in emulator.request_log if r.path.startswith(sleep_path)]
    assert [r.query.get("date") for r in sleeps] == days  # one request a night, no retry
    broken = days[0]
    raw_dir = data / "raw" / "sleep" / "account=default" / f"date={broken}"
    assert (raw_dir / "sleep.json.malformed").exists()
    manifest = json.loads((raw_dir / "_manifest.json").read_text())
    assert manifest["checked_at"] is None
    reason = manifest["payloads"]["sleep.json.malformed"]["reason"]
    assert "not JSON" in reason
    assert quarantined(data, "sleep_payloads") == [(broken, "sleep.json.malformed", reason)]
    # The other days landed, every other feed too.
    nights = read(data, "lake", "sleep")
    assert sorted(str(d) for d in nights["date"]) == days[1:]
    summaries = read(data, "lake", "daily_summary")
    assert sorted(str(d) for d in summaries["calendar_date"]) == days
    check = latest_check(tmp_path / "dagster_home", ["lake", "sleep"], "complete_days")
    assert check.passed is False
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["failed_days"].value == broken
    assert "lake/sleep" in check.description and broken in check.description
    assert "sleep.json.malformed" in check.description
    refused = latest_materialization(tmp_path / "dagster_home", ["raw", "sleep"])
    assert refused.metadata["payloads_refused"].value == {f"{broken}/sleep.json.malformed": reason}

    # Without the fault the next sync asks for that night only, and the quarantine clears.
    emulator.clear_request_log()
    sync(env, first, last)
    again = [r for r in emulator.request_log if r.path.startswith(sleep_path)]
    assert [r.query.get("date") for r in again] == [broken]
    assert not (raw_dir / "sleep.json.malformed").exists()
    assert quarantined(data, "sleep_payloads") == []
    nights = read(data, "lake", "sleep")
    assert sorted(str(d) for d in nights["date"]) == days
    check = latest_check(tmp_path / "dagster_home", ["lake", "sleep"], "complete_days")
    assert check.passed is True


def test_drift_added_and_dropped_fields_land_and_a_renamed_date_field_is_quarantined(
    emulator, athlete, env, tmp_path
):
    first, last = athlete.first_day, athlete.first_day + timedelta(days=2)
    days = [str(first + timedelta(days=n)) for n in range(3)]
    listed = [a for a in athlete.activities() if first <= a.local_date <= last]
    assert listed  # the range holds activities
    emulator.faults.add(
        "/activitylist-service/",
        transform=drift(add={"brandNewField": {"x": 1}}, drop=["averageHR"]),
        times=None,
    )
    emulator.faults.add(
        "/usersummary-service/v2/dailysummaries",
        transform=drift(rename={"calendarDate": "day"}),
        times=None,
    )
    emulator.clear_request_log()
    sync(env, first, last, partial=("daily_summary",))
    data = tmp_path / "data"
    # Added and dropped fields: every activity lands once, the dropped one as null.
    lake = read(data, "lake", "activities")
    assert sorted(lake["activity_id"].to_list()) == sorted(a.activity_id for a in listed)
    assert lake["average_heart_rate_bpm"].null_count() == lake.height
    assert quarantined(data, "activities_payloads") == []
    # A renamed date field: the day cannot be told, so each day's answer is kept aside whole.
    rows = quarantined(data, "daily_summary_payloads")
    assert [(d, p) for d, p, _ in rows] == [(d, "daily_summary.json.malformed") for d in days]
    assert all("no 'calendarDate'" in r for _, _, r in rows), rows
    assert read(data, "lake", "daily_summary").is_empty()
    # Other feeds are untouched.
    assert sorted(str(d) for d in read(data, "lake", "sleep")["date"].unique()) == days
    check = latest_check(tmp_path / "dagster_home", ["lake", "daily_summary"], "complete_days")
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert check.metadata["failed_days"].value == f"{days[0]}..{days[-1]}"
    assert "calendarDate" in check.description


def test_hostile_values_stay_data_and_nothing_escapes_the_data_dir(
    emulator, athlete, env, tmp_path
):
    first, last = athlete.first_day, athlete.first_day + timedelta(days=5)
    listed = [a for a in athlete.activities() if first <= a.local_date <= last]
    path_id, named, future, huge_id = (a.activity_id for a in listed[:4])
    hostile_name = "../../evil/..\\x\0name"

    def hostile(body):
        for entry in body:
            if entry["activityId"] == path_id:
                entry["activityId"] = "../../etc"
            elif entry["activityId"] == named:
                entry["activityName"] = hostile_name
            elif entry["activityId"] == future:
                entry["startTimeLocal"] = "9999-01-01 10:00:00"
            elif entry["activityId"] == huge_id:
                entry["activityId"] = 10**30
        return body

    def padded(body):
        return {**body, "padding": "x" * 400_000}

    env["GARMIN_MAX_PAYLOAD_MB"] = "0.25"
    sleep_path = "/wellness-service/wellness/dailySleepData/"
    emulator.faults.add("/activitylist-service/", transform=hostile, times=None)
    emulator.faults.add(sleep_path, transform=padded, times=1)
    base = tmp_path.parent
    before = {p for p in base.rglob("*")}
    emulator.clear_request_log()
    sync(env, first, last, partial=("sleep",))  # the oversized night, asked again next sync
    data = tmp_path / "data"
    created = {p for p in base.rglob("*")} - before
    allowed = [data, tmp_path / "dagster_home", tmp_path / "tokens"]
    assert [p for p in created if not any(p.is_relative_to(a) for a in allowed)] == []
    assert [
        p for p in data.rglob("*") if p.name == "etc" or ".." in p.name or "evil" in p.name
    ] == []

    # Only well-formed ids were downloaded; the hostile name is data, in lake and warehouse.
    downloads = sorted(
        r.path.rsplit("/", 1)[-1]
        for r in emulator.request_log
        if r.path.startswith("/download-service/files/activity/")
    )
    kept = [a for a in listed if a.activity_id not in (path_id, future, huge_id)]
    assert downloads == sorted(str(a.activity_id) for a in kept)
    lake = read(data, "lake", "activities")
    assert sorted(lake["activity_id"].to_list()) == sorted(a.activity_id for a in kept)
    assert lake.filter(pl.col("activity_id") == named)["activity_name"].to_list() == [hostile_name]
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        (name,) = con.execute(
            "select activity_name from fct_activities where activity_id = ?", [named]
        ).fetchone()
    assert name == hostile_name

    # The quarantine holds exactly the hostile items, each with its reason.
    by_id = {a.activity_id: a for a in listed}
    rows = quarantined(data, "activities_payloads")
    assert [(d, p) for d, p, _ in rows] == sorted(
        [
            (str(by_id[path_id].local_date), "activity_list.json"),
            (str(by_id[huge_id].local_date), "activity_list.json"),
            (str(last), "activity_list.unplaced.json"),
        ]
    )
    reasons = " | ".join(r for _, _, r in rows)
    assert "activityId '../../etc' is not an integer in 1..2**63-1" in reasons
    assert f"activityId {10**30} is not an integer" in reasons
    assert f"activity {future}: startTimeLocal '9999-01-01 10:00:00' is not a date" in reasons

    # The huge payload: refused with its size, a sample kept, the other nights landed.
    (night,) = [r for r in quarantined(data, "sleep_payloads")]
    assert night[:2] == (str(first), "sleep.json.oversized")
    assert "over GARMIN_MAX_PAYLOAD_MB=0.25" in night[2]
    raw_night = data / "raw" / "sleep" / "account=default" / f"date={first}"
    assert (raw_night / "sleep.json.oversized").stat().st_size == 4096
    nights = read(data, "lake", "sleep")
    assert str(first) not in {str(d) for d in nights["date"]}
    assert len(nights["date"].unique()) == 5
