"""Raw and the lake through a filesystem URI: fsspec's in-process `memory://` filesystem stands
in for object storage. Real feeds fetched from the emulator must land there byte for byte as
they land under local paths, and every promise of the stores must hold there too."""

import json
import posixpath
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import fsspec
import polars as pl
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from polars.testing import assert_frame_equal
from upath import UPath

from assets.resources import DataDir
from garmin_pipeline import catalog
from garmin_pipeline.errors import UnsafeValueError
from garmin_pipeline.lake import build
from garmin_pipeline.lake.build import BuildReport, build_lake, rejected_dataset_name
from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.raw.extract import extract
from garmin_pipeline.raw.store import MANIFEST, RawStore
from garmin_pipeline.settings import Settings, SettingsError

ACCOUNT = "fs"
BUCKET = "memory://bucket"
# JSON by day, a JSON snapshot, wellness FIT files and activity FIT zips: every kind of payload.
FEED_NAMES = ("daily_summary", "sleep", "body_battery", "profile", "wellness", "activities")
# Sleep payloads refused on arrival as oversized: the lake quarantines them, with the reason.
MAX_BYTES = {"sleep": 64}


@pytest.fixture
def memory() -> Iterator[MemoryFileSystem]:
    """The process-wide memory filesystem, empty before and after the test."""

    def clear() -> None:
        MemoryFileSystem.store.clear()
        MemoryFileSystem.pseudo_dirs[:] = [""]

    clear()
    yield fsspec.filesystem("memory")
    clear()


@pytest.fixture(scope="module")
def days(athlete) -> list[date]:
    return [athlete.last_day - timedelta(days=n) for n in range(3, -1, -1)]


def stores(root: str | Path) -> tuple[RawStore, PartitionStore, PartitionStore, str]:
    """Raw, lake, quarantine and build state, laid out as with GARMIN_RAW_URI/GARMIN_LAKE_URI."""
    lake = f"{root}/lake"
    return (
        RawStore(f"{root}/raw"),
        PartitionStore(lake),
        PartitionStore(f"{lake}/_quarantine"),
        f"{lake}/_built",
    )


def sync(root: str | Path, source, days: list[date], workers: int = 1) -> list[BuildReport]:
    """Fetch the feeds' days into raw, then build the lake from raw, as a sync does."""
    raw, lake, quarantine, state = stores(root)
    reports = []
    for name in FEED_NAMES:
        feed = catalog.feed(name)
        extract(feed, source, raw, ACCOUNT, days, max_bytes=MAX_BYTES.get(name, 2**30))
        built = build_lake(
            feed, raw, lake, quarantine, ACCOUNT, days, state, workers, find_feed=catalog.feed
        )
        reports.append(built)
    return reports


def tree(root: str | Path) -> dict[str, bytes]:
    """Every file under `root` on its filesystem: relative path → bytes."""
    fs, base = fsspec.core.url_to_fs(str(root))
    return {posixpath.relpath(path, base): fs.cat_file(path) for path in fs.find(base)}


def without_fetch_times(manifest: bytes) -> dict:
    """A manifest minus when it was fetched and checked, which differ between two syncs."""
    body = json.loads(manifest)
    del body["checked_at"]
    for entry in body["payloads"].values():
        del entry["fetched_at"]
    return body


@pytest.fixture(scope="module")
def local(tmp_path_factory, emulator, connect_source, days) -> tuple[Path, list[BuildReport]]:
    """The reference: the same sync under a local folder."""
    root = tmp_path_factory.mktemp("local")
    return root, sync(root, connect_source, days)


def test_a_sync_into_memory_lands_the_bytes_a_local_sync_does(memory, local, connect_source, days):
    root, local_reports = local
    reports = sync(BUCKET, connect_source, days)
    assert reports == local_reports
    by_feed = {r.feed: r for r in reports}
    assert by_feed["activities"].datasets["activity_records"].rows
    assert by_feed["sleep"].rejected_payloads and not by_feed["sleep"].datasets["sleep"].rows

    local_raw, memory_raw = tree(root / "raw"), tree(f"{BUCKET}/raw")
    assert sorted(local_raw) == sorted(memory_raw)
    for name, content in local_raw.items():
        if posixpath.basename(name) == MANIFEST:
            assert without_fetch_times(content) == without_fetch_times(memory_raw[name]), name
        else:
            assert content == memory_raw[name], name

    lake = tree(f"{BUCKET}/lake")
    assert lake == tree(root / "lake")
    assert {name.split("/")[0] for name in lake} >= {"_built", "_quarantine", "activity_records"}
    assert not any(".tmp" in name for name in lake)
    assert memory.ls("/") == [{"name": "/bucket", "size": 0, "type": "directory"}]


def test_reruns_write_nothing_and_reads_match_local(memory, local, connect_source, days):
    root, _ = local
    sync(BUCKET, connect_source, days)
    before = dict(memory.store)
    again = sync(BUCKET, connect_source, days)
    assert all(not r.days_built and r.days_unchanged for r in again)
    raw, lake, quarantine, _ = stores(BUCKET)
    for name in FEED_NAMES:  # without the build state: every day parsed, no partition written
        rebuilt = build_lake(catalog.feed(name), raw, lake, quarantine, ACCOUNT, days)
        assert rebuilt.days_built
        assert not sum(d.partitions_written for d in rebuilt.datasets.values())
    assert set(memory.store) == set(before)
    rewritten = {path for path, file in memory.store.items() if file is not before[path]}
    # Fetching again only records when each day was checked (if a second has passed).
    assert all(posixpath.basename(path) == MANIFEST for path in rewritten)

    _, local_lake, local_quarantine, _ = stores(root)
    for dataset in sorted(p.name for p in (root / "lake").iterdir() if p.name[0] != "_"):
        assert_frame_equal(lake.read(dataset), local_lake.read(dataset))
        assert_frame_equal(lake.read(dataset, ACCOUNT), local_lake.read(dataset, ACCOUNT))
    rejected = rejected_dataset_name(catalog.feed("sleep"))
    assert_frame_equal(quarantine.read(rejected), local_quarantine.read(rejected))
    assert quarantine.read(rejected)["reason"].str.contains("GARMIN_MAX_PAYLOAD_MB").all()
    assert lake.dataset_glob("sleep") == f"{BUCKET}/lake/sleep/*/*/part-0.parquet"
    with pytest.raises(FileNotFoundError, match="no partition matches"):
        lake.read("sleep", "someone-else")


@pytest.mark.fast
def test_unsafe_names_are_refused_on_a_memory_filesystem_as_on_disk(memory, tmp_path):
    day, frame = date(2024, 6, 1), pl.DataFrame({"a": [1]})
    for root in (tmp_path, BUCKET):
        raw, lake, _, _ = stores(root)
        for name in ("../escape", "a/b", "..", ".hidden", MANIFEST, ""):
            with pytest.raises(UnsafeValueError, match="invalid raw payload name"):
                raw.put("f", ACCOUNT, day, name, b"x")
        for feed, account in (("..", ACCOUNT), ("../../x", ACCOUNT), ("f", "../../../../x")):
            with pytest.raises(UnsafeValueError, match="resolves outside") as refused:
                raw.put(feed, account, day, "p.json", b"x")
            assert str(refused.value) == (
                f"refusing to write {raw.root}/{feed}/account={account}/date={day}: it resolves "
                f"outside {raw.root}; a value from the source is not a safe file name (it is "
                "quarantined, not stored)"
            )
        for dataset in ("..", "../x", "../../lake/x/../../y"):
            with pytest.raises(UnsafeValueError, match="resolves outside"):
                lake.write(dataset, ACCOUNT, day, frame, ("a",))
        # Folded into the root, a name is kept at its folded place, never with a literal `..`.
        assert lake.write("x/../y", ACCOUNT, day, frame, ("a",))
        assert lake.read("y")["a"].to_list() == [1]
    assert memory.find("/") == ["/bucket/lake/y/account=fs/date=2024-06-01/part-0.parquet"]


def test_a_worker_build_on_memory_stays_in_this_process(
    memory, local, connect_source, days, monkeypatch
):
    """A spawned worker would see an empty memory filesystem: the build stays in-process and
    lands every partition, as the local one-process build did."""
    root, local_reports = local
    monkeypatch.setattr(build, "POOL_WORTH_S", 0.0)
    assert len(build.batches(days, 2)) > 1  # there is a rest for the pool to take
    assert sync(BUCKET, connect_source, days, workers=2) == local_reports
    assert tree(f"{BUCKET}/lake") == tree(root / "lake")


@pytest.mark.fast
def test_settings_put_raw_and_the_lake_at_their_uris(tmp_path):
    env = {"GARMIN_DATA_DIR": str(tmp_path)}
    default = Settings.from_env(env).layout
    assert (default.raw_dir, default.lake_dir, default.quarantine_dir) == (
        tmp_path / "raw",
        tmp_path / "lake",
        tmp_path / "quarantine",
    )
    layout = Settings.from_env(
        {**env, "GARMIN_RAW_URI": f"{BUCKET}/raw", "GARMIN_LAKE_URI": f"{BUCKET}/lake"}
    ).layout
    assert isinstance(layout.raw_dir, UPath) and str(layout.raw_dir) == f"{BUCKET}/raw"
    assert str(layout.quarantine_dir) == f"{BUCKET}/lake/_quarantine"
    assert str(layout.build_state_dir) == f"{BUCKET}/lake/_built"
    assert layout.warehouse_path == tmp_path / "warehouse.duckdb"
    local = Settings.from_env({**env, "GARMIN_LAKE_URI": f"file://{tmp_path}/elsewhere"}).layout
    assert local.lake_dir == tmp_path / "elsewhere" and type(local.lake_dir) is type(tmp_path)
    with pytest.raises(SettingsError, match=r"GARMIN_LAKE_URI='nope://x' names a filesystem"):
        Settings.from_env({**env, "GARMIN_LAKE_URI": "nope://x"})

    data = DataDir(path=str(tmp_path), lake_uri=f"{BUCKET}/lake")
    assert data.raw.root == tmp_path / "raw"
    assert str(data.lake.root) == f"{BUCKET}/lake"
    assert str(data.quarantine.root) == f"{BUCKET}/lake/_quarantine"
