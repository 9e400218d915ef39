"""Broken and hostile Personal API answers, split by the Personal API fetchers: each window
whose answer cannot be filed by day is kept whole (refused, with the reason) on every day it
was meant for, and the other windows still land. The source is a stand-in answering canned
bodies: what is under test is the split, not HTTP (the emulator tests cover that)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from garmin_pipeline.catalog import feed

pytestmark = pytest.mark.fast

FIRST = date(2024, 6, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(40)]  # two sleep windows: 31 + 9 nights


class Answers:
    """Answers `json` per window start; records what was asked."""

    def __init__(self, by_start):
        self.by_start = by_start
        self.calls = []

    def json(self, what, method, *args, **kwargs):
        self.calls.append((method, args))
        return self.by_start[str(args[0])]


def night(day: str) -> dict:
    return {"dailySleepDTO": {"calendarDate": day, "sleepTimeSeconds": 3600}}


@pytest.mark.parametrize(
    "broken, why",
    [
        ([{"dailySleepDTO": {"sleepTimeSeconds": 3600}}], "has no dailySleepDTO.calendarDate"),
        ([night("2024-13-45")], "ValueError"),
        ([{"dailySleepDTO": "not an object"}], "has no dailySleepDTO.calendarDate"),
        ({"not": "a list"}, "has no dailySleepDTO.calendarDate"),
    ],
)
def test_a_sleep_window_that_cannot_be_split_is_kept_whole(broken, why):
    second = DAYS[31]
    source = Answers({str(FIRST): broken, str(second): [night(str(second))]})
    payloads = list(feed("sleep").personal_api(source, DAYS, lambda d, n: None))
    assert [m for m, _ in source.calls] == ["get_daily_sleep_summaries"] * 2
    refused = [p for p in payloads if p.reason is not None]
    assert [p.day for p in refused] == DAYS[:31]
    assert all("cannot split the answer" in p.reason and why in p.reason for p in refused)
    kept = {p.day: p.payload for p in payloads if p.reason is None}
    assert sorted(kept) == DAYS[31:]
    assert b'"calendarDate":"2024-07-02"' in kept[second]
    assert kept[DAYS[32]] == b"null"  # a night the answer does not mention


def test_weigh_ins_with_a_hostile_date_are_kept_whole():
    window = DAYS[:28]
    hostile = {"dailyWeightSummaries": [{"allWeightMetrics": [{"calendarDate": "../../etc"}]}]}
    source = Answers({str(FIRST): hostile, str(DAYS[28]): {"dailyWeightSummaries": []}})
    payloads = list(feed("weigh_ins").personal_api(source, DAYS, lambda d, n: None))
    refused = [p for p in payloads if p.reason is not None]
    assert [p.day for p in refused] == window
    assert all("ValueError" in p.reason for p in refused)
    assert {p.payload for p in payloads if p.reason is None} == {b"[]"}
