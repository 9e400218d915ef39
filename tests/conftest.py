"""Shared fixtures: a synthetic athlete, the emulator serving it, and one real end-to-end sync;
and the two test tiers.

Tiers: a test marked ``fast`` (``pytestmark = pytest.mark.fast`` for a whole module, or
``@pytest.mark.fast`` on one test) is pure: functions, parsers, the catalog, in this process.
``make test-fast`` (``pytest -m fast``) runs only those, for a loop of well under a minute;
``make test`` runs everything. A test without the mark is in the full tier only, so a new
module is never fast by accident. The mark is checked, not trusted: while a fast test (its
fixtures included) runs, starting a network server (the emulator), a child process other than
a ``python -c`` probe (a sync, dbt, chromium) or Dagster fails it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keyring
import keyring.backend
import pytest
from garminconnect import Garmin
from requests.adapters import HTTPAdapter

from garmin_emulator import Emulator, FaultPlan, SyntheticAthlete

if TYPE_CHECKING:
    import dagster as dg

REPO_ROOT = Path(__file__).resolve().parents[1]
CONNECTAPI = "https://connectapi.garmin.com"
TOKEN_PATH = "/di-oauth2-service/oauth/token"
# Two weeks is enough for every sport the athlete does; fixed dates keep the oracle stable.
ATHLETE_END = date(2024, 6, 30)
ATHLETE_DAYS = 21


# ---- the two tiers ----------------------------------------------------------------------------
FAST = "fast"
# How a module spells the mark; `-m fast` skips importing modules without it (their imports and
# module-level data cost seconds each, and none of their tests could be selected).
FAST_MARK = "pytest.mark.fast"
_INET = (socket.AF_INET, socket.AF_INET6)


class NotAFastTest(RuntimeError):
    """A test marked fast started what only the full tier may: a server, a child, Dagster."""


_running_fast: list[str] = []  # the node id of the fast test running now, if one is
_violations: list[str] = []  # what it started (recorded too, in case the code caught the error)


def _python_probe(argv: Any) -> bool:
    """`python -c CODE`: an import probe in a clean interpreter, not a sync."""
    return (
        isinstance(argv, list | tuple)
        and len(argv) >= 2
        and Path(str(argv[0])).name.startswith("python")
        and argv[1] == "-c"
    )


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _running_fast:
        return
    if event == "socket.bind" and getattr(args[0], "family", None) in _INET:
        what = f"a server bound {args[1]!r}"
    elif event == "subprocess.Popen" and not _python_probe(args[1]):
        what = f"a child process {args[1]!r}"
    else:
        return
    _violations.append(what)
    raise NotAFastTest(f"{_running_fast[0]} is marked fast but started {what}")


def pytest_configure(config: pytest.Config) -> None:
    sys.addaudithook(_audit)  # once per process; inert unless a fast test runs


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if config.option.markexpr != FAST or collection_path.suffix != ".py":
        return None
    if not collection_path.name.startswith("test_"):
        return None
    return FAST_MARK not in collection_path.read_text(encoding="utf-8") or None


@contextlib.contextmanager
def _guarded(item: pytest.Item) -> Iterator[None]:
    if item.get_closest_marker(FAST) is None:
        yield
        return
    had_dagster = "dagster" in sys.modules
    _running_fast.append(item.nodeid)
    try:
        yield
    finally:
        _running_fast.clear()
    if not had_dagster and "dagster" in sys.modules:
        _violations.append("Dagster (it imported dagster)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    _violations.clear()
    with _guarded(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with _guarded(item):
        result = yield
    if _violations:
        pytest.fail(f"marked fast but started {'; '.join(_violations)}", pytrace=False)
    return result


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long-running modules first: with `make test`'s workers they then overlap the rest,
    instead of starting last and running alone (the order within each group is kept)."""
    items.sort(key=lambda item: item.get_closest_marker("long_running") is None)


@pytest.fixture(scope="session")
def athlete() -> SyntheticAthlete:
    return SyntheticAthlete(seed=7, end_date=ATHLETE_END, days=ATHLETE_DAYS)


@pytest.fixture(scope="session")
def emulator(athlete):
    with Emulator(athlete, port=0) as emu:
        yield emu


@dataclass
class SyncRun:
    env: dict[str, str]
    data_dir: Path
    dagster_home: Path
    completed: subprocess.CompletedProcess
    requests: list  # the emulator's request log for this run
    tokens_before: dict[str, str] | None = None  # the token store as the emulator wrote it
    run_ids: tuple[str, ...] = ()  # the Dagster runs in DAGSTER_HOME right after this sync


def run_cli(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout_s: float = 600
) -> subprocess.CompletedProcess:
    """The installed CLI, as a user runs it (a child process with its own environment); with
    `stdin`, the typed answers to its prompts, detached from any terminal. The timeout only
    stops a hung test; it is no speed target (those live in bench/)."""
    return subprocess.run(
        [sys.executable, "-m", "garmin_pipeline", *args],
        cwd=REPO_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout_s,
        start_new_session=stdin is not None,  # no controlling terminal: answers from stdin
    )


def pipeline_env(
    emu: Emulator, root: Path, token_ttl_s: int = 3600, source: str | None = None
) -> dict[str, str]:
    """The environment a sync against `emu` runs with. `source` sets GARMIN_SOURCE (and, for a
    mode using the Personal API, the emulator's key); None keeps the default: no key, connect."""
    tokens = emu.write_token_store(root / "tokens" / "garmin_tokens.json", access_ttl_s=token_ttl_s)
    inherited = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GARMIN_SOURCE", "GARMIN_PERSONAL_API_KEY", "GARMIN_FEED_SOURCES")
    }
    return {
        **inherited,
        "GARMIN_DATA_DIR": str(root / "data"),
        "GARMIN_API_URL": emu.base_url,
        "GARMIN_TOKENS": str(tokens),
        "GARMIN_HISTORY_START": "2024-01-01",
        "DAGSTER_HOME": str(root / "dagster_home"),
        # Never the user's own key file (~/.config/garmin/...): nothing there here.
        "GARMIN_PERSONAL_API_KEY_FILE": str(root / "tokens" / "personal-api-key"),
        **(
            {"GARMIN_SOURCE": source, "GARMIN_PERSONAL_API_KEY": emu.personal_api_key}
            if source is not None
            else {}
        ),
    }


@pytest.fixture(scope="session")
def synced(emulator, athlete, tmp_path_factory) -> SyncRun:
    """One full sync of the athlete's history through the CLI, shared by the e2e tests."""
    root = tmp_path_factory.mktemp("e2e")
    # A token that expires within garminconnect's 15-minute margin: the first call refreshes it.
    env = pipeline_env(emulator, root, token_ttl_s=60)
    tokens_before = json.loads(Path(env["GARMIN_TOKENS"]).read_text())
    emulator.clear_request_log()
    completed = run_cli(
        env, "sync", "--start", str(athlete.first_day), "--end", str(athlete.last_day)
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    requests = emulator.request_log
    return SyncRun(
        env,
        root / "data",
        root / "dagster_home",
        completed,
        requests,
        tokens_before,
        run_ids(root / "dagster_home"),
    )


def run_ids(dagster_home: Path) -> tuple[str, ...]:
    """The ids of the Dagster runs recorded in `dagster_home`, newest first."""
    import dagster as dg  # here, not above: the fast tier never loads Dagster

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        return tuple(run.run_id for run in instance.get_runs())


def source_for(emu: Emulator, root: Path):
    """The pipeline's Connect source (the real garminconnect client) logged in to `emu`, as
    the feeds use it."""
    from garmin_pipeline.settings import Settings
    from garmin_pipeline.sources.connect.client import ConnectSource

    tokens = emu.write_token_store(root / "garmin_tokens.json")
    settings = Settings.from_env(
        {
            "GARMIN_DATA_DIR": str(root / "data"),
            "GARMIN_API_URL": emu.base_url,
            "GARMIN_TOKENS": str(tokens),
        }
    )
    return ConnectSource(settings)


@pytest.fixture(scope="session")
def connect_source(emulator, tmp_path_factory):
    """The pipeline's Connect source, logged in to the session emulator."""
    return source_for(emulator, tmp_path_factory.mktemp("source"))


@contextlib.contextmanager
def fault_plan(emu: Emulator) -> Iterator[FaultPlan]:
    """The emulator's fault plan, empty before and after: the session emulator is shared."""
    emu.faults.clear()
    try:
        yield emu.faults
    finally:
        emu.faults.clear()


class _ToEmulator(HTTPAdapter):
    """Test-only stand-in for the production transport adapter: rewrite the API host."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def send(self, request, **kwargs):  # type: ignore[override]
        request.url = self.base_url + request.url[len(CONNECTAPI) :]
        return super().send(request, **kwargs)


def client_for(emu: Emulator) -> Garmin:
    """The bare garminconnect client (no retries), its API session and its DI token refresh
    pointed at the emulator: for tests about what a client sees, without our source."""
    garmin = Garmin()
    garmin.retry_attempts = 0
    garmin.client._api_session.mount(CONNECTAPI, _ToEmulator(emu.base_url))
    garmin.client._di_token_url = emu.base_url + TOKEN_PATH
    return garmin


def bearer(emu: Emulator) -> dict[str, str]:
    """An Authorization header with a fresh access token from the emulator's authority."""
    return {"Authorization": f"Bearer {emu.tokens.issue()['access_token']}"}


class MemoryKeyring(keyring.backend.KeyringBackend):
    """Test stand-in for the system keyring (none exists in a test sandbox)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def latest_check(dagster_home: Path, asset: list[str], check: str) -> dg.AssetCheckEvaluation:
    """The latest evaluation of an asset's check, as a sync recorded it in DAGSTER_HOME."""
    import dagster as dg  # here, not above: the fast tier never loads Dagster

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        key = dg.AssetCheckKey(dg.AssetKey(asset), check)
        (record,) = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
        return record.event.dagster_event.event_specific_data
