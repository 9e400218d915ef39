"""Where the dbt project lives and how dbt is invoked, with no Dagster in sight."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from garmin_pipeline.errors import PipelineError
from garmin_pipeline.files import make_private_dir, write_atomically
from garmin_pipeline.layout import DataLayout, datasets_in, partition_dirs, partition_files
from garmin_pipeline.storage import StoragePath

# The repository's dbt/ in a checkout; a wheel ships it inside this package (setup.py).
CHECKOUT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt"
SHIPPED_PROJECT_DIR = Path(__file__).resolve().parent / "dbt"
DBT_PROJECT_DIR = (
    SHIPPED_PROJECT_DIR
    if (SHIPPED_PROJECT_DIR / "dbt_project.yml").is_file()
    else CHECKOUT_PROJECT_DIR
)
# The venv's own dbt, so nothing depends on the venv being activated (CI runs .venv/bin/python).
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")
# A checkout's manifest (`make install` parses it); see `project_target_dir`.
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
PARTIAL_PARSE = "partial_parse.msgpack"

# What a daily (incremental) build leaves out. Views are re-created only by a full build: they
# read the lake as it is whenever queried, so a new day needs no new view. Of the tests, it
# keeps the grains (unique and unique_combination: what an incremental build could break) and
# the singular cross-mart tests; the ~250 column and staging tests run on full builds, which
# every backfill, refetch and project change is.
VIEWS = "config.materialized:view"
VALUE_TESTS = (
    "test_name:not_null",
    "test_name:accepted_range",
    "test_name:accepted_values",
    "test_name:relationships",
)
DAILY_EXCLUDES = (VIEWS, *VALUE_TESTS)
# Model results that leave a mart short of what the lake holds.
_UNFINISHED = frozenset({"error", "skipped", "partial success"})


def project_target_dir(layout: DataLayout) -> Path:
    """Where `dbt parse` writes the manifest of the project as it is now (Dagster's definitions
    are built from it, and a daily build is compared with it). In a checkout, dbt/target: one
    parse (`make install`) serves every data dir. A shipped project is package data, where
    nothing is written: its manifest is parsed into the data directory."""
    if DBT_PROJECT_DIR != SHIPPED_PROJECT_DIR:
        return MANIFEST.parent
    return layout.dbt_manifest_dir


def dbt_vars(layout: DataLayout) -> str:
    """Where the lake and the warehouse are, for dbt: the one place that tells the dbt project,
    which has no default for them. `lake_dir` is the lake's location as it is, a local folder
    (made absolute: dbt runs in its project folder) or a filesystem URI alike; `lake_files` the
    glob of a dataset's partition files below its folder. The vars stay the same from run to
    run: a change of vars makes dbt parse the whole project again."""
    lake = layout.lake_dir
    return json.dumps(
        {
            "lake_dir": str(lake.absolute() if isinstance(lake, Path) else lake),
            "lake_files": partition_files(),
            "warehouse_path": str(layout.warehouse_path.absolute()),
        }
    )


def dbt_target_dir(layout: DataLayout) -> Path:
    """dbt's target dir for builds of this data dir, kept between runs: it holds the last
    run's manifest and results (which `build_args` reads) and dbt's partial-parse state, so
    a run re-parses only what changed (dagster-dbt would otherwise use a new dir per run)."""
    return layout.dbt_target_dir


def seed_partial_parse(layout: DataLayout) -> None:
    """Give a new target dir the project's partial-parse state, as dagster-dbt would: it copies
    it with `shutil.copy`, mode bits and all (the project's 0644), into the data dir; copied
    here first with `copyfile`, the file gets the umask's mode (owner-only) instead."""
    source = project_target_dir(layout) / PARTIAL_PARSE
    target = dbt_target_dir(layout) / PARTIAL_PARSE
    if source.exists() and not target.exists():
        make_private_dir(target.parent)
        shutil.copyfile(source, target)


def lookback_days(project_dir: Path = DBT_PROJECT_DIR) -> int:
    """The incremental window (dbt var `lookback_days`), as dbt_project.yml sets it."""
    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    return int(project["vars"]["lookback_days"])


def build_args(layout: DataLayout, synced: tuple[date, date] | None, today: date) -> list[str]:
    """The dbt command line (after `dbt`) for a pipeline run that synced `synced` (first and
    last day, or None when unknown) on `today`: the pipeline and the benchmark both run it.

    Incremental marts rebuild, on every run, each account's last `lookback_days` days (counted
    back from the last day they hold, capped at tomorrow; macros/lookback_window.sql). A
    daily build is therefore correct, equal to a full one, when everything the lake gained or
    changed since the last build lies in that window. So the build is incremental (plain
    `build`, leaving out what `DAILY_EXCLUDES` says) only if all of these hold:

    - the run synced a range whose first day is at most `lookback_days - 2` days before
      `today` (two days of margin: `today` and the warehouse's clock may be a day apart in
      time zone, and a window may be counted back from tomorrow);
    - the warehouse exists, and the previous build of this data dir finished with every
      model built (its results in `dbt_target_dir`; a failed or killed build may have left
      lake days unbuilt that are older than the window by now);
    - that build ran the dbt project as it is now (same models, macros and model configs,
      by the manifest's checksums): changed SQL must rebuild all history.

    Anything else (a backfill, a refetch reaching back, the first build, an unknown range,
    a project upgrade) is a `--full-refresh`. A lake dataset whose first partitions arrived
    in this sync also gets its staging view rebuilt (it was an empty stand-in before).
    `full_refresh_reason` says which rule applied."""
    target = dbt_target_dir(layout)
    args = [
        "build",
        "--vars",
        dbt_vars(layout),
        "--target-path",
        str(target),
        "--log-path",  # not the project folder: a wheel's is in site-packages
        str(target),
    ]
    if synced is None or full_refresh_reason(layout, synced, today) is not None:
        return [*args, "--full-refresh"]
    excludes = list(DAILY_EXCLUDES)
    built_at = _read_json(target / "manifest.json").get("metadata", {}).get("generated_at")
    new_views = {
        f"stg_{name}" for name in new_datasets(layout.lake_dir, synced, _timestamp(built_at))
    }
    if new_views:
        # Every view but the new datasets' (dbt can exclude, not except, and dagster-dbt only
        # passes on --exclude: the asset selects the whole project).
        project = _read_json(project_target_dir(layout) / "manifest.json")
        excludes = [*sorted(views_in(project) - new_views), *VALUE_TESTS]
    # One value, space-separated: dagster-dbt passes on only the first value of --exclude.
    return [*args, "--exclude", " ".join(excludes)]


def full_refresh_reason(
    layout: DataLayout, synced: tuple[date, date] | None, today: date
) -> str | None:
    """Why this run must rebuild everything (see `build_args`), or None if it need not."""
    reach = lookback_days() - 2
    if synced is None:
        return "the run does not say which days it synced"
    if synced[0] < today - timedelta(days=reach):
        return f"the sync reaches back to {synced[0]}, more than {reach} days before {today}"
    if not layout.warehouse_path.exists():
        return "there is no warehouse yet"
    unfinished = last_build_unfinished(layout)
    if unfinished is not None:
        return unfinished
    previous = _read_json(dbt_target_dir(layout) / "manifest.json")
    current = _read_json(project_target_dir(layout) / "manifest.json")
    if project_fingerprint(previous) != project_fingerprint(current):
        return "the dbt project changed since the last build"
    return None


def last_build_unfinished(layout: DataLayout) -> str | None:
    """Why the last dbt build of this data dir left models unbuilt (None: it built them all),
    from the manifest and results it left in `dbt_target_dir`: dbt writes the manifest as it
    starts and the results as it ends, so a killed build leaves them from two invocations."""
    target = dbt_target_dir(layout)
    previous = _read_json(target / "manifest.json")
    results = _read_json(target / "run_results.json")
    if not previous or not results:
        return "no earlier build of this data dir is on record"
    invocation = results.get("metadata", {}).get("invocation_id")
    if invocation != previous.get("metadata", {}).get("invocation_id"):
        return "the last build did not finish"
    unfinished = [
        r["unique_id"]
        for r in results.get("results", [])
        if r["unique_id"].startswith("model.") and r.get("status") in _UNFINISHED
    ]
    if unfinished:
        return f"the last build did not build {len(unfinished)} model(s), e.g. {unfinished[0]}"
    return None


class WarehouseBuildError(PipelineError):
    """dbt could not build the warehouse; the message names what and why, in one line."""


# Statuses of a node that failed the build (a test that only warned did not).
_FAILED = frozenset({"error", "fail", "runtime error"})
_REASON_CHARS = 300
_HEADINGS = ("Runtime Error in ", "Database Error in ", "Compilation Error in ")


def build_failure(layout: DataLayout) -> str:
    """What the failed dbt build of this data dir could not build and the first reason dbt
    gave, in one line (dbt's own text spans lines, the last of them a `^` under the SQL)."""
    target = dbt_target_dir(layout)
    log = f"the full log: {target / 'dbt.log'}"
    results = _read_json(target / "run_results.json")
    manifest = _read_json(target / "manifest.json")
    invocation = results.get("metadata", {}).get("invocation_id")
    if not results or invocation != manifest.get("metadata", {}).get("invocation_id"):
        return f"dbt stopped before it built anything; {log}"
    failed = [r for r in results.get("results", []) if r.get("status") in _FAILED]
    if not failed:
        return f"dbt failed; {log}"
    models = sum(r["unique_id"].startswith("model.") for r in failed)
    counted = ", ".join(
        f"{count} {noun}{'s' if count > 1 else ''}"
        for count, noun in ((models, "model"), (len(failed) - models, "test"))
        if count
    )
    first = failed[0]
    name = first["unique_id"].split(".")[-1]
    return f"dbt failed on {counted}, e.g. {name}: {_reason(first)}; {log}"


def _reason(result: dict[str, Any]) -> str:
    """The line of a dbt result's message that says why, e.g. `Parser Error: ...`, not the
    `Runtime Error in model x (path)` heading above it nor the SQL excerpt below it."""
    for line in str(result.get("message") or "").splitlines():
        line = line.strip()
        if line and not line.startswith(_HEADINGS):
            return line[:_REASON_CHARS] + ("..." if len(line) > _REASON_CHARS else "")
    return str(result.get("status") or "failed")


def build_marker_path(layout: DataLayout) -> Path:
    """Present while a build is running or after one that did not build every model: the
    warehouse may then miss marts, or hold them from before (`status` says so)."""
    return layout.warehouse_build_marker


def mark_build_started(layout: DataLayout, run_id: str) -> None:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    marker = json.dumps({"started": started, "run_id": run_id}).encode("utf-8")
    write_atomically(build_marker_path(layout), marker)


def mark_build_ended(layout: DataLayout) -> bool:
    """Clear the marker if the build that just ended built every model; True if it did."""
    if last_build_unfinished(layout) is not None:
        return False
    build_marker_path(layout).unlink(missing_ok=True)
    return True


def unfinished_build_started(layout: DataLayout) -> datetime | None:
    """When the warehouse build that did not finish started (None: the last one finished)."""
    marker = _read_json(build_marker_path(layout))
    if not build_marker_path(layout).exists():
        return None
    try:
        return datetime.fromisoformat(marker["started"])
    except (KeyError, TypeError, ValueError):
        return datetime.fromtimestamp(build_marker_path(layout).stat().st_mtime, UTC)


def project_fingerprint(manifest: dict[str, Any]) -> str:
    """A digest of what decides the marts' contents: every model's SQL and config, and every
    macro of the project (dbt's own checksums). Tests, docs and analyses leave it alone."""
    nodes = {
        key: [node["checksum"]["checksum"], node.get("config", {})]
        for key, node in manifest.get("nodes", {}).items()
        if node.get("resource_type") in ("model", "seed", "snapshot")
    }
    macros = {
        key: macro["macro_sql"]
        for key, macro in manifest.get("macros", {}).items()
        if macro.get("package_name") == manifest.get("metadata", {}).get("project_name")
    }
    text = json.dumps([nodes, macros], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def views_in(manifest: dict[str, Any]) -> set[str]:
    """Names of the project's models materialized as views."""
    return {
        node["name"]
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "model"
        and node.get("config", {}).get("materialized") == "view"
    }


def new_datasets(lake: StoragePath, synced: tuple[date, date], built_at: float | None) -> list[str]:
    """Lake datasets that got their first partitions since the last build (which started at
    `built_at`, a POSIX time): none older than the synced range, none written before. Their
    staging view was built over no files, as an empty stand-in (macros/lake_source.sql)."""
    found = []
    for dataset in datasets_in(lake):
        days = partition_dirs(lake, dataset.name)
        if not days or days[0][0] < synced[0]:
            continue
        files = [f for _, d in days for f in d.glob("*.parquet")]
        if built_at is None or all(f.stat().st_mtime > built_at for f in files):
            found.append(dataset.name)
    return found


def _timestamp(iso: str | None) -> float | None:
    """POSIX time of an ISO timestamp as dbt writes them (UTC, e.g. 2025-01-31T06:30:00.1Z)."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00")) if iso else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() if moment else None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def manifest_is_stale(manifest: Path, project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """True when the manifest is missing or older than any model, macro, test or project file:
    a manifest that lags the models makes dagster-dbt fail on the first model it does not know."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [project_dir / "dbt_project.yml"]
    for folder in ("models", "macros", "tests", "analyses"):
        sources += (project_dir / folder).rglob("*.*")
    return any(path.stat().st_mtime > built for path in sources if path.is_file())


def parse_manifest(manifest: Path = MANIFEST) -> None:
    """`dbt parse` with the venv's dbt (what `make install` runs), into `manifest`.

    dbt writes the manifest in place; it parses into a scratch target here and the manifest is
    then swapped in atomically, so a process killed mid-parse cannot leave a truncated manifest
    whose fresh mtime would hide it from `manifest_is_stale`. dbt's log goes there too: the
    project folder may be read-only package data."""
    make_private_dir(manifest.parent)
    with tempfile.TemporaryDirectory(prefix=".parse-", dir=manifest.parent) as scratch:
        subprocess.run(
            [
                str(DBT_EXECUTABLE),
                "parse",
                "--quiet",
                "--profiles-dir",
                ".",
                "--target-path",
                scratch,
                "--log-path",
                scratch,
            ],
            cwd=DBT_PROJECT_DIR,
            check=True,
        )
        write_atomically(manifest, (Path(scratch) / "manifest.json").read_bytes())
    os.utime(manifest)  # fresh even when the bytes were equal and left untouched


def main() -> None:
    """Print the dbt vars of the environment's data directory, for running dbt by hand:
    `cd dbt && dbt docs generate --vars "$(python -m garmin_pipeline.warehouse.dbt_project)"`."""
    from garmin_pipeline.settings import Settings

    print(dbt_vars(Settings.from_env().layout))


if __name__ == "__main__":
    main()
