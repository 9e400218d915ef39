"""The report: written by the CLI from the real synced warehouse, drawn by headless Chromium
(offline), every chart checked for what it drew; and the Dagster asset's chart images."""

import base64
import json
import os
import re
import shutil
import struct
import subprocess
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import altair as alt
import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.definitions import defs
from assets.report import REPORT_MARTS, report
from assets.resources import DataDir, GarminConnect
from garmin_pipeline.catalog import FEEDS
from garmin_pipeline.layout import DataLayout
from garmin_pipeline.raw.store import RawStore
from garmin_pipeline.report.build import build_report, charted_marts
from garmin_pipeline.report.charts import CHARTS, Figure, javascript_bundle, placeholder
from garmin_pipeline.report.coverage import COMPLETE, MISSING, PROVISIONAL, coverage
from garmin_pipeline.report.page import render_page
from tests.conftest import run_cli

CHART_KEYS = [chart.key for chart in CHARTS]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: run scripts/install-test-tools", pytrace=False)
    return found


def dump_dom(page: Path, profile: Path) -> str:
    """The page's DOM once its scripts have run, in headless Chromium with no network at all
    (every request goes to a proxy on the discard port), so a chart needing one would fail."""
    completed = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--proxy-server=http://127.0.0.1:9",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=60000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


class Page(HTMLParser):
    """What the tests read from a page: tags' attributes by id, figures, spec JSON, links."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.figures: dict[str, dict[str, str]] = {}
        self.specs: dict[str, str] = {}
        self.ids: set[str] = set()
        self.body: dict[str, str] = {}
        self.links: dict[str, list[str]] = {}  # figure key -> hrefs in it
        self.external: list[str] = []  # src/href values pointing off the page
        self._figure: str | None = None
        self._spec: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "id" in values:
            self.ids.add(values["id"])
        for name in ("src", "href"):
            if name in values and not values[name].startswith("#"):
                self.external.append(values[name])
        if tag == "link":
            self.external.append(values.get("href", "<link>"))
        if tag == "body":
            self.body = values
        if tag == "figure" and "data-chart" in values:
            self._figure = values["data-chart"]
            self.figures[self._figure] = values
            self.links[self._figure] = []
        if tag == "a" and self._figure is not None:
            self.links[self._figure].append(values.get("href", ""))
        if tag == "script" and values.get("class") == "spec":
            self._spec = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._figure = None
        if tag == "script" and self._spec is not None and self._figure is not None:
            self.specs[self._figure] = "".join(self._spec)
            self._spec = None

    def handle_data(self, data: str) -> None:
        if self._spec is not None:
            self._spec.append(data)


@pytest.fixture(scope="module")
def written(synced, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """`garmin-pipeline report --out X` on the synced data."""
    out = tmp_path_factory.mktemp("report") / "page" / "report.html"
    completed = run_cli(synced.env, "report", "--out", str(out))
    assert completed.returncode == 0, completed.stderr[-3000:]
    return out, completed


@pytest.fixture(scope="module")
def drawn(written, tmp_path_factory) -> Page:
    return Page(dump_dom(written[0], tmp_path_factory.mktemp("chromium")))


@pytest.fixture(scope="module")
def warehouse(synced):
    with duckdb.connect(str(synced.data_dir / "warehouse.duckdb"), read_only=True) as con:
        yield con


def count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.sql(sql).fetchall()[0][0]


def test_the_cli_writes_the_page_and_prints_its_path(written):
    out, completed = written
    assert completed.stdout.splitlines() == [f"report written to {out}"]
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_by_default_the_page_lands_beside_the_warehouse(synced, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(synced.data_dir / "warehouse.duckdb", data / "warehouse.duckdb")
    completed = run_cli({**synced.env, "GARMIN_DATA_DIR": str(data)}, "report")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip() == f"report written to {data / 'report.html'}"
    assert (data / "report.html").stat().st_size > 100_000  # the inlined Vega bundle alone


def test_an_empty_data_dir_is_a_one_line_error_saying_to_sync(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GARMIN_")}
    env["GARMIN_DATA_DIR"] = str(tmp_path / "data")
    completed = run_cli(env, "report")
    assert completed.returncode == 1
    assert completed.stderr.splitlines() == [
        f"Error: no warehouse at {tmp_path / 'data' / 'warehouse.duckdb'}; "
        "run `garmin-pipeline sync` (or `make demo`) first"
    ]
    assert not (tmp_path / "data" / "report.html").exists()


def test_the_page_is_self_contained(written):
    page = Page(written[0].read_text(encoding="utf-8"))
    assert page.external == []  # no script src, stylesheet or link off the page
    assert list(page.figures) == CHART_KEYS
    assert all(f["data-status"] == "pending" for f in page.figures.values())


def test_every_chart_drew_in_chromium_without_errors_or_warnings(drawn):
    assert drawn.body.get("data-charts") == "settled"
    assert list(drawn.figures) == CHART_KEYS
    for key, figure in drawn.figures.items():
        assert figure["data-status"] == "drawn", (key, figure.get("data-error"))
        assert "data-error" not in figure, key
        assert figure["data-warnings"] == "", key
        width, height = map(int, figure["data-size"].split("x"))
        assert width > 100 and height > 50, (key, figure["data-size"])


def test_the_charts_drew_every_row_of_their_marts(drawn, warehouse):
    rows = {key: int(figure["data-rows"]) for key, figure in drawn.figures.items()}
    days = count(warehouse, "select count(*) from fct_daily_health")
    assert days == count(warehouse, "select count(*) from fct_training_load") > 0
    latest_id = count(
        warehouse,
        "select activity_id from fct_activities where record_count > 0 "
        "order by start_time desc, activity_id desc limit 1",
    )
    latest_records = count(
        warehouse, f"select count(*) from fct_activity_records where activity_id = {latest_id}"
    )
    assert latest_records > 100
    assert rows == {
        "training-load": days,
        "weekly-volume": count(warehouse, "select count(*) from agg_weekly_training"),
        "resting-hr-hrv": days,
        "sleep-stages": count(warehouse, "select count(*) from fct_sleep"),
        "latest-activity": latest_records,
        "coverage": days,
    }
    # What the browser loaded is what the page carries, row for row.
    for key, figure in drawn.figures.items():
        embedded = json.loads(drawn.specs[key])["datasets"][figure["data-dataset"]]
        assert len(embedded) == rows[key], key


def test_the_latest_activity_is_drawn_from_its_own_records(drawn, warehouse):
    spec = json.loads(drawn.specs["latest-activity"])
    records = spec["datasets"][drawn.figures["latest-activity"]["data-dataset"]]
    expected = warehouse.sql(
        "select record_index, latitude_deg from fct_activity_records where activity_id = ("
        "  select activity_id from fct_activities where record_count > 0"
        "  order by start_time desc, activity_id desc limit 1"
        ") order by record_index"
    ).fetchall()
    assert [(r["record_index"], r["latitude_deg"]) for r in records] == expected


def test_the_coverage_calendar_matches_the_warehouse_and_raw(drawn, warehouse, athlete):
    spec = json.loads(drawn.specs["coverage"])
    days = spec["datasets"][drawn.figures["coverage"]["data-dataset"]]
    states = pl.DataFrame(days)["state"].value_counts().sort("state")
    with_summary = count(warehouse, "select count(*) from fct_daily_health where has_daily_summary")
    # The athlete's days ended in 2024 and were fetched long after: every one is final; and
    # the athlete has a daily summary every day. So the calendar is the history, day by day,
    # each day once and complete (the oracle is the athlete, not the page's own row count).
    history = athlete.history()
    assert with_summary == len(history)
    assert sorted((str(d["calendar_date"])[:10], d["state"]) for d in days) == [
        (day.isoformat(), COMPLETE) for day in history
    ]
    assert dict(states.iter_rows()) == {COMPLETE: with_summary}
    assert PROVISIONAL not in dict(states.iter_rows())


def test_each_chart_links_to_its_marts_dictionary_entry(drawn):
    marts = {mart.name: mart for mart in charted_marts()}
    assert set(marts) == set(REPORT_MARTS)
    for chart in CHARTS:
        assert drawn.links[chart.key] == [f"#mart-{mart}" for mart in chart.marts]
        assert {f"mart-{mart}" for mart in chart.marts} <= drawn.ids


def test_the_dictionary_entries_are_the_data_dictionarys(written):
    text = written[0].read_text(encoding="utf-8")
    dictionary = (Path(__file__).parents[1] / "docs" / "data-dictionary.md").read_text()
    for mart in charted_marts():
        assert f"### {mart.name}" in dictionary
        section = text.split(f'<article id="mart-{mart.name}">', 1)[1].split("</article>", 1)[0]
        assert section.count("<tr><td><code>") == len(mart.columns) > 0
        for column in mart.columns:
            assert f"<code>{column.name}</code>" in section


def test_the_same_warehouse_gives_the_same_bytes(synced, written):
    layout = DataLayout(synced.data_dir)
    assert build_report(layout).html == written[0].read_text(encoding="utf-8")


def test_without_chromium_the_test_fails_saying_what_to_run(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match=r"^chromium is not installed: run scripts/"):
        chromium()


def test_a_day_fetched_within_its_lag_is_provisional_and_a_final_empty_day_missing(tmp_path):
    """Finality is raw's `checked_at` under the sync's own rule, in the account's time zone."""
    raw = RawStore(tmp_path / "raw")
    (feed,) = [f for f in FEEDS if f.name == "daily_summary"]  # final 2 days after the day
    days = [date(2024, 3, n) for n in range(1, 6)]
    raw.mark_checked(feed.name, "a", days[0], datetime(2024, 3, 6, tzinfo=UTC))
    # 2 March ends at 23:00 UTC in Paris: final from 4 March 23:00 UTC on (in UTC: midnight).
    raw.mark_checked(feed.name, "a", days[1], datetime(2024, 3, 4, 23, 30, tzinfo=UTC))
    raw.mark_checked(feed.name, "a", days[2], datetime(2024, 3, 4, tzinfo=UTC))
    raw.mark_checked(feed.name, "a", days[3], datetime(2024, 3, 9, tzinfo=UTC))
    # 5 March was never fetched.
    frame = pl.DataFrame(
        {"account": ["a"] * 5, "calendar_date": days, "has_daily_summary": [True] * 3 + [False] * 2}
    )
    paris = coverage(frame, raw, FEEDS, {"a": "Europe/Paris"})
    assert paris["state"].to_list() == [COMPLETE, COMPLETE, PROVISIONAL, MISSING, MISSING]
    assert paris["weekday"].to_list() == ["Fri", "Sat", "Sun", "Mon", "Tue"]
    assert paris["week_start"].to_list() == [date(2024, 2, 26)] * 3 + [date(2024, 3, 4)] * 2
    utc = coverage(frame, raw, FEEDS, {})  # no profile time zone: UTC, as the sync falls back
    assert utc["state"].to_list() == [COMPLETE, PROVISIONAL, PROVISIONAL, MISSING, MISSING]
    # The same per-feed override the sync honours (GARMIN_PROVISIONAL_DAYS) applies here.
    overridden = coverage(frame, raw, FEEDS, {"a": "Europe/Paris"}, {"daily_summary": 0})
    assert overridden["state"].to_list() == [COMPLETE, COMPLETE, COMPLETE, MISSING, MISSING]


def test_the_recorder_reports_a_chart_that_fails(tmp_path):
    """The check above can fail: a chart whose expression Vega cannot parse reports its error."""
    frame = pl.DataFrame({"x": [1, 2, 3]})
    good = alt.Chart(frame).mark_point().encode(x="x:Q")
    bad = good.transform_calculate(y="datum.x +* 2")
    empty = placeholder(frame.clear(), "Sleep")  # what a chart over an empty mart becomes
    figures = [
        Figure("good", "Good", "", ("fct_sleep",), good.to_dict()),
        Figure("bad", "Bad", "", ("fct_sleep",), bad.to_dict()),
        Figure("empty", "Empty", "", ("fct_sleep",), empty.to_dict()),
    ]
    page = tmp_path / "page.html"
    page.write_text(render_page(figures, [], ["a"], "", javascript_bundle()), encoding="utf-8")
    drawn = Page(dump_dom(page, tmp_path / "chromium"))
    assert drawn.figures["good"]["data-status"] == "drawn"
    assert drawn.figures["good"]["data-rows"] == "3"
    assert drawn.figures["bad"]["data-status"] == "error"
    assert drawn.figures["bad"]["data-error"]
    assert "data-rows" not in drawn.figures["bad"]
    assert (drawn.figures["empty"]["data-status"], drawn.figures["empty"]["data-rows"]) == (
        "drawn",
        "0",
    )


def test_the_report_asset_is_on_demand_only():
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey("report")
    assert graph.get(key).parent_keys == {dg.AssetKey(mart) for mart in REPORT_MARTS}
    for job in ("sync", "fetch", "rebuild"):
        assert key not in defs.resolve_job_def(job).asset_layer.executable_asset_keys, job


def png_size(image: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk, after checking the signature."""
    assert image[:8] == PNG_SIGNATURE
    assert image[12:16] == b"IHDR"
    return struct.unpack(">II", image[16:24])


def test_materializing_the_report_shows_each_chart_as_an_image(synced, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(synced.data_dir / "warehouse.duckdb", data / "warehouse.duckdb")
    data_dir = DataDir(path=str(data), raw_uri=str(synced.data_dir / "raw"))
    result = dg.materialize(
        [report],
        resources={
            "data_dir": data_dir,
            "garmin": GarminConnect(data_dir=data_dir, token_store=str(tmp_path / "tokens")),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("report")
    metadata = materialization.metadata
    assert metadata["path"].value == str(data / "report.html")
    assert (data / "report.html").is_file()
    images = {k: v for k, v in metadata.items() if isinstance(v, dg.MarkdownMetadataValue)}
    assert list(images) == CHART_KEYS
    titles = {chart.key: chart.title for chart in CHARTS}
    for key, value in images.items():
        found = re.fullmatch(r"!\[(.+)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", value.value)
        assert found, key
        assert found.group(1) == titles[key]
        width, height = png_size(base64.b64decode(found.group(2)))
        assert width > 100 and height > 50, (key, width, height)
