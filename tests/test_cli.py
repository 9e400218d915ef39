"""The CLI contracts other tools rely on: `decode` output, and one-line errors on bad input."""

import io
import zipfile
from datetime import date
from pathlib import Path

import fitdecode
import polars as pl
import pytest
from click.testing import CliRunner

from garmin_pipeline.cli import main

FIT_DIR = Path(__file__).parent / "data" / "fit"
RUN = FIT_DIR / "run_garmin-fenix5_gps-hr-hrv_short.fit"


def fitdecode_count(path: Path, message: str) -> int:
    """The oracle: fitdecode's own count of a message type."""
    with fitdecode.FitReader(str(path)) as reader:
        return sum(
            1 for f in reader if isinstance(f, fitdecode.FitDataMessage) and f.name == message
        )


@pytest.mark.fast
def test_decode_writes_one_parquet_per_table_with_fitdecodes_counts(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["decode", str(RUN), "--out", str(out), "--activity-id", "7"])
    assert result.exit_code == 0, result.output
    records = pl.read_parquet(out / "activity_records.parquet")
    assert records.height == fitdecode_count(RUN, "record") > 0
    assert records["activity_id"].unique().to_list() == [7]
    assert pl.read_parquet(out / "activity_laps.parquet").height == fitdecode_count(RUN, "lap")
    assert pl.read_parquet(out / "activity_sessions.parquet").height == fitdecode_count(
        RUN, "session"
    )


@pytest.mark.fast
def test_decode_accepts_the_original_zip_download(tmp_path):
    archive = tmp_path / "123_ACTIVITY.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("123_ACTIVITY.fit", RUN.read_bytes())
    result = CliRunner().invoke(main, ["decode", str(archive), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(tmp_path / "out" / "activity_records.parquet").height == (
        fitdecode_count(RUN, "record")
    )


@pytest.mark.fast
@pytest.mark.parametrize(
    "bad_file", sorted((FIT_DIR / "invalid").glob("*.fit")), ids=lambda p: p.name
)
def test_decode_rejects_a_corrupt_file_in_one_line_and_writes_nothing(tmp_path, bad_file):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["decode", str(bad_file), "--out", str(out)])
    assert result.exit_code == 1
    message = result.output.strip()
    assert message.startswith("Error: ") and bad_file.name in message
    assert len(message.splitlines()) == 1
    assert not out.exists()


@pytest.mark.fast
def test_decode_rejects_a_broken_zip(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("1_ACTIVITY.fit", RUN.read_bytes())
    broken = tmp_path / "broken.zip"
    broken.write_bytes(buffer.getvalue()[:200])
    result = CliRunner().invoke(main, ["decode", str(broken), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "not a readable zip" in result.output
    assert not (tmp_path / "out").exists()


def test_the_emulator_serves_an_athlete_living_in_the_zone_asked_for(tmp_path, monkeypatch):
    served = []
    monkeypatch.setattr("garmin_emulator.serve", lambda a, **_: served.append(a))
    monkeypatch.setenv("GARMIN_TOKENS", str(tmp_path / "tokens.json"))
    args = ["emulator", "--end-date", "2024-04-08", "--days", "3"]
    result = CliRunner().invoke(main, [*args, "--timezone", "Pacific/Auckland"])
    assert result.exit_code == 0, result.output
    (athlete,) = served
    assert athlete.personal_information()["timeZone"] == "Pacific/Auckland"
    # New Zealand leaves DST on 2024-04-07: a 25-hour day, one sample every 2 minutes.
    assert len(athlete.heart_rate(date(2024, 4, 7))["heartRateValues"]) == 25 * 30

    refused = CliRunner().invoke(main, [*args, "--timezone", "Mars/Olympus_Mons"])
    assert refused.exit_code == 2
    assert "'Mars/Olympus_Mons' is not an IANA time zone" in refused.output
    assert len(served) == 1
