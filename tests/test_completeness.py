"""The lake checks' verdicts (garmin_pipeline.lake.completeness), from build reports built by
hand: which days are missing, pending or failed, and when a check is an error."""

from datetime import date

import polars as pl
import pytest

from garmin_pipeline.lake.build import BuildReport, DatasetReport
from garmin_pipeline.lake.completeness import (
    complete_days,
    day_ranges,
    nulled_by_column_and_day,
    plausible_values,
    valid_rows,
)

pytestmark = pytest.mark.fast

D = [date(2024, 6, d) for d in range(1, 11)]


def report(**fields) -> BuildReport:
    return BuildReport(feed="sleep", datasets={"sleep": DatasetReport("sleep")}, **fields)


def test_day_ranges_join_consecutive_days():
    assert day_ranges([D[4], D[0], D[1], D[2], D[8]]) == (
        "2024-06-01..2024-06-03, 2024-06-05, 2024-06-09"
    )
    assert day_ranges([]) == "none"


def test_a_gap_before_the_newest_day_warns_and_later_days_are_pending():
    verdict = complete_days("sleep", report(days_without_raw=[D[2], D[3], D[8], D[9]]), D)
    assert (verdict.passed, verdict.error) == (False, False)
    assert verdict.metadata["missing_days"] == "2024-06-03..2024-06-04"
    assert verdict.metadata["missing_count"] == 2
    assert verdict.metadata["pending_days"] == 2
    assert verdict.description == "lake/sleep: no raw for 2024-06-03..2024-06-04"


def test_a_quarantined_payload_is_an_error_naming_it():
    rejected = {"2024-06-05/sleep.json": "not JSON", "2024-06-07/sleep.json": "too large"}
    verdict = complete_days("sleep", report(rejected_payloads=rejected), D)
    assert (verdict.passed, verdict.error) == (False, True)
    assert verdict.metadata["failed_days"] == "2024-06-05, 2024-06-07"
    assert verdict.metadata["first_quarantined"] == "2024-06-05/sleep.json: not JSON"
    assert verdict.description == (
        "lake/sleep: 2 payloads quarantined on 2024-06-05, 2024-06-07; "
        "e.g. 2024-06-05/sleep.json: not JSON"
    )
    assert "2024-06-07/sleep.json" in verdict.markdown["quarantined_payloads"]


def test_every_day_present_passes():
    verdict = complete_days("sleep", report(), D)
    assert verdict.passed and verdict.description is None
    assert verdict.metadata["missing_days"] == "none"


def test_rows_quarantined_warn_and_a_schema_failure_is_an_error():
    rows = DatasetReport("sleep", quarantined_rows=3, quarantined_days={D[1]: "bad key"})
    warned = valid_rows("sleep", rows)
    assert (warned.passed, warned.error) == (False, False)
    assert (
        warned.description
        == "lake/sleep: 3 rows quarantined on 2024-06-02; e.g. 2024-06-02: bad key"
    )
    drifted = DatasetReport("sleep", schema_failed_days=[D[3]])
    assert valid_rows("sleep", drifted).error is True
    assert valid_rows("sleep", drifted).metadata["schema_failed_days"] == "2024-06-04"


def test_nulled_values_warn_per_column():
    nulled = DatasetReport("sleep", nulled={D[0]: {"avg_hr": 2}, D[1]: {"avg_hr": 1, "spo2": 4}})
    verdict = plausible_values("sleep", {"avg_hr": (25, 250), "spo2": (50, 100)}, nulled)
    assert (verdict.passed, verdict.error) == (False, False)
    assert verdict.metadata["nulled_values"] == 7
    assert "avg_hr 3 on 2 days" in verdict.description
    assert "spo2 4 on 1 day" in verdict.description
    assert nulled_by_column_and_day(nulled) == {
        "avg_hr": {"2024-06-01": 2, "2024-06-02": 1},
        "spo2": {"2024-06-02": 4},
    }
    assert plausible_values("sleep", {}, DatasetReport("sleep")).passed
    assert isinstance(nulled.nulled_summary, pl.DataFrame)
