"""Deterministic, atomic Parquet partitions: `<root>/<dataset>/account=<a>/date=<YYYY-MM-DD>/`.

Same frame in, same bytes out: rows sorted by the dataset key, fixed writer settings, no
timestamps in file metadata. A partition whose bytes would not change is not rewritten at all,
so re-running a sync over unchanged days leaves the lake's bytes and mtimes alone.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

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


def write_atomically(path: Path, payload: bytes) -> bool:
    """Write via a temp file and rename; return False (touching nothing) if the bytes are equal."""
    if path.exists() and path.stat().st_size == len(payload) and path.read_bytes() == payload:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


class PartitionStore:
    """One hive-partitioned tree of Parquet files (the lake, or the quarantine beside it)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def partition_dir(self, dataset: str, account: str, day: date) -> Path:
        return self.root / dataset / f"account={account}" / f"date={day.isoformat()}"

    def partition_file(self, dataset: str, account: str, day: date) -> Path:
        return self.partition_dir(dataset, account, day) / PART_FILE

    def write(
        self, dataset: str, account: str, day: date, frame: pl.DataFrame, sort_by: Sequence[str]
    ) -> bool:
        """Replace the partition with `frame`; zero rows too, so the schema is always known."""
        ordered = frame.sort(list(sort_by), nulls_last=True) if sort_by else frame
        return write_atomically(self.partition_file(dataset, account, day), parquet_bytes(ordered))

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
