"""Render dbt's staging layer from the catalog: one view per lake dataset, and its tests.

Every staging model is the same few lines (read the dataset through the `lake_source` macro,
turn the hive partition column into the row's day), and its grain and range tests restate what
the catalog declares (the dataset's key, its measurements' plausible ranges), so both are
generated here rather than written 49 times by hand. What the catalog cannot say is kept by hand
in this module, each with the reason: `HAND_WRITTEN_MODELS`, `HAND_WRITTEN_TESTS`,
`GRAIN_ACROSS_DAYS` and `RANGE_TESTED`.

`make dbt-staging` writes `dbt/models/staging/` (the lake sources, `stg_<dataset>.sql` and
`_stg__models.yml`); a test fails if the committed files differ from a fresh render.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from garmin_pipeline.catalog import FEEDS
from garmin_pipeline.feeds import Dataset, Feed
from garmin_pipeline.lake.schema import Plausible
from garmin_pipeline.warehouse.dbt_project import DBT_PROJECT_DIR
from garmin_pipeline.warehouse.sources import HEADER as SOURCES_HEADER
from garmin_pipeline.warehouse.sources import SOURCES_FILE, render_sources
from garmin_pipeline.warehouse.sources import _describe as describe_column

STAGING_DIR = DBT_PROJECT_DIR / "models" / "staging"
MODELS_FILE = "_stg__models.yml"
COMMAND = "make dbt-staging"
SQL_HEADER = f"-- Generated from garmin_pipeline/catalog.py by `{COMMAND}`; do not edit.\n"
YAML_HEADER = f"# Generated from garmin_pipeline/catalog.py by `{COMMAND}`; do not edit.\n"

# Staging models whose SQL does more than the templates below, written by hand: the generator
# never writes (nor deletes) their `.sql`, and still generates their tests. {model: why}
HAND_WRITTEN_MODELS: dict[str, str] = {}

# The grain tests: the account, a snapshot's day, then the dataset's key. The catalog's key is
# unique within a day's partition; where it is not also unique across days, the day joins it.
GRAIN_ACROSS_DAYS: dict[str, tuple[str, ...]] = {
    # assessment_index numbers the night's scores within its day's file.
    "sleep_assessment": ("calendar_date", "assessment_index"),
}

# The measurements staging tests against their catalog range (the lake has already nulled what
# lies outside it, so a failure means a lake built by older code): the headline figures the
# marts read, and every measurement of the two profile snapshots (one row per sync, so cheap).
ALL_MEASUREMENTS = ("*",)
RANGE_TESTED: dict[str, tuple[str, ...]] = {
    "daily_summary": ("total_steps",),
    "daily_steps": ("total_steps",),
    "resting_heart_rate": ("resting_heart_rate_bpm",),
    "body_battery": ("body_battery_level",),
    "training_readiness": ("score",),
    "max_metrics": ("vo2max_running_ml_kg_min",),
    "profile": ALL_MEASUREMENTS,
    "heart_rate_zones": ALL_MEASUREMENTS,
    "heart_rate": ("heart_rate_bpm",),
    "stress": ("stress_level",),
}

WARN: dict[str, Any] = {"config": {"severity": "warn"}}
NOT_NULL_WARN = {"not_null": WARN}


def _accepted_values(*values: object, quote: bool = True, warn: bool = True) -> dict[str, Any]:
    arguments: dict[str, Any] = {"values": list(values)} | ({} if quote else {"quote": False})
    return {"accepted_values": {"arguments": arguments} | (WARN if warn else {})}


def _range(min_value: object, max_value: object) -> dict[str, Any]:
    return {"accepted_range": {"arguments": {"min_value": min_value, "max_value": max_value}}}


# Column tests the catalog cannot express, by model and column. An `accepted_range` here
# replaces the catalog's range for that column (it compares with another column).
HAND_WRITTEN_TESTS: dict[str, dict[str, list[Any]]] = {
    # A reading without its value is a row the lake kept but the marts cannot use.
    "stg_heart_rate": {"heart_rate_bpm": [NOT_NULL_WARN]},
    "stg_resting_heart_rate": {"resting_heart_rate_bpm": [NOT_NULL_WARN]},
    "stg_weigh_ins": {"weight_kg": [NOT_NULL_WARN]},
    "stg_body_battery": {"body_battery_level": [NOT_NULL_WARN]},
    "stg_stress": {"stress_level": [NOT_NULL_WARN]},
    # The marts count the night's intervals per stage by these names.
    "stg_sleep_stages": {
        "stage": [NOT_NULL_WARN, _accepted_values("deep", "light", "rem", "awake")]
    },
    # The identifiers the marts join on.
    "stg_activities": {"activity_id": ["not_null"]},
    "stg_devices": {"device_id": ["not_null"]},
    "stg_gear": {"gear_uuid": ["not_null"]},
    # The profile snapshots: enumerations, and bounds set by another column.
    "stg_profile": {
        "account": ["not_null"],
        "snapshot_date": ["not_null"],
        "time_zone": [NOT_NULL_WARN],
        "gender": [_accepted_values("MALE", "FEMALE")],
        "birth_date": [_range("'1900-01-01'::date", "snapshot_date")],
        "measurement_system": [_accepted_values("metric", "statute_us", "statute_uk")],
        "vigorous_intensity_hr_zone": [_range("moderate_intensity_hr_zone", 5)],
    },
    "stg_heart_rate_zones": {
        "account": ["not_null"],
        "snapshot_date": ["not_null"],
        "sport": ["not_null"],
        "training_method": [_accepted_values("HR_MAX", "HR_RESERVE", "LACTATE_THRESHOLD")],
        # Each zone starts above the one below it; zone 5 runs up to the maximum.
        "zone2_floor_bpm": [_range("zone1_floor_bpm + 1", 250)],
        "zone3_floor_bpm": [_range("zone2_floor_bpm + 1", 250)],
        "zone4_floor_bpm": [_range("zone3_floor_bpm + 1", 250)],
        "zone5_floor_bpm": [_range("zone4_floor_bpm + 1", "max_heart_rate_bpm")],
        "resting_hr_auto_update": [_accepted_values(True, False, quote=False, warn=False)],
    },
}

# The three ways a dataset's hive column `date` reaches its staging view.
_SOURCE = """\
with source as (

    select * from {{{{ lake_source('{name}') }}}}

)

"""
DAILY_SQL = (
    _SOURCE
    + """\
-- calendar_date is read from the hive column `date` (the lake files each row under its
-- calendar date), so a filter on it skips whole partitions instead of opening every file.
select account, "date" as calendar_date, * exclude (account, "date", calendar_date)
from source
"""
)
ACTIVITY_SQL = (
    _SOURCE
    + """\
-- The hive column `date` is the activity's local start date.
select account, "date" as activity_date, * exclude (account, "date")
from source
"""
)
SNAPSHOT_SQL = (
    _SOURCE
    + """\
-- A snapshot is kept on the last day of the sync that read it; the hive column `date`
-- repeats snapshot_date, so it is dropped here.
select account, * exclude (account, "date")
from source
"""
)
ACCOUNT = "The account the row belongs to (the lake's account partition)."
ACTIVITY_DATE = "The activity's local start date (the lake's date partition)."


def model_name(dataset: Dataset) -> str:
    return f"stg_{dataset.name}"


def _template(feed: Feed, dataset: Dataset) -> str:
    columns = {c.name for c in dataset.columns}
    if feed.snapshot:
        return SNAPSHOT_SQL
    if "calendar_date" in columns:
        return DAILY_SQL
    if feed.entity == "activity_id":
        return ACTIVITY_SQL
    raise ValueError(
        f"{dataset.name}: no staging template fits (not a snapshot, no calendar_date, not an "
        "activity table); write its model by hand and name it in HAND_WRITTEN_MODELS"
    )


def render_model(feed: Feed, dataset: Dataset) -> str:
    return SQL_HEADER + _template(feed, dataset).format(name=dataset.name)


def _number(value: float) -> float | int:
    """A bound as the YAML writes it: 200000, not 200000.0 (dbt names the test after it)."""
    return int(value) if float(value).is_integer() else value


def _range_test(plausible: Plausible) -> dict[str, Any]:
    return _range(_number(plausible.low), _number(plausible.high))


def grain(feed: Feed, dataset: Dataset) -> list[str]:
    key = GRAIN_ACROSS_DAYS.get(dataset.name, dataset.key)
    day = ("snapshot_date",) if feed.snapshot and "snapshot_date" not in key else ()
    return ["account", *day, *key]


def _grain_test(feed: Feed, dataset: Dataset) -> dict[str, Any]:
    # The lake holds a key once per day's partition, so a grain broken across days warns; a
    # dataset keyed by its feed's entity alone (an activity) holds each one once, or errors.
    across_lake = feed.entity is not None and dataset.key == (feed.entity,)
    test: dict[str, Any] = {"arguments": {"columns": grain(feed, dataset)}}
    return {"unique_combination": test if across_lake else {**test, **WARN}}


def _range_tested(dataset: Dataset) -> tuple[str, ...]:
    named = RANGE_TESTED.get(dataset.name, ())
    if named == ALL_MEASUREMENTS:
        return tuple(dataset.plausible)
    unknown = [c for c in named if c not in dataset.plausible]
    if unknown:
        raise ValueError(f"{dataset.name}: no plausible range declared for {unknown}")
    return named


def _columns(feed: Feed, dataset: Dataset) -> Iterator[tuple[str, str]]:
    """(name, description) of the staging view's columns, in its order."""
    yield "account", ACCOUNT
    described = {c.name: describe_column(c.description, c.unit) for c in dataset.columns}
    template = _template(feed, dataset)
    if template is DAILY_SQL:
        yield "calendar_date", described.pop("calendar_date")
    elif template is ACTIVITY_SQL:
        yield "activity_date", ACTIVITY_DATE
    yield from described.items()


def model_entry(
    feed: Feed, dataset: Dataset, hand_written: Mapping[str, Mapping[str, list[Any]]]
) -> dict[str, Any]:
    name = model_name(dataset)
    extra = hand_written.get(name, {})
    ranged = _range_tested(dataset)
    known = [column for column, _ in _columns(feed, dataset)]
    unknown = sorted(set(extra) - set(known))
    if unknown:
        raise ValueError(f"{name}: hand-written tests for columns it does not have: {unknown}")
    columns = []
    for column, description in _columns(feed, dataset):
        tests = list(extra.get(column, []))
        replaced = any(isinstance(t, dict) and "accepted_range" in t for t in tests)
        if column in ranged and not replaced:
            tests.append(_range_test(dataset.plausible[column]))
        entry: dict[str, Any] = {"name": column, "description": description}
        if tests:
            entry["data_tests"] = tests
        columns.append(entry)
    return {
        "name": name,
        "description": dataset.description,
        "data_tests": [_grain_test(feed, dataset)],
        "columns": columns,
    }


class _Dumper(yaml.SafeDumper):
    """Writes a test config shared by several tests out in full, not as a YAML alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_models_yaml(
    hand_written: Mapping[str, Mapping[str, list[Any]]] = HAND_WRITTEN_TESTS,
) -> str:
    models = [model_entry(f, d, hand_written) for f in FEEDS for d in f.datasets]
    unknown = sorted(set(hand_written) - {m["name"] for m in models})
    if unknown:
        raise ValueError(f"hand-written tests for models the catalog does not have: {unknown}")
    document = {"version": 2, "models": models}
    text = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        width=100,
        allow_unicode=True,
        default_flow_style=None,
    )
    return YAML_HEADER + text


def render_staging(
    hand_written_models: Mapping[str, str] = HAND_WRITTEN_MODELS,
) -> dict[str, str]:
    """{file name in the staging dir: content} of every generated file."""
    files = {SOURCES_FILE.name: render_sources(), MODELS_FILE: render_models_yaml()}
    for feed in FEEDS:
        for dataset in feed.datasets:
            name = model_name(dataset)
            if name not in hand_written_models:
                files[f"{name}.sql"] = render_model(feed, dataset)
    return dict(sorted(files.items()))


def is_generated(path: Path) -> bool:
    with path.open(encoding="utf-8") as file:
        return file.readline() in (SQL_HEADER, YAML_HEADER, SOURCES_HEADER)


def write_staging(
    directory: Path = STAGING_DIR, hand_written_models: Mapping[str, str] = HAND_WRITTEN_MODELS
) -> list[Path]:
    """Write the generated files, and delete generated ones the catalog no longer renders (a
    dataset removed). A file without the generated header is never overwritten."""
    files = render_staging(hand_written_models)
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.iterdir():
        if path.name not in files and path.suffix in (".sql", ".yml") and is_generated(path):
            path.unlink()
    written = []
    for name, content in files.items():
        path = directory / name
        if path.exists() and not is_generated(path):
            raise FileExistsError(
                f"{path} is written by hand: name it in HAND_WRITTEN_MODELS, or delete it"
            )
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    print(f"wrote {len(write_staging())} files in {STAGING_DIR}")
