"""Split a frame into the rows that pass its Pandera schema and the rows that do not.

Failing rows are never dropped: they go to quarantine with the reason, so a fixed parser can
recover them from raw.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

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


def validate(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> ValidationResult:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.with_columns(
            reason=pl.concat_str(
                pl.col("column").fill_null("<row>"),
                pl.lit(": "),
                pl.col("check"),
                pl.lit(" (got "),
                pl.col("failure_case").fill_null("null"),
                pl.lit(")"),
            )
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
    empty_failures = pl.DataFrame(
        schema={"column": pl.String, "check": pl.String, "failing_rows": pl.UInt32}
    )
    return ValidationResult(
        frame,
        frame.clear().with_columns(pl.lit(None, pl.String).alias(QUARANTINE_REASON)),
        empty_failures,
    )
