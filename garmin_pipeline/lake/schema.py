"""A dataset's columns, declared once.

The polars schema parsers build to, the Pandera schema the lake validates with, the
plausibility ranges it nulls measurements outside of, and the data dictionary are all derived
from these declarations, so they cannot drift apart.

Two classes of check, because real devices are not clean:
- **identity and structure** (the declared columns and types, non-null keys and timestamps,
  unique keys): the Pandera schema. A row that fails it cannot be placed, so it is quarantined.
- **measurements** (heart rate, power, cadence, speed, temperature, durations, scores): a
  `Plausible` range. A value outside it (heart rate 0 from a device without a strap, a 27-day
  duration, a 0xFE sentinel) is nulled and counted; the row and its other values stay, and raw
  keeps the original.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

import pandera.polars as pa
import polars as pl

if TYPE_CHECKING:
    # polars' own name for a dtype given as a class (pl.Int32) or an instance (pl.List(...)).
    from polars._typing import PolarsDataType

UTC_TIME = pl.Datetime("us", "UTC")
LOCAL_TIME = pl.Datetime("us")


@dataclass(frozen=True)
class Plausible:
    """The values a measurement can really take, bounds included. Outside them a value is a
    sensor fault or a "no sensor" sentinel, not data: the lake nulls it and counts it."""

    low: float
    high: float

    def implausible(self, column: str) -> pl.Expr:
        """True where the column holds a value outside the range (NaN included), else False."""
        value = pl.col(column)
        return (value.is_not_null() & ~value.is_between(self.low, self.high)).fill_null(False)

    def __str__(self) -> str:
        return f"{_number(self.low)}..{_number(self.high)}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Column:
    """One lake column: its type, unit and meaning, and for a measurement its plausible range."""

    name: str
    dtype: PolarsDataType
    description: str
    unit: str | None = None
    plausible: Plausible | None = None  # a measurement: outside it, nulled and counted
    nullable: bool = True  # False: part of the row's identity (a key, its timestamp)

    def __post_init__(self) -> None:
        if self.plausible is not None and not self.dtype.is_numeric():
            raise ValueError(f"{self.name}: a plausible range needs a number, not {self.dtype}")


class ColumnSpec(Protocol):
    """What a decoder declares for each column it produces (the FIT tables do); read-only, so
    frozen declarations (this module's `Column`, the FIT tables') satisfy it."""

    @property
    def name(self) -> str: ...
    @property
    def dtype(self) -> PolarsDataType: ...
    @property
    def description(self) -> str: ...
    @property
    def unit(self) -> str | None: ...


# Not a lake column: which day a row belongs to while several days are validated at once.
BATCH_DAY = Column(
    "__day", pl.Date, "The day a row of a multi-day batch belongs to.", nullable=False
)


def lake_columns(
    specs: Iterable[ColumnSpec],
    plausible: Callable[[ColumnSpec], Plausible | None],
    required: Collection[str],
) -> tuple[Column, ...]:
    """Lake columns from a decoder's own declarations, adding plausible ranges and non-null
    keys, so a decoded table's columns are declared once, by the decoder."""
    return tuple(
        Column(
            s.name,
            s.dtype,
            s.description,
            s.unit,
            plausible(s),
            nullable=s.name not in required,
        )
        for s in specs
    )


def in_range(low: float, high: float) -> Plausible:
    """A measurement's plausible range: values outside it are sensor or parser faults."""
    return Plausible(low, high)


# A calendar day lasts 23 to 25 hours (daylight saving time): what a day can hold.
LONGEST_DAY_S = 25 * 3600
SECONDS_IN_DAY = in_range(0, LONGEST_DAY_S)
MINUTES_IN_DAY = in_range(0, LONGEST_DAY_S // 60)


def polars_schema(columns: Sequence[Column]) -> pl.Schema:
    return pl.Schema({c.name: c.dtype for c in columns})


def pandera_schema(
    name: str, columns: Sequence[Column], unique: Sequence[str]
) -> pa.DataFrameSchema:
    """Identity and structure only (measurements are nulled before, see `Plausible`). Strict:
    a column the declaration does not know is a parser bug, not something to keep."""
    return pa.DataFrameSchema(
        {c.name: pa.Column(c.dtype, nullable=c.nullable) for c in columns},
        name=name,
        strict=True,
        ordered=True,
        unique=list(unique) or None,
    )


def empty_frame(columns: Sequence[Column]) -> pl.DataFrame:
    """No rows, the declared columns. Made once per declaration: a day without data asks for
    one per dataset, and building a frame of a hundred typed columns costs a millisecond (a
    third of building thirteen years of empty activity days)."""
    return _empty_frame(tuple(columns)).clone()


@functools.cache
def _empty_frame(columns: tuple[Column, ...]) -> pl.DataFrame:
    return pl.DataFrame(schema=polars_schema(columns))


@dataclass(frozen=True)
class Dataset:
    """One lake table: a Parquet file per account and day (`layout.partition_dir`)."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # unique per partition; also the sort order that makes files deterministic

    @cached_property
    def schema(self) -> pa.DataFrameSchema:
        return pandera_schema(self.name, self.columns, self.key)

    @cached_property
    def batch_schema(self) -> pa.DataFrameSchema:
        """`schema` for several days stacked with a `BATCH_DAY` column: keys unique per day."""
        key = (*self.key, BATCH_DAY.name) if self.key else ()
        return pandera_schema(self.name, (*self.columns, BATCH_DAY), key)

    @cached_property
    def polars_schema(self) -> pl.Schema:
        return polars_schema(self.columns)

    @cached_property
    def plausible(self) -> dict[str, Plausible]:
        """The measurements and their plausible ranges: outside them, nulled and counted."""
        return {c.name: c.plausible for c in self.columns if c.plausible is not None}
