"""Trust in the data directory: only its owner reads it, one run uses it at a time, a path with
a quote in it builds every model, a killed warehouse build is reported, and the emulator's
control paths take no orders from a web page.

Real processes throughout: the CLI as a user runs it (Dagster, dbt and the lake workers under
it), `dagster job execute` as a run launched outside the CLI would run (its own executor, steps
in subprocesses), and real HTTP requests to the loopback emulator.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import requests

from assets.partitions import range_key
from garmin_emulator import Emulator
from garmin_pipeline.run_lock import data_dir_lock
from tests.conftest import REPO_ROOT, pipeline_env, run_cli
from tests.test_crash_recovery import (
    FIRST,
    LAST,
    complete_sync,
    group_runs_dbt_build,
    kill,
    kill_when,
    start_sync,
)

pytestmark = pytest.mark.long_running
MANIFEST = REPO_ROOT / "dbt" / "target" / "manifest.json"
DAGSTER = Path(sys.executable).with_name("dagster")


@pytest.fixture(scope="module", autouse=True)
def users_umask() -> Iterator[None]:
    """The processes start with a login shell's umask, 022, as a user's would (importing the
    code location in this process set 077): the tool must make its files private itself."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@dataclass(frozen=True)
class QuotedSync:
    """One CLI sync into a fresh data dir whose path holds an apostrophe, inside a shared 1777
    folder, with DAGSTER_HOME new inside an ordinary 0755 one."""

    root: Path
    data: Path
    home: Path
    shared: Path
    ordinary: Path
    env: dict[str, str]
    output: str


@pytest.fixture(scope="module")
def quoted_sync(emulator, tmp_path_factory) -> QuotedSync:
    root = tmp_path_factory.mktemp("trust")
    shared, ordinary = root / "shared", root / "ordinary"
    shared.mkdir()
    ordinary.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp: the sticky bit must survive the sync
    os.chmod(ordinary, 0o755)
    data, home = shared / "it's data", ordinary / "dagster_home"
    env = {
        **pipeline_env(emulator, root),
        "GARMIN_DATA_DIR": str(data),
        "DAGSTER_HOME": str(home),
    }
    sync = complete_sync(env, root / "sync.log")
    return QuotedSync(root, data, home, shared, ordinary, env, sync.output)


def readable_by_others(top: Path) -> list[str]:
    """Every folder and file at or under `top` that its group or other users may read, write
    or enter, with its mode."""
    found = []
    for path in [top, *sorted(top.rglob("*"))]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & 0o077:
            found.append(f"{path.relative_to(top.parent)} {stat.S_IMODE(mode):04o}")
    return found


# ---------------------------------------------------------------------------- 1. only the owner
def test_a_sync_creates_nothing_that_other_users_can_read(quoted_sync):
    assert quoted_sync.data.is_dir() and (quoted_sync.data / "warehouse.duckdb").is_file()
    assert (quoted_sync.data / "state" / "dbt" / "run_results.json").is_file()
    assert (quoted_sync.home / "dagster.yaml").is_file()
    assert readable_by_others(quoted_sync.data) == []
    assert readable_by_others(quoted_sync.home) == []
    # Folders the tool did not create keep their modes: a shared parent keeps its sticky bit.
    assert stat.S_IMODE(quoted_sync.shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE(quoted_sync.ordinary.stat().st_mode) == 0o755


def test_an_existing_data_dir_keeps_its_mode(emulator, tmp_path):
    """A folder the user made (and chose the mode of) is used as it is, never chmod'ed."""
    data = tmp_path / "mine"
    data.mkdir()
    os.chmod(data, 0o750)
    env = {**pipeline_env(emulator, tmp_path), "GARMIN_DATA_DIR": str(data)}
    completed = run_cli(env, "sync", "--fetch-only", "--start", str(LAST), "--end", str(LAST))
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert stat.S_IMODE(data.stat().st_mode) == 0o750
    assert [p for p in readable_by_others(data) if not p.startswith("mine ")] == []


# ---------------------------------------------------------------------------- 2. quotes in paths
def test_a_data_dir_with_an_apostrophe_builds_every_model(quoted_sync):
    manifest = json.loads(MANIFEST.read_text())
    models = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] != "ephemeral"
    }
    with duckdb.connect(str(quoted_sync.data / "warehouse.duckdb"), read_only=True) as con:
        tables = con.execute("select table_name from information_schema.tables").fetchall()
        built = {name for (name,) in tables}
        (days,) = con.execute("select count(*) from fct_daily_health").fetchone()
        (records,) = con.execute("select count(*) from fct_activity_records").fetchone()
    assert models - built == set()
    assert days == (LAST - FIRST).days + 1
    assert records > 0  # a view over the lake: it reads the quoted path at query time too
    results = json.loads((quoted_sync.data / "state" / "dbt" / "run_results.json").read_text())
    assert {r["status"] for r in results["results"]} <= {"success", "pass", "warn"}


def test_a_status_of_the_quoted_data_dir_reads_it(quoted_sync):
    completed = run_cli(quoted_sync.env, "status")
    assert completed.returncode == 0, completed.stderr
    assert f"data dir:   {quoted_sync.data}" in completed.stdout
    assert "warehouse:  complete" in completed.stdout


def test_a_failed_dbt_build_says_why_in_one_line(quoted_sync, tmp_path):
    """A lake file cut short (a disk fault) fails the staging view that reads it: the rebuild
    names the model and dbt's reason in one line, not the `^` under dbt's SQL excerpt."""
    data = tmp_path / "data"
    shutil.copytree(quoted_sync.data / "lake", data / "lake")
    shutil.copytree(quoted_sync.data / "raw", data / "raw")
    broken = (
        data / "lake" / "daily_summary" / "account=default" / f"date={FIRST}" / "part-0.parquet"
    )
    broken.write_bytes(broken.read_bytes()[:100])
    env = {**quoted_sync.env, "GARMIN_DATA_DIR": str(data), "DAGSTER_HOME": str(tmp_path / "h")}
    completed = run_cli(env, "rebuild", "--start", str(LAST), "--end", str(LAST))
    assert completed.returncode == 1
    line = completed.stderr.strip().splitlines()[-1]  # the run's verdict, after Dagster's log
    assert re.fullmatch(
        r"rebuild failed: warehouse: dbt failed on 1 model, e\.g\. stg_daily_summary: "
        r".*part-0\.parquet.*; the full log: .*/state/dbt/dbt\.log \(run [0-9a-f-]{36}\)",
        line,
    ), line
    status = run_cli(env, "status")
    assert "warehouse:  INCOMPLETE: the build started " in status.stdout


# ---------------------------------------------------------------------------- 3. one run at a time
def busy(holder_job: str, pid: int, data: Path) -> str:
    """The refusal's pattern: who holds the data dir, since when, and what to do."""
    return (
        rf"another run \({holder_job} run [0-9a-f-]{{36}}, pid {pid}, started "
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00\) is using "
        rf"{re.escape(str(data))}; wait for it to finish, or stop it, then run this again"
    )


def wait_for(condition, what: str, process: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert process.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.05)


@pytest.fixture
def first_request_held(emulator) -> Iterator[object]:
    """The next request to the emulator waits 15 s: a run is provably in progress meanwhile."""
    emulator.faults.clear()
    rule = emulator.faults.add("/", delay_s=15, times=1)
    try:
        yield rule
    finally:
        emulator.faults.clear()


def dagster_run(env: dict[str, str], log: Path) -> subprocess.Popen:
    """A run as the UI launches one (Materialize): through the code location's executor, its
    step in a subprocess, not the CLI's in-process run. One asset, one day: Garmin's devices."""
    home = Path(env["DAGSTER_HOME"])  # as `make dev` prepares it
    home.mkdir(mode=0o700, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "assets" / "dagster.yaml", home / "dagster.yaml")
    with log.open("w") as out:
        return subprocess.Popen(
            [str(DAGSTER), "asset", "materialize", "-m", "assets.definitions",
             "--select", "raw/devices", "--partition", range_key("default", str(LAST))],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def test_a_second_run_on_the_data_dir_stops_at_once_without_a_request(
    emulator, first_request_held, tmp_path
):
    env = pipeline_env(emulator, tmp_path)
    data = tmp_path / "data"
    other_home = {**env, "DAGSTER_HOME": str(tmp_path / "other_home")}
    first = start_sync(env, tmp_path / "first.log")
    try:
        wait_for(lambda: first_request_held.hits >= 1, "the first request", first.process)
        requests_before = len(emulator.request_log)

        second = run_cli(other_home, "sync", "--start", str(FIRST), "--end", str(LAST))
        assert second.returncode == 1
        assert second.stdout == ""
        assert re.fullmatch(
            "Error: " + busy("sync", first.process.pid, data), second.stderr.strip()
        ), second.stderr
        assert not (tmp_path / "other_home").exists()  # it stopped before DAGSTER_HOME too

        # A run the UI would launch is refused by its executor, before its step starts.
        launched = dagster_run(other_home, tmp_path / "launched.log")
        assert launched.wait(timeout=120) != 0
        log = (tmp_path / "launched.log").read_text()
        assert re.search("DataDirBusyError: " + busy("sync", first.process.pid, data), log), log
        assert "STEP_START" not in log
        assert len(emulator.request_log) == requests_before
        assert first.process.poll() is None  # the first run goes on, untouched
    finally:
        kill(first)
    # Killed outright, it left no lock behind: the kernel dropped it with the process.
    with data_dir_lock(data, "the test"):
        pass


def test_a_run_launched_by_dagster_holds_the_lock_until_it_ends(
    emulator, first_request_held, tmp_path
):
    env = pipeline_env(emulator, tmp_path)
    data = tmp_path / "data"
    launched = dagster_run(env, tmp_path / "launched.log")
    try:
        wait_for(lambda: first_request_held.hits >= 1, "the run's first request", launched)
        refused = run_cli(env, "sync", "--start", str(FIRST), "--end", str(LAST))
        assert refused.returncode == 1
        # `dagster asset materialize` runs the run in its own process, as a run worker does.
        holder = busy("__ASSET_JOB", launched.pid, data)
        assert re.fullmatch("Error: " + holder, refused.stderr.strip()), refused.stderr
        assert launched.wait(timeout=180) == 0, (tmp_path / "launched.log").read_text()[-3000:]
    finally:
        if launched.poll() is None:
            os.killpg(launched.pid, 9)
            launched.wait()
    assert list((data / "raw" / "devices").rglob("*.json"))  # the run did its work
    with data_dir_lock(data, "the test"):  # and let go of the lock at its end
        pass


# ---------------------------------------------------------------------------- 4. a killed build
def test_status_tells_a_warehouse_build_that_was_killed_until_a_sync_completes_it(
    emulator, quoted_sync, tmp_path
):
    env = pipeline_env(emulator, tmp_path)
    data = tmp_path / "data"
    for zone in ("raw", "lake"):
        shutil.copytree(quoted_sync.data / zone, data / zone)
    wal = data / "warehouse.duckdb.wal"
    sync = start_sync(env, tmp_path / "killed.log")
    kill_when(
        sync,
        lambda: wal.exists() and group_runs_dbt_build(sync.process.pid),
        "dbt writing the warehouse",
    )
    status = run_cli(env, "status")
    assert status.returncode == 0, status.stderr
    (line,) = [x for x in status.stdout.splitlines() if x.startswith("warehouse:")]
    assert re.fullmatch(
        r"warehouse:  INCOMPLETE: the build started \d{4}-\d\d-\d\d \d\d:\d\d UTC did not "
        r"finish \(killed or failed\), so some marts may be missing or out of date; run "
        r"`garmin-pipeline rebuild` \(offline\) or the next sync to build it whole",
        line,
    ), line

    complete_sync(env, tmp_path / "again.log")
    status = run_cli(env, "status")
    assert "warehouse:  complete\n" in status.stdout


# ---------------------------------------------------------------------------- 5. the emulator
def test_control_paths_refuse_what_a_web_page_can_send(athlete):
    with Emulator(athlete, port=0) as emu:
        control = emu.base_url + "/_emulator/faults"
        rule = json.dumps({"path": "/a/", "status": 503})
        epoch = emu.faults.token_epoch
        page = {"Origin": "http://evil.example"}
        # What a page sends without a preflight: text/plain or a form, with its Origin.
        for headers in (
            {"Content-Type": "text/plain", **page},
            {"Content-Type": "text/plain"},
            {"Content-Type": "application/x-www-form-urlencoded"},
            {},
        ):
            answer = requests.post(control, data=rule, headers=headers, timeout=10)
            assert answer.status_code == (403 if "Origin" in headers else 415), headers
            expired = requests.post(
                emu.base_url + "/_emulator/expire-tokens", headers=headers, timeout=10
            )
            assert expired.status_code == (403 if "Origin" in headers else 415)
        json_type = {"Content-Type": "application/json"}
        for method in ("POST", "DELETE", "GET"):
            answer = requests.request(
                method, control, data=rule, headers={**json_type, **page}, timeout=10
            )
            assert answer.status_code == 403, method
        assert (emu.faults.rules, emu.faults.token_epoch) == ([], epoch)
        # The harness (no Origin, JSON) is served as before.
        assert requests.post(control, data=rule, headers=json_type, timeout=10).status_code == 201
        assert [(r.pattern, r.status) for r in emu.faults.rules] == [("/a/", 503)]
        assert requests.get(control, timeout=10).json()[0]["path"] == "/a/"


@pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("127.0.0.1", False)])
def test_the_emulator_warns_when_it_serves_beyond_loopback(host, warned, tmp_path):
    env = {**os.environ, "GARMIN_TOKENS": str(tmp_path / "tokens.json")}
    process = subprocess.Popen(
        [sys.executable, "-m", "garmin_pipeline", "emulator", "--host", host, "--port", "0",
         "--days", "2"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("emulating Garmin Connect")
    finally:
        process.terminate()
    _, errors = process.communicate(timeout=30)
    warning = (
        f"warning: --host {host} is not loopback: the emulator serves its tokens and the "
        "athlete's health data to every machine that can reach this one"
    )
    assert (warning in errors.splitlines()) is warned, errors
