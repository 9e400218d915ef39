"""The right to forget, retention and the audit log, on a household of two accounts.

One emulator serves alice and bob; a real sync lands both (and an export archive of alice's is
imported), then `forget` removes alice from every layer. The system keyring is the test's
memory keyring (none exists in a sandbox), so `forget` runs in this process for that part.
"""

import hashlib
import os
import shutil
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from garmin_emulator import Emulator
from garmin_emulator.export_archive import build_export_archive
from garmin_pipeline import audit
from garmin_pipeline.layout import DataLayout
from garmin_pipeline.raw.forgotten import ForgottenDays
from garmin_pipeline.run_lock import data_dir_lock
from tests.conftest import run_cli
from tests.test_accounts import household_emulator, household_env

pytestmark = pytest.mark.long_running

DAYS = 6
PASSWORD = "audit-canary-Pa55word"  # must appear in no audit line
KEY = "personal-api-key:{}"


@pytest.fixture(scope="module")
def household():
    with household_emulator(DAYS) as served:
        yield served


@pytest.fixture(scope="module")
def household_sync(household, tmp_path_factory) -> tuple[Path, Counter[str]]:
    """Both accounts synced over their days, and alice's export archive imported (raw only);
    with the requests the emulator answered for each account in that sync."""
    emu, athletes = household
    root = tmp_path_factory.mktemp("forget-base")
    env = household_env(emu, root) | {
        "GARMIN_EMAIL": "alice@example.com",
        "GARMIN_PASSWORD": PASSWORD,
    }
    first, last = athletes["alice"].first_day, athletes["alice"].last_day
    emu.clear_request_log()
    completed = run_cli(env, "sync", "--start", str(first), "--end", str(last))
    assert completed.returncode == 0, completed.stderr[-3000:]
    answered = Counter(record.account for record in emu.request_log)
    archive = build_export_archive(athletes["alice"], root / "alice-export.zip")
    imported = run_cli(
        env | {"GARMIN_ACCOUNT": "alice"}, "import-export", "--no-build", str(archive)
    )
    assert imported.returncode == 0, imported.stderr[-3000:]
    archive.unlink()
    return root, answered


@pytest.fixture(scope="module")
def synced_base(household_sync) -> Path:
    return household_sync[0]


def copy_of(base: Path, emu: Emulator, tmp_path: Path) -> dict[str, str]:
    """A private copy of the synced household (data, Dagster home, tokens) and its env."""
    for name in ("data", "dagster_home", "tokens"):
        shutil.copytree(base / name, tmp_path / name, symlinks=True)
    return household_env(emu, tmp_path)


def digests(root: Path, account: str) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and f"account={account}" in str(p)
    }


def naming(roots: list[Path], needle: bytes) -> list[str]:
    """Every file under `roots` whose path or bytes hold `needle`."""
    found = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            named = needle.decode() in str(path.relative_to(root))
            if named or (path.is_file() and needle in path.read_bytes()):
                found.append(str(path))
    return found


def forget_in_process(env: dict[str, str], monkeypatch, *args: str) -> int:
    """`garmin-pipeline forget ... --yes` as its process runs it (python -m assets.forget), here,
    so the test's memory keyring is the keyring it sees."""
    for name in [k for k in os.environ if k.startswith(("GARMIN_", "DAGSTER_HOME"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from assets.forget import main

    return main(list(args))


def test_forget_removes_an_account_everywhere_and_the_next_sync_skips_it(
    synced_base, household, tmp_path, monkeypatch, memory_keyring
):
    emu, athletes = household
    env = copy_of(synced_base, emu, tmp_path)
    layout = DataLayout(tmp_path / "data")
    alice_tokens = tmp_path / "tokens" / "alice"
    (alice_tokens / "garmin_pipeline_account.json").write_text('{"mfa_required": false}')
    (alice_tokens / "personal_api_key.json").write_text('{"expires_on": "2099-01-01"}')
    (alice_tokens / "notes.txt").write_text("not the tool's")  # never ours to delete
    (layout.state_dir / "rate_limit-alice.json").write_text("{}")
    (layout.state_dir / "auth_refused-alice.json").write_text("{}")  # a refused login
    (layout.state_dir / "feed_failures" / "alice").mkdir(parents=True)
    (layout.state_dir / "feed_failures" / "alice" / "sleep.json").write_text("{}")
    (layout.state_dir / "rate_limit-bob.json").write_text("{}")
    for account in ("alice", "bob"):
        memory_keyring.set_password("garmin-pipeline", KEY.format(account), f"{account}-key")
    assert (layout.raw_dir / "_exports" / "account=alice").is_dir()
    assert any(line["account"] == "alice" for line in audit.read(layout.root))
    bob_before = digests(layout.root, "bob")
    assert bob_before

    status = forget_in_process(env, monkeypatch, "--account", "alice")

    assert status == 0
    home = tmp_path / "dagster_home"
    assert naming([layout.root, home], b"alice") == []
    assert naming([layout.root, home], athletes["alice"].display_name.encode()) == []
    assert sorted(memory_keyring.entries) == [("garmin-pipeline", KEY.format("bob"))]
    assert sorted(p.name for p in alice_tokens.iterdir()) == ["notes.txt"]
    assert (layout.state_dir / "rate_limit-bob.json").exists()
    assert digests(layout.root, "bob") == bob_before
    with duckdb.connect(str(layout.warehouse_path), read_only=True) as con:
        accounts = con.sql("select distinct account from fct_daily_health").fetchall()
    assert accounts == [("bob",)]
    lines = list(audit.read(layout.root))
    (forget,) = [line for line in lines if line["action"] == "forget"]
    assert str(forget["account"]).startswith(audit.FORGOTTEN_PREFIX)
    assert forget["counts"]["raw_days"] > 0 and forget["counts"]["dagster_runs"] == 1
    assert forget["counts"]["export_archives"] == 1 and forget["counts"]["keyring_entries"] == 1
    # Tokens, their lock, the MFA record and the key record; the user's notes.txt stays.
    assert forget["counts"]["token_files"] == 4 and forget["counts"]["state_files"] == 3

    # alice stays in GARMIN_ACCOUNTS: the next sync fetches nothing of hers, and bob's days.
    emu.clear_request_log()
    first, last = athletes["alice"].first_day, athletes["alice"].last_day
    completed = run_cli(env, "sync", "--start", str(first), "--end", str(last))
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert Counter(r.account for r in emu.request_log)["alice"] == 0
    assert not any((layout.lake_dir / "daily_summary").glob("account=alice"))
    assert naming([layout.root], b"alice") == []  # no sync line names her again


def test_forget_before_a_day_keeps_the_rest_and_is_not_fetched_again(
    synced_base, household, tmp_path
):
    emu, athletes = household
    env = copy_of(synced_base, emu, tmp_path)
    layout = DataLayout(tmp_path / "data")
    first, last = athletes["bob"].first_day, athletes["bob"].last_day
    cut = first + timedelta(days=2)
    alice_before = digests(layout.root, "alice")

    completed = run_cli(env, "forget", "--account", "bob", "--before", str(cut), "--yes")

    assert completed.returncode == 0, completed.stderr
    (line,) = completed.stdout.strip().splitlines()
    assert line.startswith(f"forgot bob's days before {cut}: removed ")
    summary = layout.lake_dir / "daily_summary" / "account=bob"
    assert [p.name for p in sorted(summary.iterdir())] == [
        f"date={first + timedelta(days=n)}" for n in range(2, DAYS)
    ]
    assert sorted((layout.raw_dir / "daily_summary" / "account=bob").iterdir())[0].name == (
        f"date={cut}"
    )
    assert digests(layout.root, "alice") == alice_before
    assert ForgottenDays(layout.state_dir).forgotten_before("bob") == cut
    with duckdb.connect(str(layout.warehouse_path), read_only=True) as con:
        ((oldest,),) = con.sql(
            "select min(calendar_date) from fct_daily_health where account = 'bob'"
        ).fetchall()
    assert oldest == cut

    emu.clear_request_log()
    again = run_cli(env, "sync", "--start", str(first), "--end", str(last), "--refetch")
    assert again.returncode == 0, again.stderr[-3000:]
    asked = {f"{r.path}?{sorted(r.query.items())}" for r in emu.request_log if r.account == "bob"}
    assert not any(str(first) in path or str(first + timedelta(days=1)) in path for path in asked)
    assert any(str(cut) in path for path in asked)  # the kept days are fetched as before
    assert sorted((layout.raw_dir / "daily_summary" / "account=bob").iterdir())[0].name == (
        f"date={cut}"
    )


def test_forget_asks_first_and_refuses_while_a_run_is_going(synced_base, household, tmp_path):
    emu, _ = household
    env = copy_of(synced_base, emu, tmp_path)
    layout = DataLayout(tmp_path / "data")
    before = digests(layout.root, "bob")

    declined = run_cli(env, "forget", "--account", "bob", stdin="n\n")
    assert declined.returncode == 1 and "Aborted" in declined.stderr
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        run = dg.DagsterRun(
            job_name="sync", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED
        )
        instance.add_run(run)
    refused = run_cli(env, "forget", "--account", "bob", "--yes")

    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"forget refused: run {run.run_id} is going; wait for it to end (or mark it failed in "
        "the Dagster UI), then forget again; nothing was removed"
    )
    assert digests(layout.root, "bob") == before
    assert [line["outcome"] for line in audit.read(layout.root) if line["action"] == "forget"] == [
        "refused"
    ]
    with data_dir_lock(layout.root, "sync run held by this test"):
        busy = run_cli(env, "forget", "--account", "bob", "--yes")
        exported = run_cli(env, "export", "--account", "bob", "--out", str(tmp_path / "b.zip"))
    assert busy.returncode == 1
    assert busy.stderr.startswith("forget refused: another run (sync run held by this test, pid")
    assert busy.stderr.strip().endswith("nothing was removed")
    assert exported.returncode == 1 and "another run (sync run held by this test" in exported.stderr
    assert digests(layout.root, "bob") == before and not (tmp_path / "b.zip").exists()


def test_the_audit_log_records_syncs_and_imports_with_counts_and_no_secret(
    household_sync, household
):
    synced_base, answered = household_sync
    _, athletes = household
    lines = list(audit.read(synced_base / "data"))
    syncs = {line["account"]: line for line in lines if line["action"] == "sync"}
    first, last = athletes["alice"].first_day, athletes["alice"].last_day
    for account in ("alice", "bob"):
        assert syncs[account]["outcome"] == "ok"
        counts = syncs[account]["counts"]
        assert counts == {
            "job": "sync",
            "first_day": str(first),
            "last_day": str(last),
            "days": DAYS,
            "feeds_failed": 0,
            "rate_limited": 0,
            "requests": answered[account],  # as the emulator counted them
        }
    (imported,) = [line for line in lines if line["action"] == "import"]
    assert imported["account"] == "alice" and imported["outcome"] == "ok"
    assert imported["counts"]["days"] == DAYS and len(imported["counts"]["archive"]) == 64
    text = audit.audit_log_path(synced_base / "data").read_text()
    assert PASSWORD not in text and "alice@example.com" not in text
    assert athletes["alice"].display_name not in text

    shown = run_cli(
        {**os.environ, "GARMIN_DATA_DIR": str(synced_base / "data")}, "audit", "--account", "bob"
    )
    assert shown.returncode == 0, shown.stderr
    (only,) = shown.stdout.strip().splitlines()
    assert only.startswith(f"{syncs['bob']['at']} bob sync ok  days={DAYS} feeds_failed=0 ")


def test_retention_forgets_old_days_at_the_end_of_every_sync(synced_base, household, tmp_path):
    emu, athletes = household
    env = copy_of(synced_base, emu, tmp_path)
    layout = DataLayout(tmp_path / "data")
    first, last = athletes["alice"].first_day, athletes["alice"].last_day
    cut = first + timedelta(days=3)
    keep = (datetime.now(UTC).date() - cut).days
    old = {
        account: sorted(
            p
            for p in layout.raw_dir.glob(f"*/account={account}/date=*")
            if date.fromisoformat(p.name[5:]) < cut
        )
        for account in ("alice", "bob")
    }

    completed = run_cli(
        env | {"GARMIN_RETENTION_DAYS": str(keep)}, "sync", "--start", str(last), "--end", str(last)
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = [line for line in audit.read(layout.root) if line["action"] == "retention"]
    assert {line["account"]: line["counts"]["raw_days"] for line in lines} == {
        account: len(days) for account, days in old.items()
    }
    assert all(line["counts"]["keep_days"] == keep for line in lines)
    for account in ("alice", "bob"):
        days = sorted(
            p.name for p in (layout.lake_dir / "daily_summary" / f"account={account}").iterdir()
        )
        assert days == [f"date={cut + timedelta(days=n)}" for n in range(DAYS - 3)]
    bad = run_cli(
        env | {"GARMIN_RETENTION_DAYS": "soon"}, "sync", "--start", str(last), "--end", str(last)
    )
    assert bad.returncode == 1
    assert (
        bad.stderr.strip()
        == "Error: GARMIN_RETENTION_DAYS='soon' is not a whole number of days, e.g. 365"
    )
