"""One `DataLayout`: the only place that spells a path of the data directory, and the hive
partition scheme (`account=`/`date=`) defined once, in `garmin_pipeline/layout.py`; what dbt
makes of it is `test_dbt_lake_location`.

The source scans read every string the library holds (docstrings included). Fast: no sync,
no dbt."""

import ast
import json
import re
from datetime import date
from glob import glob
from pathlib import Path

import fsspec
import polars as pl
import pytest

from garmin_pipeline import layout
from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.layout import (
    DataLayout,
    account_dir,
    folder_day,
    partition_days,
    partition_dir,
    partition_dirs,
    partition_glob,
)
from garmin_pipeline.storage import location
from garmin_pipeline.warehouse.dbt_project import DBT_PROJECT_DIR, dbt_vars
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.fast

LIBRARY = REPO_ROOT / "garmin_pipeline"
LAYOUT_MODULE = LIBRARY / "layout.py"
# What only the layout may spell: the hive keys as folder names (not `calendar_date=`), the
# part file, the lake's and raw's inner folders, and the data directory's own files.
SPELLINGS = re.compile(
    r"(?<![A-Za-z0-9_])(?:account|date)="
    r"|part-0\.parquet|lake_built|_exports|_built\b|_quarantine\b"
    r"|warehouse\.duckdb|report\.html|audit\.jsonl|run\.lock|warehouse_build\.json"
)
ACCOUNT = "alice"
DAY = date(2024, 6, 1)
BUCKET_PATH = "/layout-test"
BUCKET = f"memory://{BUCKET_PATH.lstrip('/')}"


def spellings(path: Path) -> list[str]:
    """Every string constant of a module (docstrings and f-string parts included) that
    spells a path or the partition scheme, as `line: match`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [f"{node.lineno}: {m.group()}" for m in SPELLINGS.finditer(node.value)]
    return found


# ------------------------------------------------------------------ 1. spelled in one place
def test_only_the_layout_spells_a_path_or_the_partition_scheme():
    elsewhere = {
        str(path.relative_to(REPO_ROOT)): hits
        for path in sorted(LIBRARY.rglob("*.py"))
        if path != LAYOUT_MODULE and (hits := spellings(path))
    }
    assert elsewhere == {}


def test_the_layout_defines_each_partition_key_once():
    """The `account=`/`date=` folder names have one definition each (outside the docstrings
    that draw the tree)."""
    tree = ast.parse(LAYOUT_MODULE.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    keys = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and re.fullmatch(r"(account|date)=", node.value)
    ]
    assert sorted(keys) == ["account=", "date="]


def test_the_dbt_project_spells_neither_the_scheme_nor_a_path():
    files = [
        *sorted((DBT_PROJECT_DIR / "models").rglob("*.sql")),
        *sorted((DBT_PROJECT_DIR / "macros").rglob("*.sql")),
        *sorted((DBT_PROJECT_DIR / "tests").rglob("*.sql")),
        DBT_PROJECT_DIR / "models" / "staging" / "_lake__sources.yml",
        DBT_PROJECT_DIR / "profiles.yml",
        DBT_PROJECT_DIR / "dbt_project.yml",
    ]
    found = {
        str(path.relative_to(REPO_ROOT)): SPELLINGS.findall(path.read_text(encoding="utf-8"))
        for path in files
    }
    assert len(files) > 50  # the staging models and macros were read
    assert {name: hits for name, hits in found.items() if hits} == {}


# ------------------------------------------------------------------ 2. the scheme, both ways
@pytest.fixture
def memory_bucket():
    """fsspec's in-process filesystem, emptied of the test's bucket afterwards."""
    fs = fsspec.filesystem("memory")
    yield fs
    if fs.exists(BUCKET_PATH):
        fs.rm(BUCKET_PATH, recursive=True)


@pytest.mark.parametrize("where", ["local", "memory"])
def test_paths_built_by_the_layout_are_read_back_by_it(where, tmp_path, memory_bucket):
    root = location(tmp_path / "lake" if where == "local" else f"{BUCKET}/lake")
    store = PartitionStore(root)
    frame = pl.DataFrame({"v": [1, 2]})
    for day in (DAY, date(2024, 6, 3)):
        assert store.write("sleep", ACCOUNT, day, frame, ("v",))
    store.write("sleep", "bob", date(2024, 5, 30), frame, ("v",))
    written = partition_dir(root, "sleep", ACCOUNT, DAY) / layout.PART_FILE
    assert written.exists()
    assert written.parts[-3:-1] == (f"account={ACCOUNT}", f"date={DAY}")  # the on-disk names
    assert partition_days(account_dir(root, "sleep", ACCOUNT)) == [DAY, date(2024, 6, 3)]
    assert partition_days(account_dir(root, "sleep", "nobody")) == []
    assert [day for day, _ in partition_dirs(root, "sleep")] == [
        date(2024, 5, 30),
        DAY,
        date(2024, 6, 3),
    ]
    pattern = partition_glob(root, "sleep", ACCOUNT)
    matched = memory_bucket.glob(pattern.path) if where == "memory" else glob(str(pattern))
    assert len(matched) == 2
    assert store.read("sleep", ACCOUNT)["date"].unique().sort().to_list() == [DAY, date(2024, 6, 3)]


def test_folder_day_reads_only_day_partitions():
    assert folder_day(f"date={DAY}") == DAY
    assert folder_day("date=2024-13-01") is None
    assert folder_day(f"account={ACCOUNT}") is None
    assert folder_day("_manifest.json") is None


# ------------------------------------------------------------------ 3. dbt gets it as a var
def test_dbt_vars_carry_a_uri_through_unchanged_and_a_local_lake_absolute(tmp_path, monkeypatch):
    uri = "s3://garmin-bucket/household's/lake"
    assert json.loads(dbt_vars(DataLayout(tmp_path, lake_uri=uri))) == {
        "lake_dir": uri,
        "lake_files": "*/*/part-0.parquet",
        "warehouse_path": str(tmp_path / "warehouse.duckdb"),
    }
    monkeypatch.chdir(tmp_path)
    local = json.loads(dbt_vars(DataLayout(Path("data"))))
    assert local["lake_dir"] == str(tmp_path / "data" / "lake")
    assert local["warehouse_path"] == str(tmp_path / "data" / "warehouse.duckdb")
