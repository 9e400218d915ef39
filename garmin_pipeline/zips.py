"""Zips whose bytes depend on their members alone, for payloads that must be byte-identical on
every machine and every run (the emulator's downloads, the export's archives and what an
import lands in raw), and reading untrusted zips without trusting their offsets.

Members are stored, not deflated (zlib builds, zlib and zlib-ng, may deflate the same bytes
differently), with a date the caller fixes and no host or permission bits. `write_stored_zip`
copies each member in chunks, so a zip of several GB is written in constant memory; its bytes
are those `stored_zip` gives for the same members.
"""

from __future__ import annotations

import functools
import io
import shutil
import struct
import zipfile
from collections.abc import Callable, Iterable
from typing import IO, BinaryIO

DateTime = tuple[int, int, int, int, int, int]
FIXED_DATE: DateTime = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold
CHUNK = 1 << 20  # what a streamed copy holds in memory at once

# A member: its name, its size in bytes, and how to open it for reading.
StreamedMember = tuple[str, int, Callable[[], IO[bytes]]]


def write_stored_zip(
    target: BinaryIO, members: Iterable[StreamedMember], date_time: DateTime = FIXED_DATE
) -> None:
    """Write a zip of `members` to `target` (seekable), in the order given, each copied in
    chunks and dated `date_time`. The size is declared up front, as `ZipFile.writestr` does,
    so the bytes (ZIP64 headers included) are the same as `stored_zip`'s."""
    with zipfile.ZipFile(target, "w") as archive:
        for name, size, opener in members:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 0
            info.external_attr = 0
            info.file_size = size
            with opener() as source, archive.open(info, "w") as sink:
                shutil.copyfileobj(source, sink, CHUNK)


def stored_zip(members: Iterable[tuple[str, bytes]], date_time: DateTime = FIXED_DATE) -> bytes:
    """A zip of `(name, bytes)` members, in the order given, every one dated `date_time`."""
    buffer = io.BytesIO()
    write_stored_zip(
        buffer,
        ((name, len(data), functools.partial(io.BytesIO, data)) for name, data in members),
        date_time,
    )
    return buffer.getvalue()


_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # zipfile.structFileHeader
_LOCAL_SIGNATURE = b"PK\x03\x04"


def overlapping_members(archive: zipfile.ZipFile) -> set[str]:
    """The members whose data would run into the next member's header (or the central
    directory), whose local header is missing, or whose name is held twice: the shapes of an
    overlapping-entry ("quoted-overlap") zip bomb, whose members share one run of compressed
    bytes so that a small file inflates to terabytes.

    Python 3.12.2 and 3.13 refuse such members themselves (CVE-2024-0450); this is the same
    check, for interpreters without the fix and so that the refusal is ours to word."""
    infos = sorted(archive.infolist(), key=lambda i: i.header_offset)
    handle = archive.fp
    assert handle is not None
    bad: set[str] = set()
    seen: set[str] = set()
    end = archive.start_dir
    for info in reversed(infos):  # as CPython's fix: each ends where the next header starts
        handle.seek(info.header_offset)
        header = handle.read(_LOCAL_HEADER.size)
        if len(header) < _LOCAL_HEADER.size or header[:4] != _LOCAL_SIGNATURE:
            bad.add(info.filename)
        else:
            name_length, extra_length = _LOCAL_HEADER.unpack(header)[-2:]
            start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
            if start + info.compress_size > end:
                bad.add(info.filename)
        if info.filename in seen:
            bad.add(info.filename)
        seen.add(info.filename)
        end = info.header_offset
    return bad
