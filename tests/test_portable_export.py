"""`garmin-pipeline export`: one account's lake, the data dictionary and a README in one zip,
read back with polars exactly as the lake holds it, and nothing of another account."""

import io
import zipfile

import polars as pl
import pytest

from garmin_emulator import Emulator, SyntheticAthlete
from garmin_pipeline import audit
from garmin_pipeline.layout import DataLayout
from tests.conftest import ATHLETE_END, run_cli
from tests.test_accounts import household_env

pytestmark = pytest.mark.long_running

DAYS = 3


@pytest.fixture(scope="module")
def synced_household(tmp_path_factory):
    alice = SyntheticAthlete(seed=7, end_date=ATHLETE_END, days=DAYS)
    bob = SyntheticAthlete(seed=8, end_date=ATHLETE_END, days=DAYS)
    root = tmp_path_factory.mktemp("portable")
    with Emulator(alice, port=0, account="alice", others={"bob": bob}) as emu:
        env = household_env(emu, root)
        completed = run_cli(env, "sync", "--start", str(alice.first_day), "--end", str(ATHLETE_END))
    assert completed.returncode == 0, completed.stderr[-3000:]
    return env, DataLayout(root / "data")


def test_the_export_holds_the_accounts_lake_as_stored_and_nothing_else(synced_household, tmp_path):
    env, layout = synced_household
    out = tmp_path / "alice.zip"

    completed = run_cli(env, "export", "--account", "alice", "--out", str(out))

    assert completed.returncode == 0, completed.stderr
    lake_files = sorted(
        p.relative_to(layout.lake_dir).as_posix()
        for p in layout.lake_dir.glob("*/account=alice/date=*/part-0.parquet")
    )
    datasets = {name.split("/")[0] for name in lake_files}
    assert completed.stdout.strip() == (
        f"exported alice: {len(lake_files)} Parquet files of {len(datasets)} datasets "
        f"({DAYS} days) to {out}"
    )
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert [n for n in names if not n.startswith("lake/")] == [
            "README.md",
            "data-dictionary.md",
        ]
        assert [n.removeprefix("lake/") for n in names if n.startswith("lake/")] == lake_files
        assert "bob" not in " ".join(names)
        for name in lake_files:
            stored = (layout.lake_dir / name).read_bytes()
            packed = archive.read(f"lake/{name}")
            assert packed == stored
            assert pl.read_parquet(io.BytesIO(packed)).equals(
                pl.read_parquet(layout.lake_dir / name)
            )
        readme = archive.read("README.md").decode()
        assert "pl.read_parquet" in readme and "read_parquet(" in readme
        dictionary = archive.read("data-dictionary.md").decode()
        assert all(f"\n### {name}\n" in dictionary for name in datasets)
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    # Read as a whole, the export's lake is alice's lake.
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(out).extractall(unpacked)
    exported = pl.read_parquet(
        str(unpacked / "lake" / "daily_summary" / "**" / "*.parquet"), hive_partitioning=True
    )
    lake = pl.read_parquet(
        str(layout.lake_dir / "daily_summary" / "**" / "*.parquet"), hive_partitioning=True
    ).filter(pl.col("account") == "alice")
    assert exported.sort("date").equals(lake.sort("date"))
    assert exported["account"].unique().to_list() == ["alice"]

    # The same lake, the same bytes; and the export is in the audit log, with counts.
    again = tmp_path / "again.zip"
    assert run_cli(env, "export", "--account", "alice", "--out", str(again)).returncode == 0
    assert again.read_bytes() == out.read_bytes()
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    exports = [
        line
        for line in audit.read(layout.root)
        if line["action"] == "export" and line["account"] == "alice"
    ]
    assert [(line["outcome"], line["counts"]) for line in exports] == [
        ("ok", {"datasets": len(datasets), "files": len(lake_files), "days": DAYS})
    ] * 2


def test_exporting_an_account_the_lake_lacks_is_one_line(synced_household, tmp_path):
    env, _ = synced_household
    out = tmp_path / "nobody.zip"
    completed = run_cli(env, "export", "--account", "carol", "--out", str(out))
    assert completed.returncode == 1
    assert completed.stderr.strip() == (
        "Error: the lake holds nothing of account 'carol': nothing to export (sync it first, "
        "or check --account and GARMIN_DATA_DIR)"
    )
    assert not out.exists() and not any(tmp_path.iterdir())
