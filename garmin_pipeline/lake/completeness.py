"""What a lake build's report says about each dataset, as the verdicts of its three checks.

- `valid_rows`: rows that fail identity and structure (the Pandera schema) were quarantined
  with their reason (a warning, with the counts); a day whose frame failed the schema (a field
  renamed or dropped) is an error.
- `plausible_values`: the count per column of implausible measurements the build nulled (heart
  rate 0 from a device without a strap) warns: the rows stayed, raw keeps the values.
- `complete_days`: a payload quarantined whole (not JSON, too large, a corrupt FIT, hostile
  values) is an error; a gap before the newest day held warns.

Each names the dataset, the days and the reasons. No Dagster here: the code location turns a
`CheckVerdict` into an asset check result (`assets/lake.py`), and the rules stay unit-testable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from garmin_pipeline.lake.build import BuildReport, DatasetReport

# Per column, the days listed in the build's metadata (the check's table sums them all).
NULLED_DAYS_SHOWN = 31
REASONS_SHOWN = 20


@dataclass(frozen=True)
class CheckVerdict:
    """One check of one dataset for one account. A failed verdict is an error when `error`,
    else a warning; `markdown` holds the metadata that are tables (Markdown text)."""

    passed: bool
    error: bool
    description: str | None
    metadata: dict[str, int | str]
    markdown: dict[str, str] = field(default_factory=dict)


def markdown_table(frame: pl.DataFrame) -> str:
    with pl.Config(
        tbl_formatting="MARKDOWN", tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True
    ):
        return str(frame)


def reasons_table(reasons: Mapping[str, str], limit: int = REASONS_SHOWN) -> str:
    """What was quarantined and why, one row each (the first `limit`), in Markdown."""
    rows = sorted(reasons.items())
    frame = pl.DataFrame(
        {"item": [k for k, _ in rows[:limit]], "reason": [v for _, v in rows[:limit]]},
        schema={"item": pl.String, "reason": pl.String},
    )
    more = f"\n\n... and {len(rows) - limit} more" if len(rows) > limit else ""
    return markdown_table(frame) + more


def day_ranges(days: list[date]) -> str:
    """2024-01-01..2024-01-03, 2024-02-10: compact enough for metadata and logs."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and day == runs[-1][-1] + timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}..{r[-1]}" for r in runs) or "none"


def summary(dataset: str, what: str, days: list[date], reasons: Mapping[str, str]) -> str:
    """One line: the dataset, the days and the first reason."""
    first = next(iter(sorted(reasons.items())), None)
    example = f"; e.g. {first[0]}: {first[1]}" if first else ""
    return f"lake/{dataset}: {what} on {day_ranges(days)}{example}"[:1000]


def valid_rows(dataset: str, report: DatasetReport) -> CheckVerdict:
    """Quarantined rows warn; a day lost whole to schema drift is an error."""
    days = sorted(report.quarantined_days)
    reasons = {str(d): r for d, r in report.quarantined_days.items()}
    return CheckVerdict(
        passed=report.quarantined_rows == 0,
        error=bool(report.schema_failed_days),
        description=(
            summary(dataset, f"{report.quarantined_rows} rows quarantined", days, reasons)
            if days
            else None
        ),
        metadata={
            "quarantined_rows": report.quarantined_rows,
            "quarantined_days": day_ranges(days),
            "schema_failed_days": day_ranges(report.schema_failed_days),
        },
        markdown={
            "failures": markdown_table(report.failure_summary),
            "reasons": reasons_table(reasons),
        },
    )


def plausible_values(
    dataset: str, plausible: Mapping[str, object], report: DatasetReport
) -> CheckVerdict:
    """Warns naming each column whose implausible values were nulled (outside its range in
    `plausible`, column → range), and how many."""
    by_column = report.nulled_summary.with_columns(
        pl.col("column")
        .replace_strict({n: str(r) for n, r in plausible.items()}, default=None)
        .alias("plausible"),
    )
    counts = ", ".join(
        f"{column} {values:,} on {days} day{'s' * (days > 1)}"
        for column, values, days in by_column.select("column", "values", "days").iter_rows()
    )
    return CheckVerdict(
        passed=report.nulled_values == 0,
        error=False,
        description=(
            f"lake/{dataset}: {report.nulled_values:,} implausible values nulled, rows "
            f"kept (raw keeps them): {counts}"[:1000]
            if report.nulled_values
            else None
        ),
        metadata={"nulled_values": report.nulled_values},
        markdown={"nulled_by_column": markdown_table(by_column)},
    )


def nulled_by_column_and_day(report: DatasetReport) -> dict[str, dict[str, int]]:
    """column → day → implausible values nulled, the first days of each column."""
    found: dict[str, dict[str, int]] = {}
    for day in sorted(report.nulled):
        for column, count in report.nulled[day].items():
            days = found.setdefault(column, {})
            if len(days) < NULLED_DAYS_SHOWN:
                days[str(day)] = count
    return dict(sorted(found.items()))


def complete_days(dataset: str, report: BuildReport, days: list[date]) -> CheckVerdict:
    """Missing: a gap before the newest day raw holds. Failed: a payload was quarantined.
    Days after the newest one are pending (the devices have not uploaded them yet)."""
    have = set(days) - set(report.days_without_raw)
    newest = max(have, default=None)
    missing = [d for d in report.days_without_raw if newest is not None and d < newest]
    pending = [d for d in report.days_without_raw if newest is None or d > newest]
    failed = sorted({date.fromisoformat(k.split("/", 1)[0]) for k in report.rejected_payloads})
    problems = []
    if failed:
        problems.append(
            summary(
                dataset,
                f"{len(report.rejected_payloads)} payloads quarantined",
                failed,
                report.rejected_payloads,
            )
        )
    if missing:
        problems.append(f"lake/{dataset}: no raw for {day_ranges(missing)}")
    return CheckVerdict(
        passed=not missing and not failed,
        # A gap may just be a sync not run yet; a quarantined payload is bad input to fix.
        error=bool(failed),
        description=" | ".join(problems) or None,
        metadata={
            "missing_days": day_ranges(missing),
            "failed_days": day_ranges(failed),
            "pending_days": len(pending),
            "missing_count": len(missing),
            "failed_count": len(failed),
            "payloads_quarantined": len(report.rejected_payloads),
            "first_quarantined": next(
                (f"{k}: {v}" for k, v in sorted(report.rejected_payloads.items())), ""
            ),
        },
        markdown={"quarantined_payloads": reasons_table(report.rejected_payloads)},
    )
