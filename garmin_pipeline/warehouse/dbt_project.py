"""Where the dbt project lives and how dbt is invoked, with no Dagster in sight."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from garmin_pipeline.files import write_atomically

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt"
# The venv's own dbt, so nothing depends on the venv being activated (CI runs .venv/bin/python).
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")


def dbt_vars(data_dir: Path) -> str:
    """dbt runs with cwd=dbt/, so the data directory is always passed absolute."""
    return json.dumps({"data_dir": str(Path(data_dir).absolute())})


def manifest_is_stale(manifest: Path, project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """True when the manifest is missing or older than any model, macro, test or project file:
    a manifest that lags the models makes dagster-dbt fail on the first model it does not know."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [project_dir / "dbt_project.yml"]
    for folder in ("models", "macros", "tests"):
        sources += (project_dir / folder).rglob("*.*")
    return any(path.stat().st_mtime > built for path in sources if path.is_file())


def parse_manifest() -> None:
    """`dbt parse` with the venv's dbt (what `make install` runs), into target/manifest.json.

    dbt writes the manifest in place; it parses into a scratch target here and the manifest is
    then swapped in atomically, so a process killed mid-parse cannot leave a truncated manifest
    whose fresh mtime would hide it from `manifest_is_stale`."""
    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    with tempfile.TemporaryDirectory(prefix=".parse-", dir=DBT_PROJECT_DIR) as scratch:
        subprocess.run(
            [
                str(DBT_EXECUTABLE),
                "parse",
                "--quiet",
                "--profiles-dir",
                ".",
                "--target-path",
                scratch,
            ],
            cwd=DBT_PROJECT_DIR,
            check=True,
        )
        write_atomically(manifest, (Path(scratch) / "manifest.json").read_bytes())
    os.utime(manifest)  # fresh even when the bytes were equal and left untouched
