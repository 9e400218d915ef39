"""The settings object: `.env` and the environment, one line per bad value, secrets kept out,
and the same resolved object reaching the CLI and the Dagster resources."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from assets.resources import GarminConnect, resources_from_settings
from garmin_pipeline.catalog import feed
from garmin_pipeline.raw.freshness import Freshness
from garmin_pipeline.settings import (
    InstallationSettings,
    Settings,
    SettingsError,
    settings_reference,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A working directory of its own, and no GARMIN_* variable inherited from the tests'."""
    for name in [n for n in os.environ if n.startswith("GARMIN_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_dotenv(folder: Path, **values: str) -> None:
    lines = [f"GARMIN_{name.upper()}={value}" for name, value in values.items()]
    (folder / ".env").write_text("\n".join(lines) + "\n")


def test_dotenv_reaches_the_settings_and_the_resources_the_ui_loads(workdir):
    write_dotenv(
        workdir,
        data_dir=str(workdir / "elsewhere"),
        api_url="http://127.0.0.1:9",
        provisional_days="sleep=3",
        history_start="2023-05-01",
    )
    settings = Settings.from_env()
    assert settings.data_dir == workdir / "elsewhere"
    assert settings.history_start == date(2023, 5, 1)
    assert settings.request_interval_s == 0.0  # loopback: the default follows the .env's URL
    # The code location builds its resources from this same object.
    resources = resources_from_settings(settings)
    garmin = resources["garmin"]
    assert isinstance(garmin, GarminConnect)
    assert Path(resources["data_dir"].path) == workdir / "elsewhere"  # type: ignore[attr-defined]
    assert garmin.settings.api_url == "http://127.0.0.1:9"
    assert garmin.settings.provisional_days == {"sleep": 3}


def test_the_environment_beats_dotenv(workdir, monkeypatch):
    write_dotenv(workdir, history_start="2021-01-01", token_warn_days="3")
    monkeypatch.setenv("GARMIN_HISTORY_START", "2022-02-02")
    settings = Settings.from_env()
    assert settings.history_start == date(2022, 2, 2)
    assert settings.token_warn_days == 3.0  # only in .env: from there


def run_cli_in(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GARMIN_")}
    return subprocess.run(
        [sys.executable, "-m", "garmin_pipeline", *args],
        cwd=folder,
        env={**clean, "PYTHONPATH": str(REPO_ROOT), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_cli_reads_the_same_dotenv_and_the_environment_wins(workdir):
    write_dotenv(workdir, data_dir=str(workdir / "from-dotenv"), tokens=str(workdir / "tokens"))
    status = run_cli_in(workdir, {}, "status")
    assert status.returncode == 0, status.stderr
    assert f"data dir:   {workdir / 'from-dotenv'}\n" in status.stdout
    env = {"GARMIN_DATA_DIR": str(workdir / "from-env")}
    status = run_cli_in(workdir, env, "status")
    assert status.returncode == 0, status.stderr
    assert f"data dir:   {workdir / 'from-env'}\n" in status.stdout


def test_a_malformed_dotenv_value_is_one_line_naming_the_variable(workdir):
    write_dotenv(workdir, request_interval_s="fast")
    with pytest.raises(SettingsError) as raised:
        Settings.from_env()
    assert str(raised.value) == (
        "GARMIN_REQUEST_INTERVAL_S='fast' is not seconds between 0 and 3600, e.g. 1"
    )
    failed = run_cli_in(workdir, {}, "status")
    assert (failed.returncode, failed.stderr) == (1, f"Error: {raised.value}\n")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"GARMIN_HISTORY_START": "2020-13-01"},
            "GARMIN_HISTORY_START='2020-13-01' is not a day as YYYY-MM-DD, e.g. 2020-01-01",
        ),
        (
            {"GARMIN_HISTORY_START": "last year"},
            "GARMIN_HISTORY_START='last year' is not a day as YYYY-MM-DD, e.g. 2020-01-01",
        ),
        (
            {"GARMIN_REQUEST_INTERVAL_S": "-1"},
            "GARMIN_REQUEST_INTERVAL_S='-1' is not seconds between 0 and 3600, e.g. 1",
        ),
        (
            {"GARMIN_RETENTION_DAYS": "soon"},
            "GARMIN_RETENTION_DAYS='soon' is not a whole number of days, e.g. 365",
        ),
        (
            {"GARMIN_PROVISIONAL_DAYS": "=3"},
            "GARMIN_PROVISIONAL_DAYS item '=3' is not feed=days, e.g. sleep=3",
        ),
        (
            {"GARMIN_FEED_SOURCES": "sleep=garmin"},
            "GARMIN_FEED_SOURCES item 'sleep=garmin' is not feed=source with source connect or "
            "personal_api, e.g. sleep=connect",
        ),
    ],
)
def test_a_malformed_value_is_one_settings_error_line(env, message):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)
    assert str(raised.value) == message


def test_secrets_stay_out_of_the_settings_and_the_resources(workdir, monkeypatch):
    secrets = {"PASSWORD": "hunter2-password", "PERSONAL_API_KEY": "pk-secret-value"}
    write_dotenv(workdir, email="me@example.com", password=secrets["PASSWORD"])
    monkeypatch.setenv("GARMIN_PERSONAL_API_KEY", secrets["PERSONAL_API_KEY"])
    settings = Settings.from_env()
    assert settings.source_mode == "hybrid"  # the key is seen, as set up...
    resources = resources_from_settings(settings)
    shown = [repr(settings), str(settings), settings.model_dump_json()]
    shown += [repr(resource) for resource in resources.values()]
    for secret in secrets.values():
        assert not [text for text in shown if secret in text]  # ...and never carried


def test_the_resource_resolves_its_settings_once(workdir, monkeypatch):
    garmin = resources_from_settings(Settings.from_env({"GARMIN_REQUEST_TIMEOUT_S": "20"}))[
        "garmin"
    ]
    assert isinstance(garmin, GarminConnect)
    first = garmin.settings
    monkeypatch.setenv("GARMIN_REQUEST_TIMEOUT_S", "30")  # the environment is not read again
    assert garmin.settings is first
    assert garmin.settings_for(first.account).request_timeout_s == first.request_timeout_s


def test_provisional_days_are_a_mapping_from_the_variable_to_freshness():
    settings = Settings.from_env({"GARMIN_PROVISIONAL_DAYS": "sleep=5"})
    garmin = resources_from_settings(settings)["garmin"]
    assert isinstance(garmin, GarminConnect)
    assert garmin.provisional_days == {"sleep": 5}  # the resource's config: a typed mapping
    freshness = Freshness(
        timezone=ZoneInfo("UTC"),
        now=datetime(2024, 6, 30, tzinfo=UTC),
        last_upload=None,
        provisional_overrides=garmin.settings.provisional_days,
    )
    assert freshness.provisional_days(feed("sleep")) == 5
    assert freshness.provisional_days(feed("hrv")) == feed("hrv").provisional_days


def test_each_setting_has_its_help_text_in_its_section():
    installation = set(InstallationSettings.model_fields)
    account = set(Settings.model_fields) - installation
    assert {"data_dir", "api_url", "history_start", "accounts", "tokens"} <= installation
    assert account == {"account", "personal_api_key_file"}
    undocumented = [n for n, f in Settings.model_fields.items() if not (f.description or "")]
    assert undocumented == []


def test_the_readme_lists_the_settings_as_declared():
    """The README's table is generated from the fields (`settings_reference`): regenerate it
    when a setting changes, never edit it by hand."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- settings:start -->\n", "<!-- settings:end -->"
    shown = readme[readme.index(start) + len(start) : readme.index(end)]
    assert shown == settings_reference()
    assert shown.count("\n| `GARMIN_") == len(Settings.model_fields)
