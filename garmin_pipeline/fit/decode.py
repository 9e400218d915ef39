"""Decode one activity FIT file into the tables declared in `garmin_pipeline.fit.tables`.

The file's structure and CRCs are checked whole first, then it is read once with fitdecode.
What each field of a message is for (a column of its table, or a row of the long table of
unclaimed values) depends only on how the message's fields are arranged, which repeats from one
message to the next: it is worked out once per arrangement (`_Layout`), and a message is then
read with a few lookups. Rows are kept as plain tuples; each table is built at the end with a
single ``pl.DataFrame(..., schema=...)``, converting values column by column. RR intervals of
hrv messages become one row each.
"""

from __future__ import annotations

import array
import contextlib
import datetime as dt
import io
import json
import logging
import operator
import os
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, NamedTuple

import fitdecode
import polars as pl

from garmin_pipeline.errors import PayloadParseError
from garmin_pipeline.fit.tables import (
    DEVELOPER_FIELDS,
    HRV,
    TABLES,
    Table,
    frame_schema,
    to_utc_micros,
)
from garmin_pipeline.settings import max_payload_bytes

_log = logging.getLogger(__name__)

__all__ = ["FitDecodeError", "decode_activity", "fit_crc"]

_FIT_SIGNATURE = b".FIT"
_MIN_HEADER_SIZE = 12
_CRC_SIZE = 2
# Real offsets run from UTC-12 to UTC+14; anything else is a device writing garbage (Zwift
# writes local_timestamp = 0, i.e. 1989-12-31).
_MIN_UTC_OFFSET_S, _MAX_UTC_OFFSET_S = -12 * 3600, 14 * 3600

# First bytes of things that are often mistaken for a FIT file, with what to do about them.
_KNOWN_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive", "if this is a Garmin ORIGINAL download, unzip it first"),
    (b"\x1f\x8b", "gzip data", "decompress it first"),
    (b"<", "text (HTML/XML?)", "the server probably sent an error page; fetch the file again"),
    (b"{", "text (JSON?)", "the server probably sent an error payload; fetch the file again"),
)


class FitDecodeError(PayloadParseError):
    """The input is not a decodable activity FIT file; the message says why and what to do.

    A `PayloadParseError` (so a `PipelineError` and, as before, a `ValueError`).
    """


def zip_fit_members(data: bytes, what: str, again: str) -> list[tuple[str, bytes]]:
    """The `.fit` members of a zip download, by name.

    Each member is refused before it is unpacked if it would exceed GARMIN_MAX_PAYLOAD_MB, so a
    zip bomb costs nothing (zipfile never yields more than a member's declared size). Damage of
    any kind is one `FitDecodeError` saying `what` it was and what to do (`again`)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = sorted(
                (info for info in archive.infolist() if info.filename.lower().endswith(".fit")),
                key=lambda info: info.filename,
            )
            limit = max_payload_bytes()
            for info in members:
                if info.file_size > limit:
                    raise FitDecodeError(
                        f"{what} unpacks {info.filename} to {info.file_size / 2**20:.1f} MB, over "
                        f"GARMIN_MAX_PAYLOAD_MB={limit / 2**20:g}; raise the limit if it is genuine"
                    )
            return [(info.filename, archive.read(info)) for info in members]
    except FitDecodeError:
        raise
    # zipfile meets damaged bytes with many exception types (BadZipFile, zlib.error, a
    # negative seek's ValueError, NotImplementedError for an unknown compression method,
    # RuntimeError for an "encrypted" flag...): any of them means the same thing here.
    except Exception as error:
        detail = " ".join(str(error).split()) or type(error).__name__
        raise FitDecodeError(
            f"{what} is not a readable zip ({type(error).__name__}: {detail}); {again}"
        ) from error


# Columns the decoder fills itself rather than from a message field.
_FILE_LEVEL_COLUMNS = frozenset({"activity_id", "local_utc_offset_s"})
# Tables with their own builder below: the columns that builder fills, in order.
_SPECIAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "hrv_interval": (
        "activity_id",
        "hrv_index",
        "hrv_message_index",
        "value_position",
        "record_index",
        "rr_interval_ms",
    ),
    "unclaimed_field": (
        "activity_id",
        "message",
        "message_index",
        "field_index",
        "timestamp",
        "developer_data_index",
        "field_number",
        "field_name",
        "units",
        "value_float",
        "value_string",
    ),
}


def _check_declarations() -> None:
    """Fail at import, not mid-pipeline, if a declaration asks for something we cannot fill."""
    messages = [t.message for t in TABLES.values() if t.layout == "message"]
    if len(set(messages)) != len(messages):
        raise RuntimeError("two tables read the same FIT message type; one table per type")
    for table in TABLES.values():
        names = [c.name for c in table.columns]
        if len(set(names)) != len(names):
            raise RuntimeError(f"{table.name}: duplicate column names")
        if table.index_column not in names:
            raise RuntimeError(f"{table.name}: index column {table.index_column} not declared")
        if table.layout != "message":
            expected = _SPECIAL_COLUMNS[table.layout]
            if tuple(names) != expected:
                raise RuntimeError(f"{table.name}: columns must be {expected}")
            continue
        for column in table.columns:
            if column.fit_fields or column.name == table.index_column:
                continue
            if column.name not in _FILE_LEVEL_COLUMNS:
                raise RuntimeError(f"{table.name}.{column.name}: no FIT field and no filler")


_check_declarations()


class _Role(NamedTuple):
    """What one field of one message type is for."""

    # Position of the field's name among its table's FIT fields; None: no column reads it.
    slot: int | None
    # (developer_data_index, field_number, field_name) of its rows in the long table, for a
    # field no column claims; None for a claimed one.
    unclaimed: tuple[int | None, int, str | None] | None
    # A "timestamp" field: the message's time, for its rows in the long table.
    timestamp: bool


class _Layout(NamedTuple):
    """How to read a message whose fields come in one particular arrangement.

    fitdecode lists a message's fields in the order its definition declares them, each after
    the components expanded from it, and a compressed timestamp last. Messages of one
    definition nearly always share that arrangement (dynamic subfields and compressed
    timestamps vary it), so what each position is for is worked out once per arrangement.
    Reading a message is then a handful of C-level lookups plus a loop over the few fields that
    need a choice or go to the long table.
    """

    # Picks the table row (see `_WideTable`) out of the message's values, plus a None last for
    # the slots no field of this arrangement fills.
    row: Callable[[list[Any]], tuple[Any, ...]] | None
    # Slots whose name occurs more than once, as (slot, positions in order, keep_list): the
    # value is a choice (see `_chosen`).
    choices: tuple[tuple[int, tuple[int, ...], bool], ...]
    # The same for every filled slot: for a message holding an array, which may need cutting.
    all_choices: tuple[tuple[int, tuple[int, ...], bool], ...]
    # (position, _Role.unclaimed) of the fields no column claims.
    unclaimed: tuple[tuple[int, tuple[int | None, int, str | None]], ...]
    timestamps: tuple[int, ...]  # positions of the fields named timestamp


_FIELD = operator.attrgetter("field")
_FIELD_DEF = operator.attrgetter("field_def")
# What fitdecode gives a field holding several values.
_ARRAYS: frozenset[type] = frozenset({tuple, list})


def _arrangement(fields: list[fitdecode.types.FieldData]) -> tuple[object, ...]:
    """What a message's `_Layout` depends on: each field's profile entry and definition (None
    for a field expanded from another's components)."""
    return (*map(_FIELD, fields), *map(_FIELD_DEF, fields))


class _MessageType:
    """One FIT message type of the file: its row count, its table, and how to read it."""

    __slots__ = ("claimed", "count", "layouts", "name", "table")

    def __init__(self, name: str, table: _WideTable | None) -> None:
        self.name = name
        self.table = table
        self.count = 0
        self.claimed = table.table.fit_fields if table is not None else frozenset()
        if name == HRV.message:
            self.claimed |= {"time"}
        self.layouts: dict[tuple[object, ...], _Layout] = {}

    def role(self, field: fitdecode.types.FieldData) -> _Role:
        field_def = field.field_def
        dev = field_def is not None and field_def.is_dev
        name = field.name
        timestamp = not dev and name == "timestamp"
        if not dev and name in self.claimed:
            slot = self.table.slots.get(name) if self.table is not None else None
            return _Role(slot, None, timestamp)
        dev_index = field_def.dev_data_index if dev else None
        return _Role(None, (dev_index, field.def_num, name), timestamp)

    def add_layout(
        self, fields: list[fitdecode.types.FieldData], arrangement: tuple[object, ...]
    ) -> _Layout:
        """The `_Layout` of messages whose fields are arranged as these are."""
        width = self.table.width if self.table is not None else 0
        candidates: dict[int, list[int]] = {}
        unclaimed = []
        timestamps = []
        for position, field in enumerate(fields):
            slot, about, timestamp = self.role(field)
            if timestamp:
                timestamps.append(position)
            if slot is not None:
                if field.field_def is None:
                    slot += width
                candidates.setdefault(slot, []).append(position)
            elif about is not None:
                unclaimed.append((position, about))
        row = None
        if self.table is not None:
            absent = [len(fields)]
            picks = [candidates.get(slot, absent)[0] for slot in range(2 * width)]
            row = operator.itemgetter(*picks)
        table = self.table  # a type without a table claims no slot: no candidates
        all_choices = tuple(
            (slot, tuple(positions), table.keeps_list(slot))
            for slot, positions in candidates.items()
            if table is not None
        )
        choices = tuple(choice for choice in all_choices if len(choice[1]) > 1)
        layout = _Layout(row, choices, all_choices, tuple(unclaimed), tuple(timestamps))
        self.layouts[arrangement] = layout
        return layout


def _chosen(values: list[Any], positions: tuple[int, ...], keep_list: bool) -> Any:
    """The first non-null of the values at ``positions``, arrays made scalar unless kept.

    Some writers declare a scalar field with room for several values; the first one is the
    value, the rest is padding.
    """
    for position in positions:
        value = values[position]
        if isinstance(value, tuple | list):
            if not keep_list:
                value = value[0] if value else None
            elif all(v is None for v in value):
                value = None
        if value is not None:
            return value
    return None


class _WideTable:
    """A message table's rows: per message, the value of each FIT field its columns read.

    A name can occur twice in one message: as the field itself and as a component expanded
    from another field (``speed`` -> ``enhanced_speed``, ``compressed_speed_distance`` ->
    ``speed``). The field as written by the device wins over the expanded one; otherwise the
    first non-null occurrence wins. So a row holds each name twice: the first value written
    by the device (slots ``0..width-1``), then the first expanded one. Developer fields never
    count: their names are free text chosen by apps and may collide with profile names.
    """

    __slots__ = ("lists", "names", "rows", "slots", "table", "width")

    def __init__(self, table: Table) -> None:
        self.table = table
        self.names = tuple(dict.fromkeys(f for c in table.columns for f in c.fit_fields))
        self.slots = {name: slot for slot, name in enumerate(self.names)}
        self.width = len(self.names)
        self.lists = frozenset(f for c in table.columns if c.is_list for f in c.fit_fields)
        self.rows: list[Sequence[Any]] = []

    def keeps_list(self, slot: int) -> bool:
        """Whether the field in ``slot`` feeds a pl.List column: its arrays are kept whole."""
        return self.names[slot % self.width] in self.lists

    def frame(self, file_values: dict[str, Any]) -> pl.DataFrame:
        count = len(self.rows)
        stored = list(zip(*self.rows, strict=True)) if count else [()] * (2 * self.width)
        by_name: dict[str, Sequence[Any]] = {}
        for name, slot in self.slots.items():
            written, expanded = stored[slot], stored[slot + self.width]
            by_name[name] = _first_present(written, expanded)
        data: dict[str, Any] = {}
        for column in self.table.columns:
            if column.name == self.table.index_column:
                data[column.name] = range(count)
            elif column.fit_fields:
                values = by_name[column.fit_fields[0]]
                for name in column.fit_fields[1:]:
                    values = _first_present(values, by_name[name])
                if values.count(None) == count:
                    data[column.name] = [None] * count
                else:
                    convert = column.convert
                    data[column.name] = [None if v is None else convert(v) for v in values]
            else:
                data[column.name] = [file_values[column.name]] * count
        return pl.DataFrame(data, schema=frame_schema(self.table.name))


def _first_present(preferred: Sequence[Any], fallback: Sequence[Any]) -> Sequence[Any]:
    """Row by row, the preferred value unless it is null."""
    if fallback.count(None) == len(fallback):
        return preferred
    return [p if p is not None else f for p, f in zip(preferred, fallback, strict=True)]


def _field_values(message: fitdecode.FitDataMessage, wanted: frozenset[str]) -> dict[str, Any]:
    """Non-null values of the wanted fields of one message, by FIT field name, chosen as
    `_WideTable` chooses them; for the few single messages read outside a table."""
    found: dict[str, Any] = {}
    expanded: set[str] = set()
    for field in message.fields:
        name = field.name
        if name not in wanted:
            continue
        field_def = field.field_def
        if field_def is not None and field_def.is_dev:
            continue
        value = field.value
        if isinstance(value, tuple | list):
            value = value[0] if value else None
        if value is None:
            continue
        if name not in found:
            found[name] = value
            if field_def is None:
                expanded.add(name)
        elif name in expanded and field_def is not None:
            found[name] = value
            expanded.discard(name)
    return found


class _HrvBuilder:
    """RR intervals of hrv messages, one row each, tied to the last record before them."""

    __slots__ = ("messages", "positions", "records", "rr_ms")

    def __init__(self) -> None:
        self.messages: list[int] = []
        self.positions: list[int] = []
        self.records: list[int | None] = []
        self.rr_ms: list[int] = []

    def add(self, message: fitdecode.FitDataMessage, index: int, record: int | None) -> None:
        for field in message.fields:
            field_def = field.field_def
            if field.name != "time" or (field_def is not None and field_def.is_dev):
                continue
            raw = field.raw_value
            # raw_value is in the field's stored unit (ms); None marks unused slots (0xFFFF).
            for position, value in enumerate(raw if isinstance(raw, tuple | list) else (raw,)):
                if isinstance(value, int) and not isinstance(value, bool):
                    self.messages.append(index)
                    self.positions.append(position)
                    self.records.append(record)
                    self.rr_ms.append(value)

    def frame(self, activity_id: int) -> pl.DataFrame:
        rows = len(self.rr_ms)
        data = {
            "activity_id": [activity_id] * rows,
            "hrv_index": range(rows),
            "hrv_message_index": self.messages,
            "value_position": self.positions,
            "record_index": self.records,
            "rr_interval_ms": self.rr_ms,
        }
        return pl.DataFrame(data, schema=frame_schema(HRV.name))


_EXACT_FLOAT_INT = 2**53


def _json_item(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dt.datetime | dt.time | dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    return str(value)


_JSON = json.JSONEncoder(separators=(",", ":"))
_JSON_AS_IS = frozenset({int, str, type(None)})


def field_value_columns(value: Any) -> tuple[float | None, str | None]:
    """(value_float, value_string) of one field value in the long table."""
    if type(value) is int:  # by far the most common: first, and without the bool check
        return float(value), (str(value) if abs(value) > _EXACT_FLOAT_INT else None)
    if isinstance(value, bool):
        return float(value), None
    if isinstance(value, int):
        # Beyond 2**53 a float is not exact: keep the digits as text too.
        return float(value), (str(value) if abs(value) > _EXACT_FLOAT_INT else None)
    if isinstance(value, float):
        return value, None
    if isinstance(value, str):
        return None, value
    if isinstance(value, dt.datetime | dt.time | dt.date):
        return None, value.isoformat()
    if isinstance(value, bytes | bytearray):
        return None, bytes(value).hex()
    if isinstance(value, tuple | list):
        if _JSON_AS_IS.issuperset(map(type, value)):
            return None, _JSON.encode(list(value))
        return None, _JSON.encode([_json_item(v) for v in value])
    return None, str(value)


def is_null_value(value: Any) -> bool:
    """FIT's invalid value: None, or an array whose every item is invalid."""
    if isinstance(value, tuple | list):
        return all(v is None for v in value)
    return value is None


class _UnclaimedTable:
    """Every field value no wide column claims: one row per (message, field)."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        # ((message, message_index, timestamp), field_index, (developer_data_index,
        # field_number, field_name), units, value)
        self.rows: list[tuple[Any, ...]] = []

    def frame(self, activity_id: int) -> pl.DataFrame:
        count = len(self.rows)
        messages, field_index, about, units, values = (
            zip(*self.rows, strict=True) if count else [()] * 5
        )
        message, message_index, timestamp = zip(*messages, strict=True) if count else [()] * 3
        developer_data_index, field_number, field_name = (
            zip(*about, strict=True) if count else [()] * 3
        )
        value_float, value_string = (
            zip(*map(field_value_columns, values), strict=True) if count else [()] * 2
        )
        data = {
            "activity_id": [activity_id] * count,
            "message": message,
            "message_index": message_index,
            "field_index": field_index,
            "timestamp": timestamp,
            "developer_data_index": developer_data_index,
            "field_number": field_number,
            "field_name": field_name,
            "units": [u or None for u in units],
            "value_float": value_float,
            "value_string": value_string,
        }
        return pl.DataFrame(data, schema=frame_schema(DEVELOPER_FIELDS.name))


def _read_source(source: bytes | bytearray | memoryview | str | os.PathLike[str]) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as fh:
            return fh.read()
    raise TypeError(f"source must be bytes or a path, not {type(source).__name__}")


def _crc_byte_table() -> list[int]:
    """FIT's CRC (CRC-16/ARC, reflected polynomial 0xA001) of each byte value."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_BYTE = _crc_byte_table()
# The register is 16 bits wide, so after two more bytes it depends only on (register ^ those
# two bytes read as a little-endian word): one lookup per two bytes, about 20 times faster than
# fitdecode's nibble-wise `compute_crc` (a compact array also beats a list of ints here).
_CRC_WORD = array.array(
    "H",
    (
        (_CRC_BYTE[word & 0xFF] >> 8) ^ _CRC_BYTE[((word >> 8) ^ _CRC_BYTE[word & 0xFF]) & 0xFF]
        for word in range(1 << 16)
    ),
)


def fit_crc(data: bytes, start: int, end: int) -> int:
    """The FIT CRC of ``data[start:end]``, as `fitdecode.utils.compute_crc` computes it."""
    crc = 0
    even_end = start + (end - start) // 2 * 2
    words = array.array("H", data[start:even_end])
    if sys.byteorder == "big":
        words.byteswap()
    table = _CRC_WORD
    for word in words:
        crc = table[crc ^ word]
    if even_end < end:
        crc = (crc >> 8) ^ _CRC_BYTE[(crc ^ data[even_end]) & 0xFF]
    return crc


def check_structure(data: bytes, what: str = "the activity") -> None:
    """Check every chained part's header, size and CRCs before decoding a single message.

    The file CRC sits at the end, so a streaming decoder meets damaged bytes as a confusing
    parse error long before it reaches the CRC. Checking first lets the error say what is
    actually wrong (damaged, truncated, not FIT at all) and what to do about it; `what` names
    the download to fetch again (the wellness decoder checks its members with this too).
    """
    size = len(data)
    if size == 0:
        raise FitDecodeError(
            "empty input: 0 bytes, not a FIT file; the download or read returned nothing, "
            f"fetch {what} again"
        )
    for prefix, kind, advice in _KNOWN_SIGNATURES:
        if data.startswith(prefix):
            raise FitDecodeError(
                f"not a FIT file: input starts with {data[:4]!r}, which is {kind} "
                f"(expected {_FIT_SIGNATURE!r} at byte 8); {advice}"
            )
    offset = 0
    while offset < size:
        _check_part(data, offset, what)
        offset += data[offset] + int.from_bytes(data[offset + 4 : offset + 8], "little")
        offset += _CRC_SIZE


def _check_part(data: bytes, offset: int, what: str) -> None:
    """Check one FIT file (one part of a possibly chained file) starting at ``offset``."""
    size = len(data)
    first = offset == 0
    if size - offset < _MIN_HEADER_SIZE or data[offset + 8 : offset + 12] != _FIT_SIGNATURE:
        if not first:
            raise FitDecodeError(
                f"corrupt FIT file: {size - offset} unexpected bytes after the end of the FIT "
                f"data at byte {offset} (no FIT header there); re-download {what}"
            )
        if size < _MIN_HEADER_SIZE:
            raise FitDecodeError(
                f"not a FIT file: input is only {size} bytes, shorter than a FIT header "
                f"({_MIN_HEADER_SIZE} or 14 bytes); check what was saved as {what}"
            )
        raise FitDecodeError(
            f"not a FIT file: header signature is {data[8:12]!r} (expected {_FIT_SIGNATURE!r}); "
            f"check that this is the FIT file of {what} and not another download"
        )
    header_size = data[offset]
    if header_size < _MIN_HEADER_SIZE:
        raise FitDecodeError(
            f"corrupt FIT file: header at byte {offset} says it is {header_size} bytes long "
            f"(expected 12 or 14); re-download {what}"
        )
    body_size = int.from_bytes(data[offset + 4 : offset + 8], "little")
    end = offset + header_size + body_size
    if end + _CRC_SIZE > size:
        raise FitDecodeError(
            f"truncated FIT file: header at byte {offset} declares {body_size} bytes of "
            f"messages, so the input should be at least {end + _CRC_SIZE} bytes, but it is "
            f"{size}; re-download {what}"
        )
    if body_size == 0 and end + _CRC_SIZE < size:
        raise FitDecodeError(
            f"corrupt FIT file: header at byte {offset} declares no messages, yet "
            f"{size - end - _CRC_SIZE} more bytes follow; the app that wrote it never finished "
            f"the file, re-download {what}"
        )
    if header_size >= _MIN_HEADER_SIZE + _CRC_SIZE:
        stored = int.from_bytes(data[offset + 12 : offset + 14], "little")
        # 0 means "not computed" (FIT spec); the file CRC below still covers the header.
        computed = fit_crc(data, offset, offset + 12)
        if stored and stored != computed:
            raise FitDecodeError(
                f"corrupt FIT file: header CRC mismatch at byte {offset + 12} (stored "
                f"0x{stored:04x}, computed 0x{computed:04x}); re-download {what}"
            )
    stored = int.from_bytes(data[end : end + _CRC_SIZE], "little")
    computed = fit_crc(data, offset, end)
    if stored != computed:
        raise FitDecodeError(
            f"corrupt FIT file: CRC mismatch at byte {end} (stored 0x{stored:04x}, computed "
            f"0x{computed:04x}), the bytes changed after the device wrote them; re-download "
            f"{what}"
        )


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _error_for(exc: Exception, size: int) -> FitDecodeError:
    """Translate whatever fitdecode raised into one actionable line."""
    detail = _one_line(str(exc))
    if isinstance(exc, fitdecode.FitEOFError):
        # The declared size was checked up front, so this is a message overrunning the data.
        return FitDecodeError(
            f"corrupt FIT file: a message runs past the end of the input at byte {exc.offset} "
            f"(needed {exc.expected} bytes, {exc.got} left of {size}); re-download the "
            "activity, and if it persists the file is malformed"
        )
    if isinstance(exc, fitdecode.FitCRCError):
        return FitDecodeError(
            f"corrupt FIT file: CRC check failed, {detail}; the bytes changed after the device "
            "wrote them, re-download the activity"
        )
    if isinstance(exc, fitdecode.FitHeaderError):
        return FitDecodeError(
            f"corrupt FIT file: bad FIT header ({detail}); re-download the activity, and check "
            "that nothing was appended to the file"
        )
    if isinstance(exc, fitdecode.FitParseError):
        return FitDecodeError(
            f"corrupt FIT file: {detail}; re-download the activity, and if it persists the "
            "recording device or app wrote an invalid file"
        )
    return FitDecodeError(
        f"corrupt FIT file: the decoder failed with {type(exc).__name__}: {detail or '(no detail)'}"
        "; re-download the activity, and if it persists the file is malformed"
    )


def guarded_frames(
    reader: fitdecode.FitReader, error_for: Callable[[Exception], FitDecodeError]
) -> Iterator[Any]:
    """fitdecode's frames, with any failure *inside fitdecode* raised as ``error_for(it)``:
    every reader of FIT bytes (activities, wellness, the export's uploads) says in one line
    what is wrong with the file and what to do.

    Only the reader's own ``next()`` is guarded, so bugs in the caller still surface as
    themselves instead of being disguised as corrupt input.
    """
    frames = iter(reader)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except Exception as exc:  # any failure on malformed bytes is a decode error
            raise error_for(exc) from exc
        yield frame


def _read_fields(
    message: fitdecode.FitDataMessage, kind: _MessageType, index: int, unclaimed: _UnclaimedTable
) -> None:
    """The message's fields into its table's row, and into the long table."""
    fields = message.fields
    arrangement = _arrangement(fields)
    layout = kind.layouts.get(arrangement) or kind.add_layout(fields, arrangement)
    values = [field.value for field in fields]
    values.append(None)  # what `_Layout.row` picks for a slot no field fills
    if layout.row is not None:
        assert kind.table is not None  # a layout picks a row only for a type with a table
        row: tuple[Any, ...] | list[Any] = layout.row(values)
        choices = layout.choices if _ARRAYS.isdisjoint(map(type, values)) else layout.all_choices
        if choices:
            row = list(row)
            for slot, positions, keep_list in choices:
                row[slot] = _chosen(values, positions, keep_list)
        kind.table.rows.append(row)
    about_message = None
    for position, about in layout.unclaimed:
        value = values[position]
        if value is None or is_null_value(value):
            continue
        if about_message is None:
            about_message = (kind.name, index, _first_utc_micros(values, layout.timestamps))
        unclaimed.rows.append((about_message, position, about, fields[position].units, value))


def _first_utc_micros(values: list[Any], positions: tuple[int, ...]) -> int | None:
    """The first of the values at ``positions`` that is a UTC time, in Datetime("us")."""
    for position in positions:
        micros = to_utc_micros(values[position])
        if micros is not None:
            return micros
    return None


_ACTIVITY_TIMES = frozenset({"timestamp", "local_timestamp"})
_FILE_TYPE = frozenset({"type"})


def _utc_offset_s(message: fitdecode.FitDataMessage) -> int | None:
    """``local_timestamp - timestamp`` of an activity message, if both are real and sane."""
    times = _field_values(message, _ACTIVITY_TIMES)
    utc, local = times.get("timestamp"), times.get("local_timestamp")
    if not isinstance(utc, dt.datetime) or not isinstance(local, dt.datetime):
        return None
    offset = (local - utc) // dt.timedelta(seconds=1)
    return offset if _MIN_UTC_OFFSET_S <= offset <= _MAX_UTC_OFFSET_S else None


class LeanDataProcessor(fitdecode.DefaultDataProcessor):
    """fitdecode's default conversions, value for value, at a fraction of their cost.

    The default processor builds three method names per field (``process_type_<type>``,
    ``process_field_<name>``, ``process_units_<units>``) and looks each up, a sixth of
    fitdecode's time, to find one of four type conversions (bool, date_time,
    local_date_time, localtime_into_day) and, per message, the hr timestamps. This one goes
    straight to those: the same `DefaultDataProcessor` methods, found by the field's type name.
    """

    _BY_TYPE: ClassVar[dict[str, Callable[..., None]]] = {
        "bool": fitdecode.DefaultDataProcessor.process_type_bool,
        "date_time": fitdecode.DefaultDataProcessor.process_type_date_time,
        "local_date_time": fitdecode.DefaultDataProcessor.process_type_local_date_time,
        "localtime_into_day": fitdecode.DefaultDataProcessor.process_type_localtime_into_day,
    }

    def on_process_type(self, reader: fitdecode.FitReader, field_data: Any) -> None:
        convert = self._BY_TYPE.get(field_data.type.name)
        if convert is not None:
            convert(self, reader, field_data)

    def on_process_field(self, reader: fitdecode.FitReader, field_data: Any) -> None:
        """The default processor has no per-field conversion."""

    def on_process_unit(self, reader: fitdecode.FitReader, field_data: Any) -> None:
        """Nor a per-unit one."""

    def on_process_message(self, reader: fitdecode.FitReader, data_message: Any) -> None:
        if data_message.def_mesg.name == "hr":
            self.process_message_hr(reader, data_message)


@contextlib.contextmanager
def spec_violations_logged() -> Iterator[None]:
    """fitdecode's warnings about recoverable spec violations (a field size that is not a
    multiple of its type, as a COROS writes) as log lines, shown with `-v`: the file is decoded
    as fitdecode and the FIT SDK do, and a sync stays quiet about it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        yield
    for warning in caught:
        _log.info("FIT spec violation, decoded anyway: %s", warning.message)


def fit_reader(data: bytes) -> fitdecode.FitReader:
    """The fitdecode reader the decoder uses (the benchmark's bare iteration uses it too)."""
    return fitdecode.FitReader(
        io.BytesIO(data),
        processor=LeanDataProcessor(),
        # `check_structure` has verified every part's CRCs before the first frame is read;
        # fitdecode's own check would compute them all again, slowly (a tenth of its time).
        check_crc=fitdecode.CrcCheck.DISABLED,
        # Recoverable spec violations (e.g. a field size that is not a multiple of its type)
        # are decoded as fitdecode/the FIT SDK do, and reported as Python warnings (logged by
        # `spec_violations_logged`).
        error_handling=fitdecode.ErrorHandling.WARN,
    )


def decode_activity(
    source: bytes | str | os.PathLike[str], activity_id: int
) -> dict[str, pl.DataFrame]:
    """Decode an activity FIT file into ``{table name: frame}`` for every table in `TABLES`.

    ``source`` is the file's bytes or a local path. Chained FIT files (several FIT files
    concatenated, as pool swims and multisport activities are written) are read whole, and
    row indexes run on across the parts. CRCs are checked: a damaged file raises rather than
    producing plausible but wrong rows. A header CRC of 0 is accepted, because the FIT spec
    defines it as "not computed" and the file CRC at the end still covers the header bytes.

    Raises `FitDecodeError` for empty, truncated, corrupt, non-FIT or non-activity input.
    """
    if not isinstance(activity_id, int) or isinstance(activity_id, bool):
        raise TypeError(f"activity_id must be an int, not {type(activity_id).__name__}")
    data = _read_source(source)
    check_structure(data)

    wide = {t.message: _WideTable(t) for t in TABLES.values() if t.layout == "message"}
    message_types: dict[str, _MessageType] = {}
    by_definition: dict[object, _MessageType] = {}
    hrv = _HrvBuilder()
    unclaimed = _UnclaimedTable()
    utc_offset: int | None = None
    checked_part = -1
    with spec_violations_logged(), fit_reader(data) as reader:
        for frame in guarded_frames(reader, lambda exc: _error_for(exc, len(data))):
            if frame.frame_type != fitdecode.FIT_FRAME_DATA:
                continue
            kind = by_definition.get(frame.def_mesg)
            if kind is None:
                name = frame.name
                if name not in message_types:
                    message_types[name] = _MessageType(name, wide.get(name))
                kind = by_definition[frame.def_mesg] = message_types[name]
            index = kind.count
            kind.count = index + 1
            _read_fields(frame, kind, index, unclaimed)
            name = kind.name
            if name == HRV.message:
                records = message_types["record"].count if "record" in message_types else 0
                hrv.add(frame, index, records - 1 if records else None)
            elif name == "activity" and utc_offset is None:
                utc_offset = _utc_offset_s(frame)
            elif name == "file_id" and reader.fit_file_index != checked_part:
                # Only a part's first file_id counts: on garbled data fitdecode can "find" more.
                checked_part = reader.fit_file_index
                file_type = _field_values(frame, _FILE_TYPE).get("type")
                if file_type is not None and file_type != "activity":
                    raise FitDecodeError(
                        f"not an activity FIT file: file_id.type is {file_type!r} (expected "
                        "'activity'); courses, workouts and wellness files need their own reader"
                    )

    file_values = {"activity_id": activity_id, "local_utc_offset_s": utc_offset}
    tables: dict[str, pl.DataFrame] = {}
    for name, table in TABLES.items():
        if table.layout == "hrv_interval":
            tables[name] = hrv.frame(activity_id)
        elif table.layout == "unclaimed_field":
            tables[name] = unclaimed.frame(activity_id)
        else:
            tables[name] = wide[table.message].frame(file_values)
    return tables
