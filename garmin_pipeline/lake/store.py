"""Deterministic, atomic Parquet partitions, one per dataset, account and day (`layout`).

Same frame in, same bytes out: rows sorted by the dataset key, fixed writer settings, no
timestamps in file metadata. A partition whose bytes would not change is not rewritten at all,
so re-running a sync over unchanged days leaves the lake's bytes and mtimes alone. Partitions
are derived from raw, so they are written without an fsync each: the lake build flushes them
to disk once before its build state records them as built. The root may be a filesystem URI
(`storage`), where each partition is one object put.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
from pyarrow.fs import FSSpecHandler, PyFileSystem
from upath import UPath

from garmin_pipeline.layout import HIVE_KEYS, PART_FILE, partition_dir, partition_glob
from garmin_pipeline.storage import (
    StoragePath,
    StorageRoot,
    inside,
    location,
    remove_tree,
    write_atomically,
)

# The hive keys in every partition's path, typed for reading a non-local tree.
_ACCOUNT_KEY, _DAY_KEY = HIVE_KEYS
_HIVE_SCHEMA = pa.schema([(_ACCOUNT_KEY, pa.string()), (_DAY_KEY, pa.date32())])


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    """The frame as Parquet, the same bytes every time for the same frame (and polars).

    polars' own writer: a lake partition is a small file, and for those it costs half of
    pyarrow's (whose per-column set-up dominates a day's few rows), on 80,000 files in five
    years. A frame without rows is written once per schema (a day without activities writes
    one per activity dataset)."""
    if frame.is_empty():
        return _empty_parquet(tuple(frame.schema.items()))
    return _parquet(frame)


@functools.cache
def _empty_parquet(schema: tuple[tuple[str, pl.DataType], ...]) -> bytes:
    return _parquet(pl.DataFrame(schema=dict(schema)))


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", compression_level=3, statistics=True)
    return buffer.getvalue()


class PartitionStore:
    """One hive-partitioned tree of Parquet files (the lake, or the quarantine beside it);
    `root` is a local folder or a filesystem URI (`storage.location`)."""

    def __init__(self, root: StorageRoot) -> None:
        self.root = location(root)

    def partition_dir(self, dataset: str, account: str, day: date) -> StoragePath:
        return inside(self.root, partition_dir(self.root, dataset, account, day))

    def partition_file(self, dataset: str, account: str, day: date) -> StoragePath:
        return self.partition_dir(dataset, account, day) / PART_FILE

    def write(
        self, dataset: str, account: str, day: date, frame: pl.DataFrame, sort_by: Sequence[str]
    ) -> bool:
        """Replace the partition with `frame`; zero rows too, so the schema is always known."""
        ordered = frame.sort(list(sort_by), nulls_last=True) if sort_by and frame.height else frame
        return write_atomically(
            self.partition_file(dataset, account, day), parquet_bytes(ordered), durable=False
        )

    def remove(self, dataset: str, account: str, day: date) -> bool:
        """Delete the partition; False if there was none. A build clears the quarantine of
        every clean day, so the common case (nothing there) costs one stat."""
        if not partition_dir(self.root, dataset, account, day).exists():
            return False
        return remove_tree(self.partition_dir(dataset, account, day))

    def read(self, dataset: str, account: str | None = None) -> pl.DataFrame:
        """All partitions of a dataset (hive columns `account` and `date` included)."""
        pattern = partition_glob(self.root, dataset, account)
        if isinstance(pattern, Path):
            return pl.read_parquet(str(pattern), hive_partitioning=True)
        base = self.root / dataset
        assert isinstance(base, UPath)  # the pattern is remote, and so is the root it is under
        return _read_hive(base, pattern)

    def dataset_glob(self, dataset: str) -> str:
        return str(partition_glob(self.root, dataset))


def _read_hive(base: UPath, pattern: UPath) -> pl.DataFrame:
    """`pattern`'s files under the hive tree at `base`, read through pyarrow on the URI's
    fsspec filesystem (polars reads only local files and the clouds it has built in)."""
    found = sorted(base.fs.glob(pattern.path))
    if not found:
        raise FileNotFoundError(f"no partition matches {pattern}")
    dataset = ds.dataset(
        found,
        filesystem=PyFileSystem(FSSpecHandler(base.fs)),
        format="parquet",
        partitioning=ds.partitioning(_HIVE_SCHEMA, flavor="hive"),
        partition_base_dir=base.path,
    )
    return pl.DataFrame(dataset.to_table())
