"""Atomic file writes, for every local file the pipeline keeps: raw payloads and manifests, lake
partitions, build state, the 429 breaker's state and the token store. (Raw and the lake on a
filesystem URI are written by `storage`, which comes here for local paths.)

A reader sees the old file or the new one, never a part, even if the writer is killed with
SIGKILL: bytes go to a hidden temp file created 0600 (`.<name>.<pid>.<random>.tmp`, which no
reader's glob matches), are fsynced, renamed over the target, and the directory is fsynced so
the rename survives a power cut. `remove_stale_temp_files` sweeps what killed writers left.

Derived files written by the thousand (lake partitions, rebuilt from raw at will) skip the
fsyncs (`durable=False`): their writer calls `flush_to_disk` once before anything vouches for
them, which for a year of partitions is one sync instead of tens of thousands of fsyncs.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".tmp"  # with a leading "." on the name: a half-written file (write_atomically)
# Health data is for its owner only: what the tool creates is 0600/0700, whatever umask it was
# started with (a login shell's 022 would make the warehouse and the lake world-readable).
PRIVATE_UMASK = 0o077


def keep_new_files_private() -> None:
    """Set umask 077 (keeping any stricter bits) for this process and every process it starts,
    which inherit it: the sync it execs, dbt, the lake build workers, Dagster's step processes.
    Called by each entry point (the CLI, the Dagster code location), never by the library.
    Existing files and folders keep their modes: nothing is chmod'ed."""
    os.umask(os.umask(PRIVATE_UMASK) | PRIVATE_UMASK)


def make_private_dir(directory: Path) -> Path:
    """`directory` and its missing parents, each created 0700; one that exists is left as it
    is (a shared parent such as /tmp must keep its mode, sticky bit included)."""
    if not directory.is_dir():
        make_private_dir(directory.parent)
        directory.mkdir(mode=0o700, exist_ok=True)
    return directory


def write_atomically(path: Path, payload: bytes, durable: bool = True) -> bool:
    """Write via a temp file and rename; return False (touching nothing) if the bytes are equal.

    The file keeps the temp file's mode, 0600, so a token store written this way is private
    from its first byte. A writer killed mid-way leaves only its temp file, which
    `remove_stale_temp_files` sweeps once the pid in its name is gone. Not `durable`: atomic
    for readers and against SIGKILL, but on disk only after `flush_to_disk`.
    """
    if path.exists() and path.stat().st_size == len(payload) and path.read_bytes() == payload:
        return False
    _replace_via_temp(path, durable, lambda handle: handle.write(payload))
    return True


def copy_atomically(source: BinaryIO, path: Path, durable: bool = True) -> str:
    """`write_atomically` for a stream too large to hold: copied in chunks (1 MiB at a time)
    to the temp file, hashed on the way; returns the SHA-256 of what was written."""
    digest = hashlib.sha256()

    def copy(handle: BinaryIO) -> None:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            handle.write(chunk)

    _replace_via_temp(path, durable, copy)
    return digest.hexdigest()


def _replace_via_temp(path: Path, durable: bool, write: Callable[[BinaryIO], object]) -> None:
    """`write` into a hidden 0600 temp file beside `path`, then rename it over `path`."""
    _make_dirs(path.parent, durable)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(path.parent)


def flush_to_disk() -> None:
    """Everything written so far, on disk (sync(2)): what `durable=False` writes defer."""
    os.sync()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(directory: Path, durable: bool = True) -> None:
    """mkdir -p, fsyncing each parent that gains an entry (a new partition's folders too)."""
    if directory.is_dir():
        return
    _make_dirs(directory.parent, durable)
    try:
        directory.mkdir()
    except FileExistsError:
        return
    if durable:
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
