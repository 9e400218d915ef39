"""Tombstones: the days `garmin-pipeline forget` (or GARMIN_RETENTION_DAYS) removed, so that no
sync, rebuild or backfill fetches or builds them again.

One small file per account under `<state_dir>/forgotten/`, holding only the cut-off: every day
before a date (`forget --before`, retention), or every day (the whole account was forgotten).
The file is named by a keyed, deliberately slow hash of the account's slug (scrypt, with a random
salt kept beside it, created once per data directory) and never holds the slug: after a whole
account is forgotten its name must be nowhere in the data directory. A sync still finds the
tombstone, since it knows the slug it was configured with; someone holding only the data
directory can at best confirm a slug they already guessed, one slow hash per guess, which no
tombstone that a sync can match could avoid.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from garmin_pipeline.files import write_atomically

FORGOTTEN_DIR = "forgotten"
SALT_FILE = "salt"
WHOLE_ACCOUNT = date.max  # `forgotten_before` of an account forgotten whole: every day
# scrypt's cost: about 50 ms and 16 MB per slug, once per process and account (cached).
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 16}


@functools.lru_cache(maxsize=64)
def _slug_hash(salt: bytes, account: str) -> str:
    return hashlib.scrypt(account.encode("utf-8"), salt=salt, **_SCRYPT).hex()


class ForgottenDays:
    """The tombstones of one data directory (`state_dir` is `DataLayout.state_dir`)."""

    def __init__(self, state_dir: Path) -> None:
        self.folder = Path(state_dir) / FORGOTTEN_DIR

    def _salt(self, create: bool) -> bytes | None:
        path = self.folder / SALT_FILE
        if create and not path.exists():
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:  # O_EXCL: two processes creating it at once agree on the first one's salt
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_hex(16))
                    handle.flush()
                    os.fsync(handle.fileno())
        try:
            return bytes.fromhex(path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None

    def _path(self, account: str, create: bool = False) -> Path | None:
        salt = self._salt(create)
        return None if salt is None else self.folder / f"{_slug_hash(salt, account)}.json"

    def forgotten_before(self, account: str) -> date | None:
        """Days before this date are forgotten (`WHOLE_ACCOUNT`: all of them); None: none."""
        path = self._path(account)
        if path is None or not path.exists():
            return None
        body = json.loads(path.read_text(encoding="utf-8"))
        return WHOLE_ACCOUNT if body.get("whole_account") else date.fromisoformat(body["before"])

    def record(self, account: str, before: date = WHOLE_ACCOUNT) -> date:
        """Forget the days before `before` (default: every day); an earlier tombstone reaching
        further is kept. Returns the cut-off now in force."""
        path = self._path(account, create=True)
        assert path is not None  # the salt was just created
        cut = max(before, self.forgotten_before(account) or before)
        body: dict[str, object] = (
            {"whole_account": True} if cut == WHOLE_ACCOUNT else {"before": cut.isoformat()}
        )
        write_atomically(path, (json.dumps(body) + "\n").encode("utf-8"))
        return cut

    def drop(self, account: str) -> bool:
        """Let syncs fetch the account's forgotten days again (`forget --refetch`)."""
        path = self._path(account)
        if path is None or not path.exists():
            return False
        path.unlink()
        return True

    def remaining(self, account: str, days: Sequence[date]) -> list[date]:
        """`days` without the forgotten ones."""
        cut = self.forgotten_before(account)
        return list(days) if cut is None else [day for day in days if day >= cut]
