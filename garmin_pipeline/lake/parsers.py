"""Raw payloads → polars frames with exactly the declared columns and dtypes.

Each parser takes one account-day's raw bundle (payload name → bytes) and returns a frame per
dataset. A payload that cannot be parsed at all is reported back as rejected, with the reason,
instead of aborting the day: the other payloads still land, and raw keeps the bad one.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from garmin_pipeline.fit import FitDecodeError, decode_activity
from garmin_pipeline.lake.schema import Column, empty_frame, polars_schema

RawDay = Mapping[str, bytes]
# What a parser raises on a payload it cannot read (malformed JSON, a shape it does not know).
PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, pl.exceptions.PolarsError)


@dataclass
class ParsedDay:
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)  # payload name → reason


def _json(raw: RawDay, name: str) -> Any:
    return json.loads(raw[name].decode("utf-8"))


def _dig(payload: Mapping[str, Any] | None, path: str) -> Any:
    """`a.b.c` lookup that tolerates missing or null levels, as Garmin bodies often have."""
    value: Any = payload
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def one_row(
    payload: Mapping[str, Any], fields: Mapping[str, str], columns: Sequence[Column]
) -> pl.DataFrame:
    """A single-row frame: each column taken from its JSON path, cast to its declared dtype."""
    schema = polars_schema(columns)
    raw_values = {name: [_dig(payload, path)] for name, path in fields.items()}
    frame = pl.DataFrame(raw_values, strict=False)
    return frame.select(cast_to(name, frame.schema[name], dtype) for name, dtype in schema.items())


def cast_to(name: str, current: pl.DataType, target: pl.DataType) -> pl.Expr:
    """Cast JSON values to the declared dtype; ISO date strings are parsed, not cast."""
    column = pl.col(name)
    if current == pl.String and target == pl.Date:
        return column.str.to_date("%Y-%m-%d", strict=False)
    return column.cast(target, strict=False)


def epoch_ms_to_utc(column: str) -> pl.Expr:
    return pl.from_epoch(pl.col(column).cast(pl.Int64), time_unit="ms").dt.replace_time_zone("UTC")


def epoch_ms_to_local(column: str) -> pl.Expr:
    return pl.from_epoch(pl.col(column).cast(pl.Int64), time_unit="ms")


def parse_json_frames(
    payload_name: str, build: Callable[[Any, date], Mapping[str, pl.DataFrame]]
) -> Callable[[RawDay, date], ParsedDay]:
    """Wrap a one-payload parser (dataset name → frame) with the reject-don't-abort rule."""

    def parse(raw: RawDay, day: date) -> ParsedDay:
        parsed = ParsedDay()
        if payload_name not in raw:
            return parsed
        try:
            parsed.frames.update(build(_json(raw, payload_name), day))
        except PARSE_ERRORS as error:
            parsed.rejected[payload_name] = f"cannot parse {payload_name}: {error}".splitlines()[0]
        return parsed

    return parse


def parse_json_day(
    payload_name: str, build: Callable[[Any, date], pl.DataFrame], dataset: str
) -> Callable[[RawDay, date], ParsedDay]:
    """`parse_json_frames` for a payload that feeds exactly one dataset."""
    return parse_json_frames(payload_name, lambda payload, day: {dataset: build(payload, day)})


def activity_zip_name(activity_id: int) -> str:
    return f"activity-{activity_id}.zip"


def fit_from_zip(payload: bytes) -> bytes:
    """The ORIGINAL download is a zip holding one `.fit`; a bare FIT is accepted as is."""
    if not payload.startswith(b"PK"):
        return payload
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            fits = [n for n in archive.namelist() if n.lower().endswith(".fit")]
            if len(fits) != 1:
                raise FitDecodeError(
                    f"the activity zip holds {len(fits)} .fit files, expected 1; "
                    "re-download the activity"
                )
            return archive.read(fits[0])
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise FitDecodeError(
            f"the activity download is not a readable zip ({error}); re-download the activity"
        ) from error


def decode_activity_payloads(
    raw: RawDay, activity_ids: Sequence[int], fit_tables: Mapping[str, Sequence[Column]]
) -> ParsedDay:
    """Decode each listed activity's FIT; a corrupt file is rejected, the others still land."""
    parsed = ParsedDay()
    decoded: dict[str, list[pl.DataFrame]] = {name: [] for name in fit_tables}
    for activity_id in activity_ids:
        name = activity_zip_name(activity_id)
        if name not in raw:
            parsed.rejected[name] = f"activity {activity_id} is listed but its file is not in raw"
            continue
        try:
            tables = decode_activity(fit_from_zip(raw[name]), activity_id=activity_id)
        except FitDecodeError as error:
            parsed.rejected[name] = str(error)
            continue
        for table, frame in tables.items():
            decoded[table].append(frame)
    for table, columns in fit_tables.items():
        parsed.frames[table] = pl.concat(decoded[table]) if decoded[table] else empty_frame(columns)
    return parsed
