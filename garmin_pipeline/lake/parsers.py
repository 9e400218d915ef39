"""Raw payloads → polars frames with exactly the declared columns and dtypes.

Each parser takes one account-day's raw bundle (payload name → bytes) and returns a frame per
dataset. A payload that cannot be parsed at all is reported back as rejected, with the reason,
instead of aborting the day: the other payloads still land, and raw keeps the bad one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from garmin_pipeline.errors import PayloadParseError
from garmin_pipeline.fit import FitDecodeError, decode_activity
from garmin_pipeline.fit.decode import zip_fit_members
from garmin_pipeline.lake.schema import Column, Dataset, empty_frame, polars_schema
from garmin_pipeline.raw.canonical import activity_zip_name
from garmin_pipeline.raw.feed import RawFeed

RawDay = Mapping[str, bytes]
# What a parser may raise on a payload it cannot read. `PayloadParseError` (a ValueError, as is
# `FitDecodeError`) is the one it means to raise, with a reason; the others are a safety net.
PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, pl.exceptions.PolarsError)


@dataclass
class ParsedDay:
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)  # payload name → reason
    # A feed whose datasets describe one thing together (`LakeFeed.entity`: an activity): the
    # things that must not land in any of them, with why (their file could not be read).
    withheld: dict[Any, str] = field(default_factory=dict)


Parse = Callable[[RawDay, date], ParsedDay]


@dataclass(frozen=True, kw_only=True)
class LakeFeed(RawFeed):
    """A feed as the lake knows it: what raw keeps of it (`RawFeed`), parsed into datasets."""

    parse: Parse
    datasets: tuple[Dataset, ...]
    # A column every dataset of the feed has, naming one thing they describe together (an
    # activity): its rows land in all of them or are quarantined from all, with one reason.
    entity: str | None = None


def read_json(raw: RawDay, name: str) -> Any:
    """The payload's JSON value; `PayloadParseError` saying what is wrong if there is none."""
    body = raw[name]
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        bad = body[error.start : error.start + 1]
        raise PayloadParseError(f"not UTF-8 text: byte {error.start} is {bad!r}") from None
    except json.JSONDecodeError as error:
        raise PayloadParseError(
            f"not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise PayloadParseError("JSON nested too deeply to read") from None
    except ValueError as error:  # e.g. an integer of more than 4300 digits
        raise PayloadParseError(f"unreadable JSON value: {_one_line(error)}") from None


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _kind(value: Any) -> str:
    """How a JSON value's type is named in a rejection."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r}{'...' if len(value) > 40 else ''})"
    return f"a number ({value!r})" if isinstance(value, int | float) else type(value).__name__


def json_object(value: Any, what: str) -> Mapping[str, Any]:
    """`value` as a JSON object (null: an empty one), else `PayloadParseError` naming `what`."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    raise PayloadParseError(f"{what} is {_kind(value)}, expected an object")


def json_array(value: Any, what: str) -> list[Any]:
    """`value` as a JSON array (null: an empty one), else `PayloadParseError` naming `what`."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise PayloadParseError(f"{what} is {_kind(value)}, expected an array")


def json_objects(value: Any, what: str) -> list[Mapping[str, Any]]:
    """`value` as a JSON array of objects (null: an empty one), else `PayloadParseError`."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadParseError(f"{what} is {_kind(value)}, expected an array of objects")
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise PayloadParseError(f"{what}[{index}] is {_kind(item)}, expected an object")
    return value


# Beyond int64 a polars column cannot hold a JSON integer exactly; as a float it still casts
# (to null for integer columns) instead of overflowing.
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def json_scalar(value: Any, what: str) -> Any:
    """A JSON value meant to be a number, string or boolean (or null), ready for a polars
    column; an object or array there is `PayloadParseError` naming `what`."""
    if isinstance(value, Mapping | list | tuple):
        raise PayloadParseError(f"{what} is {_kind(value)}, expected a single value")
    if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
        try:
            return float(value)
        except OverflowError:
            return math.copysign(math.inf, value)
    return value


def json_column(rows: Sequence[Mapping[str, Any]], key: str, what: str) -> list[Any]:
    """`key` of each row, each a `json_scalar`; `what` names the rows in a rejection."""
    return [json_scalar(row.get(key), f"{what}[{i}].{key}") for i, row in enumerate(rows)]


def _dig(payload: Mapping[str, Any] | None, path: str) -> Any:
    """`a.b.c` lookup that tolerates missing or null levels, as Garmin bodies often have; a
    level that is there but not an object is `PayloadParseError` naming it."""
    value: Any = payload
    parts = path.split(".")
    for depth, part in enumerate(parts):
        if value is None:
            return None
        if not isinstance(value, Mapping):
            level = ".".join(parts[:depth]) or "the payload"
            raise PayloadParseError(f"{level} is {_kind(value)}, expected an object")
        value = value.get(part)
    return json_scalar(value, path)


def one_row(
    payload: Mapping[str, Any], fields: Mapping[str, str], columns: Sequence[Column]
) -> pl.DataFrame:
    """A single-row frame: each column taken from its JSON path, cast to its declared dtype."""
    schema = polars_schema(columns)
    payload = json_object(payload, "the payload")
    raw_values = {name: [_dig(payload, path)] for name, path in fields.items()}
    frame = pl.DataFrame(raw_values, strict=False)
    return frame.select(cast_to(name, frame.schema[name], dtype) for name, dtype in schema.items())


def cast_to(name: str, current: pl.DataType, target: pl.DataType) -> pl.Expr:
    """Cast JSON values to the declared dtype; ISO date strings are parsed, not cast."""
    column = pl.col(name)
    if current == pl.String and target == pl.Date:
        return column.str.to_date("%Y-%m-%d", strict=False)
    return column.cast(target, strict=False)


# Epoch milliseconds whose microseconds fit polars' int64 datetimes (about ±292 000 years);
# beyond, from_epoch would silently wrap around to a plausible-looking wrong time.
_EPOCH_MS_LIMIT = _INT64_MAX // 1000


def _epoch_ms(column: str) -> pl.Expr:
    """The column as int64 epoch ms; null where it is not a number or out of datetime range."""
    ms = pl.col(column).cast(pl.Int64, strict=False)
    return pl.when(ms.is_between(-_EPOCH_MS_LIMIT, _EPOCH_MS_LIMIT)).then(ms)


def epoch_ms_to_utc(column: str) -> pl.Expr:
    return pl.from_epoch(_epoch_ms(column), time_unit="ms").dt.replace_time_zone("UTC")


def epoch_ms_to_local(column: str) -> pl.Expr:
    return pl.from_epoch(_epoch_ms(column), time_unit="ms")


@dataclass(frozen=True)
class JsonPayloadParser:
    """A feed's parse for one JSON payload: `build` (dataset name → frame), with the
    reject-don't-abort rule.

    `build` raises `PayloadParseError` for a shape it cannot read; the payload is then rejected
    with that one-line reason. Any other exception of `PARSE_ERRORS` is a parser bug, yet it
    still only rejects the payload (naming the exception) rather than aborting the build.
    """

    payload_name: str
    build: Callable[[Any, date], Mapping[str, pl.DataFrame]]

    def __call__(self, raw: RawDay, day: date) -> ParsedDay:
        parsed = ParsedDay()
        if self.payload_name not in raw:
            return parsed
        try:
            parsed.frames.update(self.parse_payload(raw, day))
        except PayloadParseError as error:
            parsed.rejected[self.payload_name] = f"cannot parse {self.payload_name}: {error}"
        # A parser bug; polars' PanicException (a Rust panic) is not even an Exception.
        except (*PARSE_ERRORS, pl.exceptions.PanicException) as error:
            parsed.rejected[self.payload_name] = (
                f"cannot parse {self.payload_name}: {type(error).__name__}: {_one_line(error)}"
            )
        return parsed

    def parse_payload(self, raw: RawDay, day: date) -> Mapping[str, pl.DataFrame]:
        """The frames, or `PayloadParseError`; anything else escaping is a parser bug."""
        return self.build(read_json(raw, self.payload_name), day)


def parse_json_frames(
    payload_name: str, build: Callable[[Any, date], Mapping[str, pl.DataFrame]]
) -> JsonPayloadParser:
    """Wrap a one-payload parser (dataset name → frame) with the reject-don't-abort rule."""
    return JsonPayloadParser(payload_name, build)


def parse_json_day(
    payload_name: str, build: Callable[[Any, date], pl.DataFrame], dataset: str
) -> JsonPayloadParser:
    """`parse_json_frames` for a payload that feeds exactly one dataset."""
    return parse_json_frames(payload_name, lambda payload, day: {dataset: build(payload, day)})


def fit_from_zip(payload: bytes) -> bytes:
    """The ORIGINAL download is a zip holding one `.fit`; a bare FIT is accepted as is."""
    if not payload.startswith(b"PK"):
        return payload
    fits = zip_fit_members(payload, "the activity download", "re-download the activity")
    if len(fits) != 1:
        raise FitDecodeError(
            f"the activity zip holds {len(fits)} .fit files, expected 1; re-download the activity"
        )
    return fits[0][1]


def decode_activity_payloads(
    raw: RawDay, activity_ids: Sequence[int], fit_tables: Mapping[str, Sequence[Column]]
) -> ParsedDay:
    """Decode each listed activity's FIT; a file that cannot be read is rejected and its
    activity withheld from every dataset, the others still land."""
    parsed = ParsedDay()
    decoded: dict[str, list[pl.DataFrame]] = {name: [] for name in fit_tables}
    for activity_id in activity_ids:
        name = activity_zip_name(activity_id)
        if name not in raw:
            reason = f"activity {activity_id} is listed but its file is not in raw"
            parsed.rejected[name] = parsed.withheld[activity_id] = reason
            continue
        try:
            tables = decode_activity(fit_from_zip(raw[name]), activity_id=activity_id)
        except FitDecodeError as error:
            parsed.rejected[name] = parsed.withheld[activity_id] = str(error)
            continue
        for table, frame in tables.items():
            decoded[table].append(frame)
    for table, columns in fit_tables.items():
        parsed.frames[table] = pl.concat(decoded[table]) if decoded[table] else empty_frame(columns)
    return parsed
