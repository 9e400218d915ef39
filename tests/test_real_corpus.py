"""Real devices through the whole pipeline: every FIT file in `tests/data/fit` (recorded by real
watches, bike computers and apps; invalid ones included) and the generated quirk files are one
account's activities, served by the emulator with their own start times and sports, and synced
through the CLI over the years they span.

The bar: the sync exits 0, every readable activity file lands with exactly fitdecode's own
record count (not one row dropped), every invalid or non-activity file is quarantined from every
activity dataset with a one-line reason, implausible values (heart rate 0 without a strap, a
27-day duration, a 0xFE sentinel) are nulled and counted while raw keeps them, and dbt builds,
listing what it warned about.
"""

import io
import subprocess
import warnings
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import fitdecode
import polars as pl
import pytest

from assets.lake import PLAUSIBLE_CHECK
from garmin_emulator import Emulator
from garmin_emulator.quirks import QUIRKS, quirk_files
from garmin_emulator.recorded import RecordedActivity, RecordedAthlete
from tests.conftest import REPO_ROOT, latest_check, pipeline_env, run_cli

pytestmark = pytest.mark.long_running

FIT_DIR = REPO_ROOT / "tests" / "data" / "fit"
# The athlete's own synthetic days are not synced here (only the activities feed): its last day
# only dates the one file nothing can be read from (the emulator lists it at noon that day).
LAST_DAY = date(2026, 1, 31)
NOT_ACTIVITIES = {q.file_name for q in QUIRKS if not q.is_activity}


def fitdecode_reading(data: bytes) -> tuple[str | None, int | None]:
    """The oracle, fitdecode's own reading: the first file_id.type (None when the field is
    absent) and the record count, or None for the count when fitdecode cannot read it through
    (CRCs checked: a file failing its own CRC is no readable file)."""
    kind, records = None, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with fitdecode.FitReader(io.BytesIO(data), check_crc=fitdecode.CrcCheck.RAISE) as fit:
                for frame in fit:
                    if not isinstance(frame, fitdecode.FitDataMessage):
                        continue
                    if frame.name == "file_id" and kind is None and frame.has_field("type"):
                        kind = frame.get_value("type")
                    records += frame.name == "record"
        except Exception:
            return kind, None
    return kind, records


@dataclass(frozen=True)
class Expected:
    activity: RecordedActivity
    records: int | None  # None: the file must be quarantined

    @property
    def lands(self) -> bool:
        return self.records is not None


def expected_outcome(activity: RecordedActivity) -> Expected:
    kind, records = fitdecode_reading(activity.data)
    readable_activity = records is not None and kind in ("activity", None)
    if activity.file_name in NOT_ACTIVITIES:
        assert not readable_activity or kind != "activity", activity.file_name
    return Expected(activity, records if readable_activity else None)


@dataclass
class CorpusSync:
    completed: subprocess.CompletedProcess
    data: Path
    dagster_home: Path
    expected: dict[int, Expected]  # activity id → what must happen to its file


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> CorpusSync:
    athlete = RecordedAthlete([FIT_DIR, quirk_files()], seed=15, end_date=LAST_DAY, days=7)
    expected = {a.activity_id: expected_outcome(a) for a in athlete.recorded}
    first = min(a.start_local for a in athlete.recorded).date()
    last = max(a.start_local for a in athlete.recorded).date()
    root = tmp_path_factory.mktemp("corpus")
    with Emulator(athlete, port=0) as emu:
        env = {**pipeline_env(emu, root), "GARMIN_HISTORY_START": str(first)}
        completed = run_cli(
            env, "sync", "--feed", "activities", "--start", str(first), "--end", str(last)
        )
    return CorpusSync(completed, root / "data", root / "dagster_home", expected)


def lake(data: Path, dataset: str) -> pl.DataFrame:
    return pl.read_parquet(
        str(data / "lake" / dataset / "**" / "*.parquet"), hive_partitioning=True
    )


def quarantined(data: Path, dataset: str) -> pl.DataFrame:
    folder = data / "quarantine" / dataset
    if not list(folder.rglob("*.parquet")):
        return pl.DataFrame()
    return pl.read_parquet(str(folder / "**" / "*.parquet"), hive_partitioning=True)


def test_the_corpus_spans_years_and_every_kind_of_file(corpus):
    files = [e.activity.file_name for e in corpus.expected.values()]
    assert len(files) == len(list(FIT_DIR.rglob("*.fit"))) + len(QUIRKS)
    landing = [e for e in corpus.expected.values() if e.lands]
    assert len(landing) >= 25 and len(corpus.expected) - len(landing) >= 9
    years = {e.activity.start_local.year for e in corpus.expected.values()}
    assert min(years) <= 2013 and max(years) >= 2026


def test_the_sync_exits_0_and_lists_its_warnings(corpus):
    completed = corpus.completed
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "Traceback" not in completed.stderr, completed.stderr[-4000:]
    out = completed.stdout.splitlines()
    done = [line for line in out if line.startswith("sync: done for ")]
    assert len(done) == 1 and done[0].endswith("; with warnings:"), completed.stdout
    warned = out[out.index(done[0]) + 1 :]
    assert any(
        line.startswith("  lake: ") and "implausible values nulled" in line for line in warned
    )
    assert any("payloads quarantined" in line for line in warned), warned
    # dbt's plausibility tests warn on real data; the build passes and the sync names them.
    (tests,) = [line for line in warned if line.startswith("  warehouse: dbt tests warned: ")]
    assert "assert_hr_zones_fit_within_the_activity" in tests, tests


def test_every_readable_activity_lands_with_fitdecodes_record_count(corpus):
    records = lake(corpus.data, "activity_records").group_by("activity_id").len()
    got = dict(records.iter_rows())
    for activity_id, want in corpus.expected.items():
        name = want.activity.file_name
        if want.lands:
            assert got.get(activity_id, 0) == want.records, name
        else:
            assert activity_id not in got, name


def test_every_activity_is_whole_in_the_lake_and_the_warehouse(corpus):
    """In `activities`, its session(s) and the marts: every landing file, and nothing else."""
    landing = sorted(i for i, e in corpus.expected.items() if e.lands)
    assert sorted(lake(corpus.data, "activities")["activity_id"].to_list()) == landing
    sessions = lake(corpus.data, "activity_sessions")["activity_id"].unique().sort().to_list()
    assert sessions == sorted(i for i in landing if corpus.expected[i].activity.facts.sessions)
    with duckdb.connect(str(corpus.data / "warehouse.duckdb"), read_only=True) as con:
        marts = con.execute("select activity_id from fct_activities order by 1").fetchall()
        orphans = con.execute(
            "select count(*) from fct_activity_records r"
            " anti join fct_activities a using (account, activity_id)"
        ).fetchone()
    assert [i for (i,) in marts] == landing
    assert orphans == (0,)


def test_every_invalid_or_non_activity_file_is_quarantined_with_one_reason(corpus):
    held = quarantined(corpus.data, "activities")
    reasons = dict(zip(held["activity_id"], held["quarantine_reason"], strict=True))
    refused = sorted(i for i, e in corpus.expected.items() if not e.lands)
    assert sorted(reasons) == refused
    for activity_id in refused:
        reason = reasons[activity_id]
        assert reason.startswith(f"activity_id {activity_id}: "), reason
        assert "\n" not in reason and len(reason) < 400, reason
        name = corpus.expected[activity_id].activity.file_name
        if name in NOT_ACTIVITIES or name.startswith(("course_", "monitoring_")):
            assert "not an activity FIT file" in reason, (name, reason)
    # Nothing of a refused file in any activity dataset, and the same one reason everywhere.
    for dataset in ("activity_records", "activity_laps", "activity_sessions", "activity_events"):
        landed = set(lake(corpus.data, dataset)["activity_id"].unique())
        assert landed.isdisjoint(refused), dataset
        part = quarantined(corpus.data, dataset)
        if part.height:
            by_id = dict(zip(part["activity_id"], part["quarantine_reason"], strict=False))
            assert all(by_id[i] == reasons[i] for i in by_id), dataset


def test_raw_keeps_every_file_byte_for_byte(corpus):
    raw = corpus.data / "raw" / "activities" / "account=default"
    for activity_id, want in corpus.expected.items():
        (path,) = raw.glob(f"date=*/activity-{activity_id}.zip")
        with zipfile.ZipFile(path) as original:
            (member,) = original.namelist()
            assert original.read(member) == want.activity.data, want.activity.file_name


def by_file(corpus: CorpusSync, file_name: str) -> int:
    (activity_id,) = [i for i, e in corpus.expected.items() if e.activity.file_name == file_name]
    return activity_id


def test_heart_rate_0_without_a_strap_is_nulled_and_every_record_kept(corpus):
    rowing = by_file(corpus, "quirk_rowing_hr-0.fit")
    records = lake(corpus.data, "activity_records").filter(pl.col("activity_id") == rowing)
    assert records.height == corpus.expected[rowing].records
    assert records["heart_rate_bpm"].null_count() == records.height
    assert records["power_w"].drop_nulls().len() > 0  # the rest of each record is kept
    check = latest_check(corpus.dagster_home, ["lake", "activity_records"], PLAUSIBLE_CHECK)
    assert check.passed is False
    assert "heart_rate_bpm" in check.description


def test_a_27_day_recording_keeps_its_activity_with_the_duration_nulled(corpus):
    left_running = by_file(corpus, "quirk_run_27-days-left-running.fit")
    activity = lake(corpus.data, "activities").filter(pl.col("activity_id") == left_running)
    assert activity.height == 1
    assert activity.row(0, named=True)["elapsed_duration_s"] is None
    session = lake(corpus.data, "activity_sessions").filter(pl.col("activity_id") == left_running)
    assert session["total_elapsed_time_s"].to_list() == [None]
    assert session["total_distance_m"].drop_nulls().len() == 1  # its other values stay
