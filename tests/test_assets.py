"""The Dagster wiring: generated from the catalog, checks report quarantine, runs succeed."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg

from assets.definitions import defs
from assets.lake import LAKE_ASSETS, VALID_ROWS_CHECK
from assets.resources import DataDir
from garmin_pipeline.catalog import DATASETS, FEEDS
from garmin_pipeline.raw.store import RawStore

DAY = date(2024, 3, 5)


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


def test_a_lake_check_warns_with_the_quarantined_count_and_the_run_still_succeeds(tmp_path):
    raw = RawStore(tmp_path / "raw")
    body = {"calendarDate": DAY.isoformat(), "totalSteps": -1, "restingHeartRate": 51}
    raw.put("daily_summary", "t", DAY, "daily_summary.json", json.dumps(body).encode())
    (daily_summary_lake,) = [a for a in LAKE_ASSETS if a.op.name == "lake_daily_summary"]
    result = dg.materialize(
        [daily_summary_lake],
        partition_key=DAY.isoformat(),
        resources={"data_dir": DataDir(path=str(tmp_path), account="t")},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == VALID_ROWS_CHECK
    assert evaluation.passed is False
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["quarantined_rows"].value == 1
    (materialization,) = result.asset_materializations_for_node("lake_daily_summary")
    assert materialization.metadata["dagster/row_count"].value == 0
    assert (tmp_path / "quarantine" / "daily_summary" / "account=t").exists()


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
