"""Find what an export holds: its members, by pattern, inside a zip or an unpacked directory.

Garmin renames and moves files between export generations (`UDSFile_*` under
DI-Connect-Aggregator or DI-Connect-User, uploads under DI-Connect-Uploaded-Files or
DI-Connect-Fitness...), so a member is classified by a pattern on its *file name* only, never by
its folder or a fixed name. Nested `UploadedFiles*.zip` members are opened and their files
listed as `<outer path>!<inner name>`. Anything no pattern claims is listed as ignored, never
fatal; a nested zip that does not open is quarantined with the reason and the rest goes on.

Exports run to several GB, so nothing here holds the archive, or a member that can be large,
in memory: the archive is read from its file, every member is hashed as it streams past in
chunks, and a nested zip is copied to a scratch file and opened from there. A member is read
whole only when asked (`Member.read`), and only a JSON or FIT member, which must stay within
GARMIN_MAX_PAYLOAD_MB like any payload. A member whose declared or actual size exceeds its cap,
or that inflates more than `MAX_EXPANSION` times its compressed size, or whose bytes overlap
another member's (the zip bombs), is quarantined with the reason, unread, and the rest lands.

The archive's identity is the SHA-256 of its bytes. An unpacked directory is first packed into
a canonical zip (sorted paths, stored, fixed dates; a scratch file), so the same files give the
same hash whichever way the export arrived.
"""

from __future__ import annotations

import functools
import hashlib
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from garmin_pipeline.errors import PipelineError
from garmin_pipeline.settings import max_payload_bytes
from garmin_pipeline.zips import CHUNK, overlapping_members, write_stored_zip

# kind -> pattern on the member's file name (case-insensitive). First match wins.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("daily_summaries", r"^UDSFile.*\.json$"),
        ("sleep", r"sleepData.*\.json$"),
        ("health_status", r"healthStatusData.*\.json$"),
        ("training_readiness", r"^TrainingReadinessDTO.*\.json$"),
        ("training_history", r"^TrainingHistory.*\.json$"),
        ("acute_load", r"^MetricsAcuteTrainingLoad.*\.json$"),
        ("max_met", r"^MetricsMaxMetData.*\.json$"),
        ("activities", r"summarizedActivities.*\.json$"),
        ("uploads", r"^UploadedFiles.*\.zip$"),
        ("fit", r"\.fit$"),
    )
)
UPLOAD_SEPARATOR = "!"  # "<nested zip path>!<file inside it>"


# Kinds whose members are read whole into memory (parsed as JSON, decoded as FIT): each must
# stay within GARMIN_MAX_PAYLOAD_MB. Nested zips and ignored files are only ever streamed.
READ_WHOLE = frozenset(kind for kind, _ in PATTERNS if kind != "uploads")
# How many times its compressed size a member may inflate to. Garmin's JSON deflates about
# 20:1 and FIT files 3:1; deflate's ceiling is about 1030:1, reached only by crafted input.
MAX_EXPANSION = 200
EXPANSION_FLOOR = 1 << 20  # a member this small is never a bomb, whatever its ratio
UNREADABLE = (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, zlib.error)


class ExportArchiveError(PipelineError):
    """The export cannot be read at all (not a zip, not a directory, unreadable)."""


class TooLarge(ValueError):
    """A member inflated past its cap while it was read."""


@dataclass(frozen=True)
class Member:
    path: str  # inside the archive; a nested file as "<zip path>!<name>"
    kind: str | None  # None: no pattern claims it
    size: int
    sha256: str
    opener: Callable[[], IO[bytes]] = field(repr=False, compare=False)

    def read(self) -> bytes:
        """The member's bytes: only for a kind in `READ_WHOLE`, whose size was capped."""
        with self.opener() as handle:
            return handle.read()

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1].rsplit(UPLOAD_SEPARATOR, 1)[-1]


@dataclass
class Archive:
    """The export as a zip file (the file given, or the directory packed into a scratch file),
    its hash and size, and its members by kind. Open until `close` (a context manager): the
    members read from it and from the nested zips' scratch copies."""

    path: Path
    size: int
    sha256: str
    members: list[Member] = field(default_factory=list)
    quarantined: dict[str, str] = field(default_factory=dict)  # member -> why
    resources: ExitStack = field(default_factory=ExitStack, repr=False)

    def of(self, kind: str) -> list[Member]:
        return [m for m in self.members if m.kind == kind]

    @property
    def ignored(self) -> list[str]:
        return [m.path for m in self.members if m.kind is None]

    def close(self) -> None:
        self.resources.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def classify(name: str) -> str | None:
    base = name.rstrip("/").rsplit("/", 1)[-1]
    return next((kind for kind, pattern in PATTERNS if pattern.search(base)), None)


def _opener(path: Path) -> Callable[[], IO[bytes]]:
    """Opens `path` for reading when called (a zip member is opened only when it is written)."""
    return lambda: path.open("rb")


def pack_directory(root: Path, target: Path) -> None:
    """An unpacked export as a canonical zip at `target` (stored, sorted, fixed dates), each
    file copied in chunks."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    with target.open("wb") as sink:
        write_stored_zip(
            sink,
            (
                (
                    path.relative_to(root).as_posix(),
                    path.stat().st_size,
                    _opener(path),
                )
                for path in files
            ),
        )


def copy_capped(source: IO[bytes], sink: IO[bytes] | None, cap: float) -> tuple[str, int]:
    """Stream `source` to `sink` (or nowhere) in chunks; its SHA-256 and size. Raises
    `TooLarge` as soon as more than `cap` bytes came out."""
    digest, size = hashlib.sha256(), 0
    while chunk := source.read(CHUNK):
        size += len(chunk)
        if size > cap:
            raise TooLarge(size)
        digest.update(chunk)
        if sink is not None:
            sink.write(chunk)
    return digest.hexdigest(), size


def file_digest(path: Path) -> tuple[str, int]:
    with path.open("rb") as handle:
        return copy_capped(handle, None, float("inf"))


def megabytes(size: float) -> str:
    return f"{size / 2**20:.1f} MB"


def cap_of(info: zipfile.ZipInfo, kind: str | None) -> tuple[float, str]:
    """The most a member may inflate to, and what sets it (for the quarantine reason)."""
    expansion = max(EXPANSION_FLOOR, MAX_EXPANSION * info.compress_size)
    if kind in READ_WHOLE and max_payload_bytes() < expansion:
        limit = max_payload_bytes()
        return limit, f"GARMIN_MAX_PAYLOAD_MB={limit / 2**20:g}; raise it if the file is genuine"
    return expansion, f"{MAX_EXPANSION} times its compressed size (a zip bomb?)"


@dataclass
class Scanner:
    """Lists one zip's members into `archive`, nested upload zips through scratch files."""

    archive: Archive
    scratch: Path

    def scan(self, zipped: zipfile.ZipFile, where: str, prefix: str = "") -> None:
        overlapping = overlapping_members(zipped)
        for info in sorted(zipped.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            path = f"{prefix}{info.filename}"
            kind = classify(info.filename)
            if prefix and kind != "fit":  # inside an upload zip only FIT files are read
                kind = None
            if info.filename in overlapping:
                self.archive.quarantined[path] = (
                    "its bytes overlap another member's (an overlapping-entry zip bomb); not read"
                )
                continue
            cap, why = cap_of(info, kind)
            if info.file_size > cap:
                self.archive.quarantined[path] = (
                    f"declares {megabytes(info.file_size)} uncompressed, over {why}; not read"
                )
                continue
            try:
                if kind == "uploads":
                    self.nested(zipped, info, cap, path)
                    continue
                with zipped.open(info) as source:
                    sha256, size = copy_capped(source, None, cap)
            except TooLarge:
                self.archive.quarantined[path] = f"inflates past {why}; not read"
                continue
            except UNREADABLE as error:
                self.archive.quarantined[path] = f"cannot read it from {where}: {error}"
                continue
            opener = functools.partial(zipped.open, info)
            self.archive.members.append(Member(path, kind, size, sha256, opener))

    def nested(self, outer: zipfile.ZipFile, info: zipfile.ZipInfo, cap: float, path: str) -> None:
        """An `UploadedFiles*.zip`: copied to a scratch file, opened from there, scanned."""
        copy = self.scratch / f"upload-{len(list(self.scratch.iterdir()))}.zip"
        with outer.open(info) as source, copy.open("wb") as sink:
            copy_capped(source, sink, cap)
        try:
            inner = self.archive.resources.enter_context(zipfile.ZipFile(copy))
        except UNREADABLE as error:
            self.archive.quarantined[path] = f"the nested zip does not open: {error}"
            return
        self.scan(inner, path, f"{path}{UPLOAD_SEPARATOR}")


def open_archive(path: Path) -> Archive:
    """Open and classify every member of the export at `path` (a zip or a directory); close
    the result when done (`with open_archive(path) as archive:`)."""
    resources = ExitStack()
    try:
        scratch = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="garmin-")))
        if path.is_dir():
            zip_path = scratch / "packed.zip"
            pack_directory(path, zip_path)
        else:
            zip_path = path
        try:
            sha256, size = file_digest(zip_path)
            is_zip = zipfile.is_zipfile(zip_path)
        except OSError as error:
            raise ExportArchiveError(f"cannot read {path}: {error.strerror or error}") from None
        if not is_zip:
            raise ExportArchiveError(
                f"{path} is not a zip archive (or is cut short); download Garmin's export "
                "again or pass the unpacked folder"
            )
        archive = Archive(zip_path, size, sha256, resources=resources)
        try:
            zipped = resources.enter_context(zipfile.ZipFile(zip_path))
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise ExportArchiveError(f"{path}: the zip does not open: {error}") from None
        Scanner(archive, scratch).scan(zipped, "the export")
        return archive
    except BaseException:
        resources.close()
        raise
