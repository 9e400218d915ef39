"""The data dictionary is generated, complete, and true to the warehouse dbt builds."""

import duckdb
import pytest

from garmin_pipeline.catalog import DATASETS
from garmin_pipeline.warehouse.dictionary import (
    DICTIONARY_FILE,
    MARTS_DIR,
    load_marts,
    render_dictionary,
)

MARTS = load_marts()


@pytest.mark.fast
def test_committed_data_dictionary_matches_a_fresh_render():
    assert DICTIONARY_FILE.read_text(encoding="utf-8") == render_dictionary(), (
        "docs/data-dictionary.md is stale: run `make dictionary`"
    )


@pytest.mark.fast
@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: d.name)
def test_every_lake_column_has_a_description(dataset):
    assert dataset.description.strip()
    undescribed = [c.name for c in dataset.columns if not c.description.strip()]
    assert not undescribed, f"{dataset.name}: columns without a description: {undescribed}"


@pytest.mark.fast
def test_every_mart_model_is_described_in_yaml():
    models = {p.stem for p in MARTS_DIR.glob("*.sql")}
    assert models == {m.name for m in MARTS}


@pytest.mark.fast
@pytest.mark.parametrize("mart", MARTS, ids=lambda m: m.name)
def test_every_mart_column_has_a_description_and_a_type(mart):
    assert mart.description.strip()
    assert mart.key, f"{mart.name}: no key test (unique or unique_combination)"
    names = [c.name for c in mart.columns]
    assert len(names) == len(set(names)), f"{mart.name}: a column is declared twice"
    undescribed = [c.name for c in mart.columns if not c.description.strip()]
    assert not undescribed, f"{mart.name}: columns without a description: {undescribed}"
    untyped = [c.name for c in mart.columns if not c.data_type.strip()]
    assert not untyped, f"{mart.name}: columns without a data_type: {untyped}"


def test_the_warehouse_has_exactly_the_columns_and_types_the_dictionary_lists(synced):
    """Every mart column the sync built is in the YAML, in order, with its DuckDB type."""
    with duckdb.connect(str(synced.data_dir / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select table_name, column_name, lower(data_type) from information_schema.columns "
            "order by table_name, ordinal_position"
        ).fetchall()
    built: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        built.setdefault(table, []).append((column, data_type))
    for mart in MARTS:
        declared = [(c.name, c.data_type.lower()) for c in mart.columns]
        assert built.get(mart.name) == declared, mart.name
