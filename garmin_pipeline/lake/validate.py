"""Split a frame into the rows that pass its Pandera schema and the rows that do not.

Failing rows are never dropped: they go to quarantine with the reason, so a fixed parser can
recover them from raw.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import pandera.polars as pa
import polars as pl

from garmin_pipeline.lake.schema import BATCH_DAY

QUARANTINE_REASON = "quarantine_reason"
_ROW_INDEX = "__row"


@dataclass(frozen=True)
class ValidationResult:
    valid: pl.DataFrame
    quarantined: pl.DataFrame  # the failing rows plus a `quarantine_reason` column
    failures: pl.DataFrame  # one row per (check, column) with how many rows failed it

    @property
    def passed(self) -> bool:
        return self.quarantined.height == 0


def failure_cases(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame | None:
    """Pandera's failure cases, one reason each; None when every row passes."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        return errors.failure_cases.with_columns(
            reason=pl.concat_str(
                pl.col("column").fill_null("<row>"),
                pl.lit(": "),
                pl.col("check"),
                pl.lit(" (got "),
                pl.col("failure_case").fill_null("null"),
                pl.lit(")"),
            )
        )
    return None


def validate(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> ValidationResult:
    return split(frame, failure_cases(frame, schema))


def split(frame: pl.DataFrame, cases: pl.DataFrame | None) -> ValidationResult:
    """The frame's valid and quarantined rows, given its failure cases."""
    if cases is None or cases.is_empty():
        return ValidationResult(
            frame,
            frame.clear().with_columns(pl.lit(None, pl.String).alias(QUARANTINE_REASON)),
            pl.DataFrame(
                schema={"column": pl.String, "check": pl.String, "failing_rows": pl.UInt32}
            ),
        )
    failures = (
        cases.group_by("column", "check", maintain_order=True)
        .agg(failing_rows=pl.len())
        .sort("column", "check", nulls_last=True)
    )
    if cases["index"].null_count():
        # A schema-level failure (missing column, wrong type) condemns the whole frame.
        whole = "; ".join(cases.filter(pl.col("index").is_null())["reason"].unique().sort())
        quarantined = frame.with_columns(pl.lit(whole).alias(QUARANTINE_REASON))
        return ValidationResult(frame.clear(), quarantined, failures)
    reasons = cases.group_by("index").agg(
        pl.col("reason").unique().sort().str.join("; ").alias(QUARANTINE_REASON)
    )
    indexed = frame.with_row_index(_ROW_INDEX)
    bad = reasons.select(pl.col("index").cast(pl.UInt32).alias(_ROW_INDEX), QUARANTINE_REASON)
    quarantined = indexed.join(bad, on=_ROW_INDEX, how="inner").sort(_ROW_INDEX)
    valid = indexed.join(bad, on=_ROW_INDEX, how="anti").sort(_ROW_INDEX)
    return ValidationResult(valid.drop(_ROW_INDEX), quarantined.drop(_ROW_INDEX), failures)


def validate_days(
    frames: Mapping[date, pl.DataFrame],
    schema: pa.DataFrameSchema,
    batch_schema: pa.DataFrameSchema,
) -> dict[date, ValidationResult]:
    """`validate` for each day's frame, in one Pandera pass per group of days.

    Pandera's cost is per call, not per row (a lazy query per check and column), so a year of
    days validated one by one spent most of a rebuild in it. Days whose frames share a schema
    are stacked with a `BATCH_DAY` column (`batch_schema` keeps the key unique per day) and the
    failure cases are dealt back to their days: each day gets exactly what `validate` gives it.
    A schema-level failure (drift) is validated day by day, so its reasons stay the day's own.
    """
    groups: dict[tuple[tuple[str, pl.DataType], ...], list[date]] = {}
    for day, frame in frames.items():
        groups.setdefault(tuple(frame.schema.items()), []).append(day)
    results: dict[date, ValidationResult] = {}
    for days in groups.values():
        if len(days) == 1:
            results[days[0]] = validate(frames[days[0]], schema)
            continue
        batch = pl.concat(
            [frames[day].with_columns(pl.lit(day, pl.Date).alias(BATCH_DAY.name)) for day in days]
        )
        cases = failure_cases(batch, batch_schema)
        if cases is not None and cases["index"].null_count():
            results.update({day: validate(frames[day], schema) for day in days})
            continue
        cases_by_day = _cases_by_day(batch, cases)
        offset = 0
        for day in days:
            day_cases = cases_by_day.get(day)
            if day_cases is not None:
                day_cases = day_cases.with_columns(pl.col("index") - offset)
            results[day] = split(frames[day], day_cases)
            offset += frames[day].height
    return {day: results[day] for day in frames}


def _cases_by_day(batch: pl.DataFrame, cases: pl.DataFrame | None) -> dict[date, pl.DataFrame]:
    if cases is None:
        return {}
    days = batch[BATCH_DAY.name].gather(cases["index"].cast(pl.UInt32))
    # A duplicate key is reported with the whole row, which in a batch ends with its day.
    reason = pl.col("reason").str.replace(rf',"{BATCH_DAY.name}":"[0-9-]+"\}}\)$', "})")
    cases = cases.with_columns(reason, days.alias(BATCH_DAY.name))
    return {
        day: part.drop(BATCH_DAY.name)
        for (day,), part in cases.partition_by(BATCH_DAY.name, as_dict=True).items()
    }
