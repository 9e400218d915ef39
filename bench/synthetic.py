"""Years of synthetic raw history, fetched fast enough to benchmark what is built from it.

The rebuild and warehouse benchmarks measure what happens *after* raw: how raw got there is
not what they time. So this fetches straight through the feeds and the real `garminconnect`
client against the emulator, without Dagster, with the days split over one process per core
(each task serving the same deterministic athlete from its own emulator, and drawing only its
own days of it). The bytes are the ones a `garmin-pipeline sync` in connect mode would keep.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from multiprocessing import get_context
from pathlib import Path

ACCOUNT = "default"
SEED = 42
# A fixed last day keeps every run of the bench on the same history.
END_DAY = date(2025, 12, 31)
SPANS_PER_WORKER = 3


@dataclass(frozen=True)
class SyntheticHistory:
    data_dir: Path  # raw/ under it, as GARMIN_DATA_DIR lays it out
    first_day: date
    last_day: date
    seconds: float  # wall time of the fetch, for the record only

    @property
    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=n) for n in range(count)]


def _fetch_days(
    first: date, last: date, data_dir: str, days: int, seed: int, snapshots: bool
) -> None:
    """One task: its own emulator and client, fetching every day-keyed feed's `first`..`last`
    into raw, or with `snapshots` only the snapshot feeds, once, as of the last day."""
    from garmin_emulator import Emulator, SyntheticAthlete
    from garmin_pipeline.catalog import FEEDS
    from garmin_pipeline.layout import DataLayout
    from garmin_pipeline.raw.extract import extract
    from garmin_pipeline.raw.store import RawStore
    from garmin_pipeline.settings import Settings
    from garmin_pipeline.sources.connect.client import ConnectSource

    # Scratch data, deleted when the bench ends: the raw store's fsyncs (half the time spent
    # here) buy durability this history does not need, and change no byte of it.
    os.fsync = lambda fd: None
    athlete = SyntheticAthlete(seed=seed, end_date=END_DAY, days=days)
    layout = DataLayout(Path(data_dir))
    token_dir = layout.state_dir / f"bench-tokens-{os.getpid()}"
    with Emulator(athlete, port=0) as emu:
        tokens = emu.write_token_store(token_dir / "garmin_tokens.json")
        settings = Settings.from_env(
            {
                "GARMIN_DATA_DIR": data_dir,
                "GARMIN_API_URL": emu.base_url,
                "GARMIN_TOKENS": str(tokens),
                "GARMIN_ACCOUNT": ACCOUNT,
            }
        )
        source = ConnectSource(settings)
        raw = RawStore(layout.raw_dir)
        mine = [day for day in athlete.history() if first <= day <= last]
        for feed in FEEDS:
            if feed.snapshot == snapshots:
                extract(feed, source, raw, ACCOUNT, [END_DAY] if snapshots else mine)


def fetch_history(
    data_dir: Path, days: int, seed: int = SEED, workers: int | None = None
) -> SyntheticHistory:
    """`days` of the athlete ending END_DAY into `data_dir`/raw, every feed of the catalog."""
    workers = workers or os.cpu_count() or 1
    first = END_DAY - timedelta(days=days - 1)
    # More spans than workers, the snapshots (whose gear totals walk every activity's track)
    # first: whichever worker is free takes the next, so none is left running on alone.
    share = -(-days // (SPANS_PER_WORKER * workers))
    tasks = [(first, END_DAY, True)] + [
        (first + timedelta(days=n), min(END_DAY, first + timedelta(days=n + share - 1)), False)
        for n in range(0, days, share)
    ]
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(_fetch_days, start, end, str(data_dir), days, seed, snapshots)
            for start, end, snapshots in tasks
        ]
        for future in futures:
            future.result()
    return SyntheticHistory(Path(data_dir), first, END_DAY, time.perf_counter() - started)


if __name__ == "__main__":
    import sys
    import tempfile

    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="synth-"))
    history = fetch_history(target, int(sys.argv[1]) if len(sys.argv) > 1 else 365)
    print(f"{history.first_day}..{history.last_day} into {target} in {history.seconds:.0f} s")
