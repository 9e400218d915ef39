"""FIT → lake throughput on real device files, in FIT data messages per second.

The corpus is every activity `*.fit` in tests/data/fit and, when it is there, the shared
fixtures in ../shared/fixtures/fit; a file found in both counts once, and monitoring and course
files are left out (the activity decoder refuses them). Every method processes the same files
in each pass, one method after the other, so that a change in the machine's load hits them all
alike; each method's figure is its fastest pass (the one least disturbed by anything else):

- bare: fitdecode's own iteration, `for frame in FitReader(file)`, doing nothing else. It
  checks the CRCs and converts values as fitdecode does by default; our decoder checks the CRCs
  too (up front, with a faster CRC) and gives the same values. A decoder built on fitdecode has
  to read every frame: this is the ceiling the target is set against.
- bare, the decoder's reader settings: the same iteration with the reader our decoder uses
  (CRCs left to its own check, fitdecode's conversions without the per-field method lookups),
  for reference: what is left of the gap once the reader itself is tuned.
- naive: what a first script does: one dict per data message, a `pandas.DataFrame` per message
  type, `to_parquet`. The usual approach, for reference.
- ours: the real path, FIT → lake. The files are filed in a raw store as activity days (one
  zipped download and its activity list per day), then `build_lake` builds the activities feed
  (decode, Pandera validation, deterministic Parquet) in one process, one pass at a time; and
  once over several copies of the corpus with every core, worker start-up included.

Every rate divides the data messages the bare iteration counted, so rates compare directly.
Targets: the lake path takes at most 20 % longer than the bare iteration on one core, and runs
at least 1.7 times its one-core rate on 2 cores.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import fitdecode
import pandas as pd

from garmin_pipeline import catalog
from garmin_pipeline.domains.activities import ACTIVITY_LIST
from garmin_pipeline.fit import decode_activity
from garmin_pipeline.fit.decode import fit_reader
from garmin_pipeline.lake import build
from garmin_pipeline.lake.parsers import activity_zip_name
from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.raw.store import RawStore

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIRS = (
    REPO_ROOT / "tests" / "data" / "fit",
    REPO_ROOT.parent / "shared" / "fixtures" / "fit",
)
FEED = "activities"
ACCOUNT = "bench"
FIRST_DAY = date(2024, 1, 1)
OVERHEAD_TARGET = 0.20  # how much longer than the bare iteration the lake path may take
SCALING_TARGET = 1.7  # the multi-core rate over the one-core rate, at least
PASSES = 3  # per method; its fastest counts
# Copies of the corpus the all-cores build works through: a build of years, not of a few
# files, is what worker processes are for, and their start-up is paid once per build.
MULTI_COPIES = 4


@dataclass(frozen=True)
class FitFile:
    name: str
    data: bytes


@dataclass
class FileFigures:
    """One file's data messages, and its seconds per method over all passes."""

    name: str
    size: int
    messages: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Timing:
    wall_s: float
    cpu_s: float | None  # this process's CPU time; None where the work ran in other processes


@dataclass
class FitFigures:
    files: list[FileFigures]
    passes: int
    # By method (see METHODS; the lake path under "lake" and "lake_multi"): its fastest pass
    # over the corpus, or for "lake_multi" the one build over MULTI_COPIES copies of it.
    timings: dict[str, Timing]
    lake_rows: int
    workers: int
    multi_note: str | None  # why "lake_multi" was not measured
    load_before: tuple[float, float, float]

    @property
    def messages(self) -> int:
        """Data messages in one pass over the corpus."""
        return sum(f.messages for f in self.files)

    def seconds_per_pass(self, method: str) -> float:
        copies = MULTI_COPIES if method == "lake_multi" else 1
        return self.timings[method].wall_s / copies

    def rate(self, method: str) -> float:
        return self.messages / self.seconds_per_pass(method)

    def time_vs_bare(self, method: str) -> float:
        return self.seconds_per_pass(method) / self.seconds_per_pass("bare")


def corpus() -> list[FitFile]:
    """The activity files of the corpus, each distinct file once, in name order."""
    files: dict[str, FitFile] = {}
    for directory in CORPUS_DIRS:
        for path in sorted(directory.glob("*.fit")) if directory.is_dir() else ():
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest not in files and _file_type(data) == "activity":
                files[digest] = FitFile(path.name, data)
    return sorted(files.values(), key=lambda f: f.name)


def _file_type(data: bytes) -> Any:
    with fit_reader(data) as reader:
        for frame in reader:
            if frame.frame_type == fitdecode.FIT_FRAME_DATA and frame.name == "file_id":
                return frame.get_value("type", fallback=None)
    return None


def bare(data: bytes) -> int:
    """fitdecode's default iteration; the number of data messages."""
    messages = 0
    with fitdecode.FitReader(io.BytesIO(data)) as reader:
        for frame in reader:
            if frame.frame_type == fitdecode.FIT_FRAME_DATA:
                messages += 1
    return messages


def bare_reader_settings(data: bytes) -> int:
    """`bare` with our decoder's reader (`fit_reader`)."""
    messages = 0
    with fit_reader(data) as reader:
        for frame in reader:
            if frame.frame_type == fitdecode.FIT_FRAME_DATA:
                messages += 1
    return messages


def naive(data: bytes, out: Path) -> None:
    """One dict per data message, one pandas frame per message type, one Parquet file each."""
    rows: dict[str, list[dict[str, Any]]] = {}
    with fit_reader(data) as reader:
        for frame in reader:
            if frame.frame_type == fitdecode.FIT_FRAME_DATA:
                values = {f.name: f.value for f in frame.fields}
                rows.setdefault(frame.name, []).append(values)
    for name, messages in rows.items():
        table = pd.DataFrame(messages)
        # Real files mix types within a field (enum names and unknown numbers, datetimes and
        # device-relative seconds) and pyarrow refuses such columns: written as text instead.
        for column in table.select_dtypes(include="object").columns:
            table[column] = table[column].map(lambda v: v if v is None else str(v))
        table.to_parquet(out / f"{name}.parquet", engine="pyarrow")


# Methods timed file by file, by name.
METHODS: dict[str, Callable[[FitFile, Path], Any]] = {
    "bare": lambda file, tmp: bare(file.data),
    "bare_reader_settings": lambda file, tmp: bare_reader_settings(file.data),
    "naive": lambda file, tmp: naive(file.data, tmp),
    # The decoder alone, without validation and Parquet: where the lake path's time goes.
    "decode": lambda file, tmp: decode_activity(file.data, 1),
}


def time_methods(
    files: list[FitFile], figures: list[FileFigures], passes: int, tmp: Path
) -> dict[str, list[Timing]]:
    """Every method over the corpus `passes` times, one pass of each after the other; each
    pass's timing, and each file's fastest time per method in `figures`."""
    timings: dict[str, list[Timing]] = {name: [] for name in METHODS}
    for _ in range(passes):
        for name, run in METHODS.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            for file, file_figures in zip(files, figures, strict=True):
                file_started = time.perf_counter()
                run(file, tmp)
                seconds = time.perf_counter() - file_started
                file_figures.seconds[name] = min(file_figures.seconds.get(name, seconds), seconds)
            timings[name].append(
                Timing(time.perf_counter() - started, time.process_time() - started_cpu)
            )
    return timings


def fastest(timings: list[Timing]) -> Timing:
    return min(timings, key=lambda timing: timing.wall_s)


def file_raw_store(root: Path, files: list[FitFile], copies: int) -> list[list[date]]:
    """The files as activity days in a raw store, one activity a day, `copies` times over;
    the days of each copy."""
    raw = RawStore(root)
    days = []
    for n in range(copies * len(files)):
        file = files[n % len(files)]
        day = FIRST_DAY + timedelta(days=n)
        activity_id = 10_000 + n
        download = io.BytesIO()
        with zipfile.ZipFile(download, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{activity_id}_ACTIVITY.fit", file.data)
        entry = {
            "activityId": activity_id,
            "activityName": file.name,
            "startTimeGMT": f"{day} 08:00:00",
            "startTimeLocal": f"{day} 09:00:00",
        }
        raw.put(FEED, ACCOUNT, day, activity_zip_name(activity_id), download.getvalue())
        raw.put(FEED, ACCOUNT, day, ACTIVITY_LIST, json.dumps([entry]).encode("utf-8"))
        days.append(day)
    return [days[n : n + len(files)] for n in range(0, len(days), len(files))]


def time_build(raw_root: Path, out: Path, days: list[date], workers: int) -> tuple[Timing, int]:
    """`build_lake` of the days into a new lake; its timing and the activity records landed."""
    feed = catalog.feed(FEED)
    lake, quarantine = PartitionStore(out / "lake"), PartitionStore(out / "quarantine")
    started, started_cpu = time.perf_counter(), time.process_time()
    report = build.build_lake(
        feed,
        RawStore(raw_root),
        lake,
        quarantine,
        ACCOUNT,
        days,
        workers=workers,
        find_feed=catalog.feed,
    )
    timing = Timing(
        time.perf_counter() - started, None if workers > 1 else time.process_time() - started_cpu
    )
    if report.rejected_payloads:
        some = dict(list(report.rejected_payloads.items())[:3])
        raise RuntimeError(f"the lake rejected payloads, so this would time errors: {some}")
    if len(report.days_built) != len(days):
        raise RuntimeError(f"built {len(report.days_built)} days of {len(days)}")
    return timing, report.datasets["activity_records"].rows


def measure(passes: int = PASSES) -> FitFigures:
    files = corpus()
    if not files:
        raise SystemExit(f"no activity FIT files in {', '.join(map(str, CORPUS_DIRS))}")
    figures = [FileFigures(f.name, len(f.data)) for f in files]
    workers = os.cpu_count() or 1
    load = os.getloadavg()
    with warnings.catch_warnings(), tempfile.TemporaryDirectory(prefix="bench-fit-") as tmp:
        # Known spec violations in real files (the COROS one) are warned about on every read.
        warnings.simplefilter("ignore")
        root = Path(tmp)
        for file, file_figures in zip(files, figures, strict=True):
            file_figures.messages = bare(file.data)  # and every method's imports are warm
        (root / "naive").mkdir()
        copies = file_raw_store(root / "raw", files, max(passes, MULTI_COPIES))
        # Imports, Pandera schemas and polars' first calls are paid once per process, not per
        # activity: a one-day build gets them out of the way.
        time_build(root / "raw", root / "warm-up", copies[0][:1], workers=1)
        # Each pass times every method and then the lake build back to back, so a burst of
        # load from a neighbour falls on one pass of each, not on one method's every pass.
        per_pass: dict[str, list[Timing]] = {name: [] for name in METHODS}
        lake_passes = []
        for n in range(passes):
            for name, runs in time_methods(files, figures, 1, root / "naive").items():
                per_pass[name].extend(runs)
            lake_passes.append(time_build(root / "raw", root / f"one-{n}", copies[n], workers=1))
        timings = {name: fastest(runs) for name, runs in per_pass.items()}
        timings["lake"] = fastest([timing for timing, _ in lake_passes])
        lake_rows = lake_passes[0][1]
        note = None
        if workers < 2:
            note = "one core: nothing to spread over"
        else:
            # Spawned workers start with fresh warning filters: silence the same known noise
            # through the environment they inherit.
            with mock.patch.dict(os.environ, {"PYTHONWARNINGS": "ignore::UserWarning"}):
                all_days = [day for days in copies[:MULTI_COPIES] for day in days]
                timings["lake_multi"], _ = time_build(
                    root / "raw", root / "multi", all_days, workers
                )
    return FitFigures(figures, passes, timings, lake_rows, workers, note, load)


def rows(figures: FitFigures) -> list[dict[str, object]]:
    """Result rows for the bench table: figure, value, target, baseline."""
    bare_rate, naive_rate, lake_rate = (figures.rate(m) for m in ("bare", "naive", "lake"))
    overhead = figures.time_vs_bare("lake") - 1
    multi_rate = figures.rate("lake_multi") if "lake_multi" in figures.timings else None
    scaling = None if multi_rate is None else multi_rate / lake_rate
    return [
        {
            "figure": "FIT → lake, 1 core: FIT messages/s",
            "value": round(lake_rate),
            "target": f"≤ {OVERHEAD_TARGET:.0%} more time than bare iteration "
            f"(took {overhead:+.0%})",
            "baseline": f"{bare_rate:,.0f}/s fitdecode's bare iteration; "
            f"{naive_rate:,.0f}/s naive decoder",
            "ratio_to_baseline": round(lake_rate / bare_rate, 2),
            "met": overhead <= OVERHEAD_TARGET,
        },
        {
            "figure": "naive dict-per-message decoder → pandas → Parquet: FIT messages/s",
            "value": round(naive_rate),
            "target": "none (for reference)",
            "baseline": f"{bare_rate:,.0f}/s fitdecode's bare iteration",
            "ratio_to_baseline": round(naive_rate / bare_rate, 2),
            "met": None,
        },
        {
            "figure": f"FIT → lake, {figures.workers} cores: FIT messages/s",
            "value": "n/a" if multi_rate is None else round(multi_rate),
            "target": f"≥ {SCALING_TARGET:g}x the 1-core rate",
            "baseline": f"{lake_rate:,.0f}/s FIT → lake, 1 core",
            "ratio_to_baseline": "n/a" if scaling is None else round(scaling, 2),
            "met": None if scaling is None or figures.workers < 2 else scaling >= SCALING_TARGET,
        },
    ]


_METHOD_NAMES = {
    "bare": "fitdecode's bare iteration (its defaults: CRCs checked, values converted)",
    "bare_reader_settings": "bare iteration with the decoder's reader settings",
    "naive": "naive dict → pandas → Parquet",
    "decode": "decode_activity alone",
    "lake": "FIT → lake (build_lake), 1 core",
    "lake_multi": f"FIT → lake (build_lake), all cores, {MULTI_COPIES} copies in one build",
}


def breakdown(figures: FitFigures) -> str:
    size = sum(f.size for f in figures.files)
    lines = [
        "### FIT → lake throughput",
        "",
        f"{len(figures.files)} activity files, {size / 2**20:.1f} MB, {figures.messages:,} FIT "
        f"data messages; each method's fastest of {figures.passes} passes. Load average before "
        "the run: "
        + ", ".join(f"{n:.1f}" for n in figures.load_before)
        + f" on {figures.workers} cores. Wall time well above CPU time means other processes "
        "took the cores.",
        "",
        "| method | wall s per pass | CPU s | FIT messages/s | time vs bare |",
        "|---|---:|---:|---:|---:|",
    ]
    for method, timing in figures.timings.items():
        cpu = "n/a" if timing.cpu_s is None else f"{timing.cpu_s:.2f}"
        lines.append(
            f"| {_METHOD_NAMES[method]} | {figures.seconds_per_pass(method):.2f} | {cpu} | "
            f"{figures.rate(method):,.0f} | {figures.time_vs_bare(method):.2f}x |"
        )
    if figures.multi_note:
        lines.append(f"\nAll cores: {figures.multi_note}.")
    lines += [
        "",
        f"The lake landed {figures.lake_rows:,} activity records per pass. Per file, fastest "
        "seconds:",
        "",
        "| file | KB | messages | bare | bare, decoder's reader | naive | decode | "
        "decode vs bare |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figures.files:
        bare_s, reader_s, naive_s, decode_s = (
            f.seconds[m] for m in ("bare", "bare_reader_settings", "naive", "decode")
        )
        lines.append(
            f"| `{f.name}` | {f.size / 1024:.0f} | {f.messages:,} | {bare_s:.3f} | "
            f"{reader_s:.3f} | {naive_s:.3f} | {decode_s:.3f} | {decode_s / bare_s:.2f}x |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    from bench.__main__ import table

    measured = measure()
    print(table(rows(measured)))
    print()
    print(breakdown(measured))
