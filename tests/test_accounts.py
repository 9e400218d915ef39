"""A household: several Garmin accounts synced by one installation.

One emulator serves two athletes, each its own account (tokens, sign-in, display name). The
Dagster partitions are account and day, the lake and every mart carry the account, and each
account keeps its own token store and 429 breaker: one account cooling down does not stop the
other.
"""

import contextlib
import os
import re
from collections import Counter
from collections.abc import Iterator

import duckdb
import pytest

from garmin_emulator import Emulator, SyntheticAthlete
from garmin_pipeline.layout import DataLayout
from garmin_pipeline.report.charts import CHARTS
from tests.conftest import ATHLETE_END, run_cli

pytestmark = pytest.mark.long_running

DAYS = 14
SUMMARY = "/usersummary-service/usersummary/daily/"
ACCOUNTS = ("alice", "bob")


@contextlib.contextmanager
def household_emulator(days: int) -> Iterator[tuple[Emulator, dict[str, SyntheticAthlete]]]:
    """One emulator serving two athletes: alice (seed 7) and bob (seed 8), `days` each."""
    alice = SyntheticAthlete(seed=7, end_date=ATHLETE_END, days=days)
    bob = SyntheticAthlete(seed=8, end_date=ATHLETE_END, days=days)
    with Emulator(alice, port=0, account="alice", others={"bob": bob}) as emu:
        yield emu, {"alice": alice, "bob": bob}


@pytest.fixture(scope="module")
def household():
    with household_emulator(DAYS) as served:
        yield served


def household_env(emu: Emulator, root) -> dict[str, str]:
    for account in ACCOUNTS:
        emu.write_token_store(root / "tokens" / account / "garmin_tokens.json", account=account)
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("GARMIN_", "DAGSTER_HOME"))
    }
    return {
        **environment,
        "GARMIN_DATA_DIR": str(root / "data"),
        "GARMIN_API_URL": emu.base_url,
        "GARMIN_TOKENS": str(root / "tokens"),
        "GARMIN_ACCOUNTS": ",".join(ACCOUNTS),
        "GARMIN_SOURCE": "connect",
        "GARMIN_HISTORY_START": "2024-01-01",
        "GARMIN_PERSONAL_API_KEY_FILE": str(root / "tokens" / "personal-api-key"),
        "DAGSTER_HOME": str(root / "dagster_home"),
    }


@pytest.fixture(scope="module")
def synced_household(household, tmp_path_factory):
    emu, athletes = household
    root = tmp_path_factory.mktemp("household")
    env = household_env(emu, root)
    emu.clear_request_log()
    first, last = str(athletes["alice"].first_day), str(athletes["alice"].last_day)
    completed = run_cli(env, "sync", "--start", first, "--end", last)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return env, DataLayout(root / "data"), emu.request_log


def test_each_accounts_marts_hold_its_own_athlete(synced_household, household):
    _, layout, _ = synced_household
    _, athletes = household
    with duckdb.connect(str(layout.warehouse_path), read_only=True) as con:
        steps = con.sql("select account, calendar_date, total_steps from fct_daily_health")
        rows = {(a, d): s for a, d, s in steps.fetchall()}
        activities = dict(
            con.sql("select account, count(*) from fct_activities group by 1").fetchall()
        )
    for account, athlete in athletes.items():
        for day in athlete.history():
            assert rows[account, day] == athlete.daily_summary(day)["totalSteps"], (account, day)
        assert activities[account] == len(list(athlete.activities()))
    assert len(rows) == 2 * DAYS
    day = athletes["alice"].last_day
    assert rows["alice", day] != rows["bob", day]  # two athletes, not one counted twice


def test_the_lake_partitions_by_account(synced_household, household):
    _, layout, _ = synced_household
    _, athletes = household
    for account, athlete in athletes.items():
        days = sorted((layout.lake_dir / "daily_summary" / f"account={account}").glob("date=*"))
        assert [p.name for p in days] == [f"date={d}" for d in athlete.history()]


def test_each_account_spends_its_own_requests_with_its_own_tokens(synced_household, household):
    _, _, requests = synced_household
    _, athletes = household
    by_account = Counter(r.account for r in requests)
    assert set(by_account) == set(ACCOUNTS)
    # Every daily summary request named its own account's athlete, with its own token (the
    # emulator refuses another athlete's display name with 403).
    for record in requests:
        if record.path.startswith(SUMMARY):
            assert athletes[record.account].display_name in record.path
            assert record.status == 200
    assert abs(by_account["alice"] - by_account["bob"]) <= by_account["alice"] // 2


def test_one_accounts_cooldown_leaves_the_other_syncing(household, tmp_path):
    emu, athletes = household
    env = household_env(emu, tmp_path)
    day = str(athletes["alice"].last_day)
    emu.faults.clear()
    try:
        # Every request of bob's is refused: the first opens bob's breaker for 3 hours.
        emu.faults.add("/", status=429, retry_after=3 * 3600, times=None, account="bob")
        completed = run_cli(env, "sync", "--start", day, "--end", day)
    finally:
        emu.faults.clear()
    assert completed.returncode == 3  # partial: alex's days landed
    (line,) = [x for x in completed.stderr.splitlines() if x.startswith("sync partial")]
    assert line.startswith("sync partial: bob: ") and "429" in line, completed.stderr[-2000:]
    state = DataLayout(tmp_path / "data").state_dir
    assert (state / "rate_limit-bob.json").exists()
    assert not (state / "rate_limit-alice.json").exists()
    lake = DataLayout(tmp_path / "data").lake_dir / "daily_summary"
    assert (lake / "account=alice" / f"date={day}" / "part-0.parquet").exists()
    assert not (lake / "account=bob").exists()


def test_the_household_demo(tmp_path):
    """`garmin-pipeline demo --athletes 2`: what a newcomer runs to see a household."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GARMIN_", "DAGSTER_HOME"))}
    env |= {"GARMIN_DEMO_DIR": str(tmp_path / "demo"), "DAGSTER_HOME": str(tmp_path / "home")}
    completed = run_cli(env, "demo", "--athletes", "2", "--days", "10", timeout_s=900)
    assert completed.returncode == 0, completed.stderr[-3000:]
    for account in ("alex", "sam"):
        assert re.search(rf"{account}: 10 days, [\d,]+ steps", completed.stdout), completed.stdout
    warehouse = DataLayout(tmp_path / "demo").warehouse_path
    with duckdb.connect(str(warehouse), read_only=True) as con:
        per_account = con.sql(
            "select account, count(*), sum(total_steps) from fct_daily_health group by 1 order by 1"
        ).fetchall()
    assert [(a, days) for a, days, _ in per_account] == [("alex", 10), ("sam", 10)]
    assert per_account[0][2] != per_account[1][2]
    # The demo also draws the report, beside the warehouse, and says where.
    page = tmp_path / "demo" / "report.html"
    assert f"Report: {page}" in completed.stdout, completed.stdout
    assert page.read_text(encoding="utf-8").count("<figure ") == len(CHARTS)
