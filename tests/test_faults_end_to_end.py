"""Faults through the whole pipeline: a 429 stops with one line; 5xx bursts, a timeout, resets
and a revoked token are retried within the sync; a cut download is quarantined, kept and fetched
again, and a corrupt FIT is quarantined and kept as Garmin's copy."""

import re
from datetime import timedelta

import duckdb
import polars as pl
import pytest

from garmin_emulator import Emulator
from tests.conftest import fault_plan, pipeline_env, run_cli


@pytest.fixture
def env(emulator, tmp_path):
    return pipeline_env(emulator, tmp_path)


def sync(env, athlete, days: int = 3):
    first = athlete.first_day
    return run_cli(
        env, "sync", "--start", str(first), "--end", str(first.replace(day=first.day + days - 1))
    )


def test_a_429_stops_the_sync_with_one_line_and_no_retry(emulator, athlete, env):
    with fault_plan(emulator) as plan:
        plan.add("/usersummary-service/", status=429, retry_after=3600, times=None)
        emulator.clear_request_log()
        completed = sync(env, athlete)
    assert completed.returncode == 3  # partial: what arrived before was built
    partial = [line for line in completed.stderr.splitlines() if line.startswith("sync partial")]
    assert len(partial) == 1, completed.stderr[-3000:]
    # Whichever usersummary feed runs first meets the 429; every later feed stops unsent.
    assert re.match(r"sync partial: raw/\w+: Garmin answered 429", partial[0]), partial[0]
    assert "nothing is sent until" in partial[0] and "do not log in again" in partial[0]
    hits = [r for r in emulator.request_log if r.path.startswith("/usersummary-service/")]
    assert [r.status for r in hits] == [429]


def test_a_burst_of_503s_is_retried_and_the_day_still_lands(emulator, athlete, env, tmp_path):
    with fault_plan(emulator) as plan:
        plan.add("/download-service/files/wellness/", status=503, times=2)
        emulator.clear_request_log()
        completed = sync(env, athlete, days=1)
    assert completed.returncode == 0, completed.stderr[-2000:]
    statuses = [r.status for r in emulator.request_log if "/files/wellness/" in r.path]
    assert statuses == [503, 503, 200]
    day = athlete.first_day
    expected = sum(v[1] is not None for v in athlete.heart_rate(day)["heartRateValues"])
    lake = pl.read_parquet(str(tmp_path / "data" / "lake" / "heart_rate" / "**" / "*.parquet"))
    assert lake.height == expected


def download_path(activity) -> str:
    return f"/download-service/files/activity/{activity.activity_id}"


def quarantined(data, dataset: str, key: str, reason: str) -> dict:
    """One quarantine table of the sync: each row's `key` → its `reason`."""
    folder = data / "quarantine" / dataset
    if not list(folder.rglob("*.parquet")):
        return {}
    held = pl.read_parquet(str(folder / "**" / "*.parquet"))
    return dict(zip(held[key], held[reason], strict=True))


def quarantined_payloads(data) -> dict[str, str]:
    return quarantined(data, "activities_payloads", "payload", "reason")


def quarantined_activities(data) -> dict[int, str]:
    return quarantined(data, "activities", "activity_id", "quarantine_reason")


def activity_rows(data) -> dict[int, tuple[bool, int | None]]:
    """fct_activities: activity id → (FIT decoded, record count)."""
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("select activity_id, fit_decoded, record_count from fct_activities")
        return {activity_id: (decoded, count) for activity_id, decoded, count in rows.fetchall()}


def test_a_cut_download_is_fetched_again_and_a_corrupt_fit_is_kept_as_garmins_copy(
    emulator, athlete, env, tmp_path
):
    """One activity's download arrives cut (and its retry too); another opens as a zip whose
    FIT fails its CRC, every time. Both are quarantined with their reason and kept in raw, and
    so are their activities, from `activities` too (never half an activity); the next sync
    fetches the cut one again and lands it whole, but does not download the corrupt one,
    Garmin's own copy, again."""
    cut, corrupt = athlete.activities()[:2]
    days = (max(cut.local_date, corrupt.local_date) - athlete.first_day).days + 1
    listed = [a for a in athlete.activities() if (a.local_date - athlete.first_day).days < days]
    data = tmp_path / "data"
    with fault_plan(emulator) as plan:
        plan.add(download_path(cut), truncate=True, times=2)
        plan.add(download_path(corrupt), corrupt=True, times=None)
        emulator.clear_request_log()
        first = sync(env, athlete, days)
        assert first.returncode == 0, first.stderr[-2000:]
        downloads = [r.path for r in emulator.request_log if r.path.startswith("/download-")]
        assert downloads.count(download_path(cut)) == downloads.count(download_path(corrupt)) == 2
        reasons = quarantined_payloads(data)
        assert sorted(reasons) == sorted(f"activity-{a.activity_id}.zip" for a in (cut, corrupt))
        assert "not a readable zip" in reasons[f"activity-{cut.activity_id}.zip"]
        assert "corrupt FIT file: CRC mismatch" in reasons[f"activity-{corrupt.activity_id}.zip"]
        raw = data / "raw" / "activities" / "account=default"
        for activity in (cut, corrupt):
            assert (
                raw / f"date={activity.local_date}" / f"activity-{activity.activity_id}.zip"
            ).exists()
        rows = activity_rows(data)
        landed = [a.activity_id for a in listed if a not in (cut, corrupt)]
        assert sorted(rows) == sorted(landed)  # each exactly once, each with its FIT
        assert all(rows[activity_id][0] for activity_id in landed)
        held = quarantined_activities(data)
        assert sorted(held) == sorted(a.activity_id for a in (cut, corrupt))
        assert "not a readable zip" in held[cut.activity_id]
        assert "corrupt FIT file: CRC mismatch" in held[corrupt.activity_id]

        emulator.clear_request_log()
        again = sync(env, athlete, days)
        assert again.returncode == 0, again.stderr[-2000:]
        downloads = [r.path for r in emulator.request_log if r.path.startswith("/download-")]
        assert downloads == [download_path(cut)]
        rows = activity_rows(data)
        assert rows[cut.activity_id] == (True, cut.record_count)
        assert corrupt.activity_id not in rows
        assert list(quarantined_payloads(data)) == [f"activity-{corrupt.activity_id}.zip"]
        assert list(quarantined_activities(data)) == [corrupt.activity_id]


def test_a_timeout_a_dropped_connection_and_expired_tokens_are_recovered_within_the_sync(
    athlete, tmp_path
):
    """A slow answer (past GARMIN_REQUEST_TIMEOUT_S), two resets and a revoked access token in
    one sync: each request is retried or refreshed, and every day lands. A private emulator:
    revoking tokens would also revoke other tests' sessions."""
    with Emulator(athlete, port=0) as emulator, fault_plan(emulator) as plan:
        env = {**pipeline_env(emulator, tmp_path), "GARMIN_REQUEST_TIMEOUT_S": "2"}
        slow = plan.add("/usersummary-service/v2/dailysummaries", delay_s=4)
        plan.add("/download-service/files/wellness/", reset=True, times=1)
        plan.add("/wellness-service/wellness/dailySleepData/", reset=True, times=1)
        plan.expire_tokens()
        emulator.clear_request_log()
        completed = sync(env, athlete, days=3)
        log = emulator.request_log
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert slow.hits == 1
    daily = [r for r in log if r.path == "/usersummary-service/v2/dailysummaries"]
    assert len(daily) == 2  # timed out, then sent again (one window for 3 days)
    assert [r.status for r in log if r.path.startswith("/download-service/files/wellness/")][
        :2
    ] == [0, 200]
    assert sum(r.status == 401 for r in log) == 1  # one refresh, then the sync went on
    assert sum(r.status == 0 for r in log) == 2
    assert len(log) < 200  # bounded: no retry storm
    data = tmp_path / "data"
    days = {str(athlete.first_day + timedelta(days=n)) for n in range(3)}
    for dataset in ("daily_summary", "sleep", "heart_rate"):
        lake = pl.read_parquet(
            str(data / "lake" / dataset / "**" / "*.parquet"), hive_partitioning=True
        )
        assert {str(d) for d in lake["date"].unique()} == days, dataset
    assert not (data / "quarantine").exists() or not list((data / "quarantine").rglob("*.parquet"))
