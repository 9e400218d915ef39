"""`garmin-pipeline export`: one account's data as a single, self-describing zip (GDPR
portability: the data a person gave, in a structured, commonly used, machine-readable format).

The zip holds the account's lake as it is stored (hive-partitioned Parquet, one folder per
dataset), the data dictionary (every column's type, unit and meaning, rendered from the catalog)
and a README saying what each folder holds and how to read it with polars or DuckDB. It is
deterministic: entries sorted, fixed timestamps and modes, so the same lake gives the same
bytes. It is written to a private (0600) temp file beside the target and renamed into place.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from garmin_pipeline.errors import PipelineError
from garmin_pipeline.lake.store import PART_FILE
from garmin_pipeline.settings import DataLayout
from garmin_pipeline.storage import StoragePath

FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: no clock in the bytes
README = """# Garmin data export: account `{account}`

Made by `garmin-pipeline export`, from the pipeline's lake: the validated copy of the data
Garmin Connect holds for this account.

- `lake/<dataset>/account={account}/date=<YYYY-MM-DD>/part-0.parquet`: one Parquet file per
  dataset and day, exactly as the pipeline stores it (zstd-compressed, rows sorted by the
  dataset's key);
- `data-dictionary.md`: every dataset and column, with its type, unit and meaning;
- `README.md`: this file.

Datasets in this export ({datasets}): {names}.

The folder names are Hive partitions: readers turn `account=` and `date=` into columns.

With [polars](https://pola.rs):

```python
import polars as pl

sleep = pl.read_parquet("lake/sleep/**/*.parquet", hive_partitioning=True)
print(sleep.sort("date").tail())
```

With [DuckDB](https://duckdb.org):

```sql
select date, count(*) as rows
from read_parquet('lake/heart_rate/*/*/part-0.parquet', hive_partitioning = true)
group by date order by date;
```

Pandas (`pd.read_parquet("lake/sleep")`), Spark and R's `arrow` read the same folders.
"""


class ExportError(PipelineError):
    """Nothing to export, or the zip cannot be written; the message says what to do."""


@dataclass(frozen=True)
class Exported:
    datasets: int
    files: int
    days: int
    bytes: int

    def counts(self) -> dict[str, int]:
        return {"datasets": self.datasets, "files": self.files, "days": self.days}


def account_files(lake_dir: StoragePath, account: str) -> list[tuple[str, StoragePath]]:
    """(name in the zip, lake file) for every Parquet file of the account, sorted."""
    found: list[tuple[str, StoragePath]] = []
    if not lake_dir.exists():
        return found
    datasets: list[StoragePath] = sorted(lake_dir.iterdir(), key=lambda p: p.name)
    for dataset in datasets:
        if dataset.name.startswith(("_", ".")) or not dataset.is_dir():
            continue
        folder = dataset / f"account={account}"
        if not folder.exists():
            continue
        days: list[StoragePath] = sorted(folder.iterdir(), key=lambda p: p.name)
        for day in days:
            part = day / PART_FILE
            if day.name.startswith("date=") and part.exists():
                found.append((f"lake/{dataset.name}/{folder.name}/{day.name}/{PART_FILE}", part))
    return found


def _entry(name: str, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    info.create_system = 3  # unix, whatever the host: the same bytes everywhere
    return info


def export_account(layout: DataLayout, account: str, out: Path) -> Exported:
    """Write the account's export zip to `out`; see the module docstring."""
    from garmin_pipeline.warehouse.dictionary import render_dictionary

    files = account_files(layout.lake_dir, account)
    if not files:
        raise ExportError(
            f"the lake holds nothing of account {account!r}: nothing to export (sync it "
            "first, or check --account and GARMIN_DATA_DIR)"
        )
    datasets = sorted({name.split("/")[1] for name, _ in files})
    entries: list[tuple[str, bytes | StoragePath, int]] = [
        (
            "README.md",
            README.format(
                account=account, datasets=len(datasets), names=", ".join(datasets)
            ).encode("utf-8"),
            zipfile.ZIP_DEFLATED,
        ),
        ("data-dictionary.md", render_dictionary().encode("utf-8"), zipfile.ZIP_DEFLATED),
        # Parquet is compressed already: stored as is.
        *((name, path, zipfile.ZIP_STORED) for name, path in files),
    ]
    out = out.expanduser().absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp")
    total = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w") as archive:
                for name, content, compress in sorted(entries, key=lambda e: e[0]):
                    data = content if isinstance(content, bytes) else content.read_bytes()
                    archive.writestr(_entry(name, compress), data)
                    total += len(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, out)
    except OSError as error:
        Path(temp).unlink(missing_ok=True)
        raise ExportError(f"cannot write {out}: {error.strerror or error}") from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    days = {name.split("/")[3] for name, _ in files}
    return Exported(len(datasets), len(files), len(days), total)
