"""Incremental sync through the CLI against the emulator, on the real clock.

The athlete's history ends yesterday (profile timezone Europe/Paris), so the last days are
still provisional. Swapping in the same athlete one day longer plays the watch uploading
today: only the provisional days (per feed's lag) and the new one are fetched again.
"""

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from garmin_emulator import Emulator, SyntheticAthlete
from tests.conftest import pipeline_env, run_cli

PARIS = ZoneInfo("Europe/Paris")
SEED = 21
SLEEP_PATH = "/wellness-service/wellness/dailySleepData/"


def sleep_days(requests) -> list[str]:
    return sorted(r.query["date"] for r in requests if r.path.startswith(SLEEP_PATH))


@pytest.fixture(scope="module")
def today():
    now = datetime.now(PARIS)
    if now.hour == 23 and now.minute >= 50:
        pytest.skip("too close to midnight in Paris for a stable 'today'")
    return now.date()


@pytest.fixture(scope="module")
def setup(tmp_path_factory, today):
    athlete = SyntheticAthlete(seed=SEED, end_date=today - timedelta(days=1), days=5)
    with Emulator(athlete, port=0) as emu:
        env = pipeline_env(emu, tmp_path_factory.mktemp("incremental"))
        env["GARMIN_HISTORY_START"] = str(athlete.first_day)
        yield emu, env, athlete


def sync(emu, env, first, last):
    emu.clear_request_log()
    completed = run_cli(env, "sync", "--start", str(first), "--end", str(last))
    assert completed.returncode == 0, completed.stderr[-3000:]
    return emu.request_log


def lake_files(env):
    lake = Path(env["GARMIN_DATA_DIR"]) / "lake"
    return {p: p.stat().st_mtime_ns for p in lake.rglob("*.parquet")}


def test_incremental_sync_follows_uploads(setup, today):
    emu, env, athlete = setup
    first = athlete.first_day

    # 1. The first sync fetches every day up to the last upload; today has no upload yet.
    requests = sync(emu, env, first, today)
    assert sleep_days(requests) == [str(first + timedelta(days=n)) for n in range(5)]

    # 2. Nothing uploaded since: a handful of requests, no day fetched, the lake untouched.
    before = lake_files(env)
    requests = sync(emu, env, first, today)
    assert sleep_days(requests) == []
    assert not [r for r in requests if r.path.startswith("/download-service/")]
    assert len(requests) <= 10, [r.path for r in requests]
    assert lake_files(env) == before

    # 3. The watch uploads today: the provisional nights (sleep has three days' lag, Garmin
    # rescoring late) and today are fetched again; the final ones are not.
    emu.athlete = SyntheticAthlete(seed=SEED, end_date=today, days=6)
    requests = sync(emu, env, first, today)
    assert sleep_days(requests) == [str(today - timedelta(days=n)) for n in (3, 2, 1, 0)]
    wellness = sorted(r.path.rsplit("/", 1)[1] for r in requests if "/files/wellness/" in r.path)
    assert wellness == [str(today - timedelta(days=n)) for n in (2, 1, 0)]
