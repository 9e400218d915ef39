"""Deterministic, atomic Parquet partitions: `<root>/<dataset>/account=<a>/date=<YYYY-MM-DD>/`.

Same frame in, same bytes out: rows sorted by the dataset key, fixed writer settings, no
timestamps in file metadata. A partition whose bytes would not change is not rewritten at all,
so re-running a sync over unchanged days leaves the lake's bytes and mtimes alone. Partitions
are derived from raw, so they are written without an fsync each: the lake build flushes them
to disk once before its build state records them as built.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from garmin_pipeline.errors import UnsafeValueError
from garmin_pipeline.files import write_atomically

PART_FILE = "part-0.parquet"
_WRITER_OPTIONS = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "data_page_version": "2.0",
}


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(frame.to_arrow(), buffer, **_WRITER_OPTIONS)
    return buffer.getvalue()


def inside(root: Path, path: Path) -> Path:
    """`path`, if it resolves inside `root`; the stores' last line of defence against a value
    from the source (an id, a name, a date) that would name a file elsewhere."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise UnsafeValueError(
            f"refusing to write {path}: it resolves outside {root}; "
            "a value from the source is not a safe file name (it is quarantined, not stored)"
        )
    return path


class PartitionStore:
    """One hive-partitioned tree of Parquet files (the lake, or the quarantine beside it)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def partition_dir(self, dataset: str, account: str, day: date) -> Path:
        return inside(self.root, self.root / dataset / f"account={account}" / f"date={day}")

    def partition_file(self, dataset: str, account: str, day: date) -> Path:
        return self.partition_dir(dataset, account, day) / PART_FILE

    def write(
        self, dataset: str, account: str, day: date, frame: pl.DataFrame, sort_by: Sequence[str]
    ) -> bool:
        """Replace the partition with `frame`; zero rows too, so the schema is always known."""
        ordered = frame.sort(list(sort_by), nulls_last=True) if sort_by else frame
        return write_atomically(
            self.partition_file(dataset, account, day), parquet_bytes(ordered), durable=False
        )

    def remove(self, dataset: str, account: str, day: date) -> bool:
        directory = self.partition_dir(dataset, account, day)
        if not directory.exists():
            return False
        shutil.rmtree(directory)
        return True

    def read(self, dataset: str, account: str | None = None) -> pl.DataFrame:
        """All partitions of a dataset (hive columns `account` and `date` included)."""
        pattern = self.root / dataset / (f"account={account}" if account else "*") / "*" / PART_FILE
        return pl.read_parquet(str(pattern), hive_partitioning=True)

    def dataset_glob(self, dataset: str) -> str:
        return str(self.root / dataset / "*" / "*" / PART_FILE)
