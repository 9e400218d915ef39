"""What gets installed, and with which interpreter: the hash lock, the FIT SDK's licence
boundary and scripts/find-python's choice.

- requirements.lock pins every package `.[dev]` installs, pip and setuptools included, each
  with `==` and its hashes, and is what this environment holds (so it cannot go stale);
- the library runs without Garmin's FIT SDK (under Garmin's FIT licence, an optional extra),
  and the emulator without it is a one-line error naming the extra;
- find-python takes the newest 3.12/3.13 and refuses one without the CVE-2024-0450 fix.
"""

from __future__ import annotations

import importlib.metadata
import os
import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import garmin_pipeline
from tests.conftest import REPO_ROOT

LOCK = REPO_ROOT / "requirements.lock"
BUILD_TOOLS = {"pip", "setuptools"}


def locked() -> dict[str, tuple[Requirement, list[str]]]:
    """name -> (requirement, its hashes), from the lock's `pkg==v \\ --hash=...` entries."""
    entries: dict[str, tuple[Requirement, list[str]]] = {}
    text = LOCK.read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, *options = line.split(" --")
        requirement = Requirement(spec.strip())
        hashes = [o.split("=", 1)[1].strip() for o in options if o.startswith("hash=")]
        entries[canonicalize_name(requirement.name)] = (requirement, hashes)
    return entries


@pytest.mark.fast
def test_every_locked_package_is_pinned_with_hashes():
    entries = locked()
    assert len(entries) > 100
    for name, (requirement, hashes) in entries.items():
        specs = list(requirement.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{name} is not pinned with =="
        assert hashes and all(h.startswith("sha256:") and len(h) == 71 for h in hashes), name
    assert set(entries) >= BUILD_TOOLS


@pytest.mark.fast
def test_the_build_backend_is_the_locked_setuptools():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (backend,) = pyproject["build-system"]["requires"]
    setuptools, _ = locked()["setuptools"]
    assert Requirement(backend).specifier == setuptools.specifier


@pytest.mark.fast
def test_the_lock_pins_every_direct_dependency_at_its_pyproject_version():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    extras = [spec for group in project["optional-dependencies"].values() for spec in group]
    direct = [*project["dependencies"], *extras]
    entries = locked()
    for spec in map(Requirement, direct):
        if canonicalize_name(spec.name) == "garmin-pipeline":
            continue  # dev's own extras
        pinned, _ = entries[canonicalize_name(spec.name)]
        assert pinned.specifier == spec.specifier, spec.name


@pytest.mark.fast
def test_the_environment_is_the_lock():
    """Each locked package is installed at the locked version (pip and setuptools where
    present: a venv made before the lock may lack setuptools), and nothing else but the
    project itself is."""
    entries = locked()
    for name, (requirement, _) in entries.items():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            assert name in BUILD_TOOLS, f"{name} is locked but not installed"
            continue
        assert requirement.specifier.contains(installed), (
            f"{name} {installed}: lock says {requirement}"
        )
    present = {canonicalize_name(d.metadata["Name"]) for d in importlib.metadata.distributions()}
    assert present - set(entries) <= {"garmin-pipeline"}


# ---------------------------------------------------------------------- the FIT SDK's licence
BLOCK_SDK = """
import importlib.abc, sys

class NoFitSdk(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "garmin_fit_sdk" or name.startswith("garmin_fit_sdk."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None

sys.meta_path.insert(0, NoFitSdk())
"""


def runtime_modules() -> list[str]:
    """Every module of the library and the Dagster wiring, but the emulator (and the demo,
    which runs it): what a user's install imports."""
    found = ["garmin_pipeline", "assets"]
    for package in ("garmin_pipeline", "assets"):
        root = REPO_ROOT / package
        for module in pkgutil.walk_packages([str(root)], prefix=f"{package}."):
            found.append(module.name)
    return [
        name
        for name in found
        if not name.startswith("garmin_emulator")
        and name not in ("garmin_emulator.demo", "garmin_pipeline.__main__")
    ]


def test_the_library_imports_without_the_fit_sdk():
    modules = runtime_modules()
    assert "garmin_pipeline.fit.wellness" in modules and "assets.definitions" in modules
    script = BLOCK_SDK + (
        "import importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "assert 'garmin_fit_sdk' not in sys.modules\n"
        "print('ok')\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip() == "ok"


def test_the_emulator_without_the_fit_sdk_is_a_one_line_error_naming_the_extra():
    script = (
        BLOCK_SDK
        + "from garmin_pipeline.cli import entry\nsys.argv = ['x', *sys.argv[1:]]\nentry()\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, "emulator", "--port", "0"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 1
    assert completed.stderr.count("\n") == 1, completed.stderr
    assert "garmin-pipeline[emulator]" in completed.stderr
    assert "Traceback" not in completed.stderr


BLOCK_WEB_SERVER = BLOCK_SDK.replace("NoFitSdk", "NoWebServer").replace(
    'if name == "garmin_fit_sdk" or name.startswith("garmin_fit_sdk."):',
    'if name.split(".")[0] in ("starlette", "uvicorn"):',
)


def test_the_demo_without_the_web_server_is_a_one_line_error_naming_the_extra(tmp_path):
    assert "NoWebServer" in BLOCK_WEB_SERVER and "uvicorn" in BLOCK_WEB_SERVER
    script = (
        BLOCK_WEB_SERVER
        + "from garmin_pipeline.cli import entry\nsys.argv = ['x', *sys.argv[1:]]\nentry()\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, "demo", "--days", "1"],
        cwd=tmp_path,
        env={**os.environ, "GARMIN_DEMO_DIR": str(tmp_path / "demo")},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 1
    assert completed.stderr.count("\n") == 1, completed.stderr
    assert "web server" in completed.stderr
    assert "pip install 'garmin-pipeline[emulator]'" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "demo").exists()


# ---------------------------------------------------------------------- scripts/find-python
STUB = """#!/bin/sh
case "$*" in *sys.version_info*) echo {version} ;; *) exit 1 ;; esac
"""


def find_python(tmp_path: Path, on_path: dict[str, str], pyenv: list[str], **env: str):
    """Run find-python where PATH holds only stub interpreters (`name -> version`) and the
    tools it uses, and PYENV_ROOT holds stub installations of `pyenv` versions."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sort", "tail", "ls"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    for name, version in on_path.items():
        (bin_dir / name).write_text(STUB.format(version=version))
        (bin_dir / name).chmod(0o755)
    root = tmp_path / "pyenv"
    for version in pyenv:
        stub = root / "versions" / version / "bin" / "python"
        stub.parent.mkdir(parents=True)
        stub.write_text(STUB.format(version=version))
        stub.chmod(0o755)
    environment = {"PATH": str(bin_dir), "PYENV_ROOT": str(root), "HOME": str(tmp_path), **env}
    return subprocess.run(
        ["/bin/bash", str(REPO_ROOT / "scripts" / "find-python")],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def test_find_python_takes_the_newest_safe_patch_release(tmp_path):
    found = find_python(
        tmp_path,
        {"python3.12": "3.12.1", "python3": "3.11.9"},
        ["3.11.7", "3.12.1", "3.12.10", "3.12.9", "3.13.2", "3.14.0"],
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(tmp_path / "pyenv/versions/3.13.2/bin/python")


def test_find_python_prefers_a_fixed_312_to_an_unfixed_one(tmp_path):
    found = find_python(tmp_path, {"python3.12": "3.12.1"}, ["3.12.2"])
    assert found.stdout.strip() == str(tmp_path / "pyenv/versions/3.12.2/bin/python")


@pytest.mark.parametrize("python", [None, "python3.12"])
def test_find_python_refuses_an_interpreter_without_the_zipfile_fix(tmp_path, python):
    env = {"PYTHON": python} if python else {}
    found = find_python(tmp_path, {"python3.12": "3.12.1"}, ["3.12.0", "3.11.7"], **env)
    assert found.returncode == 1
    assert found.stdout == ""
    assert found.stderr.count("\n") == 1
    assert "lacks zipfile's fix for CVE-2024-0450" in found.stderr
    assert "(3.12.1)" in found.stderr or "(3.12.0)" in found.stderr


def test_find_python_with_nothing_usable_says_what_to_install(tmp_path):
    found = find_python(tmp_path, {"python3": "3.11.2"}, [])
    assert found.returncode == 1
    assert "no Python 3.12 (>= 3.12.2) or 3.13 found" in found.stderr


@pytest.mark.fast
def test_garmin_pipeline_is_imported_from_this_checkout():
    assert Path(garmin_pipeline.__file__).parent == REPO_ROOT / "garmin_pipeline"
