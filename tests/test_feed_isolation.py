"""A feed that fails fails alone: Garmin removing one endpoint (a 404 on every request) costs
that feed only, and so does one whose endpoint answers 503 whatever the retries. The other
feeds land, the lake and the warehouse are built, the sync ends "partial" (exit 3) naming each
failed feed, `status` shows them, and the next sync with the endpoints back fetches only
those feeds."""

import subprocess
from dataclasses import dataclass, field
from datetime import timedelta

import duckdb
import polars as pl
import pytest

from assets.raw import FETCHED_CHECK
from garmin_pipeline.catalog import feed
from garmin_pipeline.errors import EndpointUnavailableError
from garmin_pipeline.raw.extract import extract
from garmin_pipeline.raw.store import RawStore
from garmin_pipeline.sources.governor import endpoint_of
from tests.conftest import fault_plan, latest_check, pipeline_env, run_cli

FLOORS_PATH = "/usersummary-service/stats/floors/daily/"
INTENSITY_PATH = "/usersummary-service/stats/im/daily/"
DAYS = 3


def endpoints(requests) -> set[str]:
    return {endpoint_of(r.path) for r in requests}


@dataclass
class Observed:
    """What a sync printed and requested, and what the lake, warehouse and checks held after."""

    completed: subprocess.CompletedProcess
    requests: list
    lake_days: dict[str, set[str]] = field(default_factory=dict)
    daily_health: list[tuple] = field(default_factory=list)
    fetched_check: bool | None = None


@pytest.fixture(scope="module")
def removed_floors(emulator, athlete, tmp_path_factory) -> dict[str, Observed]:
    """A sync while the floors endpoint answers 404, `status`, a sync after it is back, and
    one more with nothing new (the requests every sync makes, whatever it fetches)."""
    root = tmp_path_factory.mktemp("isolation")
    env = pipeline_env(emulator, root)
    last = athlete.first_day + timedelta(days=DAYS - 1)
    span = ("--start", str(athlete.first_day), "--end", str(last))
    data = root / "data"

    def sync() -> Observed:
        emulator.clear_request_log()
        seen = Observed(run_cli(env, "sync", *span), emulator.request_log)
        seen.lake_days = {name: lake_days(data, name) for name in DATASETS}
        with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
            seen.daily_health = con.execute(
                "select calendar_date, total_steps, floors_descended from fct_daily_health"
                " order by calendar_date"
            ).fetchall()
        home = root / "dagster_home"
        seen.fetched_check = latest_check(home, ["raw", "daily_floors"], FETCHED_CHECK).passed
        return seen

    runs = {}
    with fault_plan(emulator) as plan:
        plan.add(FLOORS_PATH, status=404, times=None)
        plan.add(INTENSITY_PATH, status=503, times=None)
        runs["removed"] = sync()
        runs["status"] = Observed(run_cli(env, "status"), [])
    runs["back"] = sync()
    runs["nothing_new"] = sync()
    runs["status_after"] = Observed(run_cli(env, "status"), [])
    return runs


DATASETS = (
    "daily_floors",
    "daily_intensity_minutes",
    "daily_summary",
    "daily_steps",
    "sleep",
    "heart_rate",
    "hrv",
    "stress",
)


def lake_days(data, dataset: str) -> set[str]:
    folder = data / "lake" / dataset
    if not list(folder.rglob("*.parquet")):
        return set()
    frame = pl.read_parquet(str(folder / "**" / "*.parquet"), hive_partitioning=True)
    return {str(day) for day in frame["date"].unique()}


def test_the_sync_ends_partial_naming_the_feed_and_what_to_do(removed_floors):
    removed = removed_floors["removed"]
    stderr = removed.completed.stderr
    assert removed.completed.returncode == 3, stderr[-3000:]
    partial = [line for line in stderr.splitlines() if line.startswith("sync partial")]
    assert len(partial) == 2, stderr[-3000:]
    floors, intensity = sorted(partial)
    assert floors.startswith("sync partial: raw/daily_floors: Garmin answered 404 Not Found")
    assert "usersummary-service/stats/floors/daily/{date}/{date}" in floors
    assert "next sync tries it again" in floors
    assert intensity.startswith("sync partial: raw/daily_intensity_minutes: Garmin Connect failed")
    assert "try again later, already-synced data is kept" in intensity
    assert "Traceback" not in stderr, stderr[-3000:]
    # Asked once: a removed endpoint is not asked again for every window of the range.
    assert [r.status for r in removed.requests if r.path.startswith(FLOORS_PATH)] == [404]
    # A 503 is retried (a burst passes), a persistent one fails the feed after the retries.
    assert [r.status for r in removed.requests if r.path.startswith(INTENSITY_PATH)] == [503] * 5


def test_every_other_feed_lands_and_the_marts_are_built(removed_floors, athlete):
    removed = removed_floors["removed"]
    days = {str(athlete.first_day + timedelta(days=n)) for n in range(DAYS)}
    assert removed.lake_days.pop("daily_floors") == set()
    assert removed.lake_days.pop("daily_intensity_minutes") == set()
    assert removed.lake_days == dict.fromkeys(DATASETS[2:], days)
    rows = removed.daily_health
    assert [str(day) for day, _, _ in rows] == sorted(days)
    # Steps as the emulator served them; floors descended (only the floors feed has them) not.
    assert [steps for _, steps, _ in rows] == [
        athlete.daily_summary(athlete.first_day + timedelta(days=n))["totalSteps"]
        for n in range(DAYS)
    ]
    assert [floors for _, _, floors in rows] == [None] * DAYS


def test_the_feed_check_is_red_and_status_shows_it(removed_floors):
    assert removed_floors["removed"].fetched_check is False
    assert removed_floors["back"].fetched_check is True
    status = removed_floors["status"].completed
    assert status.returncode == 0, status.stderr
    failing = status.stdout.split("failing feeds (each sync tries them again):\n", 1)[1]
    floors, intensity = failing.splitlines()[:2]
    assert floors.startswith("  daily_floors: since ")
    assert ": Garmin answered 404 Not Found" in floors
    assert intensity.startswith("  daily_intensity_minutes: since ")
    assert ": Garmin Connect failed during get_daily_intensity_minutes_stats" in intensity
    after = removed_floors["status_after"].completed.stdout
    assert "feeds:      every feed fetched at its last sync" in after


def test_the_next_sync_fetches_only_the_feeds_that_failed(removed_floors, athlete):
    back, nothing_new = removed_floors["back"], removed_floors["nothing_new"]
    assert back.completed.returncode == 0, back.completed.stderr[-3000:]
    assert nothing_new.completed.returncode == 0, nothing_new.completed.stderr[-3000:]
    assert endpoints(back.requests) - endpoints(nothing_new.requests) == {
        "/usersummary-service/stats/floors/daily/{date}/{date}",
        "/usersummary-service/stats/im/daily/{date}/{date}",
    }
    days = {str(athlete.first_day + timedelta(days=n)) for n in range(DAYS)}
    assert back.lake_days["daily_floors"] == back.lake_days["daily_intensity_minutes"] == days
    assert [floors for _, _, floors in back.daily_health] == [
        athlete.wellness(athlete.first_day + timedelta(days=n)).floors_down for n in range(DAYS)
    ]


def test_a_404_stops_a_range_feed_after_one_window(emulator, athlete, tmp_path, connect_source):
    """Over 60 days (three windows), the feed asks once, raises, and keeps nothing it did not
    get: no day is marked fetched, so the next sync asks for all of them again."""
    floors = feed("daily_floors")
    raw = RawStore(tmp_path / "raw")
    days = [athlete.last_day - timedelta(days=n) for n in range(59, -1, -1)]
    with fault_plan(emulator) as plan:
        plan.add(FLOORS_PATH, status=404, times=None)
        emulator.clear_request_log()
        with pytest.raises(EndpointUnavailableError, match="Garmin answered 404 Not Found"):
            extract(floors, connect_source, raw, "default", days)
    assert [r.path for r in emulator.request_log if r.path.startswith(FLOORS_PATH)] == [
        f"{FLOORS_PATH}{days[0]}/{days[27]}"
    ]
    assert raw.days(floors.name, "default") == []
