"""A credential Garmin refused, remembered until the next successful `garmin-pipeline login`.

One attempt per account and source: once Garmin refused a password, the stored tokens or a
Personal API key, nothing more is sent to that source for that account (the other feeds of the
run and every later run, the morning schedule's included) until the user logs in again. Trying
the same refused credential feed by feed and day after day is how an account gets locked.

The record is a small JSON file in the data directory's `state/` per account and source
(`auth_refused-<account>.json`, `auth_refused-<account>-personal_api.json`) holding what was
refused and when, never a value; `garmin-pipeline login` (resp. `login --personal-api`) deletes
it once Garmin accepts the new credential. A record that cannot be read counts as a refusal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from garmin_pipeline.errors import SourceAuthError
from garmin_pipeline.files import write_atomically
from garmin_pipeline.settings import Settings
from garmin_pipeline.sources import CONNECT, PERSONAL_API

SERVICES = {CONNECT: "Garmin Connect", PERSONAL_API: "the Personal API"}
COMMANDS = {CONNECT: "garmin-pipeline login", PERSONAL_API: "garmin-pipeline login --personal-api"}


class CredentialRefusedError(SourceAuthError):
    """Garmin refused a credential (now or at an earlier run): nothing is sent to the source
    for this account until the next successful login."""


@dataclass(frozen=True)
class Refusal:
    source: str  # connect or personal_api
    what: str  # what was refused, e.g. "the stored tokens"; never a value
    at: datetime
    advice: str  # what to do, naming the login that clears it

    @property
    def message(self) -> str:
        """One line: what was refused, when, and what to do."""
        service = SERVICES[self.source]
        when = self.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (
            f"Garmin refused {self.what} at {when}: {self.advice}; until then nothing is sent "
            f"to {service} for this account"
        )


class Refusals:
    """The refusal record of one account and source, and the refusal this process met (the
    first one stands for the run: every later feed stops with the same line)."""

    def __init__(self, settings: Settings, source: str) -> None:
        suffix = "" if source == CONNECT else f"-{source}"
        name = f"auth_refused-{settings.account}{suffix}.json"
        self.path: Path = settings.layout.state_dir / name
        self.source = source
        prefix = f"GARMIN_ACCOUNT={settings.account} " if len(settings.accounts) > 1 else ""
        self.login = prefix + COMMANDS[source]
        self._this_run: str | None = None  # the refusal met in this process, as its message

    def get(self) -> Refusal | None:
        try:
            body = json.loads(self.path.read_bytes())
            return Refusal(
                self.source,
                str(body["what"]),
                datetime.fromisoformat(body["at"]),
                str(body.get("advice") or f"run `{self.login}`"),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            try:
                at = datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
            except OSError:
                at = datetime.now(UTC)
            what = f"a credential (its record {self.path} is unreadable)"
            return Refusal(self.source, what, at, f"run `{self.login}`")

    def record(self, what: str, advice: str | None = None, now: datetime | None = None) -> Refusal:
        """Remember that Garmin refused `what` (a description, never the value); `advice`
        says what to do (by default: run the login)."""
        at = (now or datetime.now(UTC)).replace(microsecond=0)
        refusal = Refusal(self.source, what, at, advice or f"run `{self.login}`")
        body = {"what": what, "at": at.isoformat(), "advice": refusal.advice}
        write_atomically(self.path, (json.dumps(body, sort_keys=True) + "\n").encode())
        return refusal

    def check(self) -> None:
        """Raise `CredentialRefusedError` when a refusal was met in this run or is recorded."""
        if self._this_run is not None:
            raise CredentialRefusedError(self._this_run)
        refusal = self.get()
        if refusal is not None:
            raise CredentialRefusedError(refusal.message)

    def remember(self, what: str, advice: str | None = None) -> CredentialRefusedError:
        """Record, once per run, that Garmin refused `what`; the error to raise for it."""
        if self._this_run is None:
            self._this_run = self.record(what, advice).message
        return CredentialRefusedError(self._this_run)

    def clear(self) -> bool:
        """A login succeeded: forget the refusal. Returns whether there was one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
