"""Trust in authentication (issue 16): a refused credential is tried once per account until the
next `login`; the emulator never touches a token store it did not create; the token store is
read only when it is a private plain file of ours, its folders are never chmod-ed, concurrent
syncs share its rotating refresh token; no credential goes over plain http to another host.

Real components throughout: the CLI in child processes, real Dagster runs, the real
garminconnect and Personal API clients over HTTP to the emulator, real files. The only stand-in
is an in-memory keyring (none exists here), where a test needs one.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assets.raw import FETCHED_CHECK
from garmin_emulator import (
    DEFAULT_PERSONAL_API_KEY,
    Emulator,
    SyntheticAthlete,
)
from garmin_pipeline import audit
from garmin_pipeline.catalog import FEEDS
from garmin_pipeline.errors import RateLimitedError, SourceAuthError
from garmin_pipeline.feeds import CONNECT, PERSONAL_API
from garmin_pipeline.settings import Settings, SettingsError
from garmin_pipeline.sources.connect import ConnectSource
from garmin_pipeline.sources.connect.login import start_login
from garmin_pipeline.sources.connect.refusal import CredentialRefusedError, Refusals
from garmin_pipeline.sources.connect.tokens import private_dir, token_health
from tests.conftest import (
    ATHLETE_DAYS,
    ATHLETE_END,
    REPO_ROOT,
    TOKEN_PATH,
    latest_check,
    pipeline_env,
    run_cli,
)

EMAIL = "runner@example.com"
PASSWORD = "Pa55-w0rd-that-must-stay-secret"
WRONG_PASSWORD = "not-the-password-42"
LOGIN_PATH = "/mobile/api/login"
KEY_EXCHANGE = "/personal-api/personalapitoken-service/personal-api/personal-api-key/token"
DAY = ATHLETE_END.isoformat()


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """A private emulator with a password: these tests revoke its tokens and key."""
    athlete = SyntheticAthlete(seed=7, end_date=ATHLETE_END, days=ATHLETE_DAYS)
    with Emulator(athlete, port=0, credentials=(EMAIL, PASSWORD)) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def clean(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("GARMIN_EMAIL", "GARMIN_PASSWORD", "GARMIN_PERSONAL_API_KEY", "GARMIN_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GARMIN_LOGIN_DELAY_S", "0")
    emu.faults.clear()
    emu.personal_api.set_key(DEFAULT_PERSONAL_API_KEY)
    emu.clear_request_log()
    yield
    emu.faults.clear()
    emu.personal_api.set_key(DEFAULT_PERSONAL_API_KEY)


def sync(env: dict[str, str]) -> subprocess.CompletedProcess:
    return run_cli(env, "sync", "--start", DAY, "--end", DAY)


def sent(emu: Emulator) -> Counter[tuple[str, int]]:
    return Counter((r.path, r.status) for r in emu.request_log)


def stderr_lines(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.strip()]


def without_run(line: str) -> str:
    return line.rsplit(" (run ", 1)[0]


def settings_for(emu: Emulator, root: Path, **extra: str) -> Settings:
    return Settings.from_env(
        {
            "GARMIN_API_URL": emu.base_url,
            "GARMIN_TOKENS": str(root / "tokens" / "garmin_tokens.json"),
            "GARMIN_DATA_DIR": str(root / "data"),
            **extra,
        }
    )


def assert_every_feed_reported(dagster_home: Path, words: str) -> None:
    """Each raw asset's fetched check is red and names the refusal."""
    for feed in FEEDS:
        check = latest_check(dagster_home, ["raw", feed.name], FETCHED_CHECK)
        assert check.passed is False, feed.name
        assert words in (check.description or ""), feed.name


# ------------------------------------------------------------------ 1. one attempt per account
def test_a_refused_password_is_sent_once_and_then_not_until_the_next_login(emu, tmp_path):
    env = pipeline_env(emu, tmp_path)
    Path(env["GARMIN_TOKENS"]).unlink()  # no tokens: the sync logs in with the environment's
    env.update(GARMIN_EMAIL=EMAIL, GARMIN_PASSWORD=WRONG_PASSWORD, GARMIN_LOGIN_DELAY_S="0")
    assert len(FEEDS) == 25

    first = sync(env)
    assert first.returncode == 1, first.stderr[-3000:]
    assert sent(emu)[(LOGIN_PATH, 200)] == 1  # one credential login for 25 feeds
    (line,) = stderr_lines(first)
    assert line.startswith(
        "sync failed: Garmin refused the e-mail or password from the environment at "
    )
    assert "check them and run `garmin-pipeline login`; until then nothing is sent" in line
    assert WRONG_PASSWORD not in first.stdout + first.stderr
    assert_every_feed_reported(Path(env["DAGSTER_HOME"]), "Garmin refused the e-mail or password")

    emu.clear_request_log()
    second = sync(env)  # the morning schedule's next run, say
    assert second.returncode == 1
    assert emu.request_log == []  # nothing sent at all
    # The same line, naming the same refusal (only the run differs).
    assert [without_run(x) for x in stderr_lines(second)] == [without_run(line)]

    status = run_cli(env, "status")
    assert "tokens:     Garmin refused the e-mail or password from the environment" in (
        status.stdout
    )

    env["GARMIN_PASSWORD"] = PASSWORD
    logged_in = run_cli(env, "login")
    assert logged_in.returncode == 0, logged_in.stderr
    settings = Settings.from_env(env)
    assert Refusals(settings, CONNECT).get() is None
    assert token_health(settings, datetime.now(UTC)).status == "ok"
    lines = [(x["action"], x["outcome"], x["counts"]) for x in audit.read(settings.data_dir)]
    assert [line for line in lines if line[0] == "login"] == [
        ("login", "ok", {"mfa": 0, "source": "connect"})
    ]
    assert [line[:2] for line in lines if line[0] == "sync"] == [("sync", "failed")] * 2
    for secret in (PASSWORD, WRONG_PASSWORD):
        assert secret not in audit.audit_log_path(settings.data_dir).read_text()


def test_refused_tokens_cost_one_401_and_one_refresh_then_nothing(emu, tmp_path):
    """Without credentials to fall back on: the profile request meets the 401, the refresh is
    refused, and the request is not sent again with the refused token. That is the least the
    design allows: only Garmin can say the tokens are refused."""
    env = pipeline_env(emu, tmp_path)
    emu.faults.expire_tokens()  # the access token is refused...
    emu.tokens.revoke_refresh_tokens()  # ... and so is the refresh token
    first = sync(env)
    assert first.returncode == 1, first.stderr[-3000:]
    assert sent(emu) == {
        ("/userprofile-service/socialProfile", 401): 1,
        (TOKEN_PATH, 400): 1,
    }
    (line,) = stderr_lines(first)
    assert line.startswith("sync failed: Garmin refused the stored tokens at ")
    assert "run `garmin-pipeline login`" in line

    emu.clear_request_log()
    assert sync(env).returncode == 1
    assert emu.request_log == []


def test_a_revoked_personal_api_key_is_exchanged_once(emu, tmp_path):
    env = pipeline_env(emu, tmp_path, source="personal_api")
    emu.personal_api.revoke_key()
    first = sync(env)
    assert first.returncode == 1, first.stderr[-3000:]
    assert sent(emu) == {(KEY_EXCHANGE, 401): 1}
    (line,) = stderr_lines(first)
    assert line.startswith(
        "sync failed: Garmin refused the Personal API key from GARMIN_PERSONAL_API_KEY "
        "(HTTP 401: expired or revoked?) at "
    )
    assert "run `garmin-pipeline login --personal-api`" in line
    assert DEFAULT_PERSONAL_API_KEY not in first.stdout + first.stderr

    emu.clear_request_log()
    assert sync(env).returncode == 1
    assert emu.request_log == []
    status = run_cli(env, "status")
    assert "personal api key: Garmin refused the Personal API key" in status.stdout

    # A new key, checked by `login --personal-api`, clears it; the audit log says so.
    emu.personal_api.set_key(DEFAULT_PERSONAL_API_KEY)
    login = run_cli(env, "login", "--personal-api", "--expires", "90")
    assert login.returncode == 0, login.stderr
    settings = Settings.from_env(env)
    assert Refusals(settings, PERSONAL_API).get() is None
    (line,) = [x for x in audit.read(settings.data_dir) if x["action"] == "key_change"]
    assert (line["action"], line["outcome"], line["counts"]["kept_in"]) == (
        "key_change",
        "ok",
        "environment",
    )


def test_login_with_a_wrong_key_is_audited_refused_and_records_no_refusal(emu, tmp_path):
    env = {**pipeline_env(emu, tmp_path), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    env.pop("GARMIN_PERSONAL_API_KEY", None)
    done = run_cli(env, "login", "--personal-api", "--expires", "90", stdin="not-the-key\n")
    assert done.returncode == 1
    settings = Settings.from_env(env)
    assert Refusals(settings, PERSONAL_API).get() is None  # an interactive try: not a sync's
    assert [(x["action"], x["outcome"]) for x in audit.read(settings.data_dir)] == [
        ("key_change", "refused")
    ]
    assert "not-the-key" not in audit.audit_log_path(settings.data_dir).read_text()


def test_a_wrong_password_at_login_is_audited_refused(emu, tmp_path):
    env = {**pipeline_env(emu, tmp_path), "GARMIN_EMAIL": EMAIL, "GARMIN_PASSWORD": "nope-123"}
    done = run_cli(env, "login")
    assert done.returncode == 1
    data_dir = Settings.from_env(env).data_dir
    assert [(x["action"], x["outcome"]) for x in audit.read(data_dir)] == [("login", "refused")]
    assert "nope-123" not in audit.audit_log_path(data_dir).read_text()


def test_a_429_before_refused_tokens_records_no_refusal_and_sends_no_password(
    emu, tmp_path, monkeypatch
):
    monkeypatch.setenv("GARMIN_EMAIL", EMAIL)
    monkeypatch.setenv("GARMIN_PASSWORD", PASSWORD)
    settings = settings_for(emu, tmp_path)
    emu.write_token_store(settings.token_store, access_ttl_s=0)  # refreshes first
    emu.faults.add(TOKEN_PATH, 429, times=None)
    with pytest.raises(RateLimitedError):
        ConnectSource(settings).display_name  # noqa: B018
    assert LOGIN_PATH not in [r.path for r in emu.request_log]
    assert Refusals(settings, CONNECT).get() is None  # the cooldown, not a refusal


def test_a_refusal_in_one_process_stops_another_already_logged_in(emu, tmp_path):
    """A session that logged in before another one's tokens were refused sends nothing more
    once the refusal is recorded (each request reads it, like the 429 breaker)."""
    settings = settings_for(emu, tmp_path)
    emu.write_token_store(settings.token_store)
    early = ConnectSource(settings)
    assert early.display_name
    Refusals(settings, CONNECT).record("the stored tokens")
    emu.clear_request_log()
    with pytest.raises(CredentialRefusedError, match="Garmin refused the stored tokens at "):
        early.json("daily summary", "get_user_summary", DAY)
    assert emu.request_log == []


# ------------------------------------------------------------------ 2. the emulator's tokens
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_emulator(env: dict[str, str]) -> tuple[subprocess.Popen, list[str]]:
    """`garmin-pipeline emulator` in a child process, read until it says where its tokens are
    (or it exits)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "garmin_pipeline", "emulator", "--port", str(free_port())],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if "GARMIN_TOKENS=" in line:
            break
    return process, lines


def written(path: Path, timeout_s: float = 30) -> bool:
    """Whether the file appears within the timeout (the emulator writes it as it starts)."""
    deadline = time.monotonic() + timeout_s
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return path.exists()


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)  # the emulator stops cleanly on Ctrl-C
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def home(tmp_path: Path) -> tuple[dict[str, str], Path, bytes]:
    """HOME in a tmp dir holding a (fake) real login's token file; GARMIN_TOKENS unset."""
    real = tmp_path / "home" / ".garminconnect" / "garmin_tokens.json"
    real.parent.mkdir(parents=True, mode=0o700)
    body = b'{"di_token": "real-access", "di_refresh_token": "real-refresh", "di_client_id": "x"}'
    real.write_bytes(body)
    real.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GARMIN_")}
    return {**env, "HOME": str(tmp_path / "home")}, real, body


def test_the_emulator_leaves_the_real_token_store_alone(home):
    env, real, body = home
    process, lines = start_emulator(env)
    try:
        (export,) = [line for line in lines if "GARMIN_TOKENS=" in line]
        tokens = Path(export.split("GARMIN_TOKENS=", 1)[1].split()[0])
        assert tokens.parent.name.startswith("garmin-emulator-tokens-")
        assert written(tokens) and real.parent not in tokens.parents
        assert real.read_bytes() == body
    finally:
        stop(process)
    assert real.read_bytes() == body
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert not tokens.parent.exists()  # its temporary store goes with it


def test_the_emulator_refuses_a_given_path_holding_someone_elses_tokens(home, tmp_path):
    env, real, body = home
    process, lines = start_emulator({**env, "GARMIN_TOKENS": str(real.parent)})
    assert process.wait(timeout=60) == 1
    assert process.stderr is not None
    assert process.stderr.read().strip().splitlines() == [
        f"Error: GARMIN_TOKENS: {real} holds tokens the emulator did not write (a real "
        "login?), which it never replaces: unset GARMIN_TOKENS (the emulator then uses a "
        "temporary store) or point it at another file"
    ]
    assert real.read_bytes() == body

    # A file it wrote itself (an earlier run's) it may write again.
    own = tmp_path / "emulated" / "garmin_tokens.json"
    Emulator(SyntheticAthlete(seed=1, end_date=ATHLETE_END, days=2)).write_token_store(own)
    before = own.read_bytes()
    process, lines = start_emulator({**env, "GARMIN_TOKENS": str(own)})
    try:
        assert any(f"GARMIN_TOKENS={own}" in line for line in lines), lines
        deadline = time.monotonic() + 30
        while own.read_bytes() == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert own.read_bytes() != before
    finally:
        stop(process)
    assert own.exists() and real.read_bytes() == body


# ------------------------------------------------------------------ 3. folders never chmod-ed
def test_token_folders_are_created_private_and_existing_ones_keep_their_mode(emu, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # a shared parent, like /tmp: its sticky bit matters
    settings = settings_for(emu, tmp_path, GARMIN_TOKENS=str(shared / "garmin_tokens.json"))
    done = start_login(settings, EMAIL, PASSWORD)
    assert done.token_file == shared / "garmin_tokens.json"
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE(done.token_file.stat().st_mode) == 0o600

    # A refresh (garminconnect would write the store itself, chmod-ing the folder) keeps it too.
    emu.write_token_store(done.token_file, access_ttl_s=60)
    before = json.loads(done.token_file.read_text())["di_refresh_token"]
    assert ConnectSource(settings).json("daily summary", "get_user_summary", DAY)
    assert json.loads(done.token_file.read_text())["di_refresh_token"] != before
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777

    missing = tmp_path / "new" / "deeper"
    private_dir(missing)
    assert stat.S_IMODE(missing.stat().st_mode) == 0o700
    assert stat.S_IMODE(missing.parent.stat().st_mode) == 0o700


def test_a_token_folder_others_may_write_to_is_a_warning(emu, tmp_path):
    settings = settings_for(emu, tmp_path)
    emu.write_token_store(settings.token_store)
    folder = settings.token_store.parent
    folder.chmod(0o775)
    health = token_health(settings, datetime.now(UTC))
    assert (health.status, health.message) == (
        "warn",
        f"the token folder {folder} lets other users delete or replace the tokens: "
        f"run chmod go-w {folder}",
    )
    assert ConnectSource(settings).display_name  # a warning: the sync goes on


# ------------------------------------------------------------------ 4. the token file itself
def test_a_token_file_others_can_read_is_refused_with_what_to_run(emu, tmp_path):
    settings = settings_for(emu, tmp_path)
    path = emu.write_token_store(settings.token_store)
    path.chmod(0o644)
    message = f"the token file {path} is readable by other users: run chmod 600 {path}"
    health = token_health(settings, datetime.now(UTC))
    assert (health.status, health.message) == ("unsafe", message)
    with pytest.raises(SourceAuthError) as raised:
        ConnectSource(settings).display_name  # noqa: B018
    assert str(raised.value) == message
    assert emu.request_log == []
    assert Refusals(settings, CONNECT).get() is None  # nothing was refused: fix and sync
    status = run_cli(
        {**os.environ, "GARMIN_TOKENS": str(path), "GARMIN_DATA_DIR": str(tmp_path / "data")},
        "status",
    )
    assert f"tokens:     {message}" in status.stdout


def test_a_symlinked_token_file_is_refused_and_not_reported_good(emu, tmp_path):
    settings = settings_for(emu, tmp_path)
    elsewhere = emu.write_token_store(tmp_path / "elsewhere" / "garmin_tokens.json")
    settings.token_store.parent.mkdir(mode=0o700)
    settings.token_store.symlink_to(elsewhere)
    health = token_health(settings, datetime.now(UTC))
    assert health.status == "unsafe"
    assert health.message == (
        f"the token file {settings.token_store} is a symbolic link, which garmin-pipeline does "
        "not follow: replace it with the file itself, or run `garmin-pipeline login` to store "
        "new tokens"
    )
    with pytest.raises(SourceAuthError, match="is a symbolic link"):
        ConnectSource(settings).display_name  # noqa: B018
    elsewhere.unlink()  # dangling: still a symbolic link, not "no tokens"
    with pytest.raises(SourceAuthError, match="is a symbolic link"):
        ConnectSource(settings).display_name  # noqa: B018
    assert token_health(settings, datetime.now(UTC)).status == "unsafe"
    assert emu.request_log == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_token_file_of_another_user_is_refused(emu, tmp_path):
    settings = settings_for(emu, tmp_path)
    path = emu.write_token_store(settings.token_store)
    os.chown(path, 4242, -1)
    with pytest.raises(SourceAuthError, match="belongs to another user: remove it and run"):
        ConnectSource(settings).display_name  # noqa: B018
    assert token_health(settings, datetime.now(UTC)).status == "unsafe"
    assert emu.request_log == []


# ------------------------------------------------------------------ 5. a shared token store
def test_a_second_session_takes_the_refresh_token_the_first_one_rotated(emu, tmp_path):
    """Two syncs on one store: both logged in, then their access tokens lapse. The first
    refreshes (its refresh token is spent, the store holds the new one); the second takes the
    store's instead of sending the spent one."""
    settings = settings_for(emu, tmp_path)
    emu.write_token_store(settings.token_store)
    first, second = ConnectSource(settings), ConnectSource(settings)
    assert first.display_name and second.display_name
    emu.tokens.expire_access_tokens()
    emu.clear_request_log()
    expected = first.json("daily summary", "get_user_summary", DAY)["totalSteps"]
    assert second.json("daily summary", "get_user_summary", DAY)["totalSteps"] == expected
    assert [status for path, status in sent(emu) if path == TOKEN_PATH] == [200]
    assert sent(emu)[(TOKEN_PATH, 200)] == 1  # one refresh for both
    assert Refusals(settings, CONNECT).get() is None


def test_concurrent_sessions_refresh_the_store_once(emu, tmp_path):
    """Two threads, two sessions, one store whose access token has lapsed: the store's lock
    lets one refresh and the other log in with what it stored."""
    settings = settings_for(emu, tmp_path)
    emu.write_token_store(settings.token_store, access_ttl_s=0)
    start = threading.Barrier(2)
    answers: list[object] = []

    def fetch() -> None:
        start.wait()
        try:
            source = ConnectSource(settings)
            answers.append(source.json("daily summary", "get_user_summary", DAY)["totalSteps"])
        except Exception as error:  # reported below
            answers.append(error)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == 2 and all(isinstance(a, int) for a in answers), answers
    assert answers[0] == answers[1]
    assert sent(emu)[(TOKEN_PATH, 200)] == 1
    assert not [r for r in emu.request_log if r.status == 401]


# ------------------------------------------------------------------ 6. no clear text elsewhere
@pytest.mark.parametrize(
    "variable",
    ["GARMIN_API_URL", "GARMIN_PERSONAL_API_BASE_URL"],
)
@pytest.mark.parametrize(
    "url",
    ["http://garmin.example.com", "http://192.168.1.20:8765", "http://127.0.0.1@evil.example"],
)
def test_plain_http_to_another_host_is_refused(variable, url):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: url})
    assert str(raised.value) == (
        f"{variable}={url!r} is plain http to another machine, which would send tokens, keys "
        "and passwords in clear text: use https://, or http:// only on loopback "
        "(127.0.0.1, localhost)"
    )


def test_only_loopback_drops_the_pacing():
    assert Settings.from_env({"GARMIN_API_URL": "http://127.0.0.1:8765"}).request_interval_s == 0
    assert Settings.from_env({"GARMIN_API_URL": "http://localhost:8765"}).request_interval_s == 0
    proxy = Settings.from_env({"GARMIN_API_URL": "https://garmin-proxy.example.com"})
    assert (proxy.api_url, proxy.request_interval_s) == ("https://garmin-proxy.example.com", 1.0)
    personal = Settings.from_env({"GARMIN_PERSONAL_API_BASE_URL": "https://p.example.com/"})
    assert personal.personal_api_url == "https://p.example.com"


# ------------------------------------------------------------------ 7. account slugs
@pytest.mark.parametrize("account", ["abc\n", "abc\n\n", "\nabc"])
def test_an_account_with_a_newline_is_refused_in_one_line(account, tmp_path):
    with pytest.raises(SettingsError, match="is not a usable account slug"):
        Settings.from_env({"GARMIN_ACCOUNT": account})
    env = {**os.environ, "GARMIN_ACCOUNT": account, "GARMIN_DATA_DIR": str(tmp_path)}
    status = run_cli(env, "status")
    assert status.returncode == 1
    assert len(status.stderr.strip().splitlines()) == 1, status.stderr
    assert "Traceback" not in status.stderr


def test_a_missing_token_folder_is_not_created_by_a_sync_without_credentials(emu, tmp_path):
    settings = settings_for(emu, tmp_path)
    with pytest.raises(SourceAuthError, match="no Garmin tokens at"):
        ConnectSource(settings).display_name  # noqa: B018
    assert not settings.token_store.parent.exists()
