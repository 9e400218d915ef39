"""Fuzzing the parsers: mutated FIT files, zips and JSON bodies are decoded or rejected, no crash.

Every example is either parsed (a dict of polars frames) or rejected with the project's own
error, `PayloadParseError` (`FitDecodeError` for FIT input), whose message is one line. Any
other exception (KeyError, TypeError, IndexError, OverflowError, a polars error, struct.error,
RecursionError...) is a parser bug to fix in the parser, not here.

Deterministic by default (profile "ci": derandomized, a few hundred examples in all, well
under a minute). For a longer local hunt: ``HYPOTHESIS_PROFILE=fuzz pytest
tests/test_fuzz_parsers.py`` (random seeds, many more examples).

Seeds: real FIT files from tests/data/fit (see its SOURCES.md), the emulator's activity and
wellness zips, and every catalog feed's JSON bodies as the emulator serves them.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import struct
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import fitdecode
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from garmin_emulator import SyntheticAthlete
from garmin_emulator.wellness_fit import wellness_zip
from garmin_pipeline.catalog import FEEDS, feed
from garmin_pipeline.errors import PayloadParseError, PipelineError
from garmin_pipeline.fit import FitDecodeError, decode_activity, decode_wellness
from garmin_pipeline.lake.build import build_lake, rejected_dataset_name
from garmin_pipeline.lake.parsers import JsonPayloadParser, ParsedDay, fit_from_zip
from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.raw.store import RawStore

FIT_DIR = Path(__file__).parent / "data" / "fit"
# fitdecode warns about every recoverable oddity of a mutated file; they are expected here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:fitdecode")

settings.register_profile(
    "ci",
    max_examples=60,
    # No wall-clock deadline: on a loaded machine a 0.2 s decode can take seconds, and a
    # deadline then fails a correct parser. A real hang is still caught, by no_hang below.
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    max_examples=3_000,
    deadline=10_000,
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
# Per-example wall-clock guard: hypothesis' deadline only reports slowness after the fact.
HANG_S = 20


@contextmanager
def no_hang(seconds: float = HANG_S) -> Iterator[None]:
    """Abort the block with TimeoutError if it runs longer than `seconds` (a hang)."""

    def alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"parser still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def assert_one_line(message: str) -> None:
    assert message and message.strip(), "a rejection must say why"
    assert "\n" not in message and "\r" not in message, message


# ---- FIT seeds and mutations ----------------------------------------------------------------


def _parts(data: bytes) -> list[bytes]:
    """The chained FIT files of `data`, each a whole file (header, messages, CRC)."""
    parts, offset = [], 0
    while offset < len(data):
        end = offset + data[offset] + int.from_bytes(data[offset + 4 : offset + 8], "little") + 2
        parts.append(data[offset:end])
        offset = end
    return parts


def _fit_seed(name: str, parts: slice | None = None) -> bytes:
    data = (FIT_DIR / name).read_bytes()
    return b"".join(_parts(data)[parts]) if parts is not None else data


# Small enough to decode in a few hundredths of a second, so each gets many examples.
FIT_SEEDS: dict[str, bytes] = {
    # records, laps, hrv (RR intervals), GPS
    "run-records-hrv": _fit_seed("run_garmin-fenix5_gps-hr-hrv_short.fit"),
    # compressed-timestamp record headers, compressed_speed_distance components
    "run-compressed": _fit_seed("run_garmin-fr70_compressed-timestamps.fit"),
    # pool swim: lengths, and the first two parts of a chained file
    "swim-lengths-chained": _fit_seed("swim-pool_garmin-fr735xt_chained5.fit", slice(0, 2)),
    # developer fields (field descriptions, developer data ids)
    "rowing-devfields": _fit_seed("rowing-indoor_garmin-vivoactivehr_devfields.fit"),
    # a monitoring file: not an activity (decode_activity rejects it), decode_wellness reads it
    "monitoring": _fit_seed("monitoring_b_garmin-vivofit_MonitoringFile.fit"),
}
ATHLETE = SyntheticAthlete(seed=7, end_date=date(2024, 6, 30), days=21)
ATHLETE_DAY = date(2024, 6, 29)


def _synthetic_activity_zip() -> bytes:
    smallest = min(ATHLETE.activities(), key=lambda a: a.record_count)
    return ATHLETE.activity_zip(smallest.activity_id)


ZIP_SEEDS: dict[str, bytes] = {
    "activity-zip": _synthetic_activity_zip(),
    "wellness-zip": wellness_zip(ATHLETE, ATHLETE_DAY),
}


def _set_crc(data: bytearray) -> None:
    """Make the (last part's) header and file CRCs match the bytes again, so that a mutation
    reaches the message decoder instead of being caught by the CRC check."""
    if len(data) < 14:
        return
    if data[0] >= 14:
        data[12:14] = fitdecode.utils.compute_crc(data, start=0, end=12).to_bytes(2, "little")
    data[-2:] = fitdecode.utils.compute_crc(data, start=0, end=len(data) - 2).to_bytes(2, "little")


def _set_size(data: bytearray) -> None:
    """Make a single-part file's header data size match what follows the header."""
    if len(data) >= 12 and data[0] >= 12:
        data[4:8] = max(0, len(data) - data[0] - 2).to_bytes(4, "little")


def _offsets(draw: st.DrawFn, size: int) -> int:
    """A byte offset, biased towards the file header and the first definition messages."""
    if size == 0:
        return 0
    return draw(
        st.one_of(
            st.integers(0, min(size - 1, 64)),
            st.integers(0, min(size - 1, 512)),
            st.integers(0, size - 1),
        )
    )


U32 = st.one_of(
    st.sampled_from([0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFF0]), st.integers(0, 2**32 - 1)
)


@st.composite
def mutated_bytes(draw: st.DrawFn, seed: bytes) -> bytes:
    """`seed` after one to four byte-level mutations, CRCs and size optionally fixed up."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(
                ["flip", "set", "truncate", "insert", "delete", "header", "crc", "duplicate"]
            )
        )
        at = _offsets(draw, len(data))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(
                st.sampled_from([0x00, 0xFF, 0x40, 0x80, 0x7F, 0x0E]) | st.integers(0, 255)
            )
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "duplicate" and data:
            data[at:at] = data[at : at + draw(st.integers(1, 256))]
        elif kind == "header" and len(data) >= 14:
            field = draw(st.sampled_from(["size", "protocol", "profile", "data_size", "sig"]))
            if field == "size":
                data[0] = draw(st.sampled_from([0, 1, 11, 12, 13, 14, 15, 0xFF]))
            elif field == "protocol":
                data[1] = draw(st.sampled_from([0x00, 0x10, 0x20, 0x30, 0xFF]))
            elif field == "profile":
                data[2:4] = draw(st.integers(0, 0xFFFF)).to_bytes(2, "little")
            elif field == "data_size":
                data[4:8] = draw(U32).to_bytes(4, "little")
            else:
                data[8:12] = draw(st.sampled_from([b".fit", b"FIT.", b"\0\0\0\0", b".FIX"]))
        elif kind == "crc" and len(data) >= 14:
            where = draw(st.sampled_from(["header", "file"]))
            value = draw(st.integers(0, 0xFFFF)).to_bytes(2, "little")
            if where == "header":
                data[12:14] = value
            else:
                data[-2:] = value
    fix = draw(st.sampled_from(["none", "crc", "size+crc", "size+crc"]))
    if "size" in fix:
        _set_size(data)
    if "crc" in fix:
        _set_crc(data)
    return bytes(data)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def check_activity(data: bytes) -> None:
    """decode_activity (through fit_from_zip, as the lake reads downloads): frames or our error."""
    with no_hang():
        try:
            tables = decode_activity(fit_from_zip(data), activity_id=1)
        except FitDecodeError as error:
            assert_one_line(str(error))
            return
    assert tables and all(isinstance(frame, pl.DataFrame) for frame in tables.values())


def check_wellness(data: bytes) -> None:
    with no_hang():
        try:
            tables = decode_wellness(data, calendar_date=ATHLETE_DAY)
        except FitDecodeError as error:
            assert_one_line(str(error))
            return
    assert tables and all(isinstance(frame, pl.DataFrame) for frame in tables.values())


@pytest.mark.fast
@pytest.mark.parametrize("seed", sorted(FIT_SEEDS))
def test_valid_fit_seeds_decode_or_are_rejected_as_before(seed):
    """The unmutated seeds behave as documented (the fuzz tests start from working input)."""
    data = FIT_SEEDS[seed]
    if seed == "monitoring":
        with pytest.raises(FitDecodeError, match="not an activity FIT file"):
            decode_activity(data, activity_id=1)
    else:
        assert decode_activity(data, activity_id=1)["activity_records"].height > 0
    decode_wellness(data)


@pytest.mark.fast
@pytest.mark.parametrize("seed", sorted(FIT_SEEDS))
@PROFILE
@given(data=st.data())
def test_mutated_fit_files_decode_or_raise_fit_decode_error(seed, data):
    mutated = data.draw(mutated_bytes(FIT_SEEDS[seed]), label="mutated")
    check_activity(mutated)
    check_wellness(mutated)


@pytest.mark.fast
@pytest.mark.parametrize("seed", ["run-records-hrv", "monitoring"])
@PROFILE
@given(data=st.data())
def test_zips_of_mutated_fit_files_decode_or_raise_fit_decode_error(seed, data):
    mutated = data.draw(mutated_bytes(FIT_SEEDS[seed]), label="mutated")
    name = data.draw(st.sampled_from(["a.fit", "A.FIT", "a.txt", "dir/a.fit"]), label="name")
    extra = data.draw(st.sampled_from([{}, {"b.fit": mutated}, {"readme.txt": b"hi"}]))
    archive = _zip({name: mutated, **extra})
    check_activity(archive)
    check_wellness(archive)


@pytest.mark.fast
@pytest.mark.parametrize("seed", sorted(ZIP_SEEDS))
@PROFILE
@given(data=st.data())
def test_broken_zips_decode_or_raise_fit_decode_error(seed, data):
    mutated = data.draw(mutated_bytes(ZIP_SEEDS[seed]), label="mutated")
    check_activity(mutated)
    check_wellness(mutated)


@pytest.mark.fast
@PROFILE
@given(garbage=st.binary(max_size=2_000))
def test_raw_byte_garbage_is_rejected_as_fit(garbage):
    for data in (garbage, b"PK\x03\x04" + garbage, garbage[:12] + b".FIT" + garbage[12:]):
        check_activity(data)
        check_wellness(data)


def _fit(body: bytes, data_size: int | None = None) -> bytes:
    """A 14-byte-header FIT file around `body`, with correct CRCs."""
    size = len(body) if data_size is None else data_size
    header = bytearray(struct.pack("<BBHI4s", 14, 0x20, 2132, size, b".FIT") + b"\0\0")
    header[12:14] = fitdecode.utils.compute_crc(header, start=0, end=12).to_bytes(2, "little")
    data = bytearray(header + body + b"\0\0")
    _set_crc(data)
    return bytes(data)


def _definition(local: int, global_num: int, fields: list[tuple[int, int, int]]) -> bytes:
    packed = b"".join(struct.pack("<BBB", *f) for f in fields)
    return struct.pack("<BBBHB", 0x40 | local, 0, 0, global_num, len(fields)) + packed


@pytest.mark.fast
@pytest.mark.parametrize(
    "case",
    ["huge data size", "definition loop", "widest messages", "chained empty parts"],
)
def test_pathological_fit_structures_terminate_promptly(case):
    """Inputs built to make a decoder loop or allocate: each ends quickly, either way."""
    if case == "huge data size":
        data = bytearray(_fit(b"\x00" * 64, data_size=0xFFFF_FFFF))
        data[-2:] = b"\0\0"
    elif case == "definition loop":
        # The same local type redefined 20 000 times, no data message ever.
        data = _fit(_definition(0, 20, [(253, 4, 0x86), (3, 1, 0x02)]) * 20_000)
    elif case == "widest messages":
        # 255 fields of 255 bytes each (the most a definition can declare), 40 messages.
        definition = _definition(0, 20, [(n, 255, 0x0D) for n in range(255)])
        data = _fit(definition + (b"\x00" + b"\xab" * (255 * 255)) * 40)
    else:
        empty = _fit(b"")
        data = empty * 2_000
    start = time.perf_counter()
    with no_hang(30):
        for check in (check_activity, check_wellness):
            check(bytes(data))
    assert time.perf_counter() - start < 30


# ---- JSON seeds and mutations ---------------------------------------------------------------


class Seeds(dict[str, list[tuple[date, dict[str, bytes]]]]):
    """Feed name → (day, raw bundle) seeds; a short repr keeps hypothesis' reports readable."""

    def __repr__(self) -> str:
        return f"<JSON seeds of {len(self)} feeds>"


@pytest.fixture(scope="module")
def json_seeds(connect_source) -> Seeds:
    """Every feed's raw day bundles as the emulator serves them (the JSON payloads only)."""
    assert connect_source.display_name
    days = ATHLETE.history()[-10:]
    seeds = Seeds()
    for each in FEEDS:
        bundles: dict[date, dict[str, bytes]] = {}
        for payload in each.fetch(connect_source, days, lambda d, n: None):
            if payload.name.endswith(".json"):
                bundles.setdefault(payload.day, {})[payload.name] = payload.payload
        # Days whose payloads hold something first: they have the richest shapes.
        ordered = sorted(bundles.items(), key=lambda item: -sum(map(len, item[1].values())))
        seeds[each.name] = ordered[:3]
    return seeds


HUGE = [2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30)]
EPOCHS = [-1, -(2**62), 253_402_300_800_000, 10**17, 1e300, -1e300, 0.5]
ODD_STRINGS = [
    "",
    "NaN",
    "nan",
    "Infinity",
    "-inf",
    "null",
    "true",
    "2024-13-45",
    "0000-00-00",
    "2024-06-30T25:61:00.0",
    "9999-12-31 23:59:59",
    "-0001-01-01T00:00:00.0",
    "2024-06-30" * 1_000,
    "é🏃\u0000\ud7ff\ufeff",
    "x" * 100_000,
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE + EPOCHS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(ODD_STRINGS),
    st.text(max_size=20),
)


def json_values(keys: list[str]) -> st.SearchStrategy[Any]:
    """Any JSON value, objects keyed mostly by the seed's own keys (so they look like it)."""
    key = st.one_of(st.sampled_from(keys), st.text(max_size=8)) if keys else st.text(max_size=8)
    return st.recursive(
        SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(key, children, max_size=5)
        ),
        max_leaves=12,
    )


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:6]):  # long series: their first items are enough
            yield from _paths(v, (*path, i))


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value).union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value[:6]))
    return set()


def _replace(value: Any, path: tuple[Any, ...], new: Any, delete: bool = False) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if delete and not rest:
            copy.pop(head, None)
        else:
            copy[head] = _replace(value[head], rest, new, delete)
        return copy
    copy = list(value)
    if delete and not rest:
        del copy[head]
    else:
        copy[head] = _replace(value[head], rest, new, delete)
    return copy


@st.composite
def mutated_json(draw: st.DrawFn, body: bytes) -> bytes:
    """A real payload with one to three values replaced (or deleted) at random paths."""
    value = json.loads(body)
    values = json_values(sorted(_keys(value)))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(value))
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "replace", "delete", "empty"]))
        if op == "delete" and path:
            value = _replace(value, path, None, delete=True)
        elif op == "empty":
            value = _replace(value, path, draw(st.sampled_from([[], {}, None, "", 0])))
        else:
            value = _replace(value, path, draw(values))
    ascii_only = draw(st.booleans())
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True).encode(
        "utf-8", "surrogatepass"
    )


GARBAGE = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"",
            b"null",
            b"NaN",
            b"[" * 100_000,
            b'{"a":' * 50_000,
            b"9" * 5_000,
            b"\xff\xfe{}",
            b'"\xed\xa0\x80"',
            b"<html>503</html>",
            b"{not json",
        ]
    ),
    st.binary(max_size=40).map(lambda b: b"{" + b + b"}"),
)

JSON_FEEDS = sorted(f.name for f in FEEDS if isinstance(f.parse, JsonPayloadParser))
OTHER_FEEDS = sorted(f.name for f in FEEDS if not isinstance(f.parse, JsonPayloadParser))


def check_feed(name: str, bundle: dict[str, bytes], day: date) -> ParsedDay:
    """The feed's parse never raises: each payload lands as frames or is rejected, one line;
    for a JSON feed, the payload's own parse raises nothing but `PayloadParseError`."""
    parser = feed(name).parse
    with no_hang():
        if isinstance(parser, JsonPayloadParser):
            try:
                frames = parser.parse_payload(bundle, day)
            except PayloadParseError as error:
                assert_one_line(str(error))
            else:
                assert all(isinstance(frame, pl.DataFrame) for frame in frames.values())
        parsed = parser(bundle, day)
    assert isinstance(parsed, ParsedDay)
    assert all(isinstance(frame, pl.DataFrame) for frame in parsed.frames.values())
    for payload, reason in parsed.rejected.items():
        assert payload in bundle or payload.startswith("activity-"), payload
        assert_one_line(reason)
    return parsed


def test_every_feed_has_json_seeds(json_seeds):
    for name in JSON_FEEDS:
        assert any(json.loads(b) for _, bundle in json_seeds[name] for b in bundle.values()), name
        for day, bundle in json_seeds[name]:
            assert not check_feed(name, bundle, day).rejected, name
    assert OTHER_FEEDS == ["activities", "wellness"]


@pytest.mark.parametrize("name", [*JSON_FEEDS, "activities"])
@PROFILE
@given(data=st.data())
def test_mutated_json_payloads_parse_or_are_rejected(json_seeds, name, data):
    day, bundle = data.draw(st.sampled_from(json_seeds[name]), label="seed day")
    payload = data.draw(st.sampled_from(sorted(bundle)), label="payload")
    mutated = data.draw(mutated_json(bundle[payload]), label="mutated")
    check_feed(name, {**bundle, payload: mutated}, day)


@pytest.mark.fast
@pytest.mark.parametrize("name", [*JSON_FEEDS, *OTHER_FEEDS])
@settings(PROFILE, max_examples=min(PROFILE.max_examples, 25))
@given(garbage=GARBAGE)
def test_garbage_payloads_are_rejected(name, garbage):
    payload = {"activities": "activity_list.json", "wellness": "wellness.zip"}.get(
        name, f"{name}.json"
    )
    parser = feed(name).parse
    if isinstance(parser, JsonPayloadParser):
        payload = parser.payload_name
    check_feed(name, {payload: garbage}, ATHLETE_DAY)


@pytest.mark.fast
def test_a_payload_parse_error_is_quarantined_with_its_reason(tmp_path):
    raw, lake, quarantine = (
        RawStore(tmp_path / "raw"),
        PartitionStore(tmp_path / "lake"),
        PartitionStore(tmp_path / "quarantine"),
    )
    sleep = feed("sleep")
    raw.put("sleep", "test", ATHLETE_DAY, "sleep.json", b'{"dailySleepDTO": [1, 2]}')
    report = build_lake(sleep, raw, lake, quarantine, "test", [ATHLETE_DAY])
    reason = report.rejected_payloads[f"{ATHLETE_DAY}/sleep.json"]
    assert reason.startswith("cannot parse sleep.json: ") and "dailySleepDTO" in reason
    assert_one_line(reason)
    stored = quarantine.read(rejected_dataset_name(sleep))
    assert stored["reason"].to_list() == [reason]


@pytest.mark.fast
def test_a_parse_that_raises_payload_parse_error_quarantines_the_bundle(tmp_path):
    raw, lake, quarantine = (
        RawStore(tmp_path / "raw"),
        PartitionStore(tmp_path / "lake"),
        PartitionStore(tmp_path / "quarantine"),
    )

    def refuse(bundle: dict[str, bytes], day: date) -> ParsedDay:
        raise PayloadParseError("sleep.json: dailySleepDTO is an array, expected an object")

    sleep = dataclasses.replace(feed("sleep"), parse=refuse)
    raw.put("sleep", "test", ATHLETE_DAY, "sleep.json", b"{}")
    report = build_lake(sleep, raw, lake, quarantine, "test", [ATHLETE_DAY])
    assert report.days_built == [ATHLETE_DAY]
    reason = report.rejected_payloads[f"{ATHLETE_DAY}/sleep.json"]
    assert "dailySleepDTO is an array" in reason
    assert quarantine.read(rejected_dataset_name(sleep))["reason"].to_list() == [reason]


# Inputs the fuzzing found crashing a parser (each fixed in the parser), kept as plain cases.
JSON_REGRESSIONS = [
    # a value that is an object where a number is read: polars panicked (PanicException)
    ("training_status", b'{"calendarDate": "2024-06-29", "timestamp": {"a": 1}}', "timestamp"),
    # a struct where a scalar is read: polars InvalidOperationError on the cast
    ("daily_steps", b'{"calendarDate": "2024-06-29", "totalSteps": [null]}', "totalSteps"),
    # mixed types in one sample column: polars ComputeError even with strict=False
    ("body_battery", b'{"bodyBatteryValuesArray": [[1719266580000, 45], [1, "null"]]}', None),
    # a sample that is not an array: TypeError
    ("body_battery", b'{"bodyBatteryValuesArray": [7]}', "bodyBatteryValuesArray[0]"),
    # the activity type as a string: AttributeError escaped the feed's parse
    (
        "activities",
        b'[{"activityId": 1, "startTimeLocal": "2024-06-29 08:00:00", '
        b'"startTimeGMT": "2024-06-29 06:00:00", "activityType": "running"}]',
        "activityType",
    ),
    # deep nesting: RecursionError escaped the feed's parse
    ("activities", b"[" * 100_000, "nested too deeply"),
    ("sleep", b'{"a":' * 50_000, "nested too deeply"),
    # devices without any lastSyncTime: the null column had no string dtype (rejected before)
    ("devices", b'[{"deviceId": 1, "productDisplayName": "x"}]', None),
    # an epoch in ms beyond the datetime range: wrapped around to a wrong date before
    ("weigh_ins", b'[{"timestampGMT": 100000000000000000, "weight": 60000}]', None),
]


@pytest.mark.fast
@pytest.mark.parametrize(("name", "body", "needle"), JSON_REGRESSIONS)
def test_json_regressions(name, body, needle):
    payload = {"activities": "activity_list.json"}.get(name, f"{name}.json")
    parsed = check_feed(name, {payload: body}, ATHLETE_DAY)
    if needle is None:
        assert not parsed.rejected
        if name == "weigh_ins":
            assert parsed.frames["weigh_ins"]["timestamp"].to_list() == [None]
    else:
        assert needle in parsed.rejected[payload]


@pytest.mark.fast
def test_a_zip_whose_header_points_before_the_archive_is_rejected():
    archive = bytearray(ZIP_SEEDS["activity-zip"])
    archive[2:4] = b"\x04\x14"  # a flipped local-header signature: zipfile seeks to -1
    for check in (check_activity, check_wellness):
        check(bytes(archive))
    with pytest.raises(FitDecodeError, match="not a readable zip"):
        fit_from_zip(bytes(archive))


@pytest.mark.fast
def test_the_error_types():
    assert issubclass(FitDecodeError, PayloadParseError)
    assert issubclass(PayloadParseError, PipelineError)
    assert issubclass(FitDecodeError, ValueError)  # callers that caught ValueError still do


@pytest.mark.fast
def test_a_hang_is_still_caught_without_a_deadline():
    """The ci profile has no hypothesis deadline (it flaked under load); no_hang is the guard."""
    assert PROFILE.deadline is None or os.environ.get("HYPOTHESIS_PROFILE")
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="a hang"), no_hang(0.2):
        while True:
            time.sleep(0.01)
    assert time.monotonic() - started < 5
