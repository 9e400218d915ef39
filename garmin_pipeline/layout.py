"""Where everything lives: the one place that spells a path of the data directory.

Raw and the lake are hive-partitioned trees, one folder per dataset (or feed), account and
calendar day, which every Parquet reader turns into `account` and `date` columns:

    <root>/<dataset>/account=<slug>/date=<YYYY-MM-DD>/part-0.parquet   (the lake, its quarantine)
    <root>/<feed>/account=<slug>/date=<YYYY-MM-DD>/<payload>            (raw)

The functions below build and read those names, for a local folder or a filesystem URI alike
(`storage.location`); `DataLayout` says where each tree and every other file of a data
directory is. Nothing else in the library, nor the dbt project (which gets the lake's location,
its partition glob and the warehouse's path as vars, `warehouse.dbt_project.dbt_vars`), spells
them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from garmin_pipeline.storage import StoragePath, location

# The hive keys of every partition, in folder order: the columns readers add.
HIVE_KEYS = ("account", "date")
# A lake partition's one file; a day is rewritten whole, so there is never a part-1.
PART_FILE = "part-0.parquet"
# Folders and files whose name starts so are no dataset: hive readers and listings skip them.
NOT_A_DATASET = ("_", ".")
# Beside the feeds in raw: export archives as given (`sources.export.landing`).
EXPORTS_DIR = "_exports"
# Inside a build state folder: what each lake day was built from, per feed and account.
_BUILT_FEEDS = "lake_built"


def account_folder(account: str) -> str:
    """The folder name of an account's partitions."""
    return f"account={account}"


def day_folder(day: date | str) -> str:
    """The folder name of a day's partition."""
    return f"date={day}"


_ACCOUNT_PREFIX, _DAY_PREFIX = account_folder(""), day_folder("")


def folder_day(name: str) -> date | None:
    """The day a partition folder holds; None for any other name."""
    if not name.startswith(_DAY_PREFIX):
        return None
    try:
        return date.fromisoformat(name.removeprefix(_DAY_PREFIX))
    except ValueError:
        return None


def is_dataset(folder: StoragePath) -> bool:
    """Whether a folder under a tree's root is a dataset's (not build state, archives, temp)."""
    return not folder.name.startswith(NOT_A_DATASET)


def account_dir(root: StoragePath, dataset: str, account: str) -> StoragePath:
    """Every partition of one dataset and account."""
    return root / dataset / account_folder(account)


def partition_dir(root: StoragePath, dataset: str, account: str, day: date | str) -> StoragePath:
    """One dataset's partition of one account and day (not checked against the root:
    the stores do that, `storage.inside`)."""
    return account_dir(root, dataset, account) / day_folder(day)


def partition_files(account: str | None = None) -> str:
    """A glob of a dataset's partition files, below the dataset's folder: one account's, or
    every account's."""
    return "/".join((account_folder(account) if account else "*", "*", PART_FILE))


def partition_glob(root: StoragePath, dataset: str, account: str | None = None) -> StoragePath:
    """A glob of the dataset's partition files: one account's, or every account's."""
    return root / dataset / partition_files(account)


def partition_days(folder: StoragePath) -> list[date]:
    """The days of an account's partition folder (`account_dir`), sorted; none if absent."""
    if not folder.is_dir():
        return []
    days = (folder_day(entry.name) for entry in folder.iterdir())
    return sorted(day for day in days if day is not None)


def partition_dirs(root: StoragePath, dataset: str) -> list[tuple[date, StoragePath]]:
    """Every account's day partition folders of a dataset, with their days, oldest first."""
    accounts = [
        folder
        for folder in ((root / dataset).iterdir() if (root / dataset).is_dir() else ())
        if folder.name.startswith(_ACCOUNT_PREFIX)
    ]
    found = [
        (day, entry)
        for folder in accounts
        for entry in folder.iterdir()
        if (day := folder_day(entry.name)) is not None
    ]
    return sorted(found, key=lambda pair: pair[0])


def datasets_in(root: StoragePath) -> list[StoragePath]:
    """The dataset folders of a tree, by name; none if the tree is absent."""
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir() and is_dataset(p)), key=lambda p: p.name)


def built_feeds_dir(build_state_dir: StoragePath) -> StoragePath:
    """The build state's folder of feeds, each holding a file per account."""
    return build_state_dir / _BUILT_FEEDS


def build_state_file(build_state_dir: StoragePath, feed: str, account: str) -> StoragePath:
    """What each lake day of a feed and account was built from (`lake.build.BuildState`)."""
    return built_feeds_dir(build_state_dir) / feed / f"{account_folder(account)}.json"


def exports_dir(raw_dir: StoragePath, account: str) -> StoragePath:
    """An account's export archives, beside the feeds in raw."""
    return raw_dir / EXPORTS_DIR / account_folder(account)


@dataclass(frozen=True)
class DataLayout:
    """What lives where under the data directory; the one place that spells it out.

    Raw and the lake may live elsewhere, on any fsspec filesystem (GARMIN_RAW_URI,
    GARMIN_LAKE_URI, e.g. s3://bucket/garmin/lake): then the lake's quarantine and build
    state go inside it, as `_quarantine/` and `_built/` (a name starting with `_` is no
    dataset: hive readers and `status` skip it), so one URI holds all that is derived from
    raw. The warehouse and the small state stay local, under the data directory."""

    root: Path
    raw_uri: str | None = None
    lake_uri: str | None = None

    @property
    def raw_dir(self) -> StoragePath:
        return location(self.raw_uri) if self.raw_uri else self.root / "raw"

    @property
    def lake_dir(self) -> StoragePath:
        return location(self.lake_uri) if self.lake_uri else self.root / "lake"

    @property
    def quarantine_dir(self) -> StoragePath:
        return self.lake_dir / "_quarantine" if self.lake_uri else self.root / "quarantine"

    @property
    def build_state_dir(self) -> StoragePath:
        """What each lake day was built from; inside the lake, so deleting it forces rebuilds."""
        return self.lake_dir / "_built"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def report_path(self) -> Path:
        """The report page `garmin-pipeline report` writes unless told another path."""
        return self.root / "report.html"

    @property
    def audit_path(self) -> Path:
        """One line per sync, login, export, forget and key change (`audit`)."""
        return self.root / "audit.jsonl"

    @property
    def state_dir(self) -> Path:
        """Small state that outlives runs and processes (the rate-limit breaker)."""
        return self.root / "state"

    @property
    def run_lock_path(self) -> Path:
        """Held by the one run that may use the data directory at a time (`run_lock`)."""
        return self.state_dir / "run.lock"

    @property
    def dbt_target_dir(self) -> Path:
        """dbt's target dir for builds of this data directory, kept between runs
        (`warehouse.dbt_project`); absolute, since dbt runs in the project's folder."""
        return self.state_dir.absolute() / "dbt"

    @property
    def dbt_manifest_dir(self) -> Path:
        """Where an installed package's dbt project (read-only package data) is parsed into a
        manifest (`warehouse.dbt_project.project_target_dir`); absolute, like the target dir."""
        return self.state_dir.absolute() / "dbt-project"

    @property
    def warehouse_build_marker(self) -> Path:
        """Present while a warehouse build runs, or after one that did not build every model."""
        return self.state_dir / "warehouse_build.json"
