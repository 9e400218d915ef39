"""Incremental dbt builds: after a daily build every mart equals what a full build of the same
lake gives, and `build_args` picks a full refresh whenever a daily one could not be trusted.

Real dbt builds into real DuckDB files, from copies of the lake the session's end-to-end sync
wrote (21 days ending ATHLETE_END)."""

import json
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from garmin_pipeline.layout import DataLayout
from garmin_pipeline.warehouse.dbt_project import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    VALUE_TESTS,
    build_args,
    dbt_target_dir,
    full_refresh_reason,
    lookback_days,
)
from tests.conftest import ATHLETE_END

LAST = ATHLETE_END
HELD_BACK = (LAST - timedelta(days=1), LAST)  # days the daily build adds
CHANGED = LAST - timedelta(days=3)  # a day built before, changed in the lake since
SYNCED = (CHANGED, LAST)  # what the "morning refresh" synced
NEW_MAX_HR = 235  # above anything the athlete reached: every activity's zones and TRIMP move


def partition_day(partition: Path) -> date:
    return date.fromisoformat(partition.name.removeprefix("date="))


def copy_lake(source: Path, data_dir: Path, keep) -> None:
    """Copy the partitions whose day `keep` accepts into `data_dir`'s lake, as newly written
    files (the lake build's own writes are new too)."""
    for partition in sorted(source.glob("*/account=*/date=*")):
        if keep(partition_day(partition)):
            target = data_dir / "lake" / partition.relative_to(source)
            shutil.copytree(partition, target, copy_function=shutil.copy)


def dbt(args: list[str]) -> None:
    completed = subprocess.run(
        [str(DBT_EXECUTABLE), *args], cwd=DBT_PROJECT_DIR, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stdout[-3000:]


def rewrite(partition: Path, change) -> None:
    """Replace a lake partition's rows with `change(rows)`, as a re-sync would."""
    file = partition / "part-0.parquet"
    change(pl.read_parquet(file)).write_parquet(file)


def change_recent_days(lake: Path) -> dict[str, object]:
    """What a refresh of recent days does to the lake: a day's summary corrected (more energy
    and a new highest heart rate), an activity deleted. Returns what was done."""
    summary = lake / "daily_summary" / "account=default" / f"date={CHANGED}"
    energy = pl.read_parquet(summary / "part-0.parquet")["total_kilocalories"][0] + 100
    rewrite(
        summary,
        lambda rows: rows.with_columns(
            total_kilocalories=pl.lit(energy, rows["total_kilocalories"].dtype),
            max_heart_rate_bpm=pl.lit(NEW_MAX_HR, rows["max_heart_rate_bpm"].dtype),
        ),
    )
    activity_days = [
        p
        for p in sorted((lake / "activities" / "account=default").glob("date=*"))
        if partition_day(p) >= CHANGED and pl.read_parquet(p / "part-0.parquet").height
    ]
    dropped = pl.read_parquet(activity_days[0] / "part-0.parquet")["activity_id"][0]
    for partition in lake.glob(f"activit*/account=default/{activity_days[0].name}"):
        rewrite(partition, lambda rows: rows.filter(pl.col("activity_id") != dropped))
    return {"energy": energy, "dropped_activity": dropped}


def marts(data_dir: Path) -> dict[str, pl.DataFrame]:
    """Every mart and intermediate model, its rows sorted."""
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        names = [
            name
            for (name,) in con.sql(
                "select table_name from information_schema.tables "
                "where regexp_matches(table_name, '^(fct|dim|agg|int)_') order by 1"
            ).fetchall()
        ]
        frames = {name: con.sql(f"select * from {name}").pl() for name in names}
    return {name: f.sort(f.columns, nulls_last=True) for name, f in frames.items()}


@pytest.fixture(scope="module")
def builds(synced, tmp_path_factory):
    """`daily`: the lake without its last two days built in full, then those days added and
    recent days changed, and built as the pipeline would after the morning refresh. `full`:
    the same final lake built from scratch."""
    root = tmp_path_factory.mktemp("incremental")
    lake = synced.data_dir / "lake"
    daily, full = root / "daily", root / "full"
    copy_lake(lake, daily, lambda day: day < HELD_BACK[0])
    dbt(build_args(DataLayout(daily), None, LAST))
    copy_lake(lake, daily, lambda day: day >= HELD_BACK[0])
    done = change_recent_days(daily / "lake")
    daily_args = build_args(DataLayout(daily), SYNCED, LAST)
    dbt(daily_args)
    shutil.copytree(daily / "lake", full / "lake")
    dbt(build_args(DataLayout(full), None, LAST))
    return {"daily": daily, "full": full, "daily_args": daily_args, **done}


def test_the_morning_refresh_builds_incrementally_and_every_mart_equals_a_full_build(builds):
    assert "--full-refresh" not in builds["daily_args"]
    daily, full = marts(builds["daily"]), marts(builds["full"])
    assert set(daily) == set(full)
    assert {"fct_daily_health", "fct_activities", "fct_best_efforts", "int_account_days"} <= set(
        full
    )
    for name, frame in full.items():
        assert frame.height, f"{name} is empty: the comparison would prove nothing"
        try:
            assert_frame_equal(daily[name], frame, check_exact=True)
        except AssertionError as error:
            raise AssertionError(f"{name}: the daily build differs: {error}") from None


def test_the_daily_build_holds_the_added_and_changed_days(builds):
    with duckdb.connect(str(builds["daily"] / "warehouse.duckdb"), read_only=True) as con:
        energy = dict(
            con.sql("select calendar_date, total_kilocalories from fct_daily_health").fetchall()
        )
        activities = {a for (a,) in con.sql("select activity_id from fct_activities").fetchall()}
        anchors = con.sql("select distinct trimp_max_heart_rate_bpm from fct_activities").fetchall()
    assert max(energy) == LAST and energy[CHANGED] == builds["energy"]
    assert builds["dropped_activity"] not in activities
    # The new highest heart rate moved every activity's anchor, the oldest ones included.
    assert anchors == [(float(NEW_MAX_HR),)]


def test_the_daily_build_leaves_out_views_and_value_tests_but_rebuilds_new_datasets_views(builds):
    """The snapshot feeds' datasets have their only partition on the sync's last day, held
    back here: their staging views were empty stand-ins, and only they are rebuilt."""
    args = builds["daily_args"]
    excluded = set(args[args.index("--exclude") + 1].split())
    assert set(VALUE_TESTS) <= excluded
    assert {"stg_devices", "stg_gear", "stg_profile"}.isdisjoint(excluded)
    assert {"stg_daily_summary", "stg_activity_records", "fct_activity_records"} <= excluded
    results = json.loads(
        (dbt_target_dir(DataLayout(builds["daily"])) / "run_results.json").read_text()
    )
    built = {r["unique_id"].split(".")[-1] for r in results["results"] if r["status"] == "success"}
    assert "stg_devices" in built and "stg_daily_summary" not in built


def test_build_args_rebuilds_everything_when_the_sync_reaches_past_the_window(builds):
    reach = lookback_days() - 2
    recent = (LAST - timedelta(days=reach), LAST)
    assert full_refresh_reason(DataLayout(builds["daily"]), recent, LAST) is None
    backfill = (LAST - timedelta(days=reach + 1), LAST)
    assert build_args(DataLayout(builds["daily"]), backfill, LAST)[-1] == "--full-refresh"
    assert "reaches back" in full_refresh_reason(DataLayout(builds["daily"]), backfill, LAST)
    assert build_args(DataLayout(builds["daily"]), None, LAST)[-1] == "--full-refresh"


def test_build_args_rebuilds_everything_after_an_unfinished_or_different_build(builds, tmp_path):
    state = tmp_path / "data"
    shutil.copytree(builds["daily"] / "state", state / "state")
    (state / "warehouse.duckdb").touch()
    assert full_refresh_reason(DataLayout(state), SYNCED, LAST) is None

    target = dbt_target_dir(DataLayout(state))
    results = json.loads((target / "run_results.json").read_text())
    killed = {**results, "metadata": {**results["metadata"], "invocation_id": "another run"}}
    (target / "run_results.json").write_text(json.dumps(killed))
    assert full_refresh_reason(DataLayout(state), SYNCED, LAST) == "the last build did not finish"

    failed = json.loads(json.dumps(results))
    model = next(r for r in failed["results"] if r["unique_id"] == "model.garmin.fct_sleep")
    model["status"] = "error"
    (target / "run_results.json").write_text(json.dumps(failed))
    assert full_refresh_reason(DataLayout(state), SYNCED, LAST) == (
        "the last build did not build 1 model(s), e.g. model.garmin.fct_sleep"
    )

    (target / "run_results.json").write_text(json.dumps(results))
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["nodes"]["model.garmin.fct_sleep"]["checksum"]["checksum"] = "older sql"
    (target / "manifest.json").write_text(json.dumps(manifest))
    changed = full_refresh_reason(DataLayout(state), SYNCED, LAST)
    assert changed == "the dbt project changed since the last build"

    (state / "warehouse.duckdb").unlink()
    assert full_refresh_reason(DataLayout(state), SYNCED, LAST) == "there is no warehouse yet"


def test_the_warehouse_asset_runs_the_daily_build_in_dagster(builds, monkeypatch):
    """Through Dagster: the range tags of a recent sync make the asset build incrementally,
    and the tests left out of a daily build do not fail the run."""
    import assets.warehouse as warehouse_assets
    from assets.partitions import RANGE_END_TAG, RANGE_START_TAG
    from assets.resources import DataDir

    monkeypatch.setattr(warehouse_assets, "latest_begun_day", lambda: LAST)
    result = dg.materialize(
        [warehouse_assets.warehouse],
        resources={
            "dbt": warehouse_assets.dbt_resource(),
            "data_dir": DataDir(path=str(builds["daily"])),
        },
        tags={RANGE_START_TAG: f"default|{SYNCED[0]}", RANGE_END_TAG: f"default|{SYNCED[1]}"},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    built = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert {"fct_daily_health", "fct_activities", "dim_account"} <= built
    assert "stg_daily_summary" not in built  # a daily build leaves the views as they are
    assert_frame_equal(
        marts(builds["daily"])["fct_daily_health"], marts(builds["full"])["fct_daily_health"]
    )


def best_effort_s(samples: pl.DataFrame, distance_m: float) -> float | None:
    """The fastest stretch of `distance_m` in one activity's samples (time, distance), worked
    out here by brute force: every sample as the start, the finish interpolated."""
    times = samples["seconds"].to_list()
    distances = samples["distance_m"].to_list()
    best = None
    for start in range(len(times)):
        target = distances[start] + distance_m
        for end in range(start + 1, len(times)):
            if distances[end] >= target:
                fraction = (target - distances[end - 1]) / (distances[end] - distances[end - 1])
                finish = times[end - 1] + (times[end] - times[end - 1]) * fraction
                best = min(best or finish - times[start], finish - times[start])
                break
    return best


def test_the_analyses_answer_from_the_daily_build(builds, athlete):
    """Every canonical query answers; best 5 km is checked against the lake's samples."""
    from garmin_pipeline.warehouse.queries import analyses, run_analysis

    warehouse = builds["daily"] / "warehouse.duckdb"
    answers = {a.name: run_analysis(a.name, warehouse) for a in analyses()}
    assert set(answers) == {
        "best_5km_efforts",
        "hr_zone_time_by_month",
        "resting_hr_90_day_trend",
        "sleep_vs_hrv_trend",
        "weekly_training_load_by_sport",
    }
    assert all(answer.height for answer in answers.values())
    assert answers["resting_hr_90_day_trend"].height == len(athlete.history())  # all of it

    records = pl.read_parquet(
        builds["daily"] / "lake" / "activity_records" / "**" / "*.parquet", hive_partitioning=True
    )
    runs = pl.read_parquet(
        builds["daily"] / "lake" / "activities" / "**" / "*.parquet", hive_partitioning=True
    ).filter(pl.col("activity_type").str.contains("running"))
    expected = {}
    for (activity_id,), samples in records.filter(
        pl.col("activity_id").is_in(runs["activity_id"].implode()),
        pl.col("distance_m").is_not_null(),
    ).group_by("activity_id"):
        samples = samples.sort("record_index").with_columns(
            seconds=pl.col("timestamp").dt.epoch("us") / 1e6
        )
        effort = best_effort_s(samples, 5000.0)
        if effort is not None:
            expected[activity_id] = round(effort, 1)
    best = answers["best_5km_efforts"]
    assert expected and best["rank"].to_list() == list(range(1, min(10, len(expected)) + 1))
    fastest = sorted(expected.items(), key=lambda item: (item[1], item[0]))[: best.height]
    assert best["activity_id"].to_list() == [a for a, _ in fastest]
    assert best["effort_s"].to_list() == pytest.approx([s for _, s in fastest], abs=0.11)
