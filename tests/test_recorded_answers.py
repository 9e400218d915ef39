"""Every recorded Garmin answer a feed reads, put through exactly what a sync does to it.

A stand-in source answers the feed's own fetch with the recording (as garminconnect, or Garmin's
Personal API client, returns it: an HTTP 204 as `{}`), so a range answer is split by day as
`ranged` splits it; each day's raw bundle goes through the feed's `parse` and each frame through
the lake's validation. Nothing may be rejected or quarantined, every frame has its dataset's
declared dtypes, and the values are those read off the recordings by hand: the recordings are
the oracle, not the parser. `tests/data/garmin_connect/SOURCES.md` says where each recording
comes from, and which recordings no feed reads (and why).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from garmin_pipeline.catalog import FEEDS
from garmin_pipeline.catalog import feed as catalog_feed
from garmin_pipeline.domains import activities
from garmin_pipeline.feeds import CONNECT, PERSONAL_API, Dataset
from garmin_pipeline.lake.parsers import activity_zip_name, decode_activity_payloads
from garmin_pipeline.lake.validate import QUARANTINE_REASON, validate
from garmin_pipeline.raw.canonical import canonical_json

pytestmark = pytest.mark.fast

DATA = Path(__file__).parent / "data" / "garmin_connect"
DOWNLOAD = "activity_original_11998957007.zip"
# Kept for the emulator: endpoints no feed reads (SOURCES.md says why).
NOT_READ = {
    "social_profile.json",
    "token_exchange.json",
    "daily_heart_rate.json",
    "daily_stress.json",
    "daily_stress_no_data.json",
    "hrv.json",
    "body_battery_events.json",
    "endurance_score.json",
    "activity_types.json",  # the type keys the emulator lists recorded FIT files under
}
NO_CONTENT: dict[str, Any] = {}  # what garminconnect's connectapi returns for an HTTP 204


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def recorded(name: str) -> Any:
    """A recording; `file.json#key` is one answer of a file holding several (by request)."""
    file, _, key = name.partition("#")
    body = json.loads((DATA / file).read_text(encoding="utf-8"))
    return body[key] if key else body


def days_of(spec: str) -> list[date]:
    """ "2023-07-01" or "2023-07-01/2023-07-20" (both ends included)."""
    first, _, last = spec.partition("/")
    start, end = date.fromisoformat(first), date.fromisoformat(last or first)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


@dataclass(frozen=True)
class Answer:
    """One recorded answer, the days the sync asked it for, and what the lake holds after."""

    recording: str | None  # None: an HTTP 204, no body
    feed: str
    days: str  # the window asked for (the recorded request's, unless trimmed)
    rows: Mapping[str, int]  # rows per dataset, all days together
    expect: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    source: str = CONNECT
    # The unrecorded answer around a recorded part (SOURCES.md and the feed's shape say which).
    envelope: Callable[[Any], Any] | None = None

    @property
    def answer(self) -> Any:
        if self.recording is None:
            return NO_CONTENT
        body = recorded(self.recording)
        return self.envelope(body) if self.envelope else body

    def __str__(self) -> str:
        return f"{self.feed}:{self.recording or '204'}:{self.source}"


class StandIn:
    """A source answering every request with one recorded answer."""

    profile_id = 0

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.methods: list[str] = []

    def json(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        self.methods.append(method)
        return copy.deepcopy(self.answer)


def landed(answer: Answer) -> dict[str, pl.DataFrame]:
    """The feed's fetch, parse and lake validation of the answer: each dataset's valid rows."""
    feed = catalog_feed(answer.feed)
    source = StandIn(answer.answer)
    bundles: dict[date, dict[str, bytes]] = {}
    for payload in feed.fetchers[answer.source](source, days_of(answer.days), lambda d, n: None):
        assert payload.reason is None, payload.reason
        bundles.setdefault(payload.day, {})[payload.name] = payload.payload
    assert source.methods, "the feed asked nothing"
    frames: dict[str, list[pl.DataFrame]] = {d.name: [] for d in feed.datasets}
    for day, raw in sorted(bundles.items()):
        parsed = feed.parse(raw, day)
        assert parsed.rejected == {}
        for dataset in feed.datasets:
            frames[dataset.name].append(checked(parsed.frames[dataset.name], dataset))
    return {name: pl.concat(parts) for name, parts in frames.items()}


def checked(frame: pl.DataFrame, dataset: Dataset) -> pl.DataFrame:
    """The frame has the declared dtypes and passes the lake's validation whole: no row
    quarantined, no recorded value thought implausible."""
    assert frame.schema == dataset.polars_schema
    result = validate(frame, dataset)
    assert result.quarantined.is_empty(), result.quarantined[QUARANTINE_REASON].to_list()
    assert result.nulled == {}, (dataset.name, result.nulled)
    return result.valid


def same(got: Any, want: Any) -> bool:
    """Equal, and of the same Python type (an int is not a float, a date not a datetime)."""
    return got == want and type(got) is type(want)


def assert_rows(frame: pl.DataFrame, dataset: Dataset, expected: Sequence[Mapping[str, Any]]):
    """Each expected row is found by the dataset's key and holds exactly the values given."""
    rows = frame.to_dicts()
    for want in expected:
        key = {k: want[k] for k in dataset.key}
        found = [r for r in rows if all(same(r[k], v) for k, v in key.items())]
        assert len(found) == 1, f"{dataset.name}: no single row {key}"
        wrong = {c: (found[0][c], v) for c, v in want.items() if not same(found[0][c], v)}
        assert wrong == {}, f"{dataset.name} {key}: (parsed, recorded) {wrong}"


def steps(day: str, total: int, distance: float, goal: int) -> dict[str, Any]:
    return dict(
        calendar_date=date.fromisoformat(day),
        total_steps=total,
        total_distance_m=distance,
        step_goal=goal,
    )


def stress(day: str, overall: int, rest: int, low: int, medium: int, high: int | None):
    return dict(
        calendar_date=date.fromisoformat(day),
        overall_stress_level=overall,
        rest_stress_s=rest,
        low_stress_s=low,
        medium_stress_s=medium,
        high_stress_s=high,
    )


def hrv(day: str, night: int, high5: int, weekly: int, baseline: tuple[int, int, int], status):
    low_upper, balanced_low, balanced_upper = baseline
    return dict(
        calendar_date=date.fromisoformat(day),
        last_night_avg_ms=night,
        last_night_5min_high_ms=high5,
        weekly_avg_ms=weekly,
        baseline_low_upper_ms=low_upper,
        baseline_balanced_low_ms=balanced_low,
        baseline_balanced_upper_ms=balanced_upper,
        status=status,
    )


def weigh_in(day: str, when: datetime, local: datetime, kg: float, body: tuple, source: str):
    bmi, fat, water, bone, muscle = body
    return dict(
        calendar_date=date.fromisoformat(day),
        timestamp=when,
        timestamp_local=local,
        weight_kg=kg,
        bmi=bmi,
        body_fat_pct=fat,
        body_water_pct=water,
        bone_mass_kg=bone,
        muscle_mass_kg=muscle,
        source_type=source,
    )


def training_status(day: str, when: datetime, status: int, phrase: str, trend: int, load: tuple):
    acute, chronic, ratio, ratio_pct, ratio_status, tunnel_min, tunnel_max = load
    return dict(
        calendar_date=date.fromisoformat(day),
        timestamp=when,
        device_id=3469703076,
        training_status=status,
        training_status_phrase=phrase,
        training_paused=False,
        fitness_trend=trend,
        acute_load=acute,
        chronic_load=chronic,
        acwr=ratio,
        acwr_pct=ratio_pct,
        acwr_status=ratio_status,
        load_tunnel_min=tunnel_min,
        load_tunnel_max=tunnel_max,
    )


def summary_entries(body: Any) -> Any:
    """get_daily_summaries' `{"data": [...]}` around a recorded one-day usersummary."""
    return {"data": [body]}


def hill_score_list(body: Any) -> Any:
    """hillscore/stats' `hillScoreDTOList` around a recorded one-day hill score."""
    return {"hillScoreDTOList": [body]}


def one_entry(body: Any) -> Any:
    """maxmet/daily's list around the recorded maxmet/latest entry."""
    return [body]


# One night per request, as the sleep feed asks, from garth's 20-night sleep cassette: (night,
# fell asleep and woke up UTC, fell asleep local, sleep, deep, light, REM, awake seconds, SpO2).
NIGHTS_2021_07 = [
    ("2021-07-19", "05:04", "11:44", "07-19 00:04", 22560, 2100, 16260, 4200, 1440, 90.0),
    ("2021-07-18", "06:08", "13:37", "07-18 01:08", 26100, 4800, 15360, 5940, 840, 91.0),
    ("2021-07-17", "05:37", "14:03", "07-17 00:37", 28800, 5580, 15840, 7380, 1560, 90.0),
    ("2021-07-16", "05:01", "11:36", "07-16 00:01", 22740, 4440, 13980, 4320, 960, 92.0),
    ("2021-07-15", "05:46", "12:00", "07-15 00:46", 21720, 3300, 17160, 1260, 720, 92.0),
    ("2021-07-14", "04:49", "11:36", "07-13 23:49", 22920, 4380, 12300, 6240, 1500, 92.0),
    ("2021-07-13", "03:49", "11:32", "07-12 22:49", 27060, 2400, 18420, 6240, 720, 92.0),
    ("2021-07-12", "05:15", "11:34", "07-12 00:15", 22740, 2820, 14640, 5280, 0, 92.0),
    ("2021-07-11", "04:36", "13:37", "07-10 23:36", 26040, 4200, 14100, 7740, 5100, 91.0),
    ("2021-07-10", "07:54", "14:15", "07-10 02:54", 20160, 2520, 14340, 3300, 2700, 90.0),
    ("2021-07-09", "05:46", "12:08", "07-09 00:46", 20040, 720, 17220, 2100, 2880, 92.0),
    ("2021-07-08", "05:11", "09:23", "07-08 00:11", 14460, 3180, 7080, 4200, 660, 92.0),
    ("2021-07-07", "04:55", "11:47", "07-06 23:55", 23340, 6060, 15840, 1440, 1380, 92.0),
    ("2021-07-06", "03:47", "11:45", "07-05 22:47", 27660, 3000, 13980, 10680, 1020, 93.0),
    ("2021-07-05", "03:06", "11:41", "07-04 22:06", 26580, 4500, 17340, 4740, 4320, 93.0),
    ("2021-07-04", "05:43", "14:23", "07-04 00:43", 28740, 960, 20400, 7380, 2460, 92.0),
    ("2021-07-03", "04:44", "14:55", "07-02 23:44", 31560, 1260, 20820, 9480, 5100, 94.0),
    ("2021-07-02", "04:24", "12:59", "07-01 23:24", 30600, 4620, 17040, 8940, 300, 93.0),
    ("2021-07-01", "06:32", "11:41", "07-01 01:32", 18540, 6300, 9960, 2280, 0, 94.0),
]


def nights() -> Iterator[Answer]:
    for night, start, end, start_local, sleep_s, deep, light, rem, awake, spo2 in NIGHTS_2021_07:
        on = date.fromisoformat(night)
        yield Answer(
            f"sleep_nights_2021-07.json#{night}",
            "sleep",
            night,
            {"sleep": 1, "sleep_stages": 0},  # sleepLevels is empty in the 2021 recordings
            {
                "sleep": [
                    dict(
                        calendar_date=on,
                        sleep_start=datetime.fromisoformat(f"{night}T{start}+00:00"),
                        sleep_end=datetime.fromisoformat(f"{night}T{end}+00:00"),
                        sleep_start_local=datetime.fromisoformat(f"{on.year}-{start_local}"),
                        sleep_s=sleep_s,
                        deep_sleep_s=deep,
                        light_sleep_s=light,
                        rem_sleep_s=rem,
                        awake_s=awake,
                        average_spo2_pct=spo2,
                        sleep_score=None,  # sleep scores came later (sleepVersion 2)
                    )
                ]
            },
        )


ANSWERS: list[Answer] = [
    # ------------------------------------------------------------------ daily_summary
    Answer(
        "daily_summary.json",
        "daily_summary",
        "2025-06-14",
        {"daily_summary": 1},
        {
            "daily_summary": [
                dict(
                    calendar_date=date(2025, 6, 14),
                    total_steps=5459,
                    daily_step_goal=10000,
                    total_distance_m=4471.0,
                    total_kilocalories=2252.0,
                    active_kilocalories=99.0,
                    bmr_kilocalories=2153.0,
                    resting_heart_rate_bpm=51,
                    min_heart_rate_bpm=49,
                    max_heart_rate_bpm=104,
                    average_stress_level=24,
                    max_stress_level=99,
                    body_battery_highest=92,
                    body_battery_lowest=32,
                    floors_ascended=4.31299,
                    moderate_intensity_minutes=0,
                    vigorous_intensity_minutes=0,
                    highly_active_s=345,
                    active_s=3828,
                    sedentary_s=53385,
                    sleeping_s=28842,
                    average_spo2_pct=None,
                    avg_waking_respiration_brpm=14.0,
                )
            ]
        },
        envelope=summary_entries,
    ),
    Answer(
        "daily_summary_2025-06-13.json",
        "daily_summary",
        "2025-06-13",
        {"daily_summary": 1},
        {
            "daily_summary": [
                dict(
                    calendar_date=date(2025, 6, 13),
                    total_steps=11400,
                    total_distance_m=9726.0,
                    total_kilocalories=2484.0,
                    resting_heart_rate_bpm=49,
                    max_heart_rate_bpm=130,
                    body_battery_highest=100,
                    floors_ascended=23.72441,
                    moderate_intensity_minutes=30,
                    vigorous_intensity_minutes=2,
                    sleeping_s=29062,
                    average_spo2_pct=None,
                    avg_waking_respiration_brpm=15.0,
                )
            ]
        },
        envelope=summary_entries,
    ),
    Answer(
        "daily_summary_display_name.json",
        "daily_summary",
        "2023-07-01",
        {"daily_summary": 1},
        {
            "daily_summary": [
                dict(
                    calendar_date=date(2023, 7, 1),
                    total_steps=1119,
                    daily_step_goal=3490,
                    total_distance_m=937.0,
                    resting_heart_rate_bpm=52,
                    average_stress_level=28,
                    max_stress_level=87,
                    body_battery_lowest=47,
                    sleeping_s=0,
                    average_spo2_pct=95.0,
                    avg_waking_respiration_brpm=13.0,
                )
            ]
        },
        envelope=summary_entries,
    ),
    # ------------------------------------------------------------------ sleep
    Answer(
        "daily_sleep.json",
        "sleep",
        "2021-07-20",
        {"sleep": 1, "sleep_stages": 0},
        {
            "sleep": [
                dict(
                    calendar_date=date(2021, 7, 20),
                    sleep_start=utc(2021, 7, 20, 5, 20),
                    sleep_end=utc(2021, 7, 20, 12, 59),
                    sleep_start_local=datetime(2021, 7, 20, 0, 20),
                    sleep_end_local=datetime(2021, 7, 20, 7, 59),
                    sleep_s=25740,
                    deep_sleep_s=4440,
                    light_sleep_s=18720,
                    rem_sleep_s=2580,
                    awake_s=1800,
                    average_spo2_pct=92.0,
                    lowest_spo2_pct=84.0,
                    average_respiration_brpm=15.0,
                    lowest_respiration_brpm=8.0,
                    highest_respiration_brpm=18.0,
                    sleep_score=None,
                    awake_count=None,
                    body_battery_change=None,
                )
            ]
        },
    ),
    *nights(),
    Answer(
        "daily_sleep_v2.json",
        "sleep",
        "2025-07-07",
        {"sleep": 1, "sleep_stages": 0},  # sleepLevels: null
        {
            "sleep": [
                dict(
                    calendar_date=date(2025, 7, 7),
                    sleep_start=utc(2025, 7, 7, 4, 47, 28),
                    sleep_end=utc(2025, 7, 7, 11, 37, 28),
                    sleep_start_local=datetime(2025, 7, 6, 22, 47, 28),
                    sleep_end_local=datetime(2025, 7, 7, 5, 37, 28),
                    sleep_s=24180,
                    deep_sleep_s=5280,
                    light_sleep_s=13440,
                    rem_sleep_s=5460,
                    awake_s=420,
                    sleep_score=83,
                    sleep_score_quality="GOOD",
                    duration_quality="FAIR",
                    stress_quality="GOOD",
                    awake_count_quality="EXCELLENT",
                    restlessness_quality="GOOD",
                    deep_sleep_pct=22,
                    deep_sleep_quality="EXCELLENT",
                    light_sleep_pct=56,
                    rem_sleep_pct=23,
                    awake_count=1,
                    average_sleep_stress=14.0,
                    average_spo2_pct=93.0,
                    lowest_spo2_pct=86.0,
                    average_respiration_brpm=13.0,
                    lowest_respiration_brpm=9.0,
                    highest_respiration_brpm=17.0,
                    body_battery_change=65,
                    resting_heart_rate_bpm=44,
                    average_overnight_hrv_ms=None,  # not in the 2025 recordings
                    restless_moments=None,
                )
            ]
        },
    ),
    Answer(
        "daily_sleep_v2_2025-07-06.json",
        "sleep",
        "2025-07-06",
        {"sleep": 1, "sleep_stages": 0},
        {
            "sleep": [
                dict(
                    calendar_date=date(2025, 7, 6),
                    sleep_start=utc(2025, 7, 6, 5, 36),
                    sleep_end=utc(2025, 7, 6, 12, 22, 28),
                    sleep_start_local=datetime(2025, 7, 5, 23, 36),
                    sleep_s=24208,
                    deep_sleep_s=5340,
                    rem_sleep_s=6660,
                    awake_s=180,
                    sleep_score=83,
                    stress_quality="FAIR",
                    restlessness_quality="EXCELLENT",
                    rem_sleep_pct=28,
                    awake_count=0,
                    average_sleep_stress=16.0,
                    body_battery_change=68,
                    resting_heart_rate_bpm=45,
                )
            ]
        },
    ),
    # A night without sleep: a dailySleepDTO of nulls, no row (not a rejection).
    Answer("daily_sleep_no_data.json", "sleep", "2030-01-01", {"sleep": 0, "sleep_stages": 0}),
    # ------------------------------------------------------------------ daily series
    Answer(
        "stats_steps_daily.json",
        "daily_steps",
        "2023-07-01/2023-07-02",
        {"daily_steps": 2},
        {
            "daily_steps": [
                steps("2023-07-01", 12413, 10368.0, 7950),
                steps("2023-07-02", 5719, 5207.0, 8400),
            ]
        },
    ),
    Answer(
        "stats_steps_daily_one_day.json",
        "daily_steps",
        "2023-07-01",
        {"daily_steps": 1},
        {"daily_steps": [steps("2023-07-01", 1119, 937.0, 3490)]},
    ),
    Answer(
        "stats_im_daily.json",
        "daily_intensity_minutes",
        "2023-07-01/2023-07-02",
        {"daily_intensity_minutes": 2},
        {
            "daily_intensity_minutes": [
                dict(
                    calendar_date=date(2023, 7, 1),
                    moderate_minutes=0,
                    vigorous_minutes=0,
                    weekly_goal_minutes=150,
                ),
                dict(
                    calendar_date=date(2023, 7, 2),
                    moderate_minutes=55,
                    vigorous_minutes=6,
                    weekly_goal_minutes=150,
                ),
            ]
        },
    ),
    Answer(
        "stats_stress_daily.json",
        "daily_stress",
        "2023-07-01/2023-07-02",
        {"daily_stress": 2},
        {
            "daily_stress": [
                stress("2023-07-01", 35, 27780, 21780, 12660, 1680),
                stress("2023-07-02", 29, 39840, 11580, 7740, 3600),
            ]
        },
    ),
    Answer(
        "stats_stress_daily_pages.json#2023-06-23/2023-07-20",
        "daily_stress",
        "2023-06-23/2023-07-20",
        {"daily_stress": 28},
        {
            "daily_stress": [
                stress("2023-06-23", 43, 25440, 11280, 12000, 9240),
                stress("2023-07-20", 38, 26580, 21780, 18240, 2880),
            ]
        },
    ),
    Answer(
        "stats_stress_daily_pages.json#2023-05-26/2023-06-22",
        "daily_stress",
        "2023-05-26/2023-06-22",
        {"daily_stress": 28},
        {
            "daily_stress": [
                stress("2023-05-26", 31, 34980, 21240, 9120, 1740),
                stress("2023-05-28", 21, 56220, 12780, 180, None),  # recorded as null
                stress("2023-06-10", 20, 51660, 12120, 1260, None),
                stress("2023-06-22", 38, 31320, 9780, 9060, 7980),
            ]
        },
    ),
    Answer(
        "stats_stress_daily_pages.json#2023-05-22/2023-05-25",
        "daily_stress",
        "2023-05-22/2023-05-25",
        {"daily_stress": 4},
        {
            "daily_stress": [
                stress("2023-05-22", 21, 38820, 8880, 2520, 900),
                stress("2023-05-25", 27, 37140, 12000, 4200, 1740),
            ]
        },
    ),
    Answer(
        "stats_stress_daily_one_day.json",
        "daily_stress",
        "2023-07-21",
        {"daily_stress": 1},
        {"daily_stress": [stress("2023-07-21", 35, 31020, 20280, 11640, 3240)]},
    ),
    Answer(
        "stats_hydration_daily.json",
        "hydration",
        "2024-06-29",
        {"hydration": 1},
        {"hydration": [dict(calendar_date=date(2024, 6, 29), intake_ml=1750.0, goal_ml=2800.0)]},
    ),
    Answer(
        "hrv_daily_range.json",
        "hrv",
        "2023-07-01/2023-07-02",
        {"hrv": 2},
        {
            "hrv": [
                hrv("2023-07-01", 43, 60, 43, (35, 38, 52), "BALANCED"),
                hrv("2023-07-02", 44, 63, 43, (35, 38, 51), "BALANCED"),
            ]
        },
    ),
    Answer(
        "hrv_daily_range_pages.json#2023-06-23/2023-07-20",
        "hrv",
        "2023-06-23/2023-07-20",
        {"hrv": 28},
        {
            "hrv": [
                hrv("2023-06-23", 42, 54, 40, (35, 38, 52), "BALANCED"),
                hrv("2023-07-18", 40, 72, 39, (36, 40, 52), "UNBALANCED"),
                hrv("2023-07-20", 42, 66, 39, (36, 39, 52), "BALANCED"),
            ]
        },
    ),
    Answer(
        "hrv_daily_range_pages.json#2023-06-11/2023-06-22",
        "hrv",
        "2023-06-11/2023-06-22",
        {"hrv": 12},
        {
            "hrv": [
                hrv("2023-06-11", 71, 115, 43, (35, 38, 51), "BALANCED"),
                hrv("2023-06-22", 40, 66, 39, (35, 38, 52), "BALANCED"),
            ]
        },
    ),
    # garth stats/test_daily_hrv_no_results (and _paginate_no_results): HTTP 204, no nights.
    Answer(None, "hrv", "1990-06-23/1990-07-20", {"hrv": 0}),
    # ------------------------------------------------------------------ weigh-ins
    Answer(
        "weight_dayview.json",
        "weigh_ins",
        "2025-06-15",
        {"weigh_ins": 1},
        {
            "weigh_ins": [
                weigh_in(
                    "2025-06-15",
                    utc(2025, 6, 15, 14, 14, 36),
                    datetime(2025, 6, 15, 8, 14, 36),
                    59.72,
                    (22.799999237060547, 19.3, 58.9, 3.539, 26.979),
                    "INDEX_SCALE",
                )
            ]
        },
    ),
    Answer(
        "weight_dayview_manual.json",
        "weigh_ins",
        "2025-06-14",
        {"weigh_ins": 2},
        {
            "weigh_ins": [
                weigh_in(
                    "2025-06-14",
                    utc(2025, 6, 15, 0, 52, 5, 175000),
                    datetime(2025, 6, 14, 18, 52, 5, 175000),
                    59.5,
                    (None, None, None, None, None),
                    "MANUAL",
                ),
                weigh_in(
                    "2025-06-14",
                    utc(2025, 6, 14, 13, 53),
                    datetime(2025, 6, 14, 7, 53),
                    59.13,
                    (22.5, 20.3, 58.2, 3.43, 26.84),
                    "INDEX_SCALE",
                ),
            ]
        },
    ),
    Answer("weight_dayview_empty.json", "weigh_ins", "2020-01-01", {"weigh_ins": 0}),
    Answer("body_composition_empty.json", "weigh_ins", "2023-07-01", {"weigh_ins": 0}),
    # The Personal API's weight/range path, recorded on Connect's host.
    Answer(
        "weight_range.json",
        "weigh_ins",
        "2025-06-01/2025-06-15",
        {"weigh_ins": 4},
        {
            "weigh_ins": [
                weigh_in(
                    "2025-06-07",
                    utc(2025, 6, 7, 14, 47, 38),
                    datetime(2025, 6, 7, 8, 47, 38),
                    59.189,
                    (22.600000381469727, 20.0, 58.4, 3.45, 26.85),
                    "INDEX_SCALE",
                ),
                dict(timestamp=utc(2025, 6, 15, 0, 52, 5, 175000), weight_kg=59.5),
                dict(timestamp=utc(2025, 6, 14, 13, 53), weight_kg=59.13),
                dict(timestamp=utc(2025, 6, 15, 14, 14, 36), weight_kg=59.72),
            ]
        },
        source=PERSONAL_API,
    ),
    Answer(
        "weight_range_empty.json",
        "weigh_ins",
        "2019-12-18/2020-01-01",
        {"weigh_ins": 0},
        source=PERSONAL_API,
    ),
    Answer(
        "weight_range_single_day.json",
        "weigh_ins",
        "2025-06-14",
        {"weigh_ins": 2},
        {
            "weigh_ins": [
                dict(timestamp=utc(2025, 6, 15, 0, 52, 5, 175000), source_type="MANUAL"),
                dict(timestamp=utc(2025, 6, 14, 13, 53), source_type="INDEX_SCALE"),
            ]
        },
        source=PERSONAL_API,
    ),
    # ------------------------------------------------------------------ Body Battery
    # Upstream scrubbed the samples' levels to null: no samples, only charged/drained.
    Answer(
        "body_battery_report.json",
        "body_battery",
        "2023-07-01",
        {"body_battery": 0, "body_battery_daily": 1, "body_battery_events": 0},
        {"body_battery_daily": [dict(calendar_date=date(2023, 7, 1), charged=23, drained=23)]},
    ),
    # ------------------------------------------------------------------ training readiness
    Answer(
        "training_readiness.json",
        "training_readiness",
        "2025-07-07",
        {"training_readiness": 5},
        {
            "training_readiness": [
                dict(
                    calendar_date=date(2025, 7, 7),
                    timestamp=utc(2025, 7, 7, 8, 50, 17),
                    timestamp_local=datetime(2025, 7, 7, 2, 50, 17),
                    input_context="UPDATE_REALTIME_VARIABLES",
                    score=75,
                    level="HIGH",
                    sleep_score=None,
                    recovery_time_min=0,
                    acute_load=420,
                    valid_sleep=False,
                ),
                dict(
                    calendar_date=date(2025, 7, 7),
                    timestamp=utc(2025, 7, 8, 3, 50, 17),
                    input_context="UPDATE_REALTIME_VARIABLES",
                    score=50,
                    level="MODERATE",
                    feedback_short="RECOVERY_IN_PROGRESS",
                    recovery_time_min=2004,
                    acute_load=583,
                    hrv_weekly_average_ms=42,
                    valid_sleep=True,
                ),
            ]
        },
    ),
    Answer(
        "training_readiness_2024-07-07.json",
        "training_readiness",
        "2024-07-07",
        {"training_readiness": 1},
        {
            "training_readiness": [
                dict(
                    calendar_date=date(2024, 7, 7),
                    timestamp=utc(2024, 7, 7, 13, 47, 19),
                    timestamp_local=datetime(2024, 7, 7, 7, 47, 19),
                    input_context=None,  # recorded as null in 2024
                    score=49,
                    level="LOW",
                    feedback_short="FOCUS_ON_SLEEP_QUALITY",
                    sleep_score=60,
                    sleep_score_factor_pct=40,
                    sleep_history_factor_pct=45,
                    recovery_time_min=1,
                    recovery_time_factor_pct=99,
                    acute_load=175,
                    acwr_factor_pct=100,
                    hrv_factor_pct=100,
                    hrv_weekly_average_ms=42,
                    stress_history_factor_pct=66,
                    valid_sleep=True,
                )
            ]
        },
    ),
    Answer(
        "training_readiness_2025-07-06.json",
        "training_readiness",
        "2025-07-06",
        {"training_readiness": 1},
        {
            "training_readiness": [
                dict(
                    calendar_date=date(2025, 7, 6),
                    timestamp=utc(2025, 7, 6, 12, 22, 28),
                    input_context="AFTER_WAKEUP_RESET",
                    score=66,
                    level="MODERATE",
                    feedback_short="RECOVERED_AND_READY",
                    recovery_time_min=563,
                    acute_load=420,
                )
            ]
        },
    ),
    # An empty list: a day with no readiness.
    Answer(
        "training_readiness_no_data.json",
        "training_readiness",
        "2030-01-01",
        {"training_readiness": 0},
    ),
    # ------------------------------------------------------------------ training status
    Answer(
        "weekly_training_status.json",
        "training_status",
        "2025-05-21/2025-05-23",  # reportData trimmed to these days
        {"training_status": 3},
        {
            "training_status": [
                training_status(
                    "2025-05-21",
                    utc(2025, 5, 21, 15, 6, 10),
                    4,
                    "MAINTAINING_2",
                    2,
                    (224, 219, 1.0, 42, "OPTIMAL", 175.20000000000002, 328.5),
                ),
                training_status(
                    "2025-05-23",
                    utc(2025, 5, 23, 14, 54, 15),
                    7,
                    "PRODUCTIVE_2",
                    2,
                    (281, 219, 1.2, 52, "OPTIMAL", 175.20000000000002, 328.5),
                ),
            ]
        },
    ),
    Answer(
        "weekly_training_status_pages.json#2024-06-19/2025-06-11",
        "training_status",
        "2024-06-19/2025-06-11",
        {"training_status": 5},  # reportData trimmed to 5 of its 358 days
        {
            "training_status": [
                training_status(
                    "2024-06-22",
                    utc(2024, 6, 22, 19, 11, 56),
                    6,
                    "PEAKING_1",
                    3,
                    (223, 376, 0.5, 20, "LOW", 300.8, 564.0),
                ),
                training_status(
                    "2024-09-17",
                    utc(2024, 9, 17, 15, 10, 46),
                    8,
                    "STRAINED_4",
                    2,
                    (184, 255, 0.7, 29, "LOW", 204.0, 382.5),
                ),
                training_status(
                    "2025-01-11",
                    utc(2025, 1, 11, 17, 57, 51),
                    2,
                    "UNPRODUCTIVE_3",
                    1,
                    (202, 219, 0.9, 38, "OPTIMAL", 175.20000000000002, 328.5),
                ),
            ]
        },
    ),
    Answer(
        "weekly_training_status_pages.json#2024-04-24/2024-06-12",
        "training_status",
        "2024-04-24/2024-06-12",
        {"training_status": 3},  # trimmed to 3 of its 50 days
        {
            "training_status": [
                # Computed the next morning, UTC.
                training_status(
                    "2024-04-24",
                    utc(2024, 4, 25, 6, 59, 59),
                    1,
                    "DETRAINING",
                    2,
                    (0, 100, 0.0, 0, "LOW", 80.0, 150.0),
                ),
                training_status(
                    "2024-05-20",
                    utc(2024, 5, 20, 19, 11, 53),
                    0,
                    "NO_STATUS_2",
                    0,
                    (14, 176, 0.0, 0, "LOW", 140.8, 264.0),
                ),
                training_status(
                    "2024-06-12",
                    utc(2024, 6, 12, 13, 38, 48),
                    7,
                    "PRODUCTIVE_10",
                    3,
                    (670, 357, 1.8, 86, "HIGH", 285.6, 535.5),
                ),
            ]
        },
    ),
    # ------------------------------------------------------------------ hill score, VO2max
    Answer(
        "hill_score.json",
        "hill_score",
        "2025-07-07",
        {"hill_score": 1},
        {
            "hill_score": [
                dict(
                    calendar_date=date(2025, 7, 7),
                    hill_score=20,
                    strength_score=2,
                    endurance_score=15,
                    classification_id=1,
                    feedback_phrase_id=4,
                    vo2max_ml_kg_min=48.0,
                )
            ]
        },
        envelope=hill_score_list,
    ),
    Answer(
        "hill_score_2025-07-06.json",
        "hill_score",
        "2025-07-06",
        {"hill_score": 1},
        {
            "hill_score": [
                dict(calendar_date=date(2025, 7, 6), hill_score=20, feedback_phrase_id=44)
            ]
        },
        envelope=hill_score_list,
    ),
    # garth data/test_garmin_scores_data_get (#4): HTTP 204 before the first hill score.
    Answer(None, "hill_score", "2024-07-07", {"hill_score": 0}),
    Answer(
        "max_metrics_latest.json",
        "max_metrics",
        "2026-01-08",
        {"max_metrics": 1},
        {
            "max_metrics": [
                dict(
                    calendar_date=date(2026, 1, 8),
                    vo2max_running_ml_kg_min=44.5,
                    vo2max_cycling_ml_kg_min=None,  # "cycling": null
                    fitness_age_years=None,
                )
            ]
        },
        envelope=one_entry,
    ),
    # ------------------------------------------------------------------ profile and zones
    Answer(
        "heart_rate_zones.json",
        "heart_rate_zones",
        "2023-10-01",
        {"heart_rate_zones": 1},
        {
            "heart_rate_zones": [
                dict(
                    snapshot_date=date(2023, 10, 1),
                    sport="DEFAULT",
                    training_method="HR_RESERVE",
                    resting_heart_rate_bpm=42,
                    max_heart_rate_bpm=185,
                    lactate_threshold_heart_rate_bpm=170,
                    zone1_floor_bpm=130,
                    zone2_floor_bpm=140,
                    zone3_floor_bpm=150,
                    zone4_floor_bpm=160,
                    zone5_floor_bpm=170,
                    resting_hr_auto_update=False,
                )
            ]
        },
    ),
    # The profile feed's settings body is not recorded; these are the user-settings bodies its
    # shape is assumed from (no timeZone: the assumed addition).
    Answer(
        "user_settings.json",
        "profile",
        "2023-07-01",
        {"profile": 1},
        {
            "profile": [
                dict(
                    snapshot_date=date(2023, 7, 1),
                    time_zone=None,
                    gender="MALE",
                    birth_date=date(1970, 1, 1),  # sanitised upstream
                    height_cm=184.0,
                    weight_kg=85.1,
                    measurement_system="metric",
                    lactate_threshold_heart_rate_bpm=None,
                    vo2max_running_ml_kg_min=39.0,
                    vo2max_cycling_ml_kg_min=None,
                    moderate_intensity_hr_zone=3,
                    vigorous_intensity_hr_zone=4,
                    sleep_time_s=81000,
                    wake_time_s=23400,
                )
            ]
        },
    ),
    Answer(
        "user_settings_garth.json",
        "profile",
        "2023-10-01",
        {"profile": 1},
        {
            "profile": [
                dict(
                    snapshot_date=date(2023, 10, 1),
                    birth_date=date(2000, 1, 1),
                    height_cm=182.0,
                    weight_kg=83.0,
                    vo2max_running_ml_kg_min=45.0,
                    sleep_time_s=80400,
                    wake_time_s=24000,
                )
            ]
        },
    ),
]


@pytest.mark.parametrize("answer", ANSWERS, ids=str)
def test_a_recorded_answer_lands_with_the_recorded_values(answer: Answer):
    feed = catalog_feed(answer.feed)
    frames = landed(answer)
    assert {name: frame.height for name, frame in frames.items()} == {
        d.name: answer.rows.get(d.name, 0) for d in feed.datasets
    }
    for dataset in feed.datasets:
        assert_rows(frames[dataset.name], dataset, answer.expect.get(dataset.name, ()))


# ---------------------------------------------------------------------- activities
def listed(entry_id: int, name: str, sport: str, start: datetime, local: datetime, **totals):
    return dict(
        activity_id=entry_id,
        activity_name=name,
        activity_type=sport,
        start_time=start,
        start_time_local=local,
        **totals,
    )


# (recording, activities as listed): the lists carry no FIT file, so each listed activity's
# download is missing from raw and rejected as such; the list's rows still land.
ACTIVITY_LISTS = [
    (
        "activity_list.json",
        [
            listed(
                21482825013,
                "Cuajimalpa de Morelos - Base",
                "trail_running",
                utc(2026, 1, 8, 14, 10, 21),
                datetime(2026, 1, 8, 8, 10, 21),
                duration_s=2223.326904296875,
                elapsed_duration_s=2225.44091796875,
                moving_duration_s=2216.0,
                distance_m=4261.18994140625,
                calories_kcal=390.0,
                average_heart_rate_bpm=142.0,
                max_heart_rate_bpm=162.0,
                average_speed_m_s=1.9170000553131106,
                max_speed_m_s=2.76200008392334,
                elevation_gain_m=151.0,
                elevation_loss_m=147.0,
            ),
            listed(
                21461718086,
                "Cuajimalpa de Morelos Hiking",
                "hiking",
                utc(2026, 1, 6, 13, 14, 18),
                datetime(2026, 1, 6, 7, 14, 18),
                elapsed_duration_s=2349.037109375,
            ),
            listed(
                21419635589,
                "Bacalar Stand Up Paddleboarding",
                "stand_up_paddleboarding_v2",
                utc(2026, 1, 2, 12, 12, 43),
                datetime(2026, 1, 2, 7, 12, 43),
                elevation_gain_m=None,
            ),
        ],
    ),
    (
        "activity_list_page2.json",
        [
            listed(
                21419635589,
                "Bacalar Stand Up Paddleboarding",
                "stand_up_paddleboarding_v2",
                utc(2026, 1, 2, 12, 12, 43),
                datetime(2026, 1, 2, 7, 12, 43),
            ),
            listed(
                21413444039,
                "Bacalar Open Water Swimming",
                "open_water_swimming",
                utc(2026, 1, 1, 17, 39, 43),
                datetime(2026, 1, 1, 12, 39, 43),
                duration_s=387.5870056152344,
                elapsed_duration_s=932.6719970703125,
                distance_m=263.32000732421875,
            ),
        ],
    ),
    # The older list (saved by garmin-connect-export, 2018-2021): elapsedDuration in ms.
    (
        "activity_list_2018.json",
        [
            listed(
                2541953812,
                "Biel 🏛 Pavillon",
                "cross_country_skiing",
                utc(2018, 3, 8, 11, 23, 22),
                datetime(2018, 3, 8, 12, 23, 22),
                duration_s=2627.3798828125,
                elapsed_duration_s=2627.3798828125,  # 2627379.8828125 ms
                moving_duration_s=2614.0,
                max_speed_m_s=10.51200008392334,
            )
        ],
    ),
    (
        "activity_overview_2541953812.json",
        [
            listed(
                2541953812,
                "Reckingen Augenstern-Ulrichen Langlauf",
                "cross_country_skiing_ws",
                utc(2018, 3, 8, 11, 23, 22),
                datetime(2018, 3, 8, 12, 23, 22),
                elapsed_duration_s=2627.3798828125,
            )
        ],
    ),
    (
        "activity_list_2021.json",
        [
            listed(
                6609987243,
                "Walk",
                "walking",
                utc(2021, 4, 15, 9, 44, 5),
                datetime(2021, 4, 15, 11, 44, 5),
                duration_s=2702.589111328125,
                elapsed_duration_s=2702.589111328125,
            ),
            listed(
                6588349056,
                "Bike-Walk-Bike",
                "multi_sport",
                utc(2021, 4, 11, 9, 50, 49),
                datetime(2021, 4, 11, 11, 50, 49),
                duration_s=10226.370854377747,
                elapsed_duration_s=11183.693120002747,
                moving_duration_s=None,
                average_heart_rate_bpm=None,
                distance_m=38351.40899467468,
            ),
            listed(
                6585943400,
                "Run",
                "running",
                utc(2021, 4, 11, 5, 48, 33),
                datetime(2021, 4, 11, 7, 48, 33),
                duration_s=3459.342041015625,
                elapsed_duration_s=4677.15087890625,
                moving_duration_s=3108.290008544922,
            ),
        ],
    ),
]


@pytest.mark.parametrize(
    ("recording", "expected"), ACTIVITY_LISTS, ids=[r for r, _ in ACTIVITY_LISTS]
)
def test_a_recorded_activity_list_lands_day_by_day(recording: str, expected: list[dict]):
    entries = recorded(recording)
    entries = entries if isinstance(entries, list) else [entries]  # an overview is one entry
    by_day: dict[date, list[Any]] = {}
    for entry in entries:  # filed as the activities feed files them: by local start day
        by_day.setdefault(activities.local_day(entry), []).append(entry)
    frames = []
    for day, listed_that_day in sorted(by_day.items()):
        parsed = activities.parse_activities(
            {activities.ACTIVITY_LIST: canonical_json(listed_that_day)}, day
        )
        assert parsed.rejected == {
            activity_zip_name(e["activityId"]): (
                f"activity {e['activityId']} is listed but its file is not in raw"
            )
            for e in listed_that_day
        }
        frames.append(checked(parsed.frames[activities.ACTIVITIES.name], activities.ACTIVITIES))
        for dataset in activities.FIT_DATASETS:
            assert parsed.frames[dataset.name].is_empty()
    frame = pl.concat(frames)
    assert sorted(frame["activity_id"]) == sorted(e["activity_id"] for e in expected)
    assert_rows(frame, activities.ACTIVITIES, expected)


def test_the_recorded_original_download_decodes_into_the_activity_tables():
    """garth core/test_download.yaml: the ORIGINAL zip of a yoga session (fēnix 6X), decoded as
    the activities feed decodes each listed activity's download."""
    download = (DATA / DOWNLOAD).read_bytes()
    tables = {d.name: d for d in activities.FIT_DATASETS}
    parsed = decode_activity_payloads(
        {activity_zip_name(11998957007): download},
        [11998957007],
        {name: d.columns for name, d in tables.items()},
    )
    assert parsed.rejected == {}
    frames = {name: checked(parsed.frames[name], d) for name, d in tables.items()}
    heights = {name: frame.height for name, frame in frames.items()}
    # The file's own message counts (fitdecode): 4340 records, 5 events, 15 device_info, one
    # session and no lap message at all (a yoga session); unknown messages land as developer
    # fields, not here.
    assert {k: heights[k] for k in ("activity_records", "activity_events", "activity_laps")} == {
        "activity_records": 4340,
        "activity_events": 5,
        "activity_laps": 0,
    }
    assert heights["activity_device_info"] == 15
    (session,) = frames["activity_sessions"].to_dicts()
    want = dict(
        activity_id=11998957007,
        sport="training",
        sub_sport="yoga",
        start_time=utc(2023, 9, 11, 13, 44, 29),
        total_elapsed_time_s=4339.054,
        total_timer_time_s=4338.02,
        total_calories_kcal=151,
        avg_heart_rate_bpm=72,
        max_heart_rate_bpm=96,
        num_laps=1,
    )
    assert {k: session[k] for k in want} == want
    assert all(same(session[k], v) for k, v in want.items())


# ---------------------------------------------------------------------- completeness
def test_every_recording_is_read_by_a_feed_or_listed_as_not_read():
    files = {p.name for p in DATA.iterdir() if p.name != "SOURCES.md"}
    used = [a.recording for a in ANSWERS if a.recording] + [r for r, _ in ACTIVITY_LISTS]
    read = {name.partition("#")[0] for name in used} | {DOWNLOAD}
    assert read.isdisjoint(NOT_READ)
    assert files == read | NOT_READ
    for file in {name.partition("#")[0] for name in used if "#" in name}:
        keys = {name.partition("#")[2] for name in used if name.startswith(f"{file}#")}
        assert keys == set(recorded(file)), f"{file}: an answer of it is not put through a feed"
    sources = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    assert [f for f in sorted(files) if f"\n| `{f}`" not in sources] == []


def test_each_feed_says_which_recordings_back_its_shape_or_what_it_assumes():
    """The catalog's `Shape` (what the data dictionary prints) names exactly the recordings
    this module puts through the feed; a feed without any says what its parser assumes, and
    every feed the Personal API serves says what its unrecorded answers are taken to be."""
    used: dict[str, set[str]] = {}
    for answer in ANSWERS:
        if answer.recording:
            used.setdefault(answer.feed, set()).add(answer.recording.partition("#")[0])
    used["activities"] = {r for r, _ in ACTIVITY_LISTS} | {DOWNLOAD}
    for feed in FEEDS:
        assert set(feed.shape.recorded) == used.get(feed.name, set()), feed.name
        assert len(feed.shape.recorded) == len(set(feed.shape.recorded)), feed.name
        assert feed.shape.recorded or feed.shape.assumed, f"{feed.name}: shape not stated"
        assert bool(feed.shape.personal_api) == (feed.personal_api is not None), feed.name
