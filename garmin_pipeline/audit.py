"""The audit log: what was done with whose data, one JSON line per login, sync, import, export,
forget and key change, in the data directory's `DataLayout.audit_path`.

A line says who (the account slug), what (`action`), when (UTC, to the second), how it ended
(`outcome`) and counts. Nothing else can reach it: the counts are integers or short plain
labels (a date, a feed name, an archive's hash), checked here, so no secret and no health value
is ever written. Lines are only appended (one `write` per line on an `O_APPEND` file, 0600),
except that `forget` replaces the forgotten account's slug by a pseudonym in every line: the
log keeps that something was done, not to whom.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, get_args

from garmin_pipeline.files import write_atomically
from garmin_pipeline.layout import DataLayout

Action = Literal["login", "key_change", "sync", "import", "export", "forget", "retention"]
Outcome = Literal["ok", "partial", "failed", "refused"]
ACTIONS: frozenset[str] = frozenset(get_args(Action))
OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))
# A count's name, and a label's value: plain words, dates, hashes; never free text.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_LABEL = re.compile(r"[A-Za-z0-9_.:=-]{0,80}")
FORGOTTEN_PREFIX = "forgotten-"

Count = int | str


class AuditValueError(ValueError):
    """A caller tried to write something an audit line may not hold (a bug, not bad input)."""


def audit_log_path(data_dir: Path) -> Path:
    return DataLayout(Path(data_dir)).audit_path


def record(
    data_dir: Path,
    account: str,
    action: Action,
    outcome: Outcome = "ok",
    counts: Mapping[str, Count] | None = None,
    now: datetime | None = None,
) -> dict[str, object]:
    """Append one line and return it. `counts` holds integers, or labels matching `_LABEL`."""
    if action not in ACTIONS or outcome not in OUTCOMES:
        raise AuditValueError(f"unknown audit action or outcome: {action!r}, {outcome!r}")
    checked: dict[str, Count] = {}
    for name, value in (counts or {}).items():
        if not _NAME.fullmatch(name):
            raise AuditValueError(f"audit count name {name!r} is not a plain name")
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise AuditValueError(f"audit count {name} must be an integer or a label")
        if isinstance(value, str) and not _LABEL.fullmatch(value):
            raise AuditValueError(f"audit label {name} is not a plain label")
        checked[name] = value
    when = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    line: dict[str, object] = {
        "at": when.isoformat().replace("+00:00", "Z"),
        "account": account,
        "action": action,
        "outcome": outcome,
        "counts": checked,
    }
    path = audit_log_path(data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        text = json.dumps(line, sort_keys=True) + "\n"
        os.write(fd, (_after_a_cut_line(fd) + text).encode())
    finally:
        os.close(fd)
    return line


def _after_a_cut_line(fd: int) -> str:
    """A newline first when a writer killed mid-line left the file without its last one."""
    size = os.fstat(fd).st_size
    return "\n" if size and os.pread(fd, 1, size - 1) != b"\n" else ""


def read(data_dir: Path) -> Iterator[dict[str, object]]:
    """Every line of the log, oldest first; a line cut by a crash mid-write is skipped."""
    path = audit_log_path(data_dir)
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for text in handle:
            try:
                line = json.loads(text)
            except ValueError:
                continue
            if isinstance(line, dict):
                yield line


def pseudonymise(data_dir: Path, account: str) -> str | None:
    """Replace `account` by a random pseudonym in every line (what `forget` does to the log);
    return the pseudonym, or None when no line named the account."""
    path = audit_log_path(data_dir)
    lines = list(read(data_dir))
    if not any(line.get("account") == account for line in lines):
        return None
    pseudonym = FORGOTTEN_PREFIX + secrets.token_hex(4)
    for line in lines:
        if line.get("account") == account:
            line["account"] = pseudonym
    text = "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines)
    write_atomically(path, text.encode())
    return pseudonym
