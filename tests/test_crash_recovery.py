"""Crash safety: a sync killed with SIGKILL at any point leaves no partial file where a reader
would see it, and the next sync completes the same result as one that was never interrupted.

Each crash test runs the real CLI (which runs Dagster, which runs dbt) in its own process
group against the session emulator, kills the whole group once the sync is provably in the
phase under test, checks what a reader would see, syncs again and compares the data directory
with that of one uninterrupted reference sync: the lake byte for byte, raw by payload digest,
the warehouse relation by relation.
"""

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from assets.supervision import PROCESS_TAG
from garmin_pipeline.files import remove_stale_temp_files
from garmin_pipeline.lake.store import PartitionStore
from tests.conftest import REPO_ROOT, pipeline_env

# Six days with activities on four of them (June 11, 12, 13 and 15 for seed 7).
FIRST, LAST = date(2024, 6, 10), date(2024, 6, 15)
SYNC_TIMEOUT_S = 300  # a re-run blocked on a dead run's pool slot would hit this
MARTS_COMPARED_ROW_BY_ROW = ("fct_daily_health", "fct_activities", "fct_sleep")


@dataclass(frozen=True)
class DataState:
    lake: dict[str, str]  # path under data/ (lake/ and quarantine/) → sha256 of the bytes
    raw: dict[str, dict[str, str]]  # day folder under raw/ → {payload: sha256} of its manifest
    warehouse: dict[str, tuple[int, int]]  # relation → (rows, order-free checksum of the rows)
    marts: dict[str, list[tuple]]  # a few marts' rows, sorted


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables order by table_name"
        ).fetchall()
    ]


def lake_state(data: Path) -> dict[str, str]:
    return {
        str(p.relative_to(data)): sha256(p)
        for folder in ("lake", "quarantine")
        for p in sorted((data / folder).rglob("*"))
        if p.is_file()
    }


def data_state(data: Path) -> DataState:
    lake = lake_state(data)
    raw = {
        str(m.parent.relative_to(data / "raw")): {
            name: entry["sha256"] for name, entry in json.loads(m.read_text())["payloads"].items()
        }
        for m in sorted((data / "raw").rglob("_manifest.json"))
    }
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        warehouse = {
            name: con.execute(
                f'select count(*), coalesce(sum(hash(t)::hugeint), 0) from "{name}" t'
            ).fetchone()
            for name in relations(con)
        }
        marts = {
            name: sorted(con.execute(f"select * from {name}").fetchall(), key=repr)
            for name in MARTS_COMPARED_ROW_BY_ROW
        }
    return DataState(lake, raw, warehouse, marts)


def lake_parts(data: Path) -> list[Path]:
    return sorted((data / "lake").glob("*/*/*/part-0.parquet"))


def hidden_files(data: Path) -> list[Path]:
    return sorted(p for p in data.rglob(".*") if p.is_file())


def assert_nothing_partial_is_visible(data: Path) -> list[Path]:
    """What a reader can see is whole: every Parquet file reads, every JSON parses, every
    payload a manifest lists has the bytes it vouches for. Returns the hidden temp files."""
    for part in sorted(data.glob("*/**/*.parquet")):
        assert not part.name.startswith(".")
        pq.read_table(part)  # a cut file fails here (no footer)
    for state in sorted((data / "lake" / "_built").rglob("*.json")):
        assert isinstance(json.loads(state.read_text()), dict)
    for manifest in sorted((data / "raw").rglob("_manifest.json")):
        for name, entry in json.loads(manifest.read_text())["payloads"].items():
            assert sha256(manifest.parent / name) == entry["sha256"], manifest.parent / name
    temps = hidden_files(data)
    assert all(p.name.endswith(".tmp") for p in temps), temps
    return temps


def group_pids(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[-1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(stat.parent.name))
    return pids


def group_runs_dbt_build(pgid: int) -> bool:
    """Whether a process of the group is `dbt build`."""
    for pid in group_pids(pgid):
        with contextlib.suppress(OSError):
            arguments = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            if any(Path(a).name == "dbt" for a in arguments) and "build" in arguments:
                return True
    return False


@dataclass
class Sync:
    process: subprocess.Popen
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_sync(env: dict[str, str], log: Path) -> Sync:
    """The CLI as a user runs it, in a process group of its own (Dagster and dbt included)."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "garmin_pipeline",
                "sync",
                "--start",
                str(FIRST),
                "--end",
                str(LAST),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Sync(process, log)


def kill(sync: Sync) -> None:
    """SIGKILL the whole group and wait until none of it runs any more."""
    pgid = sync.process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    sync.process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while group_pids(pgid):
        assert time.monotonic() < deadline, f"process group {pgid} outlived SIGKILL"
        time.sleep(0.05)


def kill_when(sync: Sync, reached: Callable[[], bool], what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    try:
        while not reached():
            assert sync.process.poll() is None, f"sync ended before {what}:\n{sync.output[-3000:]}"
            assert time.monotonic() < deadline, f"{what} never happened:\n{sync.output[-3000:]}"
            time.sleep(0.02)
    finally:
        kill(sync)


def complete_sync(env: dict[str, str], log: Path) -> Sync:
    sync = start_sync(env, log)
    try:
        sync.process.wait(timeout=SYNC_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        kill(sync)
        pytest.fail(f"the sync did not finish in {SYNC_TIMEOUT_S} s:\n{sync.output[-3000:]}")
    assert sync.process.returncode == 0, sync.output[-3000:]
    return sync


@dataclass(frozen=True)
class Reference:
    data: Path
    state: DataState


@pytest.fixture(scope="module")
def reference(emulator, tmp_path_factory) -> Reference:
    """One uninterrupted sync of the range."""
    root = tmp_path_factory.mktemp("reference")
    complete_sync(pipeline_env(emulator, root), root / "sync.log")
    data = root / "data"
    assert hidden_files(data) == []
    state = data_state(data)
    assert any("/activities/" in p for p in state.lake), "the range should hold activities"
    assert state.marts["fct_activities"], "the range should hold activities"
    return Reference(data, state)


@pytest.fixture
def faults(emulator):
    emulator.faults.clear()
    try:
        yield emulator.faults
    finally:
        emulator.faults.clear()


def claimed_slots(instance: dg.DagsterInstance) -> dict[str, list[str]]:
    """Pool → the runs holding its slots."""
    storage = instance.event_log_storage
    return {
        pool: [slot.run_id for slot in storage.get_concurrency_info(pool).claimed_slots]
        for pool in sorted(storage.get_concurrency_keys())
    }


def recover_and_compare(
    env: dict[str, str], root: Path, reference: DataState, held_pool: str | None
) -> None:
    """Sync again after the kill: the run must not wait on the dead run's pool slot (limit 1:
    without recovery it would wait forever), the dead run must be marked failed, and the data
    must equal the uninterrupted reference."""
    data, home = root / "data", root / "dagster_home"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        killed = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        assert len(killed) == 1, "the killed run is left STARTED: nothing could record its end"
        held = {pool: runs for pool, runs in claimed_slots(instance).items() if runs}
    assert held == ({held_pool: [killed[0].run_id]} if held_pool else {})

    rerun = complete_sync(env, root / "rerun.log")

    assert f"run {killed[0].run_id} was killed before it finished" in rerun.output
    assert hidden_files(data) == [], "temp files of the killed writer are swept"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = {run.run_id: run for run in instance.get_runs()}
        dead = runs.pop(killed[0].run_id)
        (new,) = runs.values()
        assert dead.status == dg.DagsterRunStatus.FAILURE
        assert new.status == dg.DagsterRunStatus.SUCCESS
        assert json.loads(new.tags[PROCESS_TAG])["run_id"] == new.run_id
        failures = instance.all_logs(dead.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        assert [e.message for e in failures] == [
            f"killed before it finished; superseded by run {new.run_id}"
        ]
        assert all(runs == [] for runs in claimed_slots(instance).values())

    recovered = data_state(data)
    assert sorted(recovered.lake) == sorted(reference.lake)
    assert recovered.lake == reference.lake
    assert recovered.raw == reference.raw
    assert sorted(recovered.warehouse) == sorted(reference.warehouse)  # no __dbt_tmp leftovers
    assert recovered.warehouse == reference.warehouse
    assert recovered.marts == reference.marts


def test_killed_during_a_download(emulator, faults, reference, tmp_path):
    env = pipeline_env(emulator, tmp_path)
    data = tmp_path / "data"
    download = faults.add("/download-service/files/activity/", delay_s=5, times=1)
    sync = start_sync(env, tmp_path / "killed.log")
    kill_when(sync, lambda: download.hits >= 1, "the first activity download")

    assert_nothing_partial_is_visible(data)
    assert list((data / "raw").rglob("activity-*.zip")) == []  # the download never arrived
    assert lake_parts(data) == [] and not (data / "warehouse.duckdb").exists()
    recover_and_compare(env, tmp_path, reference.state, held_pool="garmin_api")


def test_killed_while_writing_the_lake(emulator, reference, tmp_path):
    env = pipeline_env(emulator, tmp_path)
    data = tmp_path / "data"
    lake = reference.state.lake
    total = sum(p.startswith("lake/") and p.endswith("/part-0.parquet") for p in lake)
    sync = start_sync(env, tmp_path / "killed.log")
    # Kill the moment a write is seen in flight, or else once a third of the lake is written.
    kill_when(
        sync,
        lambda: (
            len(lake_parts(data)) > total // 3
            or (bool(lake_parts(data)) and bool(hidden_files(data / "lake")))
        ),
        "lake partitions being written",
    )

    temps = assert_nothing_partial_is_visible(data)
    assert all(
        t.is_relative_to(data / "lake") or t.is_relative_to(data / "quarantine") for t in temps
    )
    assert 0 < len(lake_parts(data)) < total
    assert not (data / "warehouse.duckdb").exists()
    # Readers (polars for the lake, DuckDB's glob for dbt) see exactly the whole files.
    for dataset in sorted({p.parents[2].name for p in lake_parts(data)}):
        parts = (data / "lake" / dataset).glob("*/*/part-0.parquet")
        rows = sum(pq.read_metadata(p).num_rows for p in parts)
        assert len(PartitionStore(data / "lake").read(dataset)) == rows
        glob = PartitionStore(data / "lake").dataset_glob(dataset)
        assert duckdb.sql(f"select count(*) from read_parquet('{glob}')").fetchall() == [(rows,)]
    recover_and_compare(env, tmp_path, reference.state, held_pool=None)  # the lake has no pool


def test_killed_during_the_dbt_build(emulator, reference, tmp_path):
    """Starts from the reference's raw and lake (a sync that got that far, minus the wait):
    the run goes straight to dbt, which is killed once it has committed to the warehouse."""
    env = pipeline_env(emulator, tmp_path)
    data = tmp_path / "data"
    for zone in ("raw", "lake"):
        shutil.copytree(reference.data / zone, data / zone)
    warehouse = data / "warehouse.duckdb"
    wal = warehouse.with_name("warehouse.duckdb.wal")
    sync = start_sync(env, tmp_path / "killed.log")
    kill_when(
        sync,
        lambda: wal.exists() and group_runs_dbt_build(sync.process.pid),
        "dbt writing the warehouse",
    )

    assert_nothing_partial_is_visible(data)
    assert wal.exists(), "the kill left a write-ahead log for the next dbt build to replay"
    # The killed warehouse (opened as a copy, so the re-run still meets the WAL) is unfinished.
    copy = tmp_path / "killed_warehouse"
    copy.mkdir()
    shutil.copy(warehouse, copy / warehouse.name)
    shutil.copy(wal, copy / wal.name)
    with duckdb.connect(str(copy / warehouse.name), read_only=True) as con:
        built = set(relations(con))
    assert built < set(reference.state.warehouse), "the kill came before dbt built every model"
    recover_and_compare(env, tmp_path, reference.state, held_pool="duckdb")


def test_only_temp_files_of_dead_writers_are_swept(tmp_path):
    """A temp file names its writer's pid: a live writer's (another run's) is left alone."""
    partition = tmp_path / "lake" / "daily_summary" / "account=a" / "date=2024-06-10"
    partition.mkdir(parents=True)
    frame = pl.DataFrame({"calendar_date": [date(2024, 6, 10)], "total_steps": [1]})
    PartitionStore(tmp_path / "lake").write("daily_summary", "a", date(2024, 6, 10), frame, [])
    writer = subprocess.Popen(["true"])  # a process that has ended: its pid is free
    writer.wait()
    dead = partition / f".part-0.parquet.{writer.pid}.k2j4h5.tmp"
    live = partition / f".part-0.parquet.{os.getpid()}.x8d7f6.tmp"
    for temp in (dead, live):
        temp.write_bytes(b"PAR1 half a file")
    # Readers do not see them.
    assert PartitionStore(tmp_path / "lake").read("daily_summary")["total_steps"].to_list() == [1]

    assert remove_stale_temp_files(tmp_path) == [dead]
    assert sorted(p.name for p in partition.iterdir()) == [live.name, "part-0.parquet"]
