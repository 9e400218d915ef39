"""Where the dbt project lives and how dbt is invoked, with no Dagster in sight."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt"
# The venv's own dbt, so nothing depends on the venv being activated (CI runs .venv/bin/python).
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")


def dbt_vars(data_dir: Path) -> str:
    """dbt runs with cwd=dbt/, so the data directory is always passed absolute."""
    return json.dumps({"data_dir": str(Path(data_dir).absolute())})
