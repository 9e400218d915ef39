"""The report's charts: Altair (Vega-Lite) specs built from the frames, and PNGs of them.

Each chart takes its whole frame as the spec's one top-level dataset, so the page (and its
test) can count the rows the browser drew from. Several accounts share a chart: lines are
coloured by account, bars and calendars are faceted into one row per account. The PNGs are
rendered by vl-convert (no browser, no network) for Dagster's metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import altair as alt
import polars as pl
import vl_convert

from garmin_pipeline.report.coverage import STATES
from garmin_pipeline.report.frames import FRAME_MARTS

WIDTH = 760
HEIGHT = 180
# The Vega-Lite that Altair writes specs for, as vl-convert names its bundled versions.
VL_VERSION = ".".join(alt.VEGALITE_VERSION.split(".")[:2])
DAY = alt.Tooltip("calendar_date:T", title="day", format="%Y-%m-%d")


@dataclass(frozen=True)
class Figure:
    """One chart of the page: what it shows, which marts it reads, and its Vega-Lite spec."""

    key: str  # the element id on the page and the Dagster metadata label
    title: str
    caption: str
    marts: tuple[str, ...]
    spec: dict[str, Any]

    @property
    def dataset(self) -> str:
        """The name of the spec's top-level dataset (Altair names it by its content)."""
        return str(self.spec["data"]["name"])


BY_ACCOUNT = alt.Color("account:N", title="account", legend=alt.Legend(orient="top"))


def training_load_chart(frame: pl.DataFrame) -> alt.TopLevelMixin:
    """Acute (7-day) and chronic (28-day) load as lines, and their ratio below it, with the
    0.8-1.3 band usually read as sustainable."""
    base = alt.Chart().encode(x=alt.X("calendar_date:T", title=None))
    loads = (
        base.transform_fold(["acute_load", "chronic_load"], as_=["load", "trimp_per_day"])
        .mark_line()
        .encode(
            y=alt.Y("trimp_per_day:Q", title="TRIMP per day"),
            color=BY_ACCOUNT,
            strokeDash=alt.StrokeDash(
                "load:N",
                title="load",
                scale=alt.Scale(domain=["acute_load", "chronic_load"], range=[[1, 0], [5, 3]]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=["account:N", DAY, "load:N", "trimp_per_day:Q"],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
    band = (
        alt.Chart(alt.InlineData(values=[{"low": 0.8, "high": 1.3}]))
        .mark_rect(color="#4c9a2a", opacity=0.12)
        .encode(y="low:Q", y2="high:Q")
    )
    ratio = base.mark_line().encode(
        y=alt.Y("acute_chronic_ratio:Q", title="acute : chronic"),
        color=BY_ACCOUNT,
        tooltip=["account:N", DAY, "acute_chronic_ratio:Q"],
    )
    return alt.vconcat(
        loads, alt.layer(band, ratio).properties(width=WIDTH, height=HEIGHT // 2), data=frame
    )


def weekly_volume_chart(frame: pl.DataFrame) -> alt.TopLevelMixin:
    """Hours per week, stacked by sport; one row per account."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            # Pre-binned Monday-to-Monday bars on a time axis: its ticks scale to years.
            x=alt.X("week_start:T", bin="binned", title="week"),
            x2="week_end:T",
            y=alt.Y("duration_h:Q", title="hours"),
            color=alt.Color("sport:N", legend=alt.Legend(orient="top")),
            tooltip=[
                "account:N",
                alt.Tooltip("week_start:T", title="week", format="%Y-%m-%d"),
                "sport:N",
                "sessions:Q",
                "duration_h:Q",
                "distance_km:Q",
            ],
        )
        .properties(width=WIDTH, height=HEIGHT)
        .facet(row=alt.Row("account:N", title=None))
    )


def heart_chart(frame: pl.DataFrame) -> alt.TopLevelMixin:
    """Resting heart rate per day, and HRV: last night's average (points) and its 7-day
    average (line)."""
    base = alt.Chart().encode(x=alt.X("calendar_date:T", title=None), color=BY_ACCOUNT)
    resting = base.mark_line(point=True).encode(
        y=alt.Y("resting_heart_rate_bpm:Q", title="resting HR (bpm)", scale=alt.Scale(zero=False)),
        tooltip=["account:N", DAY, "resting_heart_rate_bpm:Q"],
    )
    nightly = base.mark_point(filled=True, size=20).encode(
        y=alt.Y("hrv_last_night_ms:Q", title="HRV (ms)", scale=alt.Scale(zero=False)),
        tooltip=["account:N", DAY, "hrv_last_night_ms:Q", "hrv_weekly_avg_ms:Q"],
    )
    weekly = base.mark_line().encode(y="hrv_weekly_avg_ms:Q")
    return alt.vconcat(
        resting.properties(width=WIDTH, height=HEIGHT),
        alt.layer(nightly, weekly).properties(width=WIDTH, height=HEIGHT),
        data=frame,
    )


SLEEP_STAGES = ["deep", "light", "rem", "awake"]


def sleep_chart(frame: pl.DataFrame) -> alt.TopLevelMixin:
    """Hours in each sleep stage per night, stacked; one row per account."""
    return (
        alt.Chart(frame)
        .transform_fold(list(SLEEP_STAGES), as_=["stage", "hours"])  # a list of str | FieldName
        .mark_bar()
        .encode(
            x=alt.X("yearmonthdate(calendar_date):T", title="night (wake-up day)"),
            y=alt.Y("hours:Q", title="hours"),
            color=alt.Color(
                "stage:N",
                scale=alt.Scale(
                    domain=SLEEP_STAGES, range=["#1f3b73", "#6f9fd8", "#b36bd4", "#e8a33d"]
                ),
                legend=alt.Legend(orient="top"),
            ),
            order=alt.Order("stage_order:Q"),
            tooltip=["account:N", DAY, "stage:N", "hours:Q"],
        )
        .transform_calculate(stage_order=f"indexof({SLEEP_STAGES!r}, datum.stage)")
        .properties(width=WIDTH, height=HEIGHT)
        .facet(row=alt.Row("account:N", title=None))
    )


def latest_activity_chart(records: pl.DataFrame, latest: pl.DataFrame) -> alt.TopLevelMixin:
    """Each account's latest activity: its GPS track (left) and elevation profile (right), a
    panel per account, each filtering the one dataset of every account's records."""
    rows = []
    for account, name, kind, day in latest.select(
        "account", "activity_name", "activity_type", "activity_date"
    ).iter_rows():
        mine = alt.datum.account == account
        track = (
            alt.Chart()
            .transform_filter(mine)
            .mark_line(color="#c0392b")
            .encode(longitude="longitude_deg:Q", latitude="latitude_deg:Q", order="record_index:Q")
            .project(type="mercator")
            .properties(width=300, height=300, title="track")
        )
        profile = (
            alt.Chart()
            .transform_filter(mine)
            .mark_area(line=True, opacity=0.4)
            .encode(
                x=alt.X("distance_km:Q", title="distance (km)"),
                y=alt.Y("altitude_m:Q", title="elevation (m)", scale=alt.Scale(zero=False)),
                tooltip=["distance_km:Q", "altitude_m:Q", "heart_rate_bpm:Q"],
            )
            .properties(width=WIDTH - 360, height=300, title="elevation")
        )
        rows.append(
            alt.hconcat(track, profile).properties(title=f"{account}: {name} ({kind}, {day})")
        )
    return alt.vconcat(*rows, data=records)


def coverage_chart(frame: pl.DataFrame) -> alt.TopLevelMixin:
    """A calendar, a column per week and a row per weekday, one per account."""
    return (
        alt.Chart(frame)
        .mark_rect(stroke="white", strokeWidth=1)
        .encode(
            x=alt.X(
                "yearmonthdate(week_start):O",
                title=None,
                # A label on each month's first week only.
                axis=alt.Axis(
                    labelAngle=0,
                    labelAlign="left",
                    labelExpr="date(datum.value) <= 7 ? timeFormat(datum.value, '%b %y') : ''",
                ),
            ),
            y=alt.Y(
                "weekday:O",
                title=None,
                sort=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            ),
            color=alt.Color(
                "state:N",
                scale=alt.Scale(domain=list(STATES), range=["#4c9a2a", "#f0a830", "#c9c9c9"]),
                legend=alt.Legend(orient="top", title="day"),
            ),
            tooltip=["account:N", DAY, "state:N"],
        )
        .properties(width=alt.Step(14), height=alt.Step(14))
        .facet(row=alt.Row("account:N", title=None))
    )


@dataclass(frozen=True)
class ChartDef:
    key: str
    title: str
    caption: str
    marts: tuple[str, ...]
    frame: str  # the frame that is the chart's top-level dataset
    build: Callable[[dict[str, pl.DataFrame]], alt.TopLevelMixin]


CHARTS: tuple[ChartDef, ...] = (
    ChartDef(
        "training-load",
        "Training load",
        "Acute (7-day) and chronic (28-day) load from each day's TRIMP, and the acute : chronic "
        "ratio (load balance); the shaded band is 0.8-1.3.",
        FRAME_MARTS["training_load"],
        "training_load",
        lambda f: training_load_chart(f["training_load"]),
    ),
    ChartDef(
        "weekly-volume",
        "Weekly volume by sport",
        "Hours of training per week (Monday to Sunday), stacked by sport.",
        FRAME_MARTS["weekly_volume"],
        "weekly_volume",
        lambda f: weekly_volume_chart(f["weekly_volume"]),
    ),
    ChartDef(
        "resting-hr-hrv",
        "Resting heart rate and HRV",
        "Resting heart rate per day; overnight HRV (RMSSD) per night as points, its 7-day "
        "average as a line.",
        FRAME_MARTS["heart"],
        "heart",
        lambda f: heart_chart(f["heart"]),
    ),
    ChartDef(
        "sleep-stages",
        "Sleep stages per night",
        "Hours of deep, light and REM sleep and awake time per night, dated by the wake-up day.",
        FRAME_MARTS["sleep"],
        "sleep",
        lambda f: sleep_chart(f["sleep"]),
    ),
    ChartDef(
        "latest-activity",
        "Latest activity",
        "Each account's latest activity with recorded samples: its GPS track and elevation "
        "profile, one point per record.",
        FRAME_MARTS["latest_records"],
        "latest_records",
        lambda f: latest_activity_chart(f["latest_records"], f["latest_activities"]),
    ),
    ChartDef(
        "coverage",
        "Data coverage",
        "Each day of each account's span: complete (final, with a daily summary), provisional "
        "(Garmin may still change it; the next sync after a device upload fetches it again) or "
        "missing (no daily summary). Provisional state comes from raw's fetch times.",
        FRAME_MARTS["coverage"],
        "coverage",
        lambda f: coverage_chart(f["coverage"]),
    ),
)


def placeholder(frame: pl.DataFrame, title: str) -> alt.TopLevelMixin:
    """An empty plot that says why (no rows yet), still over the chart's own dataset."""
    return (
        alt.Chart(frame)
        .mark_point()
        .properties(width=WIDTH, height=40, title=f"{title}: nothing in the warehouse yet")
    )


def figures(frames: dict[str, pl.DataFrame]) -> list[Figure]:
    """Every chart of `CHARTS`, as a validated Vega-Lite spec."""
    return [
        Figure(
            c.key,
            c.title,
            c.caption,
            c.marts,
            (
                c.build(frames) if frames[c.frame].height else placeholder(frames[c.frame], c.title)
            ).to_dict(validate=True),
        )
        for c in CHARTS
    ]


def png(spec: dict[str, Any], scale: float = 1.0) -> bytes:
    """The chart as a PNG, rendered without a browser (vl-convert's bundled Vega)."""
    return vl_convert.vegalite_to_png(spec, vl_version=VL_VERSION, scale=scale)


def javascript_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script, from vl-convert (no CDN, no network)."""
    # The stub says `snippet` is required; vl-convert's own docstring and runtime default it.
    return vl_convert.javascript_bundle(vl_version=VL_VERSION)  # type: ignore[call-arg]
