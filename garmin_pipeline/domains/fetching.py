"""How feeds ask a source for data: one request per day, per date window, or once per sync.

Every fetch is built from the source's two generic calls, `source.json(what, method, *args)`
and `source.download(what, method, *args)`, where `method` names a `garminconnect.Garmin`
method. Range endpoints are cut into windows no longer than the endpoint's cap, and each
window's answer is split back into one payload per day, so raw and the lake stay per day and
a day's completeness is visible: a day the answer does not mention is stored as `null`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import polars as pl

from garmin_pipeline.feeds import Dataset, Feed, Fetch, RawPayload, Stored
from garmin_pipeline.lake.parsers import parse_json_day
from garmin_pipeline.sources.connect.client import canonical_json

# Garmin's usual cap on a range request (garminconnect: "28-day limit per request" for the
# usersummary stats; garth pages stress and HRV by 28 days too).
RANGE_WINDOW_DAYS = 28

# (the endpoint's answer for a window, the window's days) → that answer's part for each day
Split = Callable[[Any, Sequence[date]], Mapping[date, Any]]
# (first, last) → the positional arguments of the garminconnect method
RangeArgs = Callable[[date, date], tuple[Any, ...]]


def iso_range(first: date, last: date) -> tuple[str, str]:
    return first.isoformat(), last.isoformat()


def windows(days: Sequence[date], size: int) -> Iterator[list[date]]:
    """Runs of consecutive days, each cut into windows of at most `size` days."""
    window: list[date] = []
    for day in days:
        if window and (len(window) == size or day != window[-1] + timedelta(days=1)):
            yield window
            window = []
        window.append(day)
    if window:
        yield window


def by_calendar_date(key: str = "calendarDate") -> Split:
    """Split a list of per-day entries on their calendar-date field."""

    def split(answer: Any, days: Sequence[date]) -> Mapping[date, Any]:
        entries: dict[date, Any] = {}
        for entry in answer or []:
            value = entry.get(key) if isinstance(entry, Mapping) else None
            if value:
                entries[date.fromisoformat(str(value)[:10])] = entry
        return entries

    return split


def per_day(method: str, payload_name: str, **kwargs: Any) -> Fetch:
    """One JSON request per day: for endpoints Garmin serves only a day at a time."""

    def fetch(source: Any, days: Sequence[date], stored: Stored) -> Iterator[RawPayload]:
        for day in days:
            answer = source.json(f"{method} {day}", method, day.isoformat(), **kwargs)
            yield RawPayload(day, payload_name, canonical_json(answer))

    return fetch


def per_day_download(method: str, payload_name: str) -> Fetch:
    """One binary download per day (kept byte for byte)."""

    def fetch(source: Any, days: Sequence[date], stored: Stored) -> Iterator[RawPayload]:
        for day in days:
            yield RawPayload(day, payload_name, source.download(f"{method} {day}", method, day))

    return fetch


def ranged(
    method: str,
    window_days: int,
    split: Split,
    payload_name: str,
    args: RangeArgs = iso_range,
    **kwargs: Any,
) -> Fetch:
    """One JSON request per window of at most `window_days`, split into per-day payloads."""

    def fetch(source: Any, days: Sequence[date], stored: Stored) -> Iterator[RawPayload]:
        for window in windows(days, window_days):
            first, last = window[0], window[-1]
            answer = source.json(f"{method} {first}..{last}", method, *args(first, last), **kwargs)
            parts = split(answer, window)
            for day in window:
                yield RawPayload(day, payload_name, canonical_json(parts.get(day)))

    return fetch


def snapshot(
    method: str, payload_name: str, args: Callable[[Any], tuple[Any, ...]] = lambda source: ()
) -> Fetch:
    """State that has no history (devices, gear): one request per sync, kept on its last day.

    `args` builds the method's arguments from the source (e.g. its profile id)."""

    def fetch(source: Any, days: Sequence[date], stored: Stored) -> Iterator[RawPayload]:
        if days:
            answer = source.json(method, method, *args(source))
            yield RawPayload(days[-1], payload_name, canonical_json(answer))

    return fetch


def range_feed(
    dataset: Dataset,
    endpoint: str,
    method: str,
    split: Split,
    build: Callable[[Any, date], pl.DataFrame],
    window_days: int = RANGE_WINDOW_DAYS,
    args: RangeArgs = iso_range,
    provisional_days: int = 2,
    **kwargs: Any,
) -> Feed:
    """A feed of one dataset from a range endpoint: `ranged` windows, one payload per day
    named after the dataset, each day's payload built into the dataset's frame by `build`."""
    payload = f"{dataset.name}.json"
    return Feed(
        name=dataset.name,
        description=f"GET {endpoint} ({method}), one request per {window_days}-day window.",
        fetch=ranged(method, window_days, split, payload, args=args, **kwargs),
        parse=parse_json_day(payload, build, dataset.name),
        datasets=(dataset,),
        provisional_days=provisional_days,
    )
