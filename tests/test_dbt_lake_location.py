"""The dbt project reads the lake where `DataLayout` says it is, given as dbt vars by
`dbt_project.dbt_vars`: a lake at an `s3://` URI reaches the warehouse's SQL as a lake on disk
does, with no copy of the partition scheme in dbt. Real dbt, parsing and compiling into a
scratch target; nothing touches the network."""

import json
import subprocess
from datetime import date
from pathlib import Path

import polars as pl

from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.layout import DataLayout
from garmin_pipeline.warehouse.dbt_project import DBT_EXECUTABLE, DBT_PROJECT_DIR, dbt_vars

ACCOUNT = "alice"
DAY = date(2024, 6, 1)


def run_dbt(*args: str, vars_json: str, target: Path) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [
            str(DBT_EXECUTABLE),
            *args,
            "--quiet",
            "--profiles-dir",
            ".",
            "--target-path",
            str(target),
            "--vars",
            vars_json,
        ],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-3000:]
    return completed


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def test_every_lake_source_reads_a_uri_lake_at_the_glob_the_stores_write(tmp_path):
    """Parsing resolves each lake source to its `read_parquet` (no file is touched): for a
    lake at an `s3://` URI it is the glob the lake's own store reads, the URI unchanged."""
    uri = "s3://garmin-bucket/household's/lake"
    run_dbt("parse", vars_json=dbt_vars(DataLayout(tmp_path, lake_uri=uri)), target=tmp_path / "t")
    manifest = json.loads((tmp_path / "t" / "manifest.json").read_text())
    sources = {s["name"]: s["relation_name"] for s in manifest["sources"].values()}
    store = PartitionStore(uri)
    assert len(sources) > 40
    assert sources == {
        name: f"read_parquet({sql_string(store.dataset_glob(name))}, hive_partitioning = true)"
        for name in sources
    }


def test_the_lake_source_macro_finds_a_local_lake_through_the_same_vars(tmp_path):
    """A data directory whose path holds a quote and braces: the macro's glob (from the vars)
    finds the partition, so the staging view reads the lake instead of an empty stand-in."""
    data = DataLayout(tmp_path / "it's {data}")
    PartitionStore(data.lake_dir).write("sleep", ACCOUNT, DAY, pl.DataFrame({"v": [1]}), ("v",))
    run_dbt("compile", "--select", "stg_sleep", vars_json=dbt_vars(data), target=tmp_path / "t")
    (compiled,) = (tmp_path / "t" / "compiled").rglob("stg_sleep.sql")
    glob = PartitionStore(data.lake_dir).dataset_glob("sleep")
    assert f"read_parquet({sql_string(glob)}, hive_partitioning = true)" in compiled.read_text()
