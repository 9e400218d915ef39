"""Decode one activity FIT file into the tables declared in `garmin_pipeline.fit.tables`.

The file is read once with fitdecode; every data message of a declared type becomes one row,
gathered column by column into plain lists, and each table is built with a single
``pl.DataFrame(..., schema=...)`` at the end. RR intervals of hrv messages become one row each,
and every field value no wide column claims becomes a row of the long developer-fields table.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import fitdecode
import polars as pl

from garmin_pipeline.errors import PayloadParseError
from garmin_pipeline.fit.tables import (
    DEVELOPER_FIELDS,
    HRV,
    TABLES,
    Column,
    Table,
    frame_schema,
    to_utc_micros,
)
from garmin_pipeline.settings import max_payload_bytes

__all__ = ["FitDecodeError", "decode_activity"]

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


class _TableBuilder:
    """Per-column lists for one table, appended to once per matching message."""

    __slots__ = ("_targets", "fields", "lists", "rows", "table", "wanted")

    def __init__(self, table: Table) -> None:
        self.table = table
        self.fields: dict[str, list[Any]] = {}
        self._targets: list[tuple[list[Any], tuple[str, ...], Callable[[Any], Any]]] = []
        for column in table.columns:
            if column.fit_fields:
                values: list[Any] = []
                self.fields[column.name] = values
                self._targets.append((values, column.fit_fields, column.convert))
        self.wanted = frozenset(f for _, names, _ in self._targets for f in names)
        self.lists = frozenset(f for c in table.columns if c.is_list for f in c.fit_fields)
        self.rows = 0

    def add(self, message: fitdecode.FitDataMessage) -> None:
        found = _field_values(message, self.wanted, self.lists)
        for values, names, convert in self._targets:
            for name in names:
                value = found.get(name)
                if value is not None:
                    values.append(convert(value))
                    break
            else:
                values.append(None)
        self.rows += 1

    def frame(self, file_values: dict[str, Any]) -> pl.DataFrame:
        data: dict[str, Any] = {}
        for column in self.table.columns:
            data[column.name] = self._column_values(column, file_values)
        return pl.DataFrame(data, schema=frame_schema(self.table.name))

    def _column_values(self, column: Column, file_values: dict[str, Any]) -> Any:
        if column.name == self.table.index_column:
            return range(self.rows)
        if column.fit_fields:
            return self.fields[column.name]
        return [file_values[column.name]] * self.rows


def _field_values(
    message: fitdecode.FitDataMessage,
    wanted: frozenset[str],
    lists: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Non-null values of the wanted fields of one message, by FIT field name.

    A name can occur twice in one message: as the field itself and as a component expanded
    from another field (``speed`` -> ``enhanced_speed``, ``compressed_speed_distance`` ->
    ``speed``). The field as written by the device wins over the expanded one; otherwise the
    first non-null occurrence wins. Developer fields are skipped: their names are free text
    chosen by apps and may collide with profile names. Fields named in ``lists`` keep all
    their values.
    """
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
        # Some writers declare a scalar field with room for several values; the first one is
        # the value, the rest is padding.
        if isinstance(value, tuple | list):
            if name not in lists:
                value = value[0] if value else None
            elif all(v is None for v in value):
                value = None
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


def field_value_columns(value: Any) -> tuple[float | None, str | None]:
    """(value_float, value_string) of one field value in the long table."""
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
        return None, json.dumps([_json_item(v) for v in value], separators=(",", ":"))
    return None, str(value)


def is_null_value(value: Any) -> bool:
    """FIT's invalid value: None, or an array whose every item is invalid."""
    if isinstance(value, tuple | list):
        return all(v is None for v in value)
    return value is None


class _UnclaimedBuilder:
    """Every field value no wide column claims: one row per (message, field)."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data: dict[str, list[Any]] = {
            name: [] for name in _SPECIAL_COLUMNS["unclaimed_field"][1:]
        }

    def add(self, message: fitdecode.FitDataMessage, index: int, claimed: frozenset[str]) -> None:
        rows: list[tuple[int, Any, Any]] = []
        timestamp: Any = None
        for position, field in enumerate(message.fields):
            field_def = field.field_def
            dev = field_def is not None and field_def.is_dev
            name = field.name
            if not dev and name == "timestamp" and timestamp is None:
                timestamp = to_utc_micros(field.value)
            if (not dev and name in claimed) or is_null_value(field.value):
                continue
            rows.append((position, field, dev))
        if not rows:
            return
        data = self.data
        for position, field, dev in rows:
            value_float, value_string = field_value_columns(field.value)
            data["message"].append(message.name)
            data["message_index"].append(index)
            data["field_index"].append(position)
            data["timestamp"].append(timestamp)
            data["developer_data_index"].append(field.field_def.dev_data_index if dev else None)
            data["field_number"].append(field.def_num)
            data["field_name"].append(field.name)
            data["units"].append(field.units or None)
            data["value_float"].append(value_float)
            data["value_string"].append(value_string)

    def frame(self, activity_id: int) -> pl.DataFrame:
        rows = len(self.data["message"])
        data = {"activity_id": [activity_id] * rows, **self.data}
        return pl.DataFrame(data, schema=frame_schema(DEVELOPER_FIELDS.name))


def _read_source(source: bytes | bytearray | memoryview | str | os.PathLike[str]) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as fh:
            return fh.read()
    raise TypeError(f"source must be bytes or a path, not {type(source).__name__}")


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
        computed = fitdecode.utils.compute_crc(data, start=offset, end=offset + 12)
        if stored and stored != computed:
            raise FitDecodeError(
                f"corrupt FIT file: header CRC mismatch at byte {offset + 12} (stored "
                f"0x{stored:04x}, computed 0x{computed:04x}); re-download {what}"
            )
    stored = int.from_bytes(data[end : end + _CRC_SIZE], "little")
    computed = fitdecode.utils.compute_crc(data, start=offset, end=end)
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


def _frames(reader: fitdecode.FitReader, size: int) -> Iterator[Any]:
    """fitdecode's frames, with any failure *inside fitdecode* turned into FitDecodeError.

    Only the reader's own ``next()`` is guarded, so bugs in this module still surface as
    themselves instead of being disguised as corrupt input.
    """
    frames = iter(reader)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except Exception as exc:  # any failure on malformed bytes is a decode error
            raise _error_for(exc, size) from exc
        yield frame


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

    builders = {n: _TableBuilder(t) for n, t in TABLES.items() if t.layout == "message"}
    by_message: dict[str, list[_TableBuilder]] = {}
    for builder in builders.values():
        by_message.setdefault(builder.table.message, []).append(builder)
    claimed: dict[str, frozenset[str]] = {
        message: frozenset().union(*(b.table.fit_fields for b in group))
        for message, group in by_message.items()
    }
    claimed[HRV.message] = claimed.get(HRV.message, frozenset()) | {"time"}
    hrv = _HrvBuilder()
    unclaimed = _UnclaimedBuilder()
    counts: dict[str, int] = {}
    utc_offset: int | None = None
    checked_part = -1
    reader = fitdecode.FitReader(
        io.BytesIO(data),
        # Already verified above; kept on so fitdecode never yields frames from a bad part.
        check_crc=fitdecode.CrcCheck.RAISE,
        # Recoverable spec violations (e.g. a field size that is not a multiple of its type)
        # are decoded as fitdecode/the FIT SDK do, and reported as Python warnings.
        error_handling=fitdecode.ErrorHandling.WARN,
    )
    with reader:
        for frame in _frames(reader, len(data)):
            if frame.frame_type != fitdecode.FIT_FRAME_DATA:
                continue
            name = frame.name
            index = counts.get(name, 0)
            counts[name] = index + 1
            for builder in by_message.get(name, ()):
                builder.add(frame)
            if name == HRV.message:
                records = counts.get("record", 0)
                hrv.add(frame, index, records - 1 if records else None)
            unclaimed.add(frame, index, claimed.get(name, frozenset()))
            if name == "activity" and utc_offset is None:
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
            tables[name] = builders[name].frame(file_values)
    return tables
