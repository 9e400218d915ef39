"""Garmin's account export as a source: the synthetic athlete's export, built by the emulator in
the documented layout, imported through the real CLI (`garmin-pipeline import-export`, which
lands raw and runs the Dagster rebuild job into DuckDB through dbt) fills the same marts as the
session's API sync of the same athlete, day by day, on every column the export carries.

Columns the export cannot fill are listed in `NOT_CARRIED` with the reason; the test checks
that they are empty after the import and filled by the API, so the list cannot go stale. The
datasets in `BYTE_IDENTICAL` must even land the same Parquet bytes as the sync. Then: a repeat
import changes no raw byte and a rebuild from raw gives the same lake; later and shorter
exports merge without deleting (API payloads kept, the newer export winning); files are found
by pattern under other names and folders; a corrupt member is quarantined with its reason while
the rest lands; an unreadable archive is a one-line error; an unpacked folder imports too.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from polars.testing import assert_series_equal

from garmin_emulator.export_archive import build_export_archive
from garmin_pipeline.raw.store import RawStore
from garmin_pipeline.sources.export.discovery import classify
from garmin_pipeline.sources.export.mapping import day_of, gmt_ms, scaled
from tests.conftest import run_cli
from tests.test_source_modes import assert_same_days, by_day, marts

pytestmark = pytest.mark.long_running

ACCOUNT = "default"
NO_STAGES = "the export's sleepData has no stage intervals (sleepLevels)"
NOT_CARRIED = {
    "fct_daily_health": {
        "hrv_weekly_avg_ms": "healthStatusData's HRV metric has no weekly mean",
        "hrv_status": "healthStatusData's HRV status is IN_RANGE/OUT_OF_RANGE, not Garmin's",
        "weight_kg": "weigh-ins are not among the mapped files",
        "body_fat_pct": "weigh-ins are not among the mapped files",
        "bmi": "weigh-ins are not among the mapped files",
    },
    "fct_hrv": {
        "last_night_5min_high_ms": "healthStatusData carries the nightly mean only",
        "weekly_avg_ms": "healthStatusData carries the nightly mean only",
        "baseline_low_upper_ms": "healthStatusData's baseline is the balanced range only",
        "status": "healthStatusData's HRV status is IN_RANGE/OUT_OF_RANGE, not Garmin's",
    },
    "fct_sleep": {
        "sleep_start_local": "sleepData has GMT times only",
        "sleep_end_local": "sleepData has GMT times only",
        "deep_sleep_pct": "sleepScores carries the overall score, not the stage shares",
        "light_sleep_pct": "sleepScores carries the overall score, not the stage shares",
        "rem_sleep_pct": "sleepScores carries the overall score, not the stage shares",
        "sleep_score_quality": "no qualifier keys in the export's sleepScores",
        "duration_quality": "no qualifier keys in the export's sleepScores",
        "stress_quality": "no qualifier keys in the export's sleepScores",
        "awake_count_quality": "no qualifier keys in the export's sleepScores",
        "restlessness_quality": "no qualifier keys in the export's sleepScores",
        "deep_sleep_quality": "no qualifier keys in the export's sleepScores",
        "light_sleep_quality": "no qualifier keys in the export's sleepScores",
        "rem_sleep_quality": "no qualifier keys in the export's sleepScores",
        "hrv_status": "healthStatusData's HRV status is IN_RANGE/OUT_OF_RANGE, not Garmin's",
        "stage_intervals": NO_STAGES,
        "deep_intervals": NO_STAGES,
        "light_intervals": NO_STAGES,
        "rem_intervals": NO_STAGES,
        "awake_intervals": NO_STAGES,
        "longest_sleep_interval_s": NO_STAGES,
    },
}
# Lake datasets whose Parquet files the import writes byte for byte as the API sync does: the
# activity list and every FIT table, the wellness FIT tables (the uploads re-bundled per day),
# and the series the export carries whole.
BYTE_IDENTICAL = (
    "activities",
    "activity_records",
    "activity_laps",
    "activity_sessions",
    "activity_events",
    "activity_device_info",
    "activity_hrv",
    "heart_rate",
    "stress",
    "spo2",
    "respiration",
    "monitoring",
    "hrv_readings",
    "sleep_levels",
    "sleep_assessment",
    "skin_temperature",
    "resting_heart_rate_device",
    "daily_steps",
    "daily_stress",
    "daily_intensity_minutes",
    "daily_respiration",
    "resting_heart_rate",
    "hydration",
    "body_battery_daily",
    "training_readiness",
    "training_status",
    "max_metrics",
)
# The export gives floors in metres rounded to the mm: a count back differs past 1e-3 floors.
APPROXIMATE = {"fct_daily_health": ("floors_ascended", "floors_descended")}


def export_env(root: Path) -> dict[str, str]:
    """A data dir of its own and no Garmin at all: the import needs no network."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("GARMIN_")}
    return {
        **inherited,
        "GARMIN_DATA_DIR": str(root / "data"),
        "GARMIN_TOKENS": str(root / "tokens" / "garmin_tokens.json"),
        "GARMIN_HISTORY_START": "2024-01-01",
        "DAGSTER_HOME": str(root / "dagster_home"),
    }


def rewrite(source: Path, target: Path, change) -> Path:
    """A copy of the archive with `change(name, data)` -> [(name, data)] applied per member."""
    with zipfile.ZipFile(source) as archive:
        members = [(i.filename, archive.read(i)) for i in archive.infolist()]
    with zipfile.ZipFile(target, "w") as out:
        for name, data in members:
            for new_name, new_data in change(name, data):
                out.writestr(new_name, new_data)
    return target


def raw_files(data_dir: Path) -> dict[str, bytes]:
    root = data_dir / "raw"
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def lake_files(data_dir: Path, dataset: str | None = None) -> dict[str, bytes]:
    root = data_dir / "lake"
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / dataset if dataset else root).rglob("*.parquet"))
        if not p.relative_to(root).parts[0].startswith("_")
    }


def raw_days(data_dir: Path, feed: str) -> list[date]:
    return RawStore(data_dir / "raw").days(feed, ACCOUNT)


def source_of(data_dir: Path, feed: str, day: date, name: str) -> str | None:
    return RawStore(data_dir / "raw").manifest(feed, ACCOUNT, day)[name].source


@pytest.fixture(scope="module")
def archive(athlete, tmp_path_factory) -> Path:
    return build_export_archive(athlete, tmp_path_factory.mktemp("export") / "export.zip")


@pytest.fixture(scope="module")
def imported(archive, tmp_path_factory):
    root = tmp_path_factory.mktemp("imported")
    env = export_env(root)
    completed = run_cli(env, "import-export", str(archive))
    assert completed.returncode == 0, completed.stderr[-3000:]
    return env, root / "data", completed


# ---------------------------------------------------------------------- small pieces
@pytest.mark.fast
def test_units_and_dates_convert_exactly():
    assert scaled(812345.0, "0.01") == 8123.45  # cm -> m on the decimal spelling
    assert scaled(0.27780000000000005, "10") == 2.7780000000000005
    assert scaled(3012400.0, "0.001") == 3012.4
    assert day_of(1718928000000) == date(2024, 6, 21)  # epoch ms of the UTC midnight
    assert day_of("2024-06-21") == date(2024, 6, 21)
    assert gmt_ms("2024-06-09T20:31:00.0") == 1717965060000
    assert gmt_ms(1717965060000) == 1717965060000


@pytest.mark.fast
def test_files_are_classified_by_pattern_not_by_name_or_folder():
    assert classify("DI_CONNECT/DI-Connect-User/UDSFile_2019-01-01_2019-04-10.json") == (
        "daily_summaries"
    )
    assert classify("x/2024-06-10_2024-06-19_123_sleepData.json") == "sleep"
    assert classify("x/123_healthStatusData_part2.json") == "health_status"
    assert classify("x/MetricsMaxMetData_20240101_20240501_1.json") == "max_met"
    assert classify("a/b@c.com_0_summarizedActivities.json") == "activities"
    assert classify("DI-Connect-Fitness/UploadedFiles_2-_Part7.zip") == "uploads"
    assert classify("a@b.com_123456.FIT") == "fit"
    assert classify("DI_CONNECT/DI-Connect-User/user_profile.json") is None


def test_the_archive_is_deterministic(athlete, archive, tmp_path):
    again = build_export_archive(athlete, tmp_path / "again.zip")
    assert again.read_bytes() == archive.read_bytes()


# ---------------------------------------------------------------------- the import
def test_import_prints_what_it_landed(imported, archive, athlete):
    _, _, completed = imported
    out = completed.stdout
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert f"archive sha256 {sha}" in out
    assert f"{athlete.first_day}..{athlete.last_day}" in out
    feeds = ("daily_summary", "sleep", "hrv", "training_status", "wellness", "activities")
    for feed in feeds:
        assert any(
            line.split() == [feed, str(len(athlete.history())), "/", "0", "/", "0", "/", "0"]
            for line in out.splitlines()
        ), feed
    activities = len(athlete.all_plans())
    assert f"activity FIT files: {activities} linked, 0 unlinked" in out
    assert f"filed under {athlete.days} days" in out  # the wellness uploads
    assert "files ignored (no mapping): 2" in out
    assert "customer_data/customer.json" in out
    assert "rebuild: done for 2024-06-10..2024-06-30" in out


def test_the_archive_is_kept_in_raw_by_its_sha256(imported, archive, athlete):
    _, data_dir, _ = imported
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    base = data_dir / "raw" / "_exports" / f"account={ACCOUNT}"
    assert (base / f"{sha}.zip").read_bytes() == archive.read_bytes()
    manifest = json.loads((base / f"{sha}.json").read_text())
    assert manifest["sha256"] == sha and manifest["as_of"] == str(athlete.last_day)
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            if not info.filename.endswith(".zip"):
                entry = manifest["members"][info.filename]
                assert entry["sha256"] == hashlib.sha256(zipped.read(info)).hexdigest()
    uds = next(m for m in manifest["members"] if "UDSFile_2024-06-10" in m)
    assert "daily_summary/2024-06-10" in manifest["members"][uds]["fed"]
    assert len(manifest["fit_links"]) == len(athlete.all_plans())
    assert len(manifest["wellness_fit"]) >= athlete.days * 2
    assert set(manifest["fit_links"].values()) == {p.activity_id for p in athlete.all_plans()}
    # Each landed payload names the archive and the member it came from.
    day = athlete.first_day
    assert source_of(data_dir, "daily_summary", day, "daily_summary.json") == (
        f"export:{sha}:{uds}"
    )
    plan = athlete.all_plans()[0]
    zipped_fit = f"activity-{plan.activity_id}.zip"
    source = source_of(data_dir, "activities", plan.start_time_local.date(), zipped_fit)
    assert source.startswith(f"export:{sha}:DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles")
    assert source.endswith(".fit")


def test_import_fills_the_marts_as_an_api_sync_does(imported, synced, athlete):
    _, data_dir, _ = imported
    api, export = marts(synced.data_dir), marts(data_dir)
    assert set(export) == set(api)
    compared = 0
    for name, frame in api.items():
        assert frame.height, f"{name} is empty: the comparison would prove nothing"
        missing = NOT_CARRIED.get(name, {})
        approximate = APPROXIMATE.get(name, ())
        exact = [c for c in frame.columns if c not in missing and c not in approximate]
        assert_same_days(name, frame.select(exact), export[name].select(exact))
        compared += frame.height
        want, got = by_day(frame), by_day(export[name])
        for column in approximate:
            for day, rows in want.items():
                assert_series_equal(got[day][column], rows[column], abs_tol=1e-3, check_exact=False)
        for column in missing:  # empty, not wrong: the export has nothing for them
            values = export[name][column]
            assert values.is_null().all() or (values == 0).all(), f"{name}.{column}"
            assert not frame[column].is_null().all(), f"{name}.{column} is never filled"
    assert api["fct_daily_health"].height == len(athlete.history())
    assert api["fct_activities"].height == export["fct_activities"].height > 0
    assert compared > 10_000  # activity records included: the linked FIT files were decoded


def test_the_lake_files_are_those_an_api_sync_writes(imported, synced, athlete):
    _, data_dir, _ = imported
    for dataset in BYTE_IDENTICAL:
        api, export = lake_files(synced.data_dir, dataset), lake_files(data_dir, dataset)
        # every day of the history, empty days included
        assert len(api) == len(athlete.history()), dataset
        assert export == api, dataset


def test_a_repeat_import_changes_no_byte_and_a_rebuild_gives_the_same_lake(imported, archive):
    env, data_dir, _ = imported
    raw_before, lake_before = raw_files(data_dir), lake_files(data_dir)
    assert lake_before
    again = run_cli(env, "import-export", str(archive))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing to build" in again.stdout
    assert any(line.split()[:2] == ["daily_summary", "0"] for line in again.stdout.splitlines())
    assert raw_files(data_dir) == raw_before
    # Same archive, same lake: delete it and rebuild from raw, offline.
    for path in sorted((data_dir / "lake").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    rebuilt = run_cli(env, "rebuild", "--start", "2024-06-10", "--end", "2024-06-30")
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert lake_files(data_dir) == lake_before


# ---------------------------------------------------------------------- merge and precedence
def test_later_exports_merge_and_never_delete(athlete, archive, tmp_path):
    env = export_env(tmp_path)
    data_dir = tmp_path / "data"
    first_day, last_day = athlete.first_day, athlete.last_day
    # A payload a sync fetched from Garmin is kept over any export's.
    api_day = first_day + timedelta(days=3)
    api_body = b'{"calendarDate":"%s","totalSteps":1}' % str(api_day).encode()
    RawStore(data_dir / "raw").put(
        "daily_summary", ACCOUNT, api_day, "daily_summary.json", api_body, source="connect"
    )
    full = run_cli(env, "import-export", "--no-build", str(archive))
    assert full.returncode == 0, full.stderr[-3000:]
    assert any(
        line.split() == ["daily_summary", "20", "/", "0", "/", "1", "/", "0"]
        for line in full.stdout.splitlines()
    ), full.stdout
    assert RawStore(data_dir / "raw").get(
        "daily_summary", ACCOUNT, api_day, "daily_summary.json"
    ) == (api_body)
    # A shorter, later cut (the last week): its days replace, the others stay.
    recent = build_export_archive(
        athlete, tmp_path / "recent.zip", first=last_day - timedelta(days=6)
    )
    shorter = run_cli(env, "import-export", "--no-build", str(recent))
    assert shorter.returncode == 0, shorter.stderr[-3000:]
    assert raw_days(data_dir, "daily_summary") == athlete.history()
    assert raw_days(data_dir, "sleep") == athlete.history()
    recent_sha = hashlib.sha256(recent.read_bytes()).hexdigest()
    full_sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert source_of(data_dir, "sleep", last_day, "sleep.json").startswith(f"export:{recent_sha}:")
    assert source_of(data_dir, "sleep", first_day, "sleep.json").startswith(f"export:{full_sha}:")
    # An older export (the first week) never overwrites the newer one's days.
    old = build_export_archive(athlete, tmp_path / "old.zip", last=first_day + timedelta(days=6))
    older = run_cli(env, "import-export", "--no-build", str(old))
    assert older.returncode == 0, older.stderr[-3000:]
    assert any(
        line.split() == ["daily_summary", "0", "/", "0", "/", "1", "/", "6"]
        for line in older.stdout.splitlines()
    ), older.stdout
    assert source_of(data_dir, "sleep", first_day, "sleep.json").startswith(f"export:{full_sha}:")
    # Every activity still listed on its day, with its FIT file.
    for plan in athlete.all_plans():
        listed = json.loads(
            RawStore(data_dir / "raw").get(
                "activities", ACCOUNT, plan.start_time_local.date(), "activity_list.json"
            )
        )
        assert plan.activity_id in {e["activityId"] for e in listed}
        assert RawStore(data_dir / "raw").has(
            "activities", ACCOUNT, plan.start_time_local.date(), f"activity-{plan.activity_id}.zip"
        )


def test_files_are_found_by_pattern_under_other_names(athlete, archive, tmp_path):
    def renamed(name: str, data: bytes) -> list[tuple[str, bytes]]:
        base = name.rsplit("/", 1)[-1]
        if base.startswith("UDSFile_2024-06-10"):  # older exports: under DI-Connect-User
            return [("DI_CONNECT/DI-Connect-User/UDSFile_1.json", data)]
        if base.endswith("_sleepData.json") and "2024-06-19_2024-06-29" in base:
            return [("DI_CONNECT/DI-Connect-Wellness/export_sleepData_v2.json", data)]
        if base == "UploadedFiles_0-_Part2.zip":  # older exports: under DI-Connect-Fitness
            return [("DI_CONNECT/DI-Connect-Fitness/UploadedFiles_7-_Part2.zip", data)]
        return [(name, data)]

    moved = rewrite(archive, tmp_path / "moved.zip", renamed)
    completed = run_cli(export_env(tmp_path), "import-export", "--no-build", str(moved))
    assert completed.returncode == 0, completed.stderr[-3000:]
    data_dir = tmp_path / "data"
    assert raw_days(data_dir, "daily_summary") == athlete.history()
    assert raw_days(data_dir, "sleep") == athlete.history()
    assert f"{len(athlete.all_plans())} linked, 0 unlinked" in completed.stdout
    assert source_of(data_dir, "daily_summary", athlete.first_day, "daily_summary.json").endswith(
        ":DI_CONNECT/DI-Connect-User/UDSFile_1.json"
    )


def test_a_corrupt_member_is_quarantined_with_its_reason_and_the_rest_lands(
    athlete, archive, tmp_path
):
    broken_fit = None

    def damaged(name: str, data: bytes) -> list[tuple[str, bytes]]:
        nonlocal broken_fit
        base = name.rsplit("/", 1)[-1]
        if base.startswith("UDSFile_2024-06-10"):
            return [(name, b'[{"calendarDate": "2024-06-10", "totalSteps": ')]  # cut short
        if base == "UploadedFiles_0-_Part1.zip":
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                files = [(i.filename, inner.read(i)) for i in inner.infolist()]
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as out:
                for i, (inner_name, body) in enumerate(files):
                    if i == 0:
                        broken_fit = f"{name}!{inner_name}"
                        body = body[: len(body) // 2]  # a cut FIT file
                    out.writestr(inner_name, body)
            return [(name, buffer.getvalue())]
        return [(name, data)]

    bad = rewrite(archive, tmp_path / "bad.zip", damaged)
    bad = rewrite(
        bad,
        tmp_path / "bad2.zip",
        lambda n, d: (
            [(n, d)]
            + (
                [("DI_CONNECT/DI-Connect-Wellness/mystery.bin", b"\x00\x01")]
                if n.endswith("customer.json")
                else []
            )
        ),
    )
    completed = run_cli(export_env(tmp_path), "import-export", "--no-build", str(bad))
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    assert "quarantined: 2" in out
    assert "UDSFile_2024-06-10_2024-06-19.json: not JSON:" in out
    assert f"{broken_fit}: not a readable FIT file:" in out
    assert "mystery.bin" in out  # listed among the ignored files, not fatal
    data_dir = tmp_path / "data"
    # The rest landed: the other UDS ranges, and every night of sleep.
    assert raw_days(data_dir, "daily_summary") == athlete.history()[10:]
    assert raw_days(data_dir, "sleep") == athlete.history()
    sha = hashlib.sha256(bad.read_bytes()).hexdigest()
    manifest = json.loads(
        (data_dir / "raw" / "_exports" / f"account={ACCOUNT}" / f"{sha}.json").read_text()
    )
    reasons = manifest["quarantined"]
    assert reasons[broken_fit].startswith("not a readable FIT file")
    assert any(k.endswith("UDSFile_2024-06-10_2024-06-19.json") for k in reasons)


def test_an_unreadable_archive_is_one_line_error(tmp_path):
    junk = tmp_path / "export.zip"
    junk.write_bytes(b"this is not a zip")
    completed = run_cli(export_env(tmp_path), "import-export", str(junk))
    assert completed.returncode == 1
    assert completed.stderr.strip().count("\n") == 0
    assert "is not a zip archive" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "data" / "raw").exists() or not list(
        (tmp_path / "data" / "raw").rglob("*.json")
    )


def test_an_unpacked_directory_imports_like_the_zip(archive, athlete, tmp_path):
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(folder)
    completed = run_cli(export_env(tmp_path), "import-export", "--no-build", str(folder))
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "activity FIT files: " in completed.stdout
    assert any(
        line.split() == ["daily_summary", str(len(athlete.history())), "/", "0", "/", "0", "/", "0"]
        for line in completed.stdout.splitlines()
    )
    # The directory is kept packed, so the same folder always gives the same hash.
    again = run_cli(export_env(tmp_path / "again"), "import-export", "--no-build", str(folder))
    first_sha = completed.stdout.split("archive sha256 ", 1)[1].split()[0]
    assert f"archive sha256 {first_sha}" in again.stdout
