"""How feeds ask a source for data: one request per day, per date window, or once per sync.

Every fetch is built from the source's two generic calls, `source.json(what, method, *args)`
and `source.download(what, method, *args)`, where `method` names a `garminconnect.Garmin`
method. Range endpoints are cut into windows no longer than the endpoint's cap, and each
window's answer is split back into one payload per day, so raw and the lake stay per day and
a day's completeness is visible: a day the answer does not mention is stored as `null`.

A 200 whose body is not JSON (`MalformedPayloadError`) does not stop the feed: the body is
handed on with the reason (`RawPayload.reason`) for each day it was meant for, and the fetch
goes on with the next day or window. So does a window answer that cannot be split by day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl

from garmin_pipeline.errors import MalformedPayloadError
from garmin_pipeline.feeds import Dataset, Feed, Fetch, RawPayload, Shape, Stored
from garmin_pipeline.lake.parsers import parse_json_day
from garmin_pipeline.raw.canonical import canonical_json

# Garmin's usual cap on a range request (garminconnect: "28-day limit per request" for the
# usersummary stats; garth pages stress and HRV by 28 days too).
RANGE_WINDOW_DAYS = 28
# The Personal API's per-endpoint range caps. Garmin's client leaves range validation to the
# API, so these are the caps its users report (and the emulator enforces): steps, stress,
# hydration, weight and Body Battery 28 days, sleep 31, daily summaries and HRV 35.
PERSONAL_API_RANGE_DAYS = 28
PERSONAL_API_SLEEP_DAYS = 31
PERSONAL_API_DAILIES_DAYS = 35

# (the endpoint's answer for a window, the window's days) → that answer's part for each day
Split = Callable[[Any, Sequence[date]], Mapping[date, Any]]
# (first, last) → the positional arguments of the garminconnect method
RangeArgs = Callable[[date, date], tuple[Any, ...]]
# What a split raises on an answer whose shape it does not know (drift, hostile values).
SPLIT_ERRORS = (ValueError, TypeError, KeyError, AttributeError)

log = logging.getLogger(__name__)


def refused(day: date, name: str, error: MalformedPayloadError) -> RawPayload:
    """The body the source sent instead of `name`, kept aside with the reason."""
    reason = " ".join(str(error).split()) or "the source sent a body that is not JSON"
    return RawPayload(day, name, error.body, reason=reason)


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
            if not isinstance(entry, Mapping):
                continue
            value = entry.get(key)
            if not value:
                # Drift (the field renamed or dropped): kept aside whole, never filed as "no data".
                raise KeyError(f"an entry has no {key!r}")
            # An unreadable date raises (ValueError): the window is kept aside, not guessed.
            entries[date.fromisoformat(str(value)[:10])] = entry
        return entries

    return split


def per_day(method: str, payload_name: str, **kwargs: Any) -> Fetch:
    """One JSON request per day: for endpoints Garmin serves only a day at a time."""

    def fetch(source: Any, days: Sequence[date], stored: Stored) -> Iterator[RawPayload]:
        for day in days:
            try:
                answer = source.json(f"{method} {day}", method, day.isoformat(), **kwargs)
            except MalformedPayloadError as error:
                yield refused(day, payload_name, error)
                continue
            yield RawPayload(day, payload_name, canonical_json(answer))

    return fetch


def per_day_download(method: str, payload_name: str) -> Fetch:
    """One binary download per day (kept byte for byte)."""

    def fetch(source: Any, days: Sequence[date], stored: Stored) -> Iterator[RawPayload]:
        for day in days:
            try:
                download = source.download(f"{method} {day}", method, day)
            except MalformedPayloadError as error:
                yield refused(day, payload_name, error)
                continue
            yield RawPayload(day, payload_name, download)

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
            what = f"{method} {first}..{last}"
            try:
                answer = source.json(what, method, *args(first, last), **kwargs)
            except MalformedPayloadError as error:
                for day in window:
                    yield refused(day, payload_name, error)
                continue
            try:
                parts = split(answer, window)
            except SPLIT_ERRORS as error:
                # Kept whole on each of its days: nothing is filed under a day it may not be.
                problem = MalformedPayloadError(
                    f"cannot split the answer of {what} by day "
                    f"({type(error).__name__}: {error}); kept in raw, fetched again next sync",
                    body=canonical_json(answer),
                )
                for day in window:
                    yield refused(day, payload_name, problem)
                continue
            stray = sorted(str(d) for d in parts if d not in window)
            if stray:
                log.warning("%s: answer mentions days outside the window: %s", what, stray[:5])
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
            try:
                answer = source.json(method, method, *args(source))
            except MalformedPayloadError as error:
                yield refused(days[-1], payload_name, error)
                return
            yield RawPayload(days[-1], payload_name, canonical_json(answer))

    return fetch


@dataclass(frozen=True)
class PersonalApiRange:
    """A feed's range endpoint on the Personal API: the `GarminPersonalApiClient` method, its
    cap, and (when its answer is shaped unlike Connect's) the split into Connect's per-day
    payloads, so the feed's one parser reads either source."""

    method: str
    window_days: int = PERSONAL_API_RANGE_DAYS
    split: Split | None = None

    def fetch(self, connect_split: Split, payload_name: str) -> Fetch:
        return ranged(self.method, self.window_days, self.split or connect_split, payload_name)


def range_feed(
    dataset: Dataset,
    endpoint: str,
    method: str,
    split: Split,
    build: Callable[[Any, date], pl.DataFrame],
    window_days: int = RANGE_WINDOW_DAYS,
    args: RangeArgs = iso_range,
    provisional_days: int = 2,
    personal_api: PersonalApiRange | None = None,
    *,
    shape: Shape,
    **kwargs: Any,
) -> Feed:
    """A feed of one dataset from a range endpoint: `ranged` windows, one payload per day
    named after the dataset, each day's payload built into the dataset's frame by `build`."""
    payload = f"{dataset.name}.json"
    description = f"GET {endpoint} ({method}), one request per {window_days}-day window."
    if personal_api is not None:
        description += (
            f" Personal API: {personal_api.method}, one request per "
            f"{personal_api.window_days}-day window."
        )
    return Feed(
        name=dataset.name,
        description=description,
        fetch=ranged(method, window_days, split, payload, args=args, **kwargs),
        parse=parse_json_day(payload, build, dataset.name),
        datasets=(dataset,),
        provisional_days=provisional_days,
        personal_api=personal_api.fetch(split, payload) if personal_api else None,
        shape=shape,
    )
