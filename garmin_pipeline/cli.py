"""`garmin-pipeline`: the command line for the emulator, syncing, decoding and logging in.

`sync` becomes the Dagster job's process (`python -m assets.sync`, by exec): the library never
imports Dagster, and the run lands in DAGSTER_HOME exactly as a run started from the UI would.
Nothing here is found relative to the repository: the code location (`assets`) and the dbt
project are installed with the package, and relative paths are the user's working directory's.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NoReturn

import click
from dotenv import load_dotenv

from garmin_pipeline.errors import PipelineError, SourceAuthError
from garmin_pipeline.layout import DataLayout
from garmin_pipeline.settings import (
    Settings,
    SettingsError,
    check_account_slug,
    is_loopback_host,
)

if TYPE_CHECKING:
    from garmin_pipeline.sources.export.landing import ImportReport

# The defaults of DAGSTER_HOME and the demo's data dir, relative to the working directory
# (like GARMIN_DATA_DIR's ./data): `make` runs from the repository, so they are under it there.
DEFAULT_DAGSTER_HOME = ".dagster_home"
DEFAULT_DEMO_DIR = "data/demo"


def fail(message: str) -> NoReturn:
    """One line on stderr, exit 1: what went wrong and what to do."""
    raise click.ClickException(message)


def settings() -> Settings:
    """This process's settings: resolved at the first command that needs them and kept in
    the click context, so each process resolves them once and passes them down."""
    context = click.get_current_context().find_root()
    if context.obj is None:
        context.obj = resolved()
    resolved_settings: Settings = context.obj
    return resolved_settings


def resolved(environ: dict[str, str] | None = None) -> Settings:
    """The settings of the environment and `.env` (or of `environ`), or a one-line failure."""
    try:
        return Settings.from_env(environ)
    except SettingsError as error:
        fail(str(error))


def dagster_home() -> Path:
    """DAGSTER_HOME, defaulting to ./.dagster_home, made private; the code location puts its
    instance config (dagster.yaml) there when it starts a run (`assets.instance`)."""
    from garmin_pipeline.files import make_private_dir

    return make_private_dir(Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).absolute())


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log what the pipeline is doing.")
def main(verbose: bool) -> None:
    """Keep a complete, analysis-ready copy of your Garmin Connect data."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )


def fault_plan(ctx: click.Context, param: click.Parameter, specs: tuple[str, ...]) -> object:
    """The emulator's FaultPlan from its --fault specs; a bad spec is a one-line usage error."""
    from garmin_emulator.faults import FaultPlan, parse_fault_spec

    plan = FaultPlan()
    for spec in specs:
        try:
            plan.add_json(parse_fault_spec(spec))
        except ValueError as error:
            message = str(error)
            raise click.BadParameter(
                message if message.startswith(repr(spec)) else f"{spec!r}: {message}"
            ) from None
    return plan


def profile_timezone(name: str) -> str:
    """An IANA zone name this host knows, or a usage error naming it."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise click.BadParameter(f"{name!r} is not an IANA time zone, e.g. Europe/Paris") from None
    return name


@main.command()
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--seed", type=int, default=42, show_default=True, help="The synthetic athlete.")
@click.option("--days", type=int, default=90, show_default=True, help="Days of history.")
@click.option("--end-date", type=click.DateTime(["%Y-%m-%d"]), help="Last day [today].")
@click.option(
    "--timezone",
    default="Europe/Paris",
    show_default=True,
    callback=lambda _ctx, _param, value: profile_timezone(value),
    help="The athlete's profile time zone (IANA); its days are counted in it.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    callback=fault_plan,
    metavar="SPEC",
    help="Inject a fault (repeatable): PATH[:ITEM]..., see below.",
)
@click.option(
    "--activity-files",
    "activity_files",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    metavar="PATH",
    help="Serve these FIT files (a folder: every *.fit under it; repeatable) as the activities.",
)
@click.option("--quirks", is_flag=True, help="Serve the generated quirk FIT files as activities.")
def emulator(
    port: int,
    host: str,
    seed: int,
    days: int,
    end_date: datetime | None,
    timezone: str,
    faults: object,
    activity_files: tuple[Path, ...],
    quirks: bool,
) -> None:
    """Serve a synthetic athlete over the Garmin Connect API on loopback.

    With --activity-files and/or --quirks the athlete's activities are those FIT files (their
    own start times and sports, the ORIGINAL zip holding each file's bytes) instead of the
    synthetic ones; the daily data stays the synthetic athlete's.

    A --fault SPEC is a path prefix and ':'-separated items: an HTTP status (429), a flag
    (truncate, corrupt, malformed, reset) or KEY=VALUE with KEY one of status, times (a count,
    or * for every request; default 1), retry_after, delay_s, method, and for schema drift
    add=FIELD=JSON, rename=OLD>NEW[,OLD>NEW], drop=FIELD[,FIELD]:

    \b
      --fault "/usersummary-service/:429:retry_after=3600:times=2"
      --fault "/download-service/files/activity/:corrupt"
      --fault "/wellness-service/:drop=restingHeartRate:times=*"

    While it serves, loopback clients can change faults without a token: POST a JSON rule
    to /_emulator/faults, GET or DELETE /_emulator/faults, POST /_emulator/expire-tokens
    (POST and DELETE as application/json; requests from web pages are refused):

    \b
      curl --json '{"path": "/hrv-service/", "status": 503, "times": 2}' \\
        http://127.0.0.1:8765/_emulator/faults

    A --host other than loopback serves its tokens and the athlete's health data to the
    network (a warning says so).
    """
    from garmin_emulator import SyntheticAthlete, serve

    last = end_date.date() if end_date else date.today()
    athlete = SyntheticAthlete(seed=seed, end_date=last, days=days, timezone=timezone)
    if activity_files or quirks:
        from garmin_emulator.quirks import quirk_files
        from garmin_emulator.recorded import RecordedAthlete

        sources: list[Path | dict[str, bytes]] = [
            *activity_files,
            *([quirk_files()] if quirks else []),
        ]
        athlete = RecordedAthlete(sources, seed=seed, end_date=last, days=days, timezone=timezone)
        click.echo(f"activities: {len(athlete.recorded)} FIT files")
    from garmin_emulator.personal_auth import DEFAULT_PERSONAL_API_KEY

    if not is_loopback_host(host):
        click.echo(
            f"warning: --host {host} is not loopback: the emulator serves its tokens and the "
            "athlete's health data to every machine that can reach this one",
            err=True,
        )
    with emulator_token_store() as (tokens, temporary):
        click.echo(
            f"emulating Garmin Connect and the Personal API for {athlete.display_name} "
            f"({athlete.first_day}..{athlete.last_day}, {timezone}) on http://{host}:{port}\n"
            f"tokens written to {tokens}{' (removed when it stops)' if temporary else ''}; "
            "point the pipeline at it with:\n"
            f"  export GARMIN_API_URL=http://{host}:{port} GARMIN_TOKENS={tokens}\n"
            "and for the Personal API (hybrid mode, served under /personal-api) add:\n"
            f"  export GARMIN_SOURCE=hybrid GARMIN_PERSONAL_API_KEY={DEFAULT_PERSONAL_API_KEY}"
        )
        for rule in faults.rules:  # type: ignore[attr-defined]
            click.echo(f"fault: {rule.to_json()}")
        serve(athlete, host=host, port=port, faults=faults, token_store=tokens)  # type: ignore[arg-type]


@contextlib.contextmanager
def emulator_token_store() -> Iterator[tuple[Path, bool]]:
    """Where the emulator writes its tokens, and whether that is a temporary store of its own.

    Never a token store it did not create: without GARMIN_TOKENS (whose default is the real
    login's ~/.garminconnect) a temporary folder, removed when it stops; with GARMIN_TOKENS,
    that file only when it does not exist yet or holds an emulator's tokens."""
    from garmin_emulator.auth import token_file_path, written_by_an_emulator

    if not os.environ.get("GARMIN_TOKENS"):  # `entry` loaded .env: set there counts too
        folder = Path(tempfile.mkdtemp(prefix="garmin-emulator-tokens-"))
        try:
            yield folder / "garmin_tokens.json", True
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    tokens = token_file_path(settings().token_store)
    if (tokens.exists() or tokens.is_symlink()) and not written_by_an_emulator(tokens):
        fail(
            f"GARMIN_TOKENS: {tokens} holds tokens the emulator did not write (a real login?), "
            "which it never replaces: unset GARMIN_TOKENS (the emulator then uses a temporary "
            "store) or point it at another file"
        )
    yield tokens, False


def check_sources(config: Settings) -> None:
    """A GARMIN_SOURCE or GARMIN_FEED_SOURCES the catalog cannot honour fails before the run."""
    from garmin_pipeline.catalog import FEEDS
    from garmin_pipeline.sources.selection import check_feed_sources

    try:
        check_feed_sources(config, FEEDS)
    except SettingsError as error:
        fail(str(error))


def sync_command(
    first: date,
    last: date,
    env: dict[str, str] | None = None,
    refetch: bool = False,
    job: str = "sync",
    feeds: tuple[str, ...] = (),
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a job of `assets/jobs.py` (sync, fetch or rebuild)
    against DAGSTER_HOME (`python -m assets.sync`), after checking the range and sources."""
    if first > last:
        fail(f"--start {first} is after --end {last}")
    check_feeds(feeds)
    # The job reads its settings itself, from this environment (`.env` included: `entry`
    # loaded it); they are checked here, before anything starts.
    environment = {**os.environ, **(env or {})}
    job_settings = resolved(environment) if env else settings()
    if job != "rebuild":
        check_sources(job_settings)
    check_data_dir_free(job_settings.data_dir)
    environment["DAGSTER_HOME"] = str(dagster_home())
    start = job_settings.history_start
    if first < start:
        fail(f"--start {first} is before GARMIN_HISTORY_START={start}; lower that setting")
    doing = {
        "sync": "syncing",
        "fetch": "fetching into raw",
        "rebuild": "rebuilding the lake and warehouse from raw for",
    }[job]
    click.echo(
        f"{doing} {first}..{last} through Dagster (runs recorded in {environment['DAGSTER_HOME']})"
    )
    command = [
        *code_location_module("assets.sync"),
        "--start",
        first.isoformat(),
        "--end",
        last.isoformat(),
        *(["--refetch"] if refetch else []),
        "--job",
        job,
        *(argument for feed in feeds for argument in ("--feed", feed)),
        # `garmin-pipeline -v sync`: the run logs what it does too.
        *(["--verbose"] if logging.getLogger().isEnabledFor(logging.INFO) else []),
    ]
    return command, environment


def check_data_dir_free(data_dir: Path) -> None:
    """Stop here, in one line, when another run uses the data dir (the job takes the lock for
    itself once it starts; this only spares the output of a run that could not start)."""
    from garmin_pipeline.run_lock import data_dir_lock

    try:
        with data_dir_lock(data_dir, "a check"):
            pass
    except PipelineError as error:
        fail(str(error))


def run_sync(first: date, last: date, env: dict[str, str] | None = None) -> None:
    """A sync in a child process, for a command that goes on afterwards (the demo)."""
    command, environment = sync_command(first, last, env)
    completed = subprocess.run(command, env=environment, check=False)
    if completed.returncode:
        sys.exit(completed.returncode)


def check_feeds(feeds: tuple[str, ...]) -> None:
    """Every --feed names a feed of the catalog."""
    from garmin_pipeline.catalog import FEEDS

    known = [f.name for f in FEEDS]
    unknown = [feed for feed in feeds if feed not in known]
    if unknown:
        fail(f"no feed named {', '.join(map(repr, unknown))}; the feeds: {', '.join(known)}")


def exec_sync(
    first: date, last: date, refetch: bool = False, job: str = "sync", feeds: tuple[str, ...] = ()
) -> NoReturn:
    """Become the job's process: nothing is left to do here, and a waiting parent would hold
    a hundred MB for the whole run (the job's exit status is the command's)."""
    become(*sync_command(first, last, refetch=refetch, job=job, feeds=feeds))


def become(command: list[str], environment: dict[str, str]) -> NoReturn:
    """Replace this process by `command`, in the same working directory (the code location is
    an installed package: it is imported from wherever this command was)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, environment)


@main.command()
@click.option(
    "--start", "first", type=click.DateTime(["%Y-%m-%d"]), help="First day [GARMIN_HISTORY_START]."
)
@click.option(
    "--end", "last", type=click.DateTime(["%Y-%m-%d"]), help="Last day [today, profile timezone]."
)
@click.option(
    "--refetch", is_flag=True, help="Fetch final days again too (picks up old edits, deletions)."
)
@click.option("--fetch-only", is_flag=True, help="Only fetch into raw; build later with `rebuild`.")
@click.option(
    "--feed",
    "feeds",
    multiple=True,
    metavar="FEED",
    help="Only this feed (repeatable), e.g. --feed activities for years of activity history "
    "first; the data dictionary lists the feeds.",
)
def sync(
    first: datetime | None,
    last: datetime | None,
    refetch: bool,
    fetch_only: bool,
    feeds: tuple[str, ...],
) -> None:
    """Fetch the due days of a range into raw, rebuild changed lake partitions, build dbt.

    Days already final are skipped, and so are provisional ones when no device has uploaded
    since they were fetched, so syncing the whole history every day costs a few requests.

    Exit status: 0 done (warnings, such as implausible values nulled, are summed up); 3
    partial (a feed failed or Garmin asked to wait: one line each says what to do, the rest
    landed, and the next sync fetches only what is missing); 1 failed.
    """
    exec_sync(
        *day_range(first, last),
        refetch=refetch,
        job="fetch" if fetch_only else "sync",
        feeds=feeds,
    )


def day_range(first: datetime | None, last: datetime | None) -> tuple[date, date]:
    """--start/--end, defaulting to GARMIN_HISTORY_START and the latest day begun anywhere
    (the assets skip days after the profile's own today)."""
    from garmin_pipeline.raw.freshness import latest_begun_day

    start = first.date() if first else settings().history_start
    end = last.date() if last else latest_begun_day()
    return start, end


@main.command()
@click.option(
    "--start", "first", type=click.DateTime(["%Y-%m-%d"]), help="First day [GARMIN_HISTORY_START]."
)
@click.option("--end", "last", type=click.DateTime(["%Y-%m-%d"]), help="Last day [today].")
def rebuild(first: datetime | None, last: datetime | None) -> None:
    """Rebuild the lake from raw and the warehouse from the lake, offline (no request to Garmin).

    For after a parser or schema change, or a deleted lake: days whose raw and schemas are
    those they were built from are skipped, so delete `lake/` to rebuild every day."""
    exec_sync(*day_range(first, last), job="rebuild")


@main.command("import-export")
@click.argument("archive", type=click.Path(exists=True, path_type=Path))
@click.option("--no-build", is_flag=True, help="Only land it in raw; build later with `rebuild`.")
def import_export(archive: Path, no_build: bool) -> None:
    """Import Garmin's account export (the "Export Your Data" zip, or its unpacked folder).

    Keeps the archive in raw by its SHA-256, maps its files to the same datasets a sync fills
    (API payloads already in raw are kept; nothing is ever deleted), then rebuilds the lake and
    warehouse for the days it changed, offline."""
    from garmin_pipeline import audit
    from garmin_pipeline.raw.store import RawStore
    from garmin_pipeline.run_lock import DataDirBusyError, data_dir_lock
    from garmin_pipeline.sources.export import import_archive, summary_lines

    config = settings()
    try:
        # The build it hands over to takes the lock again (the exec lets go of this one).
        with data_dir_lock(config.data_dir, "import-export"):
            report = import_archive(RawStore(config.layout.raw_dir), config.account, archive)
    except DataDirBusyError as error:  # another run is using the data dir: nothing was done
        fail(str(error))
    except PipelineError as error:  # a bad archive
        audit.record(config.data_dir, config.account, "import", "failed")
        fail(str(error))
    audit.record(config.data_dir, config.account, "import", "ok", import_counts(report))
    for line in summary_lines(report):
        click.echo(line)
    if not report.touched:
        click.echo("raw already held everything the export maps to: nothing to build")
        return
    first, last = min(report.touched), max(report.touched)
    start = config.history_start
    if first < start:
        click.echo(
            f"days before GARMIN_HISTORY_START={start} are in raw but not built; lower it and "
            "run `garmin-pipeline rebuild` to build them"
        )
        first = start
    if no_build or first > last:
        click.echo(f"build with: garmin-pipeline rebuild --start {first} --end {last}")
        return
    exec_sync(first, last, job="rebuild")


def import_counts(report: ImportReport) -> dict[str, int | str]:
    """An import's audit counts: the archive's hash, and how many members, days and feeds."""
    return {
        "archive": report.sha256,
        "members": report.members,
        "days": len(report.days),
        "days_changed": len(report.touched),
        "feeds": len(report.outcomes),
        "quarantined": len(report.quarantined),
    }


def account_slug(account: str) -> str:
    """--account: a slug as GARMIN_ACCOUNTS spells them, or a usage error."""
    try:
        check_account_slug(account)
    except SettingsError:
        raise click.BadParameter(
            f"{account!r} is not an account slug (lower-case letters, digits, '-', '_')"
        ) from None
    return account


@main.command()
@click.option(
    "--account",
    required=True,
    callback=lambda _ctx, _param, value: account_slug(value),
    help="The account's slug (as in GARMIN_ACCOUNTS).",
)
@click.option(
    "--before",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Only the days before this one; the account stays.",
)
@click.option("--refetch", is_flag=True, help="Let later syncs fetch the forgotten days again.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def forget(account: str, before: datetime | None, refetch: bool, yes: bool) -> None:
    """Delete an account's data (or its days before --before) from every layer.

    Whole account: its raw payloads and export archives, lake and quarantine partitions,
    warehouse rows (the warehouse is rebuilt by dbt from what is left), lake build state,
    tokens and keyring entries, state files, and the Dagster runs and events naming it; the
    audit log keeps a pseudonym. The forgotten days are not fetched again by later syncs
    (a tombstone in the data directory) unless --refetch is given. Refused while a run is
    going."""
    day = before.date() if before else None
    if not yes:
        what = (
            f"account {account}'s days before {day}"
            if day
            else f"account {account}: its data, tokens, keyring entries and Dagster runs"
        )
        click.confirm(f"Forget {what}? This cannot be undone", abort=True)
    exec_module(
        "assets.forget",
        ["--account", account, *(["--before", day.isoformat()] if day else [])]
        + (["--refetch"] if refetch else []),
    )


def exec_module(module: str, arguments: list[str]) -> NoReturn:
    """Become `python -m <module>` of the Dagster code location, against DAGSTER_HOME, in this
    working directory: it resolves the same settings from the same environment and `.env`
    (the library never imports Dagster itself)."""
    environment = {**os.environ, "DAGSTER_HOME": str(dagster_home())}
    become([*code_location_module(module), *arguments], environment)


def code_location_module(module: str) -> list[str]:
    """`python -m <module>` of the installed code location. With -P: the working directory,
    which is the user's, is not on the path, so a folder of theirs named `assets` cannot stand
    in for the code location."""
    return [sys.executable, "-P", "-m", module]


@main.command("export")
@click.option(
    "--account",
    callback=lambda _ctx, _param, value: value and account_slug(value),
    help="The account's slug [GARMIN_ACCOUNT].",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The zip to write.",
)
def export_command(account: str | None, out: Path) -> None:
    """Pack an account's lake (Parquet, per dataset), the data dictionary and a README into
    one zip: your data, portable (the same lake gives the same bytes)."""
    from garmin_pipeline import audit
    from garmin_pipeline.portable_export import export_account
    from garmin_pipeline.run_lock import DataDirBusyError, data_dir_lock

    config = settings()
    who = account or config.account
    try:
        with data_dir_lock(config.data_dir, "export"):  # a lake no run is changing
            packed = export_account(config.layout, who, out)
    except DataDirBusyError as error:
        fail(str(error))
    except PipelineError as error:
        audit.record(config.data_dir, who, "export", "failed")
        fail(str(error))
    audit.record(config.data_dir, who, "export", "ok", packed.counts())
    click.echo(
        f"exported {who}: {packed.files} Parquet files of {packed.datasets} datasets "
        f"({packed.days} days) to {out}"
    )


@main.command("audit")
@click.option("--account", help="Only this account's lines.")
def audit_command(account: str | None) -> None:
    """Print the audit log: who, what and when, one line per entry (no secret, no health
    value is ever in it)."""
    from garmin_pipeline import audit

    for line in audit.read(settings().data_dir):
        if account is None or line.get("account") == account:
            click.echo(audit_text(line))


def audit_text(line: dict[str, object]) -> str:
    """One audit entry as a line: time, account, action, outcome, then its counts."""
    counts = line.get("counts")  # a line read back from the file: JSON of any shape
    pairs = sorted(counts.items()) if isinstance(counts, dict) else []
    listed = " ".join(f"{name}={value}" for name, value in pairs)
    return " ".join(
        str(part)
        for part in (line.get("at"), line.get("account"), line.get("action"), line.get("outcome"))
    ) + (f"  {listed}" if listed else "")


@main.command()
@click.argument("fit_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--activity-id", type=int, default=0, show_default=True)
def decode(fit_file: Path, out_dir: Path, activity_id: int) -> None:
    """Decode one FIT file (or ORIGINAL zip) into the lake's tables, one Parquet file each."""
    from garmin_pipeline.files import write_atomically
    from garmin_pipeline.fit import FitDecodeError, decode_activity
    from garmin_pipeline.lake.parsers import fit_from_zip
    from garmin_pipeline.lake.store import parquet_bytes

    try:
        tables = decode_activity(fit_from_zip(fit_file.read_bytes()), activity_id=activity_id)
    except FitDecodeError as error:
        fail(f"{fit_file}: {error}")
    # Everything is decoded before anything is written, so a bad file leaves no partial output.
    for name, frame in tables.items():
        write_atomically(out_dir / f"{name}.parquet", parquet_bytes(frame))
        click.echo(f"{out_dir / f'{name}.parquet'}: {frame.height} rows")


MFA_TRIES = 3


def read_secret(label: str) -> str:
    """Hidden input at a terminal; one line of standard input when it is piped (scripts,
    tests). Either way nothing is echoed."""
    if sys.stdin.isatty():
        return getpass.getpass(f"{label}: ")
    click.echo(f"{label}: ", nl=False, err=True)
    line = sys.stdin.readline()
    click.echo(err=True)
    if not line.strip():
        fail(f"no {label} on standard input; run `garmin-pipeline login` at a terminal")
    return line.rstrip("\r\n")


@main.command()
@click.option(
    "--save-password",
    is_flag=True,
    help="Also keep the password in the system keyring, for an unattended re-login when the "
    "tokens lapse (accounts without MFA only).",
)
@click.option(
    "--personal-api",
    is_flag=True,
    help="Set up the official Personal API instead: check a key, keep it in the keyring (or a "
    "0600 file) and record when it expires.",
)
@click.option(
    "--expires",
    metavar="YYYY-MM-DD|DAYS",
    help="With --personal-api: the key's expiry date, or the validity in days chosen when "
    "creating it (30, 90, 180 or 365); asked for when left out.",
)
def login(save_password: bool, personal_api: bool, expires: str | None) -> None:
    """Log in to Garmin Connect and store only its tokens (0600) in GARMIN_TOKENS.

    Asks for the e-mail (or GARMIN_EMAIL), the password (or GARMIN_PASSWORD) and, when Garmin
    asks for one, the MFA code. With GARMIN_API_URL set it logs in to that server (the emulator).
    With --personal-api it asks for a Personal API key (or GARMIN_PERSONAL_API_KEY) instead.
    """
    if personal_api:
        login_personal_api(expires)
        return
    from garmin_pipeline.sources.connect.credentials import save_password as keep_password
    from garmin_pipeline.sources.connect.login import (
        MfaCodeRejectedError,
        resume_login,
        start_login,
    )

    config = settings()
    email = (os.environ.get("GARMIN_EMAIL") or click.prompt("Garmin e-mail")).strip()
    password = os.environ.get("GARMIN_PASSWORD") or read_secret("Garmin password")
    with audited(config, "login"):
        result = start_login(config, email, password)
        mfa = result.needs_mfa
        for tries_left in range(MFA_TRIES - 1, -1, -1):
            if result.pending is None:
                break
            try:
                result = resume_login(result.pending, read_secret("MFA code"))
            except MfaCodeRejectedError as error:
                if not tries_left:
                    raise MfaCodeRejectedError(
                        f"{error} ({MFA_TRIES} tries); run `garmin-pipeline login` again"
                    ) from None
                click.echo(f"{error} ({tries_left} tries left)", err=True)
    audit_record(config, "login", "ok", {"source": "connect", "mfa": int(mfa)})
    click.echo(f"logged in as {result.display_name}; tokens stored in {result.token_file} (0600)")
    if save_password:
        backend = keep_password(email, password)
        click.echo(f"password saved in the system keyring ({backend}) for unattended re-login")


@contextlib.contextmanager
def audited(config: Settings, action: Literal["login", "key_change"]) -> Iterator[None]:
    """Record a refused (or failed) `action` in the audit log as it propagates; the caller
    records success itself, with its counts. Garmin's refusal: `refused`; anything else (a
    429, a network failure): `failed`."""
    try:
        yield
    except SourceAuthError:
        audit_record(config, action, "refused")
        raise
    except PipelineError:
        audit_record(config, action, "failed")
        raise


def audit_record(
    config: Settings,
    action: Literal["login", "key_change"],
    outcome: Literal["ok", "failed", "refused"],
    counts: dict[str, int | str] | None = None,
) -> None:
    """One audit line (no secret: counts and plain labels only)."""
    from garmin_pipeline import audit

    audit.record(config.data_dir, config.account, action, outcome, counts)


def key_expiry(answer: str, today: date) -> date:
    """A date (YYYY-MM-DD) or a number of days from today."""
    answer = answer.strip()
    if answer.isdigit():
        return today + timedelta(days=int(answer))
    try:
        return date.fromisoformat(answer)
    except ValueError:
        fail(f"{answer!r} is neither a date (YYYY-MM-DD) nor a number of days (e.g. 365)")


def login_personal_api(expires: str | None) -> None:
    """Check the key by exchanging it for a bearer token, then keep it and its expiry."""
    from garmin_pipeline.feeds import PERSONAL_API
    from garmin_pipeline.settings import PERSONAL_API_KEY_ENV
    from garmin_pipeline.sources.connect.refusal import Refusals
    from garmin_pipeline.sources.personal_api import PersonalApiSource
    from garmin_pipeline.sources.personal_api.keys import (
        CREATE_KEY_URL,
        ApiKey,
        record_key,
        save_key,
    )

    config = settings()
    from_env = os.environ.get(PERSONAL_API_KEY_ENV, "").strip()
    if not from_env:
        click.echo(f"Create a key at {CREATE_KEY_URL} (it is shown once).", err=True)
    key = from_env or read_secret("Personal API key").strip()
    if not key:
        fail(f"no Personal API key given; create one at {CREATE_KEY_URL}")
    if expires is None:
        expires = click.prompt(
            "Valid until (YYYY-MM-DD, or the days chosen: 30, 90, 180 or 365)", err=True
        )
    expires_on = key_expiry(expires, date.today())
    if expires_on < date.today():
        fail(f"the key expired on {expires_on}; create a new one at {CREATE_KEY_URL}")
    source = PersonalApiSource(config, key=ApiKey(key, "the key given"), interactive=True)
    with audited(config, "key_change"):
        source.check_key()
    where = PERSONAL_API_KEY_ENV if from_env else save_key(config, key)
    record_key(config, key, expires_on)
    Refusals(config, PERSONAL_API).clear()  # the next sync may use the Personal API again
    kept = "environment" if from_env else "keyring" if "keyring" in where else "file"
    audit_record(
        config,
        "key_change",
        "ok",
        {"source": PERSONAL_API, "kept_in": kept, "expires_on": expires_on.isoformat()},
    )
    click.echo(
        f"Personal API key accepted; kept in {where}, expires on {expires_on} (the "
        "personal_api_key check warns before then)"
    )


@main.command()
@click.option("--days", type=int, default=30, show_default=True, help="Days of history.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--athletes",
    type=click.IntRange(1, 4),
    default=1,
    show_default=True,
    help="A household: this many accounts, each its own athlete, tokens and rate budget.",
)
def demo(days: int, seed: int, athletes: int) -> None:
    """Sync a synthetic athlete (or a household) from the emulator into ./data/demo and show
    what was made."""
    from garmin_emulator.demo import draw_report, report, start_demo_emulator

    data_dir = Path(os.environ.get("GARMIN_DEMO_DIR") or DEFAULT_DEMO_DIR).absolute()
    with (
        tempfile.TemporaryDirectory(prefix="garmin-demo-tokens-") as token_dir,
        start_demo_emulator(seed, days, Path(token_dir), athletes) as (athlete, emu, env),
    ):
        env["GARMIN_DATA_DIR"] = str(data_dir)
        run_sync(athlete.first_day, athlete.last_day, env)
        requests = len(emu.request_log)
    click.echo(report(data_dir, requests))
    click.echo(draw_report(data_dir))


@main.command()
def status() -> None:
    """Show the data directory, the 429 cooldown, token health and each dataset's last day.

    Reads local files only: safe to run while cooling down after a 429."""
    from garmin_pipeline.sources.breaker import format_utc
    from garmin_pipeline.status import describe_breaker, pipeline_status

    current = settings()
    state = pipeline_status(current)
    click.echo(f"data dir:   {state.data_dir}")
    click.echo(f"warehouse:  {state.warehouse}")
    click.echo(f"account:    {state.account}")
    if len(current.accounts) > 1:
        click.echo(
            f"accounts:   {', '.join(current.accounts)} (GARMIN_ACCOUNT=<name> shows another)"
        )
    click.echo(f"sources:    GARMIN_SOURCE={state.source_mode}")
    click.echo(f"rate limit: {describe_breaker(state.breaker)}")
    click.echo(f"tokens:     {state.tokens.message}")
    if state.personal_api_key is not None:
        limit = describe_breaker(state.personal_api_breaker, "the Personal API")
        click.echo(f"personal api rate limit: {limit}")
        click.echo(f"personal api key: {state.personal_api_key.message}")
    if state.failing_feeds:
        click.echo("failing feeds (each sync tries them again):")
        for failure in state.failing_feeds:
            reason = failure.reason.removeprefix(f"raw/{failure.feed}: ")
            click.echo(f"  {failure.feed}: since {format_utc(failure.since)}: {reason}")
    else:
        click.echo("feeds:      every feed fetched at its last sync")
    if not state.datasets:
        click.echo("lake:       empty (nothing synced yet)")
        return
    click.echo("lake:       last day present (days held)")
    width = max(len(dataset.name) for dataset in state.datasets)
    for dataset in state.datasets:
        last = dataset.last_day.isoformat() if dataset.last_day else "none"
        click.echo(f"  {dataset.name:<{width}}  {last}  ({dataset.days})")


@main.command("report")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Where to write the page [{DataLayout(Path('<data dir>')).report_path}].",
)
def report_command(out: Path | None) -> None:
    """Draw the warehouse as one self-contained HTML page (it works offline): training load,
    weekly volume by sport, resting HR and HRV, sleep stages, the latest activity and which
    days are complete, provisional or missing, with the dictionary of the marts charted."""
    from garmin_pipeline.report.build import write_report

    current = settings()
    try:
        path, _ = write_report(current.layout, out, current.provisional_days)
    except PipelineError as error:
        fail(str(error))
    click.echo(f"report written to {path}")


def entry() -> None:
    from garmin_pipeline.files import keep_new_files_private

    keep_new_files_private()  # inherited by the sync it execs, dbt and the lake workers
    # The `.env` of the working directory, as `dagster dev` loads it for the UI: the variables
    # set there and not in the environment, secrets included, reach the settings, the code
    # that reads secrets where it uses them, and the job this process becomes.
    load_dotenv(Path.cwd() / ".env", override=False)
    try:
        main()
    except PipelineError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
