"""Find what an export holds: its members, by pattern, inside a zip or an unpacked directory.

Garmin renames and moves files between export generations (`UDSFile_*` under
DI-Connect-Aggregator or DI-Connect-User, uploads under DI-Connect-Uploaded-Files or
DI-Connect-Fitness...), so a member is classified by a pattern on its *file name* only, never by
its folder or a fixed name. Nested `UploadedFiles*.zip` members are opened and their files
listed as `<outer path>!<inner name>`. Anything no pattern claims is listed as ignored, never
fatal; a nested zip that does not open is quarantined with the reason and the rest goes on.

The archive's identity is the SHA-256 of its bytes. An unpacked directory is first packed into
a canonical zip (sorted paths, stored, fixed dates), so the same files give the same hash
whichever way the export arrived.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from garmin_pipeline.errors import PipelineError
from garmin_pipeline.zips import stored_zip

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


class ExportArchiveError(PipelineError):
    """The export cannot be read at all (not a zip, not a directory, unreadable)."""


@dataclass(frozen=True)
class Member:
    path: str  # inside the archive; a nested file as "<zip path>!<name>"
    kind: str | None  # None: no pattern claims it
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1].rsplit(UPLOAD_SEPARATOR, 1)[-1]


@dataclass
class Archive:
    """The export's bytes (a zip), its hash, and its members by kind."""

    data: bytes
    sha256: str
    members: list[Member] = field(default_factory=list)
    quarantined: dict[str, str] = field(default_factory=dict)  # member -> why

    def of(self, kind: str) -> list[Member]:
        return [m for m in self.members if m.kind == kind]

    @property
    def ignored(self) -> list[str]:
        return [m.path for m in self.members if m.kind is None]


def classify(name: str) -> str | None:
    base = name.rstrip("/").rsplit("/", 1)[-1]
    return next((kind for kind, pattern in PATTERNS if pattern.search(base)), None)


def pack_directory(root: Path) -> bytes:
    """An unpacked export as a canonical zip (stored, sorted, fixed dates)."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return stored_zip((path.relative_to(root).as_posix(), path.read_bytes()) for path in files)


def read_archive(path: Path) -> bytes:
    """The export's bytes: a zip as it is, a directory packed; one-line error otherwise."""
    if path.is_dir():
        return pack_directory(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ExportArchiveError(f"cannot read {path}: {error.strerror or error}") from None
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ExportArchiveError(
            f"{path} is not a zip archive (or is cut short); download Garmin's export again "
            "or pass the unpacked folder"
        )
    return data


def _entries(data: bytes, where: str) -> Iterator[tuple[str, bytes | None, str | None]]:
    """(name, bytes, None) for each file of a zip, or (name, None, reason) when unreadable."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            try:
                yield info.filename, archive.read(info), None
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as error:
                yield info.filename, None, f"cannot read it from {where}: {error}"


def open_archive(path: Path) -> Archive:
    """Read and classify every member of the export at `path` (a zip or a directory)."""
    data = read_archive(path)
    archive = Archive(data=data, sha256=hashlib.sha256(data).hexdigest())
    try:
        entries = list(_entries(data, "the export"))
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ExportArchiveError(f"{path}: the zip does not open: {error}") from None
    for name, body, problem in entries:
        if body is None:
            archive.quarantined[name] = problem or "unreadable"
            continue
        kind = classify(name)
        if kind != "uploads":
            archive.members.append(Member(name, kind, body))
            continue
        try:
            inner = list(_entries(body, name))
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            archive.quarantined[name] = f"the nested zip does not open: {error}"
            continue
        for inner_name, inner_body, inner_problem in inner:
            nested = f"{name}{UPLOAD_SEPARATOR}{inner_name}"
            if inner_body is None:
                archive.quarantined[nested] = inner_problem or "unreadable"
                continue
            inner_kind = classify(inner_name)
            archive.members.append(
                Member(nested, inner_kind if inner_kind == "fit" else None, inner_body)
            )
    return archive
