"""The warehouse (gold): a DuckDB file built only by dbt, from the lake's Parquet."""
