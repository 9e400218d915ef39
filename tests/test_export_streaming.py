"""`import-export` streams: an archive is never held in memory, and zip bombs are quarantined.

Each test builds a small crafted archive (no emulator, no network) and runs the real CLI in a
child process, whose peak resident memory is measured by a wrapper process of its own
(`getrusage(RUSAGE_CHILDREN)`: the largest child it waited for, the CLI alone).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import pytest

from garmin_pipeline.sources.export.discovery import MAX_EXPANSION
from garmin_pipeline.zips import overlapping_members, stored_zip, write_stored_zip
from tests.conftest import REPO_ROOT
from tests.test_export_import import ACCOUNT, export_env, raw_days

UDS = "DI_CONNECT/DI-Connect-Aggregator"
BOMB_BYTES = 1 << 30  # what the crafted member inflates to: 1 GiB of spaces
# The CLI with its imports (polars, pyarrow...) peaks near 150 MB; reading the bomb took 2 GB+.
PEAK_LIMIT_MB = 400

MEASURE = """
import resource, subprocess, sys
completed = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(completed.stdout)
sys.stderr.write(completed.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(completed.returncode)
"""


def run_measured(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess, float]:
    """The CLI as `run_cli` runs it, and its peak resident memory in MB."""
    completed = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-m", "garmin_pipeline", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    *stderr, peak_kb = completed.stderr.rstrip("\n").split("\n")
    completed.stderr = "\n".join(stderr)
    return completed, int(peak_kb) / 1024


def uds_json(day: str, steps: int) -> bytes:
    return json.dumps([{"calendarDate": day, "totalSteps": steps}]).encode()


def deflated_spaces(archive: zipfile.ZipFile, name: str, size: int) -> None:
    """A member of `size` spaces, deflated as hard as zlib goes (about 1000:1), written in
    chunks: the archive stays a few hundred KB however large the member says it is."""
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.file_size = size
    block = b" " * (1 << 20)
    with archive.open(info, "w") as sink:
        for _ in range(size // len(block)):
            sink.write(block)


def test_a_zip_bomb_member_is_quarantined_unread_and_the_rest_lands(tmp_path):
    bomb = tmp_path / "export.zip"
    with zipfile.ZipFile(bomb, "w", compresslevel=9) as archive:
        archive.writestr(f"{UDS}/UDSFile_2024-06-01_2024-06-01.json", uds_json("2024-06-01", 1234))
        deflated_spaces(archive, f"{UDS}/UDSFile_2024-06-02_2024-06-02.json", BOMB_BYTES)
    assert bomb.stat().st_size < 2 << 20  # a small file that would inflate to 1 GiB

    env = {**export_env(tmp_path), "GARMIN_MAX_PAYLOAD_MB": "100"}
    completed, peak_mb = run_measured(env, "import-export", "--no-build", str(bomb))

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert peak_mb < PEAK_LIMIT_MB, f"peak {peak_mb:.0f} MB: the bomb was read"
    assert "quarantined: 1" in completed.stdout
    assert (
        "UDSFile_2024-06-02_2024-06-02.json: declares 1024.0 MB uncompressed, over "
        "GARMIN_MAX_PAYLOAD_MB=100; raise it if the file is genuine; not read"
    ) in completed.stdout
    data_dir = tmp_path / "data"
    assert [str(d) for d in raw_days(data_dir, "daily_summary")] == ["2024-06-01"]


def test_a_member_inflating_far_past_its_compressed_size_is_quarantined(tmp_path):
    """Under the payload cap, but 1000 times its compressed size: a bomb, refused unread
    (an ignored member too: it would still be hashed for the manifest)."""
    bomb = tmp_path / "export.zip"
    with zipfile.ZipFile(bomb, "w", compresslevel=9) as archive:
        archive.writestr(f"{UDS}/UDSFile_2024-06-01_2024-06-01.json", uds_json("2024-06-01", 1))
        deflated_spaces(archive, "DI_CONNECT/DI-Connect-Media/notes.txt", 64 << 20)
    completed, _ = run_measured(export_env(tmp_path), "import-export", "--no-build", str(bomb))
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (
        f"notes.txt: declares 64.0 MB uncompressed, over {MAX_EXPANSION} times its compressed "
        "size (a zip bomb?); not read"
    ) in completed.stdout


def overlapping_zip(outer_name: str, inner_name: str, inner: bytes) -> bytes:
    """A zip whose member `outer_name` holds, as its stored bytes, a whole second member
    `inner_name` (local header and data) that the central directory lists too: both read
    back without error on an interpreter lacking the CVE-2024-0450 fix, and the same bytes
    are counted twice (the quoted-overlap bomb repeats this to reach terabytes)."""
    embedded = io.BytesIO()
    with zipfile.ZipFile(embedded, "w") as one:
        one.writestr(zipfile.ZipInfo(inner_name, date_time=(2024, 1, 1, 0, 0, 0)), inner)
        inner_info = one.getinfo(inner_name)
    local = embedded.getvalue()[: embedded.getvalue().index(b"PK\x01\x02")]
    buffer = io.BytesIO(stored_zip([(outer_name, local)]))
    with zipfile.ZipFile(buffer, "a") as archive:
        outer_info = archive.getinfo(outer_name)
        start = outer_info.header_offset + 30 + len(outer_name.encode())
        inner_info.header_offset = start
        archive.filelist.append(inner_info)
        archive.NameToInfo[inner_name] = inner_info
        archive._didModify = True  # rewrite the central directory with the injected entry
    return buffer.getvalue()


def test_overlapping_members_are_refused_and_the_rest_lands(tmp_path):
    uds = f"{UDS}/UDSFile_2024-06-01_2024-06-01.json"
    crafted = overlapping_zip("DI_CONNECT/notes.bin", uds, uds_json("2024-06-01", 42))
    with zipfile.ZipFile(io.BytesIO(crafted)) as archive:
        assert overlapping_members(archive) == {"DI_CONNECT/notes.bin"}
    path = tmp_path / "export.zip"
    path.write_bytes(crafted)
    completed, _ = run_measured(export_env(tmp_path), "import-export", "--no-build", str(path))
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (
        "DI_CONNECT/notes.bin: its bytes overlap another member's (an overlapping-entry zip "
        "bomb); not read"
    ) in completed.stdout
    assert [str(d) for d in raw_days(tmp_path / "data", "daily_summary")] == ["2024-06-01"]


@pytest.mark.fast
def test_a_well_formed_zip_has_no_overlapping_members():
    members = [(f"m{i}.json", bytes([i]) * (1000 * i)) for i in range(5)]
    with zipfile.ZipFile(io.BytesIO(stored_zip(members))) as archive:
        assert overlapping_members(archive) == set()
    deflated = io.BytesIO()
    with zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    with zipfile.ZipFile(deflated) as archive:
        assert overlapping_members(archive) == set()


@pytest.mark.fast
def test_the_streamed_zip_writer_gives_stored_zips_bytes():
    """The canonical packing of a folder is streamed now; its bytes (so the archive's hash)
    are those the in-memory writer gave."""
    members = [("a/b.json", b"{}"), ("c.fit", bytes(range(256)) * 300), ("empty", b"")]
    streamed = io.BytesIO()
    write_stored_zip(streamed, ((n, len(d), lambda d=d: io.BytesIO(d)) for n, d in members))
    legacy = io.BytesIO()
    with zipfile.ZipFile(legacy, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 0
            info.external_attr = 0
            archive.writestr(info, data)
    assert streamed.getvalue() == legacy.getvalue() == stored_zip(members)


def test_the_kept_archive_is_the_file_given(tmp_path):
    path = tmp_path / "export.zip"
    path.write_bytes(stored_zip([(f"{UDS}/UDSFile_1.json", uds_json("2024-06-01", 5))]))
    completed, _ = run_measured(export_env(tmp_path), "import-export", "--no-build", str(path))
    assert completed.returncode == 0, completed.stderr[-3000:]
    kept = list((tmp_path / "data" / "raw" / "_exports" / f"account={ACCOUNT}").glob("*.zip"))
    assert [p.read_bytes() for p in kept] == [path.read_bytes()]
