"""Zips whose bytes depend on their members alone, for payloads that must be byte-identical on
every machine and every run (the emulator's downloads, the export's archives and what an
import lands in raw).

Members are stored, not deflated (zlib builds, zlib and zlib-ng, may deflate the same bytes
differently), with a date the caller fixes and no host or permission bits.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

DateTime = tuple[int, int, int, int, int, int]
FIXED_DATE: DateTime = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold


def stored_zip(members: Iterable[tuple[str, bytes]], date_time: DateTime = FIXED_DATE) -> bytes:
    """A zip of `(name, bytes)` members, in the order given, every one dated `date_time`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 0
            info.external_attr = 0
            archive.writestr(info, data)
    return buffer.getvalue()
