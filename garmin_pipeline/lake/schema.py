"""A dataset's columns, declared once.

The polars schema parsers build to, the Pandera schema the lake validates with, and the data
dictionary are all derived from these declarations, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pandera.polars as pa
import polars as pl

UTC_TIME = pl.Datetime("us", "UTC")
LOCAL_TIME = pl.Datetime("us")


@dataclass(frozen=True)
class Column:
    """One lake column: its type, unit and meaning, and the checks its values must pass."""

    name: str
    dtype: pl.DataType
    description: str
    unit: str | None = None
    checks: Sequence[pa.Check] = field(default_factory=tuple)
    nullable: bool = True


class ColumnSpec(Protocol):
    """What a decoder declares for each column it produces (the FIT tables do)."""

    name: str
    dtype: pl.DataType
    description: str
    unit: str | None


# Not a lake column: which day a row belongs to while several days are validated at once.
BATCH_DAY = Column(
    "__day", pl.Date, "The day a row of a multi-day batch belongs to.", nullable=False
)


def lake_columns(
    specs: Iterable[ColumnSpec],
    checks: Mapping[str, Sequence[pa.Check]],
    required: Collection[str],
) -> tuple[Column, ...]:
    """Lake columns from a decoder's own declarations, adding checks and non-null keys, so a
    decoded table's columns are declared once, by the decoder."""
    return tuple(
        Column(
            s.name,
            s.dtype,
            s.description,
            s.unit,
            checks.get(s.name, ()),
            nullable=s.name not in required,
        )
        for s in specs
    )


def in_range(low: float, high: float) -> tuple[pa.Check, ...]:
    """A plausibility range: values outside it are sensor or parser faults, not data."""
    return (pa.Check.in_range(low, high),)


def polars_schema(columns: Sequence[Column]) -> pl.Schema:
    return pl.Schema({c.name: c.dtype for c in columns})


def pandera_schema(
    name: str, columns: Sequence[Column], unique: Sequence[str]
) -> pa.DataFrameSchema:
    """Strict: a column the declaration does not know is a parser bug, not something to keep."""
    return pa.DataFrameSchema(
        {c.name: pa.Column(c.dtype, checks=list(c.checks), nullable=c.nullable) for c in columns},
        name=name,
        strict=True,
        ordered=True,
        unique=list(unique) or None,
    )


def empty_frame(columns: Sequence[Column]) -> pl.DataFrame:
    return pl.DataFrame(schema=polars_schema(columns))
