"""`garmin-pipeline import-export` of a 2 GB export: peak memory must stay flat in its size.

The archive is made here, deterministically and in a few seconds of I/O: a synthetic
athlete's real export (`emulator.export_archive`: JSON members of every kind, activity and
wellness FIT files in nested `UploadedFiles*.zip`), padded to `ARCHIVE_BYTES` with further
nested upload zips of large files no pattern claims (GPX/TCX-sized blobs of seeded random
bytes): the import must open, hash and copy them all, but decodes none, so the figure is the
import's memory and not the FIT decoder's speed. The same athlete's export alone is the
baseline. The CLI runs with `--no-build` (the rebuild has its own figures) in a child of a
small wrapper process, whose `getrusage(RUSAGE_CHILDREN).ru_maxrss` is the CLI's peak
resident set.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from garmin_emulator.athlete import SyntheticAthlete
from garmin_emulator.export_archive import MEMBER_DATE, UPLOADS, archive_members
from garmin_pipeline.zips import write_stored_zip

REPO_ROOT = Path(__file__).resolve().parents[1]
ARCHIVE_BYTES = 2 << 30
PEAK_TARGET_MB = 300
ATHLETE_DAYS = 60
PAD_PART_BYTES = 256 << 20  # one padding upload zip
PAD_FILE_BYTES = 8 << 20  # one large unclaimed file inside it

MEASURE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
"""


@dataclass(frozen=True)
class Import:
    archive_mb: float
    members: int
    seconds: float
    peak_mb: float


@dataclass(frozen=True)
class ImportFigures:
    small: Import
    large: Import


def _blob(seed: int) -> bytes:
    return random.Random(seed).randbytes(PAD_FILE_BYTES)


def build_archive(path: Path, target_bytes: int) -> int:
    """Write the athlete's export, padded to about `target_bytes`, to `path`; its member
    count. Streamed: neither this nor the import holds the padding in memory at once."""
    athlete = SyntheticAthlete(seed=7, end_date=date(2024, 6, 30), days=ATHLETE_DAYS)
    members = sorted(archive_members(athlete))
    real_bytes = sum(len(data) for _, data in members)
    parts = max(0, -(-(target_bytes - real_bytes) // PAD_PART_BYTES))  # rounded up
    scratch = path.parent / "pad-part.zip"
    blob = _blob(0)
    with scratch.open("wb") as handle:  # every padding part is this one zip, renamed
        write_stored_zip(
            handle,
            (
                (f"upload_{i}.tcx", len(blob), lambda: _reader(blob))
                for i in range(PAD_PART_BYTES // PAD_FILE_BYTES)
            ),
            MEMBER_DATE,
        )
    entries = [(name, len(data), lambda data=data: _reader(data)) for name, data in members]
    entries += [
        (
            f"{UPLOADS}/UploadedFiles_{n + 1}-_Part1.zip",
            scratch.stat().st_size,
            lambda: scratch.open("rb"),
        )
        for n in range(parts)
    ]
    with path.open("wb") as handle:
        write_stored_zip(handle, sorted(entries, key=lambda e: e[0]), MEMBER_DATE)
    scratch.unlink()
    return len(entries) + parts * (PAD_PART_BYTES // PAD_FILE_BYTES)


def _reader(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def run_import(archive: Path, root: Path, members: int) -> Import:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GARMIN_")}
    env.update(
        GARMIN_DATA_DIR=str(root / "data"),
        GARMIN_TOKENS=str(root / "tokens" / "garmin_tokens.json"),
        GARMIN_HISTORY_START="2024-01-01",
        DAGSTER_HOME=str(root / "dagster_home"),
        TMPDIR=str(root),  # the nested zips' scratch copies
    )
    command = [sys.executable, "-m", "garmin_pipeline", "import-export", "--no-build", archive]
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", MEASURE, *map(str, command)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"import-export failed: {completed.stderr[-2000:]}")
    peak_kb = int(completed.stdout.split()[-1])
    return Import(archive.stat().st_size / 2**20, members, seconds, peak_kb / 1024)


def measure(root: Path) -> ImportFigures:
    figures = []
    for name, size in (("small", 0), ("large", ARCHIVE_BYTES)):
        folder = root / f"import-{name}"
        folder.mkdir(parents=True)
        archive = folder / "export.zip"
        members = build_archive(archive, size)
        figures.append(run_import(archive, folder, members))
    return ImportFigures(*figures)


def rows(figures: ImportFigures) -> list[dict[str, object]]:
    small, large = figures.small, figures.large
    return [
        {
            "figure": f"import-export of a {large.archive_mb / 1024:.1f} GB export: peak memory",
            "value": f"{large.peak_mb:.0f} MB",
            "target": f"< {PEAK_TARGET_MB} MB, flat in the archive's size",
            "baseline": f"{small.peak_mb:.0f} MB ({small.archive_mb:.0f} MB export)",
            "ratio_to_baseline": round(large.peak_mb / small.peak_mb, 2),
            "met": large.peak_mb < PEAK_TARGET_MB,
        },
        {
            "figure": f"import-export of a {large.archive_mb / 1024:.1f} GB export: wall time",
            "value": f"{large.seconds:.0f} s",
            "target": "none (reported)",
            "baseline": f"{small.seconds:.0f} s ({small.archive_mb:.0f} MB export)",
            "ratio_to_baseline": round(large.seconds / small.seconds, 2),
            "met": None,
        },
    ]


def breakdown(figures: ImportFigures) -> str:
    lines = [
        "### Export import (`garmin-pipeline import-export --no-build`)",
        "",
        "| archive | files | wall | peak resident memory |",
        "|---:|---:|---:|---:|",
    ]
    for run in (figures.small, figures.large):
        lines.append(
            f"| {run.archive_mb:.0f} MB | {run.members} | {run.seconds:.0f} s | "
            f"{run.peak_mb:.0f} MB |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # one run, printed: `python -m bench.import_export`
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        measured = measure(Path(tmp))
        print(breakdown(measured))
