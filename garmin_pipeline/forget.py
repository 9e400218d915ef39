"""The right to forget: remove an account, or its days before a date, from every layer.

`forget_account` deletes what the data directory holds of the account (raw day folders and its
export archives, lake and quarantine partitions, lake build state) and, for a whole account, what
the tool wrote for it elsewhere: its token store files, its keyring entries, its state files
(429 breakers, feed failures). It then records a tombstone (`raw.forgotten`), so the next sync
does not fetch the forgotten days again, and rebuilds the warehouse with dbt from what the lake
still holds: the warehouse is only ever written by dbt, and a fresh file keeps no deleted row in
its free blocks, which deleting rows in place would. The Dagster side (runs and events that name
the account) is `assets.forget`'s: the library never imports Dagster.

`apply_retention` is the same deletion of every account's days older than GARMIN_RETENTION_DAYS,
run at the end of every sync.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from garmin_pipeline.errors import PipelineError
from garmin_pipeline.layout import (
    DataLayout,
    account_dir,
    build_state_file,
    built_feeds_dir,
    exports_dir,
    folder_day,
    is_dataset,
)
from garmin_pipeline.raw.forgotten import WHOLE_ACCOUNT, ForgottenDays
from garmin_pipeline.settings import PERSONAL_API_KEY_RECORD, Settings
from garmin_pipeline.storage import StoragePath, remove_tree, write_atomically

log = logging.getLogger(__name__)


class ForgetError(PipelineError):
    """Forgetting could not be done, or not completely; the message says what to do."""


@dataclass
class Removed:
    """What a forget removed, counted per layer (the one-line summary and the audit line)."""

    raw_days: int = 0
    export_archives: int = 0
    lake_partitions: int = 0
    quarantine_partitions: int = 0
    built_days: int = 0
    token_files: int = 0
    keyring_entries: int = 0
    state_files: int = 0

    @property
    def anything(self) -> bool:
        return any(self.counts().values())

    def counts(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def add(self, other: Removed) -> None:
        for name, value in other.counts().items():
            setattr(self, name, getattr(self, name) + value)


def _children(folder: StoragePath) -> list[StoragePath]:
    return sorted(folder.iterdir(), key=lambda p: p.name) if folder.exists() else []


def remove_partitions(root: StoragePath, account: str, before: date) -> int:
    """Delete the account's partition of every dataset under `root` and every day before
    `before` (`WHOLE_ACCOUNT`: the account's whole folder); returns the day folders removed.
    Folders named `_...` are no dataset (build state, export archives) and are left alone."""
    removed = 0
    for dataset in _children(root):
        if not is_dataset(dataset):
            continue
        folder = account_dir(root, dataset.name, account)
        days = [
            d for d in _children(folder) if (day := folder_day(d.name)) is not None and day < before
        ]
        if before == WHOLE_ACCOUNT:
            removed += len(days)
            remove_tree(folder)
            continue
        for day_folder in days:
            remove_tree(day_folder)
        removed += len(days)
        if folder.exists() and not _children(folder):
            remove_tree(folder)
    return removed


def forget_build_state(build_state_dir: StoragePath, account: str, before: date) -> int:
    """Drop the account's days before `before` from the lake build state; returns how many."""
    removed = 0
    for feed in _children(built_feeds_dir(build_state_dir)):
        path = build_state_file(build_state_dir, feed.name, account)
        if not path.exists():
            continue
        body = json.loads(path.read_text(encoding="utf-8"))
        days = body.get("days", {})
        kept = {d: v for d, v in days.items() if date.fromisoformat(d) >= before}
        removed += len(days) - len(kept)
        if before == WHOLE_ACCOUNT or not kept:
            _unlink(path)
        elif len(kept) != len(days):
            body["days"] = kept
            write_atomically(path, (json.dumps(body, indent=0) + "\n").encode("utf-8"))
    return removed


def archive_days(manifest: StoragePath) -> list[date]:
    """The days an export archive fed (from its manifest), oldest first."""
    try:
        body = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    days = set()
    for member in body.get("members", {}).values():
        for fed in member.get("fed", []):
            parts = fed.split("/")
            if len(parts) > 1:
                try:
                    days.add(date.fromisoformat(parts[1]))
                except ValueError:
                    continue
    return sorted(days)


def forget_exports(raw_dir: StoragePath, account: str, before: date) -> int:
    """Delete the account's export archives that hold a forgotten day (with their manifests
    and unlinked FIT files); the days after `before` they fed stay in raw as their own
    payloads. Returns the archives removed."""
    folder = exports_dir(raw_dir, account)
    manifests = [p for p in _children(folder) if p.name.endswith(".json")]
    archives = {p.name.removesuffix(".zip") for p in _children(folder) if p.name.endswith(".zip")}
    if before == WHOLE_ACCOUNT:
        remove_tree(folder)
        return len(archives | {p.name.removesuffix(".json") for p in manifests})
    removed = 0
    for manifest in manifests:
        sha = manifest.name.removesuffix(".json")
        days = archive_days(manifest)
        if days and days[0] >= before:
            continue
        for path in (folder / f"{sha}.zip", folder / sha, manifest):
            if path.is_dir():
                remove_tree(path)
            elif path.exists():
                _unlink(path)
        removed += 1
    if folder.exists() and not _children(folder):
        remove_tree(folder)
    return removed


def _unlink(path: StoragePath) -> None:
    if isinstance(path, Path):
        path.unlink(missing_ok=True)
    else:
        path.fs.rm(path.path)


def forget_token_store(settings: Settings) -> int:
    """Delete the files the tool wrote into the account's token store (never another file, and
    the folder only when it is the account's own, `GARMIN_TOKENS/<account>`, and left empty)."""
    from garmin_pipeline.sources.connect.tokens import ACCOUNT_FILE_NAME, StoreLock, token_file
    from garmin_pipeline.sources.personal_api.keys import BEARER_CACHE_NAME

    tokens = token_file(settings.token_store)
    folder = tokens.parent
    ours = (ACCOUNT_FILE_NAME, PERSONAL_API_KEY_RECORD, BEARER_CACHE_NAME)
    removed = 0
    for path in (tokens, StoreLock.path_of(tokens), *(folder / name for name in ours)):
        if path.is_file() and not path.is_symlink():
            path.unlink()
            removed += 1
    own = len(settings.accounts) > 1 and folder.name == settings.account
    if own and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    return removed


def forget_keyring(settings: Settings) -> int:
    """Delete the account's entries of the `garmin-pipeline` keyring service: its Personal API
    key, and when it is the installation's only account, the saved login e-mail and password
    (kept under the e-mail, not the account, by `login --save-password`)."""
    from garmin_pipeline.sources.connect.credentials import EMAIL_ENTRY, KEYRING_SERVICE
    from garmin_pipeline.sources.personal_api.keys import keyring_entry

    try:
        import keyring
        from keyring.errors import NoKeyringError, PasswordDeleteError
    except ImportError:
        return 0
    entries = [keyring_entry(settings)]
    try:
        if len(settings.accounts) == 1:
            email = keyring.get_password(KEYRING_SERVICE, EMAIL_ENTRY)
            entries += [e for e in (email, EMAIL_ENTRY) if e]
        removed = 0
        for entry in entries:
            if keyring.get_password(KEYRING_SERVICE, entry) is None:
                continue
            try:
                keyring.delete_password(KEYRING_SERVICE, entry)
                removed += 1
            except PasswordDeleteError:
                continue
    except NoKeyringError:
        return 0  # no keyring on this host: nothing can be kept there
    except Exception as error:  # a locked keyring, D-Bus down: say so, do not hide it
        raise ForgetError(
            f"the system keyring could not be read ({type(error).__name__}), so the account's "
            "entries may still be there: unlock it and run `garmin-pipeline forget` again"
        ) from None
    return removed


def forget_state(settings: Settings) -> int:
    """Delete the account's own state files: its 429 breakers, its refused-login records and
    its failed-feed records."""
    from garmin_pipeline.feeds import CONNECT, PERSONAL_API
    from garmin_pipeline.sources.connect.refusal import Refusals

    state = settings.layout.state_dir
    removed = 0
    refusals = (Refusals(settings, source).path for source in (CONNECT, PERSONAL_API))
    for path in (settings.breaker_path, settings.personal_api_breaker_path, *refusals):
        if path.exists():
            path.unlink()
            removed += 1
    failures = state / "feed_failures" / settings.account
    if failures.is_dir():
        removed += sum(1 for p in failures.rglob("*") if p.is_file())
        shutil.rmtree(failures)
    return removed


def rebuild_derived(layout: DataLayout) -> bool:
    """After days were removed: delete the report page, which charts them (`garmin-pipeline
    report` draws it anew), and rebuild the warehouse with dbt (a full build) from the lake as
    it is now; returns False when there was no warehouse to rebuild. A fresh file, so nothing
    deleted lingers in the old one's free blocks."""
    from garmin_pipeline.warehouse.dbt_project import DBT_EXECUTABLE, DBT_PROJECT_DIR, build_args

    layout.report_path.unlink(missing_ok=True)
    warehouse = layout.warehouse_path
    if not warehouse.exists():
        return False
    for leftover in (warehouse, Path(f"{warehouse}.wal"), Path(f"{warehouse}.tmp")):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink(missing_ok=True)
    today = datetime.now(UTC).date()
    command = [str(DBT_EXECUTABLE), *build_args(layout, None, today)]
    completed = subprocess.run(
        [*command, "--profiles-dir", str(DBT_PROJECT_DIR), "--quiet"],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode:
        last = (completed.stdout + completed.stderr).strip().splitlines()[-1:] or ["no output"]
        raise ForgetError(
            f"the warehouse was deleted, but dbt could not build it again ({last[0][:200]}); "
            "run `garmin-pipeline rebuild`"
        )
    return True


def forget_days(settings: Settings, account: str, before: date) -> Removed:
    """Delete the account's days before `before` (`WHOLE_ACCOUNT`: all) from raw, its export
    archives, the lake, the quarantine and the lake build state. The warehouse is left to
    `rebuild_derived`, once for however many accounts."""
    layout = settings.layout
    return Removed(
        raw_days=remove_partitions(layout.raw_dir, account, before),
        export_archives=forget_exports(layout.raw_dir, account, before),
        lake_partitions=remove_partitions(layout.lake_dir, account, before),
        quarantine_partitions=remove_partitions(layout.quarantine_dir, account, before),
        built_days=forget_build_state(layout.build_state_dir, account, before),
    )


def account_settings(settings: Settings, account: str) -> Settings:
    """The settings of `account`, also when it is no longer in GARMIN_ACCOUNTS (then its
    token store is taken to be its own folder of GARMIN_TOKENS, as with several accounts)."""
    if account in settings.accounts:
        return settings.for_account(account)
    return settings.model_copy(
        update={"account": account, "accounts": (*settings.accounts, account)}
    )


@dataclass(frozen=True)
class Forgotten:
    removed: Removed
    warehouse_rebuilt: bool
    tombstone: date | None  # the cut-off now in force; None: --refetch dropped it
    problems: tuple[str, ...] = ()  # what could not be removed, and what to do (one line each)


def forget_account(
    settings: Settings, account: str, before: date | None = None, refetch: bool = False
) -> Forgotten:
    """Forget the account (`before` None) or its days before `before`, everywhere the library
    reaches; see the module docstring. The tombstone is written first, so a sync starting
    meanwhile cannot fetch back what is being deleted."""
    cut = WHOLE_ACCOUNT if before is None else before
    tombstones = ForgottenDays(settings.layout.state_dir)
    if refetch:
        tombstones.drop(account)
        tombstone = None
    else:
        tombstone = tombstones.record(account, cut)
    removed = forget_days(settings, account, cut)
    problems = []
    if before is None:
        own = account_settings(settings, account)
        removed.token_files = forget_token_store(own)
        removed.state_files = forget_state(own)
        try:
            removed.keyring_entries = forget_keyring(own)
        except ForgetError as error:  # the rest is still removed; the caller says what is left
            problems.append(str(error))
    try:
        rebuilt = rebuild_derived(settings.layout) if removed.anything else False
    except ForgetError as error:
        rebuilt = False
        problems.append(str(error))
    return Forgotten(removed, rebuilt, tombstone, tuple(problems))


def apply_retention(
    settings: Settings, keep_days: int, today: date | None = None
) -> dict[str, Removed]:
    """Forget every account's days before `today - keep_days` (and record the tombstones, so
    no sync fetches them back); rebuild the warehouse once if anything went."""
    cut = (today or datetime.now(UTC).date()) - timedelta(days=keep_days)
    tombstones = ForgottenDays(settings.layout.state_dir)
    removed = {}
    for account in settings.accounts:
        if tombstones.forgotten_before(account) == WHOLE_ACCOUNT:
            continue  # forgotten whole: nothing left, and no line may name it again
        tombstones.record(account, cut)
        removed[account] = forget_days(settings, account, cut)
    if any(r.anything for r in removed.values()):
        rebuild_derived(settings.layout)
    return removed


def summary_line(account: str, forgotten: Forgotten, before: date | None) -> str:
    """The one line `forget` prints."""
    removed = forgotten.removed
    what = f"{account}'s days before {before}" if before else f"account {account}"
    parts = [
        f"{removed.raw_days} raw days",
        f"{removed.export_archives} export archives",
        f"{removed.lake_partitions} lake and {removed.quarantine_partitions} quarantine partitions",
    ]
    if before is None:
        parts.append(
            f"{removed.token_files} token files, {removed.keyring_entries} keyring entries, "
            f"{removed.state_files} state files"
        )
    if forgotten.warehouse_rebuilt:
        parts.append("warehouse rebuilt")
    if forgotten.tombstone is None:
        after = "the next sync may fetch them again (--refetch)"
    elif before is None:
        after = (
            f"syncs skip it while it stays in GARMIN_ACCOUNTS (remove it there; `forget "
            f"--account {account} --refetch` lets syncs fetch it again)"
        )
    else:
        after = f"syncs no longer fetch days before {forgotten.tombstone}"
    return f"forgot {what}: removed {', '.join(parts)}; {after}"
