"""Imports only go down the layers of DESIGN.md, and no module imports itself in a circle.

`make lint` runs this module alone (`pytest --noconftest tests/test_import_layers.py`): it
reads the source with `ast` and imports nothing of ours, so it takes well under a second.
Every import counts, wherever it is written: at the top, inside a function (a lazy import
hides an upward one, it does not remove it) or under `TYPE_CHECKING`.

The layers of `garmin_pipeline`, lowest first; a module may import its own layer and the
ones below it. A module's layer is its longest prefix in the table (so `sources.export`
sits in `raw`, not `sources`), and a module the table does not place fails the test, so a
new one is placed on purpose.

| layer       | modules                                   | why there                          |
|-------------|-------------------------------------------|------------------------------------|
| foundations | errors, files, zips, storage, settings,   | no knowledge of Garmin data; every |
|             | layout, audit, run_lock, supervision      | layer may use them                 |
| fit         | fit/                                      | a FIT codec (bytes → frames): the  |
|             |                                           | export reads FIT files, so below   |
|             |                                           | sources                            |
| sources     | sources/ (connect, personal_api, the      | talk to Garmin and nothing else    |
|             | governor, breaker and gate)               |                                    |
| raw         | raw/, sources/export, sources/selection   | what is fetched and kept: the      |
|             |                                           | export is pushed, not fetched, and |
|             |                                           | lands in raw itself; selection     |
|             |                                           | picks the source a feed is fetched |
|             |                                           | from                               |
| lake        | lake/                                     | raw → validated Parquet            |
| feeds       | feeds.py                                  | what a feed is: raw's `RawFeed` +  |
|             |                                           | the lake's `LakeFeed` + its docs   |
| domains     | domains/                                  | each domain's feeds: fetch, parse, |
|             |                                           | columns                            |
| catalog     | catalog.py                                | the one list of feeds and datasets |
| warehouse   | warehouse/                                | dbt wiring, sources, dictionary    |
| report      | report/                                   | the HTML report                    |
| operations  | status, forget, portable_export           | whole-installation tasks           |
| cli         | cli, __main__                             | the command line                   |

Outside the layers: `garmin_pipeline` never imports Dagster, the Dagster wiring (`assets`),
the emulator or its web server; the one exception is `cli`'s commands that start the
emulator (`demo`, `emulator`), which import `garmin_emulator` inside the command. The
emulator may import `garmin_pipeline`, never Dagster or `assets`; `assets` may import both.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast

REPO = Path(__file__).resolve().parents[1]

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundations",
        (
            "garmin_pipeline",  # the package itself: only its version and docstring
            "garmin_pipeline.errors",
            "garmin_pipeline.files",
            "garmin_pipeline.zips",
            "garmin_pipeline.storage",
            "garmin_pipeline.settings",
            "garmin_pipeline.layout",
            "garmin_pipeline.audit",
            "garmin_pipeline.run_lock",
            "garmin_pipeline.supervision",
        ),
    ),
    ("fit", ("garmin_pipeline.fit",)),
    ("sources", ("garmin_pipeline.sources",)),
    (
        "raw",
        (
            "garmin_pipeline.raw",
            "garmin_pipeline.sources.export",
            "garmin_pipeline.sources.selection",
        ),
    ),
    ("lake", ("garmin_pipeline.lake",)),
    ("feeds", ("garmin_pipeline.feeds",)),
    ("domains", ("garmin_pipeline.domains",)),
    ("catalog", ("garmin_pipeline.catalog",)),
    ("warehouse", ("garmin_pipeline.warehouse",)),
    ("report", ("garmin_pipeline.report",)),
    (
        "operations",
        ("garmin_pipeline.status", "garmin_pipeline.forget", "garmin_pipeline.portable_export"),
    ),
    ("cli", ("garmin_pipeline.cli", "garmin_pipeline.__main__")),
)

# Top-level packages a package must never import (a name or its submodules).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "garmin_pipeline": (
        "dagster",
        "dagster_*",
        "assets",
        "garmin_emulator",
        "starlette",
        "uvicorn",
    ),
    "garmin_emulator": ("dagster", "dagster_*", "assets"),
}
# (importing module, forbidden package) allowed inside a function only: the commands that
# start the emulator (`demo`, `emulator`) are the one place the library reaches for it.
LAZY_EXCEPTIONS = frozenset({("garmin_pipeline.cli", "garmin_emulator")})


@dataclass(frozen=True)
class Import:
    importer: str  # the module the import is written in
    target: str  # the module imported (for `from a import b`: `a.b` when that is a module)
    line: int
    lazy: bool  # inside a function (or a class body), not at module level


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Every module of `package` under `root`, by dotted name (a package by its own name)."""
    names = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imports_of(name: str, path: Path, modules: Mapping[str, Path]) -> Iterator[Import]:
    """Each import `path` writes, wherever it is written, its relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node, lazy in _import_nodes(tree.body, lazy=False):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno, lazy)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, *([node.module] if node.module else [])])
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            yield Import(name, submodule if submodule in modules else base, node.lineno, lazy)


def _import_nodes(
    body: Iterable[ast.stmt], lazy: bool
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, lazy
            continue
        inner = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                yield from _import_nodes([child], inner)
            elif isinstance(child, ast.excepthandler | ast.match_case):
                yield from _import_nodes(child.body, inner)


def layer_of(module: str, layers: Sequence[tuple[str, tuple[str, ...]]]) -> int | None:
    """The index of the layer with the longest prefix of `module`; a package's own name
    (the first prefix of the lowest layer) places only itself."""
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, (_, prefixes) in enumerate(layers):
        for prefix in prefixes:
            root_only = prefix == layers[0][1][0]
            placed = module == prefix or (not root_only and module.startswith(prefix + "."))
            if placed and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def _matches(target: str, patterns: Iterable[str]) -> str | None:
    top = target.split(".")[0]
    for pattern in patterns:
        if top == pattern or (pattern.endswith("*") and top.startswith(pattern[:-1])):
            return top if not pattern.endswith("*") else pattern
    return None


def forbidden_imports(
    root: Path,
    package: str,
    forbidden: Mapping[str, Sequence[str]] = FORBIDDEN,
    lazy_exceptions: frozenset[tuple[str, str]] = LAZY_EXCEPTIONS,
) -> list[str]:
    """Every import `package` writes of a package it must never import; one line each."""
    modules = module_names(root, package)
    problems: dict[str, None] = {}  # in order, each once
    for name, path in modules.items():
        for item in imports_of(name, path, modules):
            banned = _matches(item.target, forbidden.get(package, ()))
            excused = item.lazy and (name, item.target.split(".")[0]) in lazy_exceptions
            if banned is not None and not excused:
                problems[f"{name}:{item.line} imports {item.target} ({banned})"] = None
    return list(problems)


def layering_problems(
    root: Path,
    package: str,
    layers: Sequence[tuple[str, tuple[str, ...]]],
    forbidden: Mapping[str, Sequence[str]] = FORBIDDEN,
    lazy_exceptions: frozenset[tuple[str, str]] = LAZY_EXCEPTIONS,
) -> list[str]:
    """Every module no layer places, every import of `package` that goes up a layer or to a
    forbidden package, and every import cycle; one line each."""
    modules = module_names(root, package)
    problems: dict[str, None] = {  # in order, each once
        f"{name}: in no layer; place it in the layer table": None
        for name in modules
        if layer_of(name, layers) is None
    }
    problems |= dict.fromkeys(forbidden_imports(root, package, forbidden, lazy_exceptions))
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for item in imports_of(name, path, modules):
            if item.target not in modules:
                continue
            graph[name].add(item.target)
            mine, theirs = layer_of(name, layers), layer_of(item.target, layers)
            if mine is not None and theirs is not None and theirs > mine:
                up = f"up from {layers[mine][0]} to {layers[theirs][0]}"
                problems[f"{name}:{item.line} imports {item.target}, {up}"] = None
    problems |= dict.fromkeys(f"import cycle among {', '.join(c)}" for c in cycles(graph))
    return list(problems)


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_library_imports_only_down_its_layers():
    assert layering_problems(REPO, "garmin_pipeline", LAYERS) == []


def test_the_emulator_imports_neither_dagster_nor_the_wiring():
    assert forbidden_imports(REPO, "garmin_emulator") == []


def write_package(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


TOY_LAYERS = (("base", ("toy", "toy.base")), ("mid", ("toy.mid",)), ("top", ("toy.top",)))
TOY = {
    "toy/__init__.py": "",
    "toy/base.py": "import json\n",
    "toy/mid/__init__.py": "from toy import base\n",
    "toy/mid/parts.py": "from . import helpers\nfrom ..base import json\n",
    "toy/mid/helpers.py": "",
    "toy/top.py": "from toy.mid.parts import helpers\n",
}


def test_a_well_layered_toy_package_passes(tmp_path):
    write_package(tmp_path, TOY)
    assert layering_problems(tmp_path, "toy", TOY_LAYERS, {"toy": ("dagster",)}) == []


def test_an_upward_import_is_named_even_inside_a_function(tmp_path):
    """The checker itself can fail: an injected upward import, hidden in a function."""
    lazy_upward = "def late():\n    from toy.top import helpers\n    return helpers\n"
    write_package(tmp_path, TOY | {"toy/base.py": lazy_upward})
    assert layering_problems(tmp_path, "toy", TOY_LAYERS) == [
        "toy.base:2 imports toy.top, up from base to top",
        "import cycle among toy.base, toy.mid.parts, toy.top",
    ]


def test_an_upward_import_under_type_checking_and_a_relative_one_count(tmp_path):
    checking = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from toy import top\n"
    write_package(
        tmp_path, TOY | {"toy/mid/helpers.py": checking, "toy/mid/parts.py": "from .. import top\n"}
    )
    assert layering_problems(tmp_path, "toy", TOY_LAYERS) == [
        "toy.mid.helpers:3 imports toy.top, up from mid to top",
        "toy.mid.parts:1 imports toy.top, up from mid to top",
        "import cycle among toy.mid.parts, toy.top",
    ]


def test_a_cycle_within_one_layer_and_an_unplaced_module_fail(tmp_path):
    write_package(
        tmp_path,
        TOY
        | {
            "toy/mid/helpers.py": "try:\n    import toy.mid.parts\nexcept ImportError:\n    pass\n",
            "toy/stray.py": "",
        },
    )
    assert layering_problems(tmp_path, "toy", TOY_LAYERS) == [
        "toy.stray: in no layer; place it in the layer table",
        "import cycle among toy.mid.helpers, toy.mid.parts",
    ]


def test_a_forbidden_package_is_named_and_only_the_lazy_exception_passes(tmp_path):
    eager = "import dagster_dbt\nimport emu.server\n"
    lazy = "def demo():\n    import emu\n    return emu\n"
    write_package(tmp_path, TOY | {"toy/base.py": eager, "toy/top.py": lazy})
    forbidden = {"toy": ("dagster_*", "emu")}
    assert layering_problems(tmp_path, "toy", TOY_LAYERS, forbidden, frozenset()) == [
        "toy.base:1 imports dagster_dbt (dagster_*)",
        "toy.base:2 imports emu.server (emu)",
        "toy.top:2 imports emu (emu)",
    ]
    excused = frozenset({("toy.top", "emu")})
    assert layering_problems(tmp_path, "toy", TOY_LAYERS, forbidden, excused) == [
        "toy.base:1 imports dagster_dbt (dagster_*)",
        "toy.base:2 imports emu.server (emu)",
    ]
