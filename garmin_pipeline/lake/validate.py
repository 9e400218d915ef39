"""Validate a dataset's frame: null implausible measurements, quarantine unplaceable rows.

Measurements outside their `Plausible` range are nulled and counted per column; the row stays.
Rows failing the Pandera schema (identity and structure: types, non-null keys, unique keys)
are never dropped either: they go to quarantine with the reason, so a fixed parser can recover
them from raw.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date

import pandera.polars as pa
import polars as pl

from garmin_pipeline.lake.schema import BATCH_DAY, Dataset, Plausible

QUARANTINE_REASON = "quarantine_reason"
_ROW_INDEX = "__row"
NO_FAILURES = pl.DataFrame(
    schema={"column": pl.String, "check": pl.String, "failing_rows": pl.UInt32}
)


@dataclass(frozen=True)
class ValidationResult:
    valid: pl.DataFrame
    quarantined: pl.DataFrame  # the failing rows plus a `quarantine_reason` column
    failures: pl.DataFrame  # one row per (check, column) with how many rows failed it
    nulled: dict[str, int] = field(default_factory=dict)  # column → implausible values nulled

    @property
    def passed(self) -> bool:
        return self.quarantined.height == 0


def null_implausible(
    frame: pl.DataFrame, plausible: Mapping[str, Plausible]
) -> tuple[pl.DataFrame, dict[str, int]]:
    """The frame with every measurement outside its plausible range nulled, and how many
    values were nulled per column (only columns that had any). One pass for the counts; the
    frame is rewritten only when something was nulled."""
    checked = _checked(frame, plausible)
    if not checked or frame.is_empty():
        return frame, {}
    counts = frame.select(rule.implausible(name).sum() for name, rule in checked.items())
    nulled = {name: int(count) for name, count in counts.row(0, named=True).items() if count}
    return _nulled(frame, checked, nulled), nulled


def _checked(frame: pl.DataFrame, plausible: Mapping[str, Plausible]) -> dict[str, Plausible]:
    """The measurements the frame holds as numbers: a drifted column (text where a number is
    declared) is the schema's to refuse, whole."""
    schema = frame.schema
    return {
        name: rule
        for name, rule in plausible.items()
        if name in schema and schema[name].is_numeric()
    }


def _nulled(
    frame: pl.DataFrame, checked: Mapping[str, Plausible], columns: Collection[str]
) -> pl.DataFrame:
    if not columns:
        return frame
    return frame.with_columns(
        pl.when(checked[name].implausible(name)).then(None).otherwise(pl.col(name)).alias(name)
        for name in columns
    )


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


def validate(frame: pl.DataFrame, dataset: Dataset) -> ValidationResult:
    """Null the frame's implausible measurements, then split it by the dataset's schema."""
    cleaned, nulled = null_implausible(frame, dataset.plausible)
    return split(cleaned, failure_cases(cleaned, dataset.schema), nulled)


def split(
    frame: pl.DataFrame, cases: pl.DataFrame | None, nulled: dict[str, int] | None = None
) -> ValidationResult:
    """The frame's valid and quarantined rows, given its failure cases."""
    nulled = nulled or {}
    if cases is None or cases.is_empty():
        return ValidationResult(
            frame,
            frame.clear().with_columns(pl.lit(None, pl.String).alias(QUARANTINE_REASON)),
            NO_FAILURES.clone(),
            nulled,
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
        return ValidationResult(frame.clear(), quarantined, failures, nulled)
    reasons = cases.group_by("index").agg(
        pl.col("reason").unique().sort().str.join("; ").alias(QUARANTINE_REASON)
    )
    indexed = frame.with_row_index(_ROW_INDEX)
    bad = reasons.select(pl.col("index").cast(pl.UInt32).alias(_ROW_INDEX), QUARANTINE_REASON)
    quarantined = indexed.join(bad, on=_ROW_INDEX, how="inner").sort(_ROW_INDEX)
    valid = indexed.join(bad, on=_ROW_INDEX, how="anti").sort(_ROW_INDEX)
    return ValidationResult(valid.drop(_ROW_INDEX), quarantined.drop(_ROW_INDEX), failures, nulled)


def validate_days(
    frames: Mapping[date, pl.DataFrame], dataset: Dataset
) -> dict[date, ValidationResult]:
    """`validate` for each day's frame, in one pass per group of days.

    Pandera's cost is per call, not per row (a lazy query per check and column), so a year of
    days validated one by one spent most of a rebuild in it. Days whose frames share a schema
    are stacked with a `BATCH_DAY` column (`batch_schema` keeps the key unique per day), their
    implausible values nulled and counted together, and the failure cases dealt back to their
    days: each day gets exactly what `validate` gives it. A schema-level failure (drift) is
    validated day by day, so its reasons stay the day's own.
    """
    groups: dict[tuple[tuple[str, pl.DataType], ...], list[date]] = {}
    for day, frame in frames.items():
        groups.setdefault(tuple(frame.schema.items()), []).append(day)
    results: dict[date, ValidationResult] = {}
    for days in groups.values():
        if all(frames[day].is_empty() for day in days) and (
            frames[days[0]].schema == dataset.polars_schema
        ):
            # Days without data, as declared: nothing a check could fail (most of a long
            # history of activities, one empty frame per dataset and day).
            results.update({day: split(frames[day], None) for day in days})
            continue
        if len(days) == 1:
            results[days[0]] = validate(frames[days[0]], dataset)
            continue
        batch, nulled_by_day = _null_batch(
            pl.concat(
                [
                    frames[day].with_columns(pl.lit(day, pl.Date).alias(BATCH_DAY.name))
                    for day in days
                ]
            ),
            dataset.plausible,
        )
        cases = failure_cases(batch, dataset.batch_schema)
        if cases is not None and cases["index"].null_count():
            results.update({day: validate(frames[day], dataset) for day in days})
            continue
        cases_by_day = _cases_by_day(batch, cases)
        offset = 0
        for day in days:
            height = frames[day].height
            day_cases = cases_by_day.get(day)
            if day_cases is not None:
                day_cases = day_cases.with_columns(pl.col("index") - offset)
            cleaned = batch.slice(offset, height).drop(BATCH_DAY.name)
            results[day] = split(cleaned, day_cases, nulled_by_day.get(day))
            offset += height
    return {day: results[day] for day in frames}


def _null_batch(
    batch: pl.DataFrame, plausible: Mapping[str, Plausible]
) -> tuple[pl.DataFrame, dict[date, dict[str, int]]]:
    """`null_implausible` over several days stacked, with the counts dealt back per day."""
    checked = _checked(batch, plausible)
    if not checked:
        return batch, {}
    flagged = batch.select(
        pl.col(BATCH_DAY.name), *(rule.implausible(name) for name, rule in checked.items())
    )
    totals = flagged.select(pl.exclude(BATCH_DAY.name).sum()).row(0, named=True)
    columns = [name for name, count in totals.items() if count]
    if not columns:
        return batch, {}
    per_day = flagged.group_by(BATCH_DAY.name).agg(pl.col(columns).sum())
    nulled_by_day = {
        row[BATCH_DAY.name]: {name: int(row[name]) for name in columns if row[name]}
        for row in per_day.iter_rows(named=True)
    }
    return _nulled(batch, checked, columns), {d: n for d, n in nulled_by_day.items() if n}


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
