"""Wellness FIT layouts against independent oracles.

The decoder (`garmin_pipeline.fit.wellness`) and the emulator's writer
(`garmin_emulator.wellness_fit`) each declare which message and field numbers,
types and scales they use. If the writer borrowed the decoder's declarations, a wrong layout
would be written and read the same wrong way and no round trip could notice; so the emulator
never imports the decoder, and both are checked here against the official FIT SDK profile
(`garmin_fit_sdk.Profile`). What the profile does not have (Garmin's private messages) is
listed below as assumed, each with its reason, so a new assumption cannot slip in unlisted.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

import polars as pl
import pytest
from garmin_fit_sdk import Profile

import garmin_emulator as emulator
import garmin_pipeline
from garmin_emulator.wellness_fit import MESSAGES as WRITER_MESSAGES
from garmin_pipeline.domains.wellness import DATASETS
from garmin_pipeline.fit.wellness import (
    _DAY_INFO,
    _LOCAL_TIMESTAMP,
    _MONITORING,
    _TIMESTAMP,
    _TIMESTAMP_16,
    ASSUMED_LAYOUTS,
    MESSAGE,
    TIME,
    WELLNESS_TABLES,
    public_columns,
)
from garmin_pipeline.fit.wellness import Field as WellnessField

pytestmark = pytest.mark.fast

LIBRARY = Path(garmin_pipeline.__file__).parent
DECODER_PACKAGE = "garmin_pipeline.fit"

# ---- the emulator never imports the decoder ------------------------------------------------


def _module_file(name: str) -> Path | None:
    """The source file of a ``garmin_pipeline`` module or package, None for anything else."""
    parts = name.split(".")
    if parts[0] != "garmin_pipeline":
        return None
    base = LIBRARY.joinpath(*parts[1:])
    for candidate in (base / "__init__.py", base.parent / f"{base.name}.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    parts = path.relative_to(LIBRARY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    """Every module name an import in the file may load: ``import a.b``, ``from a import b``
    (a, and a.b in case b is a module), relative imports resolved, and
    ``importlib.import_module("...")`` / ``__import__("...")`` with a literal name. Imports
    inside functions and ``TYPE_CHECKING`` blocks count too."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0]
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id == "__import__")
            )
        ):
            names.add(node.args[0].value)
    # Importing a.b.c runs a/__init__ and a/b/__init__ first.
    return {".".join(n.split(".")[:i]) for n in names for i in range(1, n.count(".") + 2)}


def _reached(start: list[Path]) -> dict[str, str | None]:
    """Each library module the files load, directly or through other library modules, mapped
    to the module that imports it (None for the starting files)."""
    via: dict[str, str | None] = {_module_name(p): None for p in start}
    queue = deque(start)
    while queue:
        path = queue.popleft()
        for name in sorted(_imported(path)):
            found = _module_file(name)
            if found is not None and name not in via:
                via[name] = _module_name(path)
                queue.append(found)
    return via


def _chain(via: dict[str, str | None], name: str) -> str:
    links = [name]
    while (parent := via[links[-1]]) is not None:
        links.append(parent)
    return " <- ".join(links)


def test_the_emulator_never_imports_the_decoder():
    """Every module of the emulator package, and every library module they load in turn.

    Not `demo.py`: the demo drives the pipeline (it syncs and draws the report), it serves
    nothing, so the pipeline's decoder behind it is no part of the emulator's answers."""
    modules = sorted(
        path for path in Path(emulator.__file__).parent.rglob("*.py") if path.name != "demo.py"
    )
    assert len(modules) > 20 and any(p.name == "wellness_fit.py" for p in modules)
    via = _reached(modules)
    decoder = [
        _chain(via, n) for n in via if n == DECODER_PACKAGE or n.startswith(DECODER_PACKAGE + ".")
    ]
    assert decoder == [], "the emulator loads the decoder it is the oracle for: " + "; ".join(
        decoder
    )


def test_the_import_scan_sees_the_decoder_where_it_is_imported():
    """The scan is not blind: the wellness domain imports the decoder and is caught."""
    domain = LIBRARY / "domains" / "wellness.py"
    assert "garmin_pipeline.fit.wellness" in _imported(domain)
    via = _reached([domain])
    assert _chain(via, "garmin_pipeline.fit.wellness") == (
        "garmin_pipeline.fit.wellness <- garmin_pipeline.domains.wellness"
    )


# ---- the decoder's and the writer's declarations against the FIT SDK profile ------------------

MESSAGES = Profile["messages"]

# Fields in no public profile, each with the reason it is still read or written. Anything else
# the decoder or the emulator declares must be in the profile and agree with it.
ASSUMED: dict[tuple[int, int], str] = {
    (281, 253): "resting-HR message 281 is Garmin-private; a timestamp like every timed message",
    (281, 0): "resting-HR message 281 is Garmin-private; one uint8 bpm, as Connect reports it",
    (521, 253): "sleep-score message 521 is Garmin-private; a timestamp like every timed message",
    (521, 0): "sleep-score message 521 is Garmin-private; one uint8 0-100, as Connect reports it",
}
ASSUMED_MESSAGES = {mesg for mesg, _ in ASSUMED}

# Which profile message each decoded table reads (besides assumed ones): the test's own
# statement, so a wrong message number in the decoder shows up as a name mismatch.
PROFILE_MESSAGE = {
    "heart_rate": "monitoring",
    "stress": "stress_level",
    "respiration": "respiration_rate",
    "spo2": "spo2_data",
    "monitoring": "monitoring",
    "hrv_readings": "hrv_value",
    "hrv_status_device": "hrv_status_summary",
    "sleep_levels": "sleep_level",
    "sleep_assessment": "sleep_assessment",
    "skin_temperature": "skin_temp_overnight",
    "resting_heart_rate_device": "monitoring_hr_data",
    "naps": "nap_event",
}
# A column reads the profile field of its own name, less a unit suffix, except these.
RENAMED = {
    ("stress", "timestamp"): "stress_level_time",
    ("stress", "stress_level"): "stress_level_value",
    ("spo2", "spo2_pct"): "reading_spo2",
    ("spo2", "confidence"): "reading_confidence",
    ("monitoring", "moderate_activity_min"): "moderate_activity_minutes",
    ("monitoring", "vigorous_activity_min"): "vigorous_activity_minutes",
    ("hrv_readings", "rmssd_ms"): "value",
    ("naps", "updated_at"): "update_timestamp",
}
_UNIT_SUFFIXES = ("_bpm", "_brpm", "_pct", "_ms", "_kcal", "_min", "_m", "_s", "_c")
# The decoder's spelling of a profile unit, where they differ.
_UNIT_SPELLING = {"percent": "%", "minutes": "min"}
_INTEGER_RANGE = {
    "uint8": (0, 2**8 - 1),
    "sint16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "sint32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
}


def _profile_field_name(table: str, column: str) -> str:
    if (table, column) in RENAMED:
        return RENAMED[table, column]
    return next((column.removesuffix(s) for s in _UNIT_SUFFIXES if column.endswith(s)), column)


def _only(value: object) -> object:
    """A profile scale or offset: a one-element list for fields without components."""
    assert isinstance(value, list) and len(value) == 1, value
    return value[0]


def _holds(dtype: pl.DataType, base_type: str) -> bool:
    try:
        pl.Series(_INTEGER_RANGE[base_type]).cast(dtype, strict=True)
    except (KeyError, pl.exceptions.InvalidOperationError):
        return False
    return True


def _decoder_problems(table: str, column: WellnessField, mesg: int, num: int) -> list[str]:
    """How the decoder's reading of ``num`` in ``mesg`` for ``column`` differs from the profile."""
    where = f"{table}.{column.name} <- {mesg}:{num}"
    message = MESSAGES.get(mesg)
    if message is None:
        return [f"{where}: message {mesg} is not in the profile"]
    if message["name"] != PROFILE_MESSAGE[table]:
        return [f"{where}: message {mesg} is {message['name']}, not {PROFILE_MESSAGE[table]}"]
    if num == MESSAGE:
        return []
    if num == TIME:
        num, expected = _TIMESTAMP, "timestamp"
    else:
        expected = _profile_field_name(table, column.name)
    spec = message["fields"].get(num)
    if spec is None or spec["name"] != expected:
        actual = {f["name"]: n for n, f in message["fields"].items()}.get(expected)
        return [f"{where}: the profile has {expected} at field {actual}"]
    problems = []
    if _only(spec["offset"]) != 0:
        problems.append(f"{where}: profile offset {spec['offset']} not applied")
    scale = _only(spec["scale"])
    if column.kind == "time":
        if spec["type"] != "date_time":
            problems.append(f"{where}: read as a time but the profile type is {spec['type']}")
        return problems
    if column.kind == "enum":
        if spec["base_type"] != "enum" or spec["type"] != column.enum:
            problems.append(f"{where}: enum {column.enum}, profile {spec['type']}")
        return problems
    if column.kind == "bool":
        if spec["type"] != "bool":
            problems.append(f"{where}: read as bool, profile type {spec['type']}")
        return problems
    if column.raw_scale != scale:
        problems.append(f"{where}: raw_scale {column.raw_scale}, profile scale {scale}")
    if column.kind == "int" and (scale != 1 or not _holds(column.dtype, spec["base_type"])):
        problems.append(f"{where}: {column.dtype} for {spec['base_type']} scale {scale}")
    if column.kind == "float" and not column.dtype.is_float():
        problems.append(f"{where}: a scaled value in {column.dtype}")
    units = _UNIT_SPELLING.get(spec["units"], spec["units"])
    if units and column.unit != units:
        problems.append(f"{where}: unit {column.unit!r}, profile {spec['units']!r}")
    return problems


def _decoder_sources() -> list[tuple[str, WellnessField, int, int]]:
    return [
        (table.name, column, mesg, num)
        for table in WELLNESS_TABLES.values()
        for column in table.columns
        for mesg, num in column.source.items()
    ]


def _assumed_key(mesg: int, num: int) -> tuple[int, int]:
    return mesg, _TIMESTAMP if num == TIME else num


def test_every_decoded_table_names_its_profile_message():
    assert set(PROFILE_MESSAGE) == set(WELLNESS_TABLES)


def test_every_field_the_decoder_reads_is_the_profiles_or_listed_as_assumed():
    """Message and field number (by the profile's names), type, scale, offset and unit."""
    problems, checked, assumed = [], set(), set()
    for table, column, mesg, num in _decoder_sources():
        key = _assumed_key(mesg, num)
        if key in ASSUMED:
            assumed.add(key)
        elif not (num == MESSAGE and mesg in ASSUMED_MESSAGES):  # a row's message number
            problems += _decoder_problems(table, column, mesg, num)
            checked.add(key)
    assert problems == []
    assert len(checked) == 65  # (message, field) pairs; a new column changes this on purpose
    assert assumed == set(ASSUMED), "an assumption no declaration uses: drop it"


def test_the_decoders_clock_fields_are_the_profiles():
    """The fields `_Clock` reads to resolve times: timestamp, timestamp_16, local day start."""
    monitoring, info = MESSAGES[_MONITORING], MESSAGES[_DAY_INFO]
    assert monitoring["name"] == "monitoring" and info["name"] == "monitoring_info"
    stamp16 = monitoring["fields"][_TIMESTAMP_16]
    assert (stamp16["name"], stamp16["base_type"], stamp16["units"]) == (
        "timestamp_16",
        "uint16",
        "s",
    )
    local = info["fields"][_LOCAL_TIMESTAMP]
    assert (local["name"], local["type"]) == ("local_timestamp", "local_date_time")
    for mesg in {m for _, _, m, n in _decoder_sources() if n == TIME} - ASSUMED_MESSAGES:
        stamp = MESSAGES[mesg]["fields"][_TIMESTAMP]
        assert (stamp["name"], stamp["type"]) == ("timestamp", "date_time"), mesg


def test_the_decoders_assumed_layouts_are_exactly_the_listed_assumptions():
    """ASSUMED_LAYOUTS (which the docs derive from) declares what this test allows."""
    declared = {(mesg, num) for mesg, fields in ASSUMED_LAYOUTS.items() for num in fields}
    assert declared == set(ASSUMED)
    assert ASSUMED_MESSAGES.isdisjoint(MESSAGES), "now in the profile: check the layout against it"


def test_the_lake_datasets_keep_the_decoders_units_and_types():
    """The wellness datasets are built from these declarations, not restated."""
    for dataset in DATASETS:
        declared = [(c.name, c.dtype, c.unit) for c in public_columns(dataset.name)]
        assert [(c.name, c.dtype, c.unit) for c in dataset.columns] == declared, dataset.name


def test_every_field_the_emulator_writes_is_the_profiles_or_listed_as_assumed():
    """Message number and name, field number and name, base type, scale, offset and units."""
    problems, checked, assumed = [], 0, set()
    for mesg, message in WRITER_MESSAGES.items():
        profile = MESSAGES.get(mesg)
        assert message.assumed == (profile is None), message.name
        for num, spec in message.fields.items():
            if (mesg, num) in ASSUMED:
                assumed.add((mesg, num))
                continue
            checked += 1
            field = profile["fields"].get(num, {}) if profile else {}
            declared = (message.name, spec.name, spec.base, spec.scale, 0, spec.units)
            actual = (
                profile and profile["name"],
                field.get("name"),
                field.get("base_type"),
                _only(field.get("scale", [None])),
                _only(field.get("offset", [None])),
                field.get("units"),
            )
            if declared != actual:
                problems.append(f"{mesg}:{num}: writer {declared}, profile {actual}")
    assert problems == []
    assert checked == 68  # a new field written changes this on purpose
    assert assumed == set(ASSUMED), "an assumption no declaration uses: drop it"


# ---- the docs say which values rest on an assumed layout --------------------------------------


def test_the_catalog_marks_exactly_the_columns_read_from_messages_outside_the_profile():
    """The profile is the oracle: a column whose values come from a message it lacks says
    "Assumed layout" (and so does its dataset, naming it); no other column does."""
    for dataset in DATASETS:
        fields = {f.name: f for f in WELLNESS_TABLES[dataset.name].columns}
        marked = [c.name for c in dataset.columns if "Assumed layout" in c.description]
        private = [
            c.name
            for c in dataset.columns
            if any(m not in MESSAGES and n != MESSAGE for m, n in fields[c.name].source.items())
        ]
        assert marked == private, dataset.name
        for name in private:
            assert f"`{name}`" in dataset.description and "assumed layout" in dataset.description
    marked = {d.name for d in DATASETS if "assumed layout" in d.description}
    assert marked == {"sleep_assessment", "resting_heart_rate_device"}


def test_the_decoders_copied_enum_names_are_the_profiles():
    """The library names FIT enum values from its own copy (the SDK is not a runtime
    dependency); every enum a column reads is copied, and each copy is the profile's."""
    from garmin_pipeline.fit.wellness import FIT_ENUMS

    used = {c.enum for table in WELLNESS_TABLES.values() for c in table.columns if c.enum}
    assert used == set(FIT_ENUMS)
    for enum, names in FIT_ENUMS.items():
        assert names == dict(Profile["types"][enum]), enum
