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

from garmin_pipeline.errors import UnsafeValueError

PART_FILE = "part-0.parquet"
TEMP_SUFFIX = ".tmp"  # with a leading "." on the name: a half-written file (write_atomically)
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


def write_atomically(path: Path, payload: bytes) -> bool:
    """Write via a temp file and rename; return False (touching nothing) if the bytes are equal.

    Readers see the old file or the new one, never a part: the bytes go to a hidden temp file
    (`.<name>.<pid>.<random>.tmp`, which no reader's glob matches), are fsynced, then renamed
    over `path`, and the directory is fsynced so the rename survives a power cut. A writer
    killed mid-way leaves only its temp file, which `remove_stale_temp_files` sweeps once the
    pid in its name is gone.
    """
    if path.exists() and path.stat().st_size == len(payload) and path.read_bytes() == payload:
        return False
    _make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return True


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(directory: Path) -> None:
    """mkdir -p, fsyncing each parent that gains an entry (a new partition's folders too)."""
    if directory.is_dir():
        return
    _make_dirs(directory.parent)
    try:
        directory.mkdir()
    except FileExistsError:
        return
    _fsync_dir(directory.parent)


def process_alive(pid: int) -> bool:
    """Whether `pid` is a running process on this host (a zombie, killed but not yet reaped
    by its parent, counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: alive
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): kill(0) is all there is
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def remove_stale_temp_files(root: Path) -> list[Path]:
    """Delete the temp files `write_atomically` left behind when its process was killed.

    Only files whose writer (the pid in the name) is gone: a live writer's temp file, in a run
    going on next to this one, is left alone. Returns what was deleted.
    """
    removed = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
                continue
            pid = _writer_pid(name)
            if pid is not None and not process_alive(pid):
                (Path(folder) / name).unlink(missing_ok=True)
                removed.append(Path(folder) / name)
    return removed


def _writer_pid(temp_name: str) -> int | None:
    """The pid in `.<name>.<pid>.<random>.tmp`; None for a name not made that way."""
    parts = temp_name.removesuffix(TEMP_SUFFIX).split(".")
    return int(parts[-2]) if len(parts) >= 4 and parts[-2].isdigit() else None


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
