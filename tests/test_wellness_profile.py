"""Wellness FIT layouts against independent oracles.

The decoder (`garmin_pipeline.fit.wellness`) and the emulator's writer
(`garmin_pipeline.sources.emulator.wellness_fit`) each declare which message and field numbers,
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

import garmin_pipeline
import garmin_pipeline.sources.emulator as emulator

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
    """Every module of the emulator package, and every library module they load in turn."""
    modules = sorted(Path(emulator.__file__).parent.rglob("*.py"))
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
