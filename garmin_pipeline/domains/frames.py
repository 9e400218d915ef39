"""Small builders the domain parsers share: a frame from a JSON list, typed to a dataset."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import polars as pl

from garmin_pipeline.errors import PayloadParseError
from garmin_pipeline.feeds import Dataset
from garmin_pipeline.lake.parsers import json_column


def json_frame(
    rows: Sequence[Mapping[str, Any]], fields: Mapping[str, str], what: str = "the payload"
) -> pl.DataFrame:
    """Columns built from a small JSON list: one Python list per column, no row loop in polars.

    `what` names the rows in a rejection (a value that is an object or array)."""
    return pl.DataFrame(
        {name: json_column(rows, key, what) for name, key in fields.items()}, strict=False
    )


def typed(frame: pl.DataFrame, dataset: Dataset, **exprs: pl.Expr) -> pl.DataFrame:
    """The dataset's columns in order: `exprs` where given, else a plain cast.

    A value the cast cannot convert (text in a number column...) rejects the payload with
    `PayloadParseError` naming the column."""
    selected = [
        exprs[c.name].alias(c.name) if c.name in exprs else pl.col(c.name).cast(c.dtype)
        for c in dataset.columns
    ]
    try:
        return frame.select(selected)
    except pl.exceptions.PolarsError as error:
        failure = f"a column cannot be read as declared: {first_line(error)}"
    for expr, column in zip(selected, dataset.columns, strict=True):
        try:
            frame.select(expr)
        except pl.exceptions.PolarsError as error:
            failure = f"{column.name} cannot be read as {column.dtype}: {first_line(error)}"
            break
    raise PayloadParseError(failure)


def first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def day_literal(day: date) -> pl.Expr:
    return pl.lit(day, pl.Date)


def date_prefix(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
