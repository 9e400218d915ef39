"""One run at a time per data directory.

Two runs on one data directory (two DAGSTER_HOMEs, a CLI sync beside a run from the UI) would
both fetch everything, and one would die on DuckDB's writer lock. So every run that writes the
data directory (sync, fetch, rebuild, import-export, whatever the UI launches) holds its lock
from start to end, and a second run stops at once, before any request, saying who holds it.

The lock is an `flock` on `DataLayout.run_lock_path` (`filelock.FileLock`): the kernel drops
it when its process ends however it ends, so a killed run never leaves a stale lock behind.
Who holds it (pid, host, start, what) is written into the lock file, for the refusal to name.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from garmin_pipeline.errors import PipelineError
from garmin_pipeline.files import make_private_dir
from garmin_pipeline.layout import DataLayout


class DataDirBusyError(PipelineError):
    """Another run uses the data directory; this one did nothing."""


def lock_path(data_dir: Path) -> Path:
    return DataLayout(Path(data_dir)).run_lock_path


def _holder_writer(what: str) -> Callable[[int], None]:
    """filelock's `on_acquired` hook: record who holds the lock, in the lock file."""

    def write(fd: int) -> None:
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "what": what,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode("utf-8"), 0)

    return write


def describe_holder(data_dir: Path) -> str:
    """'pid N, started <time>' of the run holding the lock, as far as its file says."""
    try:
        holder = json.loads(lock_path(data_dir).read_text(encoding="utf-8"))
        where = "" if holder["host"] == socket.gethostname() else f" on {holder['host']}"
        return f"{holder['what']}, pid {holder['pid']}{where}, started {holder['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


@contextmanager
def data_dir_lock(data_dir: Path, what: str) -> Iterator[None]:
    """Hold the data directory's lock for the block (creating the directory 0700 if it is
    missing), or raise `DataDirBusyError` at once if another process holds it. `what` names
    the run (e.g. "sync run <id>") for a process that finds it busy."""
    data_dir = Path(data_dir).absolute()
    make_private_dir(lock_path(data_dir).parent)
    # No soft-lock fallback: a marker file would outlive a killed run and block every next one.
    lock = FileLock(
        lock_path(data_dir),
        timeout=0,
        mode=0o600,
        fallback_to_soft=False,
        preserve_lock_file=True,
        on_acquired=_holder_writer(what),
    )
    try:
        lock.acquire()
    except Timeout:
        raise DataDirBusyError(
            f"another run ({describe_holder(data_dir)}) is using {data_dir}; wait for it to "
            "finish, or stop it, then run this again"
        ) from None
    except OSError as error:
        raise DataDirBusyError(
            f"cannot lock {data_dir} ({error.strerror or error}): a run needs a filesystem "
            "with file locks (flock); use a local folder for GARMIN_DATA_DIR"
        ) from None
    try:
        yield
    finally:
        lock.release()
