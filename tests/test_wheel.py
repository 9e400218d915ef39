"""The package works from a regular install: a wheel built from this checkout, installed (not
editable) into a fresh venv, runs `garmin-pipeline --help` and a demo sync from a folder that
is no checkout. It finds its code location, instance config and dbt project in the wheel, and
writes only under its working directory (the data directory and DAGSTER_HOME's defaults).

Hermetic and offline: the build uses the installed setuptools (no build isolation), and the
fresh venv sees the test venv's packages through a path file (only the project itself is
installed into it; the test venv's editable install is a .pth hook, which a path file does not
run), so nothing is downloaded.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.long_running

DEMO_DAYS = 3
# What the wheel is built from; build/ and *.egg-info are written beside them, so the build
# runs on a copy and leaves the checkout as it was.
SOURCES = (
    "pyproject.toml",
    "setup.py",
    "README.md",
    "garmin_pipeline",
    "garmin_emulator",
    "assets",
    "dbt",
)
NOT_SOURCES = shutil.ignore_patterns("__pycache__", "*.pyc", "target", "logs", "dbt_packages")


PIP = [sys.executable, "-m", "pip", "--quiet", "--no-input"]


def pip_env() -> dict[str, str]:
    """pip's environment: without PYTHONPATH (the checkout's packages would count as
    installed) and without the deprecation notices of a build without isolation."""
    kept = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    return {**kept, "PYTHONWARNINGS": "ignore"}


def build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=NOT_SOURCES)
        else:
            shutil.copyfile(path, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            *PIP,
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
        env=pip_env(),
        timeout=300,
    )
    (wheel,) = wheels.glob("garmin_pipeline-*.whl")
    return wheel


def fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    """A venv holding only the wheel (non-editable), with the test venv's other packages on
    its path, and dbt's console script as installing dbt-core would write it."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "test-venv-packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [*PIP, "--python", str(python), "install", "--no-index", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        env=pip_env(),
        timeout=300,
    )
    assert (site / "garmin_pipeline").is_dir() and (site / "assets").is_dir()
    dbt = venv / "bin" / "dbt"
    dbt.write_text(f"#!{python}\nimport sys\nfrom dbt.cli.main import cli\nsys.exit(cli())\n")
    dbt.chmod(0o755)
    return venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp_path = tmp_path_factory.mktemp("wheel")
    return fresh_venv(tmp_path, build_wheel(tmp_path))


def user_env(home: Path) -> dict[str, str]:
    """A user's environment: no setting of ours, no PYTHONPATH pointing at the checkout."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GARMIN_", "DAGSTER_", "PYTHON", "VIRTUAL_ENV"))
    }
    return {
        **kept,
        "HOME": str(home),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def test_the_wheel_is_imported_from_its_install_not_the_checkout(installed, tmp_path):
    script = textwrap.dedent(
        """
        import assets, garmin_pipeline
        from garmin_pipeline.warehouse.dbt_project import DBT_PROJECT_DIR
        print(garmin_pipeline.__file__, assets.__file__, DBT_PROJECT_DIR, sep="\\n")
        """
    )
    completed = subprocess.run(
        [str(installed / "bin" / "python"), "-c", script],
        cwd=tmp_path,
        env=user_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    library, code_location, dbt_project = map(Path, completed.stdout.split())
    site = installed / "lib"
    assert library.is_relative_to(site) and code_location.is_relative_to(site)
    assert dbt_project == library.parent / "warehouse" / "dbt"
    shipped = sorted(p.relative_to(dbt_project) for p in dbt_project.rglob("*") if p.is_file())
    in_checkout = sorted(
        p.relative_to(REPO_ROOT / "dbt")
        for folder in ("models", "macros", "tests", "analyses")
        for p in (REPO_ROOT / "dbt" / folder).rglob("*")
        if p.is_file()
    )
    assert shipped == sorted([*in_checkout, Path("dbt_project.yml"), Path("profiles.yml")])


def test_help_and_a_demo_sync_run_from_the_installed_wheel(installed, tmp_path):
    cli = str(installed / "bin" / "garmin-pipeline")
    cwd = tmp_path / "somewhere"
    # A folder of the user's named like the code location must not stand in for it.
    (cwd / "assets").mkdir(parents=True)
    (cwd / "assets" / "__init__.py").write_text("raise ImportError('the user folder was run')\n")
    env = user_env(tmp_path)

    helped = subprocess.run([cli, "--help"], cwd=cwd, env=env, capture_output=True, text=True)
    assert helped.returncode == 0, helped.stderr
    assert "sync" in helped.stdout and "demo" in helped.stdout

    demo = subprocess.run(
        [cli, "demo", "--days", str(DEMO_DAYS)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert demo.returncode == 0, (demo.stdout + demo.stderr)[-3000:]
    # Defaults relative to the working directory, not to where the package is installed.
    data, home = cwd / "data" / "demo", cwd / ".dagster_home"
    assert (home / "dagster.yaml").read_bytes() == (REPO_ROOT / "assets/dagster.yaml").read_bytes()
    last = date.today() - timedelta(days=1)
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as warehouse:
        days = warehouse.sql(
            "select min(calendar_date), max(calendar_date), count(distinct calendar_date) "
            "from fct_daily_health"
        ).fetchall()[0]
    assert days == (last - timedelta(days=DEMO_DAYS - 1), last, DEMO_DAYS)
    # dbt wrote its manifest, target and log into the data directory, nothing into the wheel.
    shipped = installed / "lib"
    written = [p for p in shipped.rglob("*") if p.name in ("target", "logs", "manifest.json")]
    assert written == []
    assert (data / "state" / "dbt-project" / "manifest.json").is_file()
