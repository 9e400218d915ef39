"""The dataset catalog: every feed and dataset is declared once, in its domain module.

Dagster assets, asset checks, lake paths, dbt sources and the data dictionary are all generated
from `FEEDS`. Adding a data domain = one feed (fetch + parse) and its datasets' columns.
"""

from __future__ import annotations

from garmin_pipeline.domains import (
    activities,
    body,
    daily_stats,
    fitness,
    health,
    profile,
    wellness,
)
from garmin_pipeline.feeds import Dataset, Feed

# daily_summary first: a sync that Garmin rate-limits stops on the first feed it runs.
FEEDS: tuple[Feed, ...] = (
    *health.FEEDS,
    *daily_stats.FEEDS,
    *body.FEEDS,
    *fitness.FEEDS,
    *profile.FEEDS,
    *wellness.FEEDS,
    activities.FEED,
)
DATASETS: tuple[Dataset, ...] = tuple(d for f in FEEDS for d in f.datasets)


def feed(name: str) -> Feed:
    for candidate in FEEDS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no feed named {name!r}; known: {', '.join(f.name for f in FEEDS)}")


def dataset(name: str) -> Dataset:
    for candidate in DATASETS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no dataset named {name!r}; known: {', '.join(d.name for d in DATASETS)}")
