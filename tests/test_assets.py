"""The Dagster wiring: generated from the catalog, checks report quarantine, runs succeed."""

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from assets.definitions import defs
from assets.jobs import range_tags
from assets.lake import COMPLETE_DAYS_CHECK, LAKE_ASSETS, PLAUSIBLE_CHECK, VALID_ROWS_CHECK
from assets.partitions import PARTITION_TAG, range_key
from assets.resources import DataDir
from garmin_pipeline.catalog import DATASETS, FEEDS
from garmin_pipeline.raw.store import RawStore

DAY = date(2024, 3, 5)
ACCOUNT = "default"  # the partitions' one account (GARMIN_ACCOUNTS unset)
DAILY_SUMMARY = dg.AssetKey(["lake", "daily_summary"])


def test_assets_are_generated_from_the_catalog_and_dbt_reads_the_lake():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {f"raw/{f.name}" for f in FEEDS} <= keys
    assert {f"lake/{d.name}" for d in DATASETS} <= keys
    assert {"fct_daily_health", "fct_activities", "fct_activity_records"} <= keys
    for ds in DATASETS:
        parents = graph.get(dg.AssetKey(f"stg_{ds.name}")).parent_keys
        assert parents == {dg.AssetKey(["lake", ds.name])}
    defs.resolve_all_job_defs()


def materialize_daily_summary(data_dir: Path, tags: dict[str, str]) -> dg.ExecuteInProcessResult:
    """The lake's daily_summary dataset alone, in a run tagged with `tags`."""
    return dg.materialize(
        LAKE_ASSETS,
        selection=[DAILY_SUMMARY],
        tags=tags,
        resources={"data_dir": DataDir(path=str(data_dir))},
        instance=dg.DagsterInstance.ephemeral(),
    )


def test_a_lake_check_warns_with_the_nulled_count_and_the_run_still_succeeds(tmp_path):
    """Steps of -1 are no measurement: nulled, counted by the plausible_values check (a
    warning naming the column), and the day's row lands with its other values."""
    raw = RawStore(tmp_path / "raw")
    body = {"calendarDate": DAY.isoformat(), "totalSteps": -1, "restingHeartRate": 51}
    raw.put("daily_summary", ACCOUNT, DAY, "daily_summary.json", json.dumps(body).encode())
    result = materialize_daily_summary(
        tmp_path, {PARTITION_TAG: range_key(ACCOUNT, DAY.isoformat())}
    )
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    plausible = evaluations[PLAUSIBLE_CHECK]
    assert plausible.passed is False
    assert plausible.severity == dg.AssetCheckSeverity.WARN
    assert plausible.metadata["nulled_values"].value == 1
    assert plausible.description == (
        "lake/daily_summary: 1 implausible values nulled, rows kept (raw keeps them): "
        "total_steps 1 on 1 day"
    )
    assert evaluations[VALID_ROWS_CHECK].passed is True
    (materialization,) = result.asset_materializations_for_node("lake")
    assert materialization.metadata["dagster/row_count"].value == 1
    assert materialization.metadata["nulled_values"].value == 1
    assert materialization.metadata["nulled_by_column_and_day"].value == {
        ACCOUNT: {"total_steps": {DAY.isoformat(): 1}}
    }
    assert not (tmp_path / "quarantine" / "daily_summary").exists()
    complete = evaluations[COMPLETE_DAYS_CHECK]
    assert complete.passed is True
    assert complete.metadata["missing_days"].value == "none"


def test_the_completeness_check_names_gaps_and_failed_days(tmp_path):
    raw = RawStore(tmp_path / "raw")
    days = [DAY + timedelta(days=n) for n in range(5)]
    for day in (days[0], days[1], days[3]):  # day 2 is a gap; day 4 is not synced yet
        body = {"calendarDate": day.isoformat(), "totalSteps": 1000}
        raw.put("daily_summary", ACCOUNT, day, "daily_summary.json", json.dumps(body).encode())
    raw.put("daily_summary", ACCOUNT, days[1], "daily_summary.json", b"{not json")
    result = materialize_daily_summary(tmp_path, range_tags(str(days[0]), str(days[-1]), [ACCOUNT]))
    assert result.success
    (complete,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == COMPLETE_DAYS_CHECK
    ]
    assert complete.passed is False
    assert complete.metadata["missing_days"].value == str(days[2])
    assert complete.metadata["failed_days"].value == str(days[1])
    assert complete.metadata["pending_days"].value == 1


def test_a_range_is_one_lake_materialization_per_dataset_not_per_day(tmp_path):
    """The lake is outside Dagster's partitions: five days (or five years) of a dataset are
    one event saying which days it holds, not one event per day."""
    raw = RawStore(tmp_path / "raw")
    days = [DAY + timedelta(days=n) for n in range(5)]
    for day in days:
        body = {"calendarDate": day.isoformat(), "totalSteps": 1000}
        raw.put("daily_summary", ACCOUNT, day, "daily_summary.json", json.dumps(body).encode())
    result = materialize_daily_summary(tmp_path, range_tags(str(days[0]), str(days[-1]), [ACCOUNT]))
    (materialization,) = result.asset_materializations_for_node("lake")
    assert materialization.partition is None
    assert materialization.metadata["dagster/row_count"].value == 5
    assert materialization.metadata["days"].value == f"{ACCOUNT}: {days[0]}..{days[-1]}"
    assert materialization.metadata["days_built"].value == 5


def test_workspace_yaml_loads_the_code_location(tmp_path):
    """What `make dev` relies on: Dagster's own CLI loads the location from workspace.yaml."""
    dagster = Path(sys.executable).with_name("dagster")
    completed = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "garmin" in completed.stdout + completed.stderr


def test_the_manifest_is_reparsed_into_place_without_leftovers():
    """`dbt parse` writes into a scratch target; the manifest is swapped in whole."""
    from garmin_pipeline.warehouse.dbt_project import (
        DBT_PROJECT_DIR,
        manifest_is_stale,
        parse_manifest,
    )

    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    parse_manifest()
    assert not manifest_is_stale(manifest)
    assert "model.garmin.fct_daily_health" in json.loads(manifest.read_bytes())["nodes"]
    assert list(DBT_PROJECT_DIR.glob(".parse-*")) == []
    assert list(manifest.parent.glob(".parse-*")) == []
