"""Where raw and the lake live: a local folder, or any fsspec filesystem named by a URI.

A plain path (or a `file://` URI) stays a `pathlib.Path` and keeps every local guarantee of
`files.write_atomically`: temp file, fsync, rename, directory fsync. Any other URI (`s3://`,
`gs://`, `az://`, `memory://`...) becomes a `UPath` on its fsspec filesystem, so the stores
spell paths the same way for both, and a write there is a single `pipe_file`: an object store
shows an object whole or not at all, and keeps it once the put returns, so there is no temp
file to sweep and nothing to flush. Other remote filesystems (SFTP, say) get what their own
put gives.
"""

from __future__ import annotations

import functools
import hashlib
import os
import posixpath
import shutil
from pathlib import Path

import fsspec.core
from fsspec.utils import get_protocol
from upath import UPath

from garmin_pipeline import files
from garmin_pipeline.errors import UnsafeValueError

StoragePath = Path | UPath
# What a store accepts as its root: a path, a URI string, or a path already made by `location`.
StorageRoot = str | os.PathLike[str] | UPath

LOCAL_PROTOCOLS = frozenset({"file", "local"})
# Filesystems held in one process's memory: another process sees an empty one.
PROCESS_LOCAL_PROTOCOLS = frozenset({"memory"})


def location(root: StorageRoot) -> StoragePath:
    """`root` as the stores hold it: a `Path` for anything local, a `UPath` otherwise."""
    if isinstance(root, Path):
        return Path(root)
    if isinstance(root, UPath):
        return root
    text = os.fspath(root)
    if get_protocol(text) not in LOCAL_PROTOCOLS:
        return UPath(text)
    # A bare path stays as given (relative stays relative); file:// loses its scheme.
    return Path(fsspec.core.url_to_fs(text)[1]) if "://" in text else Path(text)


def shared_across_processes(path: StoragePath) -> bool:
    """Whether another process (a lake build worker) sees what this one writes at `path`."""
    return isinstance(path, Path) or path.protocol not in PROCESS_LOCAL_PROTOCOLS


def inside(root: StoragePath, path: StoragePath) -> StoragePath:
    """`path`, if it resolves inside `root`; the stores' last line of defence against a value
    from the source (an id, a name, a date) that would name a file elsewhere.

    Remote paths have no symlinks: `..` and `.` are folded lexically, and the folded path is
    returned, since an object store would keep `..` as a literal part of the key."""
    if isinstance(root, Path) and isinstance(path, Path):
        if _resolves_inside(root, path):
            return path
    elif isinstance(root, UPath) and isinstance(path, UPath):
        base, target = posixpath.normpath(root.path), posixpath.normpath(path.path)
        if target == base:
            return root
        if target.startswith(base.rstrip("/") + "/"):
            return root.joinpath(*posixpath.relpath(target, base).split("/"))
    raise UnsafeValueError(
        f"refusing to write {path}: it resolves outside {root}; "
        "a value from the source is not a safe file name (it is quarantined, not stored)"
    )


@functools.lru_cache(maxsize=64)
def _real_absolute(root: Path) -> Path:
    return root.resolve()


def _real(root: Path) -> Path:
    """`root.resolve()`, remembered for absolute roots (a relative one moves with the cwd)."""
    return _real_absolute(root) if root.is_absolute() else root.resolve()


def _resolves_inside(root: Path, path: Path) -> bool:
    """`path.resolve()` lies under `root.resolve()`. The stores ask this for every file they
    touch, tens of thousands per rebuild, so the root is resolved once and a path spelt as the
    root plus plain names costs one lstat per name below the root (for a symlink among them);
    anything else is resolved in full. Strings, not pathlib: this ran at a millisecond a call."""
    prefix = os.path.join(os.fspath(root), "")
    spelt = os.fspath(path)
    if spelt == prefix[:-1]:
        return True
    if spelt.startswith(prefix):
        current = os.fspath(_real(root))
        for part in spelt[len(prefix) :].split(os.sep):
            current = os.path.join(current, part)
            if part in ("", ".", "..") or os.path.islink(current):
                break
        else:
            return True
    return path.resolve().is_relative_to(_real(root))


def write_atomically(path: StoragePath, payload: bytes, durable: bool = True) -> bool:
    """Write `payload` whole or not at all; return False (touching nothing) if the bytes are
    equal. Local: `files.write_atomically`. Remote: one put, which `durable` cannot add to."""
    if isinstance(path, Path):
        return files.write_atomically(path, payload, durable)
    fs, key = path.fs, path.path
    try:
        unchanged = fs.size(key) == len(payload) and fs.cat_file(key) == payload
    except FileNotFoundError:
        unchanged = False
    if unchanged:
        return False
    fs.pipe_file(key, payload)
    return True


def copy_atomically(source: Path, path: StoragePath) -> str:
    """Copy the local file `source` to `path` in chunks, whole or not at all; return the
    SHA-256 of the bytes copied. Local: `files.copy_atomically`. Remote: one streamed upload
    (an object store shows the object once the upload completes)."""
    with source.open("rb") as handle:
        if isinstance(path, Path):
            return files.copy_atomically(handle, path)
        digest = hashlib.sha256()
        with path.open("wb") as sink:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                sink.write(chunk)
        return digest.hexdigest()


def remove_tree(path: StoragePath) -> bool:
    """Delete a folder and everything under it; False if there was none."""
    if not path.exists():
        return False
    if isinstance(path, Path):
        shutil.rmtree(path)
    else:
        path.fs.rm(path.path, recursive=True)
    return True
