"""The rate governor after a 429: a cooldown that doubles and persists across runs and processes,
`Retry-After` honoured (a short one waited out once), and nothing sent while cooling down."""

import json
import multiprocessing
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from garmin_pipeline.errors import MalformedPayloadError, RateLimitedError
from garmin_pipeline.settings import Settings, SettingsError
from garmin_pipeline.sources.breaker import CircuitBreaker
from garmin_pipeline.sources.connect.client import ConnectSource
from tests.conftest import fault_plan, pipeline_env, run_cli

HOUR = timedelta(hours=1)
DAY = "2024-06-20"  # inside the session athlete's history
SUMMARY = "/usersummary-service/usersummary/daily/"


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 7, 1, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(tmp_path, clock) -> CircuitBreaker:
    return CircuitBreaker(tmp_path / "state" / "rate_limit-default.json", clock=clock)


def source_for(emulator, tmp_path, **env: str) -> ConnectSource:
    tokens = emulator.write_token_store(tmp_path / "tokens" / "garmin_tokens.json")
    settings = Settings.from_env(
        {
            "GARMIN_DATA_DIR": str(tmp_path / "data"),
            "GARMIN_API_URL": emulator.base_url,
            "GARMIN_TOKENS": str(tokens),
            **env,
        }
    )
    return ConnectSource(settings)


# -- the breaker on its own, with a fake clock ------------------------------------------------


@pytest.mark.fast
def test_each_consecutive_trip_doubles_the_cooldown_up_to_the_cap(breaker, clock):
    cooldowns = []
    for _ in range(7):
        state = breaker.trip("daily summary")
        assert state.open and state.opened_at == clock.now
        cooldowns.append((state.until - clock.now) / HOUR)
        clock.now = state.until  # the cooldown ends, the next request meets another 429
        assert not breaker.state().open
    assert cooldowns == [2, 4, 8, 16, 24, 24, 24]
    assert breaker.state().trips == 7


@pytest.mark.fast
def test_the_cooldown_hours_come_from_settings():
    settings = Settings.from_env({"GARMIN_COOLDOWN_HOURS": "0.5,3", "GARMIN_DATA_DIR": "/d"})
    assert (settings.cooldown_first_s, settings.cooldown_max_s) == (1800, 10800)
    assert str(settings.breaker_path) == "/d/state/rate_limit-default.json"
    assert Settings.from_env({}).cooldown_first_s == 7200
    assert Settings.from_env({}).cooldown_max_s == 86400
    assert Settings.from_env({}).retry_after_wait_max_s == 60
    for bad in ("2", "4,2", "0,24", "two,24", "2,inf"):
        with pytest.raises(SettingsError, match="GARMIN_COOLDOWN_HOURS") as excinfo:
            Settings.from_env({"GARMIN_COOLDOWN_HOURS": bad})
        assert "\n" not in str(excinfo.value)
    with pytest.raises(SettingsError, match="GARMIN_RETRY_AFTER_WAIT_MAX_S"):
        Settings.from_env({"GARMIN_RETRY_AFTER_WAIT_MAX_S": "soon"})


@pytest.mark.fast
def test_a_success_after_the_cooldown_closes_the_breaker(breaker, clock):
    first = breaker.trip("daily summary")
    breaker.record_success()  # (a request still in flight when the 429 came back)
    assert breaker.state().trips == 1 and breaker.state().open
    clock.now = first.until + timedelta(seconds=1)
    breaker.record_success()
    assert breaker.state().trips == 0 and not breaker.state().open
    again = breaker.trip("daily summary")
    assert again.until - clock.now == 2 * HOUR  # back to the first cooldown


@pytest.mark.fast
def test_a_retry_after_longer_than_the_cooldown_sets_until(breaker, clock):
    state = breaker.trip("sleep", retry_after_s=5 * 3600)
    assert state.until == clock.now + 5 * HOUR
    assert state.retry_after_s == 5 * 3600
    # A trip while cooling down (a parallel run) doubles, but never shortens the cooldown.
    assert breaker.trip("hrv").until == state.until
    clock.now = state.until
    # Still capped: a Retry-After of two days waits the configured maximum.
    assert breaker.trip("sleep", retry_after_s=48 * 3600).until == clock.now + 24 * HOUR


@pytest.mark.fast
def test_the_state_persists_across_breakers_and_says_until_when(tmp_path, breaker, clock):
    breaker.trip("daily summary 2024-06-20 (/usersummary-service/usersummary/daily/{x})")
    other = CircuitBreaker(breaker.path, clock=clock)
    state = other.state()
    assert (state.open, state.trips, state.remaining) == (True, 1, 2 * HOUR)
    with pytest.raises(RateLimitedError) as excinfo:
        other.check("heart rate 2024-06-21")
    assert str(excinfo.value) == (
        "skipped heart rate 2024-06-21: Garmin answered 429 at 2024-07-01 06:00 UTC; cooling "
        "down until 2024-07-01 08:00 UTC (trip 1); run `garmin-pipeline status` to see it, "
        "do not log in again"
    )
    assert json.loads(breaker.path.read_text()) == {
        "trips": 1,
        "opened_at": "2024-07-01T06:00:00+00:00",
        "until": "2024-07-01T08:00:00+00:00",
        "reason": "daily summary 2024-06-20 (/usersummary-service/usersummary/daily/{x})",
        "retry_after_s": None,
    }
    other.reset()
    assert not breaker.state().open and breaker.state().trips == 0
    breaker.check("anything")  # closed: no error


@pytest.mark.fast
def test_an_unreadable_state_file_stops_rather_than_sends(breaker):
    breaker.path.parent.mkdir(parents=True)
    breaker.path.write_text("{not json")
    with pytest.raises(RateLimitedError, match="unreadable") as excinfo:
        breaker.check("daily summary")
    assert "\n" not in str(excinfo.value)


def _trip_many(path: str, start, times: int) -> None:
    start.wait(10)
    for _ in range(times):
        CircuitBreaker(path).trip("child")


def test_trips_from_two_processes_at_once_are_all_counted(tmp_path):
    path = tmp_path / "state" / "rate_limit-default.json"
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    children = [context.Process(target=_trip_many, args=(str(path), start, 25)) for _ in "ab"]
    for child in children:
        child.start()
    start.set()
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0, 0]
    state = CircuitBreaker(path).state()
    assert state.trips == 50 and state.open
    assert state.until - state.opened_at == 24 * HOUR


# -- Retry-After through the real client, against the emulator ---------------------------------


def test_a_short_retry_after_is_waited_out_and_retried_once(emulator, tmp_path):
    source = source_for(emulator, tmp_path)
    source.garmin  # noqa: B018  log in first, so only the summary request is counted below
    with fault_plan(emulator) as plan:
        plan.add(SUMMARY, status=429, retry_after=1, times=1)
        emulator.clear_request_log()
        started = time.monotonic()
        summary = source.json("daily summary", "get_user_summary", DAY)
        waited = time.monotonic() - started
    assert summary["calendarDate"] == DAY
    assert [r.status for r in emulator.request_log] == [429, 200]
    assert waited >= 1.0
    endpoint = SUMMARY + "{displayName}"
    assert source.governor.requests_by_endpoint[endpoint] == 2
    assert not source.governor.rate_limited
    assert source.breaker.state().trips == 0 and not source.breaker.path.exists()


def test_a_second_429_after_the_wait_trips_the_breaker(emulator, tmp_path):
    source = source_for(emulator, tmp_path)
    source.garmin  # noqa: B018
    with fault_plan(emulator) as plan:
        plan.add(SUMMARY, status=429, retry_after=1, times=2)
        emulator.clear_request_log()
        with pytest.raises(RateLimitedError, match="429 Too Many Requests during daily summary"):
            source.json("daily summary", "get_user_summary", DAY)
        with pytest.raises(RateLimitedError, match="skipped heart rate"):
            source.json("heart rate", "get_heart_rates", DAY)
    assert [r.status for r in emulator.request_log] == [429, 429]
    state = source.breaker.state()
    assert state.trips == 1 and state.remaining > 2 * HOUR - timedelta(minutes=1)
    assert state.reason == "daily summary (/usersummary-service/usersummary/daily/{displayName})"


def test_a_long_retry_after_sets_the_cooldown_and_a_new_run_sends_nothing(emulator, tmp_path):
    source = source_for(emulator, tmp_path)
    with fault_plan(emulator) as plan:
        plan.add(SUMMARY, status=429, retry_after=3 * 3600, times=None)
        with pytest.raises(RateLimitedError) as excinfo:
            source.json("daily summary", "get_user_summary", DAY)
        hits = [r.status for r in emulator.request_log if r.path.startswith(SUMMARY)]
        state = source.breaker.state()
        assert state.until - state.opened_at == 3 * HOUR
        assert state.retry_after_s == 3 * 3600
        message = str(excinfo.value)
        assert "\n" not in message and "cooling down, trip 1" in message
        assert f"until {state.until:%Y-%m-%d %H:%M} UTC" in message
        emulator.clear_request_log()
        # The next run: a new session, new governor, same data directory.
        again = source_for(emulator, tmp_path)
        with pytest.raises(RateLimitedError, match=r"skipped daily summary: .* cooling down until"):
            again.json("daily summary", "get_user_summary", DAY)
        assert emulator.request_log == []  # not even the token login
    assert hits[-1:] == [429]


def test_a_429_during_the_token_login_is_a_rate_limit_not_bad_tokens(emulator, tmp_path):
    source = source_for(emulator, tmp_path)
    with fault_plan(emulator) as plan:
        plan.add("/userprofile-service/socialProfile", status=429, retry_after=7200, times=None)
        emulator.clear_request_log()
        with pytest.raises(RateLimitedError, match="Garmin answered 429 Too Many Requests"):
            source.json("daily summary", "get_user_summary", DAY)
    # garminconnect asks for the profile three times; the governor lets only the first go.
    assert [(r.path, r.status) for r in emulator.request_log] == [
        ("/userprofile-service/socialProfile", 429)
    ]
    assert source.breaker.state().trips == 1


def test_a_200_that_is_not_json_is_malformed_and_keeps_the_body(emulator, tmp_path):
    source = source_for(emulator, tmp_path)
    source.json("daily summary", "get_user_summary", DAY)
    _, whole = source.governor.last_response()
    with fault_plan(emulator) as plan:
        plan.add(SUMMARY, truncate=True, times=1)
        with pytest.raises(MalformedPayloadError) as excinfo:
            source.json(f"daily summary {DAY}", "get_user_summary", DAY)
    assert str(excinfo.value) == (
        f"Garmin sent a body that is not JSON for daily summary {DAY}; kept in quarantine, "
        "fetched again next sync"
    )
    assert whole and excinfo.value.body == whole[: len(whole) // 2]
    assert source.breaker.state().trips == 0


# -- the whole pipeline through the CLI --------------------------------------------------------


def test_a_429_cools_down_across_runs_shows_in_status_and_clears_after(emulator, athlete, tmp_path):
    env = pipeline_env(emulator, tmp_path)
    first = athlete.first_day
    days = ("--start", str(first), "--end", str(first + timedelta(days=1)))
    with fault_plan(emulator) as plan:
        plan.add("/usersummary-service/", status=429, retry_after=3600, times=None)
        met = run_cli(env, "sync", *days)
        assert met.returncode == 3  # partial: what arrived before the 429 was built
        (line,) = [x for x in met.stderr.splitlines() if x.startswith("sync partial: ")]
        assert "Garmin answered 429 Too Many Requests" in line and "cooling down, trip 1" in line

        emulator.clear_request_log()
        skipped = run_cli(env, "sync", *days)
        assert emulator.request_log == []  # a new process sends nothing, not even a login
    assert skipped.returncode == 3
    (line,) = [x for x in skipped.stderr.splitlines() if x.startswith("sync partial: ")]
    assert "skipped" in line and "cooling down until" in line and "(trip 1)" in line

    settings = Settings.from_env(env)
    breaker = CircuitBreaker(settings.breaker_path)
    state = breaker.state()
    assert state.open and state.trips == 1 and state.retry_after_s == 3600
    assert state.until - state.opened_at == 2 * HOUR  # the first cooldown beats Retry-After
    shown = run_cli(env, "status")
    assert shown.returncode == 0, shown.stderr
    assert f"data dir:   {settings.data_dir}\n" in shown.stdout
    assert f"rate limit: open until {state.until:%Y-%m-%d %H:%M} UTC" in shown.stdout
    assert "trip 1" in shown.stdout

    breaker.end_cooldown()  # as if two hours had passed
    emulator.clear_request_log()
    synced = run_cli(env, "sync", *days)
    assert synced.returncode == 0, synced.stderr[-2000:]
    assert [r.status for r in emulator.request_log if r.status != 200] == []
    assert breaker.state().trips == 0
    shown = run_cli(env, "status")
    assert "rate limit: closed (no 429 since the last successful request)" in shown.stdout
    assert re.search(rf"^  daily_summary +{first + timedelta(days=1)}  \(2\)$", shown.stdout, re.M)
