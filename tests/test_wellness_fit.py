"""The daily wellness download end to end: emulator zip -> decoder -> wellness feed datasets.

Oracles: fitdecode's own reading of a real monitoring FIT file (a), and the synthetic athlete's
known values (b); (c) checks that bad input fails with one line and is rejected, not raised.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import fitdecode
import polars as pl
import pytest

from garmin_emulator.athlete import AWAKE, DEEP, LIGHT, REM
from garmin_emulator.wellness_fit import (
    RUNNING,
    WALKING,
    FitWriter,
    hrv_summary_time,
    monitoring_series,
    nap,
    respiration_series,
    resting_hr_time,
    skin_temperature,
    sleep_assessment,
    sleep_fit,
    sleep_score_time,
    spo2_series,
    wellness_fit,
    wellness_zip,
)
from garmin_pipeline.domains.wellness import FEED, WELLNESS_ZIP
from garmin_pipeline.errors import EndpointUnavailableError
from garmin_pipeline.fit.decode import FitDecodeError
from garmin_pipeline.fit.wellness import WELLNESS_TABLES, decode_wellness

DATA = Path(__file__).parent / "data" / "fit"
MONITORING_FIT = DATA / "monitoring_b_garmin-vivofit_MonitoringFile.fit"
FIT_EPOCH = dt.datetime(1989, 12, 31, tzinfo=dt.UTC)
STAGE = {DEEP: "deep", LIGHT: "light", REM: "rem", AWAKE: "awake"}


def _utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


# ---- (a) a real monitoring file against fitdecode's own reading ----------------------------


def _fitdecode_monitoring(path: Path) -> list[dict]:
    """Every monitoring message as fitdecode reads it, timestamp_16 resolved against
    fitdecode's own ``last_timestamp`` (the last full timestamp it decoded)."""
    rows = []
    with fitdecode.FitReader(str(path)) as reader:
        for frame in reader:
            if not isinstance(frame, fitdecode.FitDataMessage) or frame.name != "monitoring":
                continue
            values: dict = {}
            for f in frame.fields:
                values.setdefault(f.name, f.value)
                if f.name in ("cycles", "steps"):
                    values["raw_cycles"] = f.raw_value
            if frame.has_field("timestamp"):
                time = frame.get_value("timestamp")
            else:
                last = reader.last_timestamp  # FIT seconds
                ts16 = values["timestamp_16"]
                time = FIT_EPOCH + dt.timedelta(seconds=last + ((ts16 - last) & 0xFFFF))
            values["time"] = time
            rows.append(values)
    return rows


@pytest.mark.fast
def test_real_monitoring_file_matches_fitdecode():
    expected = _fitdecode_monitoring(MONITORING_FIT)
    tables = decode_wellness(MONITORING_FIT.read_bytes())
    monitoring = tables["monitoring"]
    assert len(expected) == 337
    assert monitoring.height == len(expected)
    # The decoder sorts by time (stably); so does the oracle.
    expected.sort(key=lambda r: r["time"])
    assert monitoring["timestamp"].to_list() == [r["time"] for r in expected]
    assert monitoring["activity_type"].to_list() == [r.get("activity_type") for r in expected]
    assert monitoring["intensity"].to_list() == [
        None if r.get("intensity") is None else float(r["intensity"]) for r in expected
    ]
    assert monitoring["cycles"].to_list() == [
        None if r.get("raw_cycles") is None else r["raw_cycles"] / 2 for r in expected
    ]
    assert monitoring["active_calories_kcal"].to_list() == [
        r.get("active_calories") for r in expected
    ]
    assert monitoring["active_time_s"].to_list() == [r.get("active_time") for r in expected]
    # The FIT SDK resolves the last walking message's cycles to its 'steps' subfield: 3142.
    last_walk = monitoring.filter(pl.col("activity_type") == "walking").row(-1, named=True)
    assert last_walk["steps"] == 3142
    assert last_walk["timestamp"] == dt.datetime(2014, 12, 28, 6, tzinfo=dt.UTC)
    # The day comes from monitoring_info's local start of day.
    assert monitoring["calendar_date"].unique().to_list() == [dt.date(2014, 12, 27)]
    for name, table in WELLNESS_TABLES.items():
        if name != "monitoring":
            assert tables[name].height == 0, name
        assert tables[name].columns == [c.name for c in table.columns if c.name[0] != "_"]


@pytest.mark.fast
def test_timestamp_16_resolves_across_wraps():
    """Monitoring messages 10 h apart with 16-bit times only: each becomes the new reference."""
    start = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    t0 = int((start - FIT_EPOCH).total_seconds())
    writer = FitWriter()
    writer.write(103, [(253, "uint32", t0)])
    times = [t0 + h * 36_000 for h in range(1, 5)]  # 10 h, 20 h, 30 h, 40 h later
    for t in times:
        writer.write(55, [(26, "uint16", t & 0xFFFF), (27, "uint8", 60)])
    frame = decode_wellness(writer.close())["heart_rate"]
    assert frame["timestamp"].to_list() == [FIT_EPOCH + dt.timedelta(seconds=t) for t in times]


@pytest.mark.fast
def test_written_field_beats_the_same_field_expanded_from_components():
    """current_activity_type_intensity (24) expands into activity_type (5) and intensity (28)
    ahead of a written activity_type: the written value counts unless it is invalid."""
    t0 = int((dt.datetime(2024, 6, 1, tzinfo=dt.UTC) - FIT_EPOCH).total_seconds())
    running_intensity_3 = 1 | 3 << 5
    writer = FitWriter()
    for offset, written_type in ((0, WALKING), (60, 0xFF)):  # 0xFF: invalid, i.e. absent
        fields = [(253, "uint32", t0 + offset), (24, "uint8", running_intensity_3)]
        writer.write(55, [*fields, (5, "enum", written_type), (3, "uint32", 100 + offset)])
    frame = decode_wellness(writer.close())["monitoring"]
    assert frame.select("activity_type", "intensity", "cycles", "steps").rows() == [
        ("walking", 3.0, 50.0, 100),
        ("running", 3.0, 80.0, 160),
    ]


@pytest.mark.fast
@pytest.mark.parametrize(
    ("mesg", "fields", "table", "expected"),
    [
        (297, [(0, "sint16", 1550)], "respiration", {"respiration_rate_brpm": 15.5}),
        (55, [(5, "enum", WALKING), (28, "uint8", 30)], "monitoring", {"intensity": 3.0}),
    ],
    ids=["respiration_rate", "monitoring intensity"],
)
def test_fields_unknown_to_fitdecode_are_scaled_by_raw_scale(
    monkeypatch, mesg, fields, table, expected
):
    """A message the installed fitdecode profile lacks decodes as it does when known (the
    stored values are the profile's: breaths/min * 100, intensity * 10)."""
    t0 = int((dt.datetime(2024, 6, 1, tzinfo=dt.UTC) - FIT_EPOCH).total_seconds())
    writer = FitWriter()
    writer.write(mesg, [(253, "uint32", t0), *fields])
    data = writer.close()
    known = decode_wellness(data)[table]
    monkeypatch.delitem(fitdecode.profile.MESSAGE_TYPES, mesg)
    unknown = decode_wellness(data)[table]
    assert known.select(list(expected)).row(0, named=True) == expected
    assert unknown.equals(known)


# ---- (b) the feed over the emulator, against the athlete -----------------------------------


@pytest.fixture(scope="module")
def days(athlete):
    """Three days, one of them with a nap and one with a run."""
    history = athlete.history()
    nap_day = next(d for d in history[1:] if nap(athlete, d) is not None)
    run_day = next(
        d for d in history[1:] if any(a.sport == "running" for a in athlete.activities_on(d))
    )
    return sorted({history[-1], nap_day, run_day})


@pytest.fixture(scope="module")
def parsed(emulator, connect_source, days):
    emulator.clear_request_log()
    payloads = list(FEED.fetch(connect_source, days, lambda day, name: None))
    log = [r for r in emulator.request_log if "/download-service/files/wellness/" in r.path]
    assert [r.path.rsplit("/", 1)[-1] for r in log] == [d.isoformat() for d in days]
    assert all(r.status == 200 for r in log)
    assert [(p.day, p.name) for p in payloads] == [(d, WELLNESS_ZIP) for d in days]
    result = {}
    for p in payloads:
        day = FEED.parse({p.name: p.payload}, p.day)
        assert day.rejected == {}
        for dataset in FEED.datasets:
            dataset.schema.validate(day.frames[dataset.name])  # lake schemas accept them
        result[p.day] = day.frames
    return result


def test_one_request_per_day_and_every_dataset(parsed, days):
    assert list(parsed) == days
    for frames in parsed.values():
        assert set(frames) == {d.name for d in FEED.datasets}
        for name, frame in frames.items():
            assert frame["calendar_date"].drop_nulls().len() == frame.height, name


def test_heart_rate_and_stress_are_the_athletes(parsed, athlete, days):
    for day in days:
        w, frames = athlete.wellness(day), parsed[day]
        hr = [(_utc(ms), bpm) for ms, bpm in w.hr_values if bpm is not None]
        assert list(frames["heart_rate"].select("timestamp", "heart_rate_bpm").iter_rows()) == hr
        stress = [(_utc(ms), level) for ms, level in w.stress_values]
        assert list(frames["stress"].select("timestamp", "stress_level").iter_rows()) == stress
        assert set(frames["heart_rate"]["calendar_date"]) == {day}


def test_sleep_levels_are_the_nights_stages(parsed, athlete, days):
    for day in days:
        night = athlete.night(day)
        rows = list(
            parsed[day]["sleep_levels"].select("timestamp", "end_time", "sleep_level").iter_rows()
        )
        assert rows[:-1] == [(a, b, STAGE[s]) for a, b, s in night.segments]
        assert rows[-1] == (night.end_utc, None, "awake")


def test_resting_hr_scores_hrv_and_skin_temperature(parsed, athlete, days):
    for day in days:
        frames, night, w = parsed[day], athlete.night(day), athlete.wellness(day)
        rhr = frames["resting_heart_rate_device"]
        assert list(rhr.iter_rows()) == [
            (day, night.end_utc, 211, w.rest_hr_7d, athlete.rest_hr(day)),
            (day, resting_hr_time(athlete, day), 281, athlete.rest_hr(day), None),
        ]
        scores = frames["sleep_assessment"].row(0, named=True)
        assert frames["sleep_assessment"].height == 1
        assert scores["sleep_score"] == scores["overall_sleep_score"] == night.score
        assert scores["score_time"] == sleep_score_time(athlete, day)
        assert scores["awakenings_count"] == night.awake_count
        assert scores["average_stress_during_sleep"] == night.avg_sleep_stress
        assert scores["deep_sleep_score"] == sleep_assessment(athlete, day)[3]
        body = athlete.hrv(day)
        if body is None:
            assert frames["hrv_readings"].height == frames["hrv_status_device"].height == 0
            continue
        readings = frames["hrv_readings"].select("timestamp", "rmssd_ms")
        assert list(readings.iter_rows()) == [(t, float(v)) for t, v in night.hrv.readings]
        status = frames["hrv_status_device"].row(0, named=True)
        summary = body["hrvSummary"]
        assert status["timestamp"] == hrv_summary_time(athlete, day)
        assert status["weekly_average_ms"] == summary["weeklyAvg"]
        assert status["last_night_average_ms"] == summary["lastNightAvg"]
        assert status["last_night_5_min_high_ms"] == summary["lastNight5MinHigh"]
        assert status["baseline_balanced_upper_ms"] == summary["baseline"]["balancedUpper"]
        assert status["status"] == summary["status"].lower()
        skin = frames["skin_temperature"].row(0, named=True)
        assert (
            skin["average_deviation_c"],
            skin["average_7_day_deviation_c"],
            skin["nightly_value_c"],
        ) == skin_temperature(athlete, day)


def test_monitoring_totals_respiration_spo2_and_naps(parsed, athlete, days):
    for day in days:
        frames, w = parsed[day], athlete.wellness(day)
        monitoring = frames["monitoring"]
        walking = monitoring.filter(pl.col("activity_type") == "walking")
        assert walking["steps"].to_list()[-1] == w.walking_steps
        assert walking["steps"].is_sorted()
        assert walking["ascent_m"].to_list()[-1] == pytest.approx(w.floors_up * 3, abs=1e-3)
        run_steps = sum(a.steps or 0 for a in w.activities if a.sport == "running")
        running = monitoring.filter(pl.col("activity_type") == "running")
        assert (running["steps"].to_list() or [0])[-1] == run_steps
        expected = [
            (s.time, "walking" if s.activity_type == WALKING else "running", s.steps)
            for s in monitoring_series(athlete, day)
            if s.activity_type in (WALKING, RUNNING)
        ]
        assert list(monitoring.select("timestamp", "activity_type", "steps").iter_rows()) == (
            expected
        )
        resp = frames["respiration"].select("timestamp", "respiration_rate_brpm")
        assert list(resp.iter_rows()) == respiration_series(athlete, day)
        spo2 = frames["spo2"].select("timestamp", "spo2_pct", "confidence")
        assert list(spo2.iter_rows()) == spo2_series(athlete, day)
        napped = nap(athlete, day)
        naps = frames["naps"].select("start_time", "end_time").iter_rows()
        assert list(naps) == ([] if napped is None else [(napped.start, napped.end)])
    assert any(nap(athlete, d) is not None for d in days)


def test_download_outside_history_is_404(emulator, connect_source, athlete):
    emulator.clear_request_log()
    before = athlete.first_day - dt.timedelta(days=1)
    with pytest.raises(EndpointUnavailableError, match="Garmin answered 404 Not Found"):
        connect_source.download("wellness", "download_health_snapshot", before)
    assert [r.status for r in emulator.request_log if "files/wellness" in r.path][-1] == 404


@pytest.mark.fast
def test_download_is_deterministic(athlete, days):
    day = days[0]
    assert wellness_zip(athlete, day) == wellness_zip(athlete, day)
    first = decode_wellness(wellness_zip(athlete, day), day)
    second = decode_wellness(wellness_zip(athlete, day), day)
    for name in first:
        assert first[name].equals(second[name])


# ---- (c) bad input ---------------------------------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _bad_inputs(athlete, day) -> dict[str, tuple[bytes, str]]:
    fit = sleep_fit(athlete, day)
    broken = bytearray(fit)
    broken[40] ^= 0xFF  # a byte inside the messages: the file CRC no longer matches
    whole = wellness_zip(athlete, day)
    return {
        "empty": (b"", "empty input"),
        "garbage": (b"this is not a zip or a FIT file at all", "not a FIT file"),
        "truncated zip": (whole[: len(whole) // 2], "not a readable zip"),
        "crc-broken fit": (bytes(broken), "CRC mismatch"),
        "crc-broken fit in zip": (_zip({"1_SLEEP_DATA.fit": bytes(broken)}), "1_SLEEP_DATA.fit"),
        "truncated fit": (wellness_fit(athlete, day)[:500], "truncated FIT file"),
        "zip without fit": (_zip({"readme.txt": b"hello"}), "no .fit file"),
        "real file, bad CRC": (
            (DATA / "invalid/bad-file-crc_activity-filecrc.fit").read_bytes(),
            "CRC",
        ),
    }


@pytest.mark.fast
def test_bad_input_is_a_one_line_error_and_rejected(athlete):
    day = athlete.last_day
    for case, (data, needle) in _bad_inputs(athlete, day).items():
        with pytest.raises(FitDecodeError) as caught:
            decode_wellness(data, day)
        message = str(caught.value)
        assert "\n" not in message and needle in message, (case, message)
        parsed = FEED.parse({WELLNESS_ZIP: data}, day)
        assert parsed.frames == {}, case
        assert needle in parsed.rejected[WELLNESS_ZIP] and "\n" not in parsed.rejected[WELLNESS_ZIP]
    assert FEED.parse({}, day).frames == {}  # nothing fetched: nothing to say
