"""The lake (silver): validated, deterministic, hive-partitioned Parquet, a directory a dataset."""
