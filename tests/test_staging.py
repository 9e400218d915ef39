"""dbt's staging layer is generated from the catalog, and the committed files are that render."""

from pathlib import Path

import pytest
import yaml

from garmin_pipeline.catalog import DATASETS
from garmin_pipeline.warehouse.staging import (
    COMMAND,
    HAND_WRITTEN_MODELS,
    MODELS_FILE,
    STAGING_DIR,
    render_models_yaml,
    write_staging,
)

pytestmark = pytest.mark.fast


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def test_committed_staging_layer_is_the_catalogs_render(tmp_path):
    write_staging(tmp_path)
    generated = _files(tmp_path)
    committed = _files(STAGING_DIR)
    hand_written = {f"{name}.sql" for name in HAND_WRITTEN_MODELS}
    stale = sorted(n for n in generated if committed.get(n) != generated[n])
    stray = sorted(set(committed) - set(generated) - hand_written)
    assert not stale and not stray, (
        f"dbt staging layer is stale (differs: {stale}; neither generated nor named in "
        f"HAND_WRITTEN_MODELS: {stray}): run `{COMMAND}`"
    )


def test_a_regeneration_is_byte_identical(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    write_staging(first)
    write_staging(second)
    assert _files(first) == _files(second)
    assert len([n for n in _files(first) if n.startswith("stg_")]) == len(DATASETS)


def _models() -> dict[str, dict]:
    return {m["name"]: m for m in yaml.safe_load(render_models_yaml())["models"]}


def test_grain_and_range_tests_come_from_the_catalog():
    models = _models()
    # account, a snapshot's day, then the catalog key; an activity is once in the whole lake
    assert models["stg_devices"]["data_tests"] == [
        {
            "unique_combination": {
                "arguments": {"columns": ["account", "snapshot_date", "device_id"]},
                "config": {"severity": "warn"},
            }
        }
    ]
    assert models["stg_activities"]["data_tests"] == [
        {"unique_combination": {"arguments": {"columns": ["account", "activity_id"]}}}
    ]
    steps = next(c for c in models["stg_daily_steps"]["columns"] if c["name"] == "total_steps")
    assert steps["data_tests"] == [
        {"accepted_range": {"arguments": {"min_value": 0, "max_value": 200000}}}
    ]
    # a hand-written bound from another column replaces the catalog's 20..250
    zone5 = next(
        c for c in models["stg_heart_rate_zones"]["columns"] if c["name"] == "zone5_floor_bpm"
    )
    assert zone5["data_tests"] == [
        {
            "accepted_range": {
                "arguments": {"min_value": "zone4_floor_bpm + 1", "max_value": "max_heart_rate_bpm"}
            }
        }
    ]


def test_staging_columns_are_the_views_columns():
    models = _models()
    names = [c["name"] for c in models["stg_activity_laps"]["columns"]]
    assert names[:4] == ["account", "activity_date", "activity_id", "lap_index"]
    names = [c["name"] for c in models["stg_sleep"]["columns"]]
    assert names[:3] == ["account", "calendar_date", "sleep_start"]
    assert names.count("calendar_date") == 1
    assert [c["name"] for c in models["stg_gear"]["columns"]][:2] == ["account", "snapshot_date"]


def test_a_hand_written_model_is_never_overwritten(tmp_path):
    hand_written = tmp_path / "stg_sleep.sql"
    hand_written.write_text("select 1 as kept\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match="HAND_WRITTEN_MODELS"):
        write_staging(tmp_path)
    assert hand_written.read_text(encoding="utf-8") == "select 1 as kept\n"

    write_staging(tmp_path, hand_written_models={"stg_sleep": "joins the night's stages"})
    assert hand_written.read_text(encoding="utf-8") == "select 1 as kept\n"
    assert (tmp_path / "stg_hrv.sql").read_text(encoding="utf-8").startswith("-- Generated")
    assert "name: stg_sleep\n" in (tmp_path / MODELS_FILE).read_text(encoding="utf-8")


def test_a_generated_model_the_catalog_dropped_is_deleted(tmp_path):
    write_staging(tmp_path)
    dropped = tmp_path / "stg_dropped.sql"
    dropped.write_bytes((tmp_path / "stg_hrv.sql").read_bytes())
    kept = tmp_path / "stg_by_hand.sql"
    kept.write_text("select 1\n", encoding="utf-8")
    write_staging(tmp_path)
    assert not dropped.exists() and kept.exists()
