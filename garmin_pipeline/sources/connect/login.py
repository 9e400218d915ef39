"""Logging in with an e-mail and password (and an MFA code when Garmin asks for one).

`garminconnect` does the login: ``Garmin(email, password, return_on_mfa=True).login()`` either
finishes or returns ``("needs_mfa", client_state)``, and ``resume_login(client_state, code)``
finishes it, on the same or on another ``Garmin`` instance. We only wire the client like every
other one (`session.connect_client`: our transport adapter, GARMIN_API_URL, the 429 guards), run
each step through `ConnectSource`'s call gate (the shared 429 breaker is checked first and
tripped by a 429) and store the tokens ourselves, never the password.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from garminconnect import Garmin

from garmin_pipeline.errors import SourceAuthError
from garmin_pipeline.settings import Settings
from garmin_pipeline.sources import CONNECT
from garmin_pipeline.sources.connect.client import ConnectSource
from garmin_pipeline.sources.connect.refusal import Refusals
from garmin_pipeline.sources.connect.session import connect_client
from garmin_pipeline.sources.connect.tokens import remember_mfa, write_token_file

log = logging.getLogger(__name__)

BAD_CREDENTIALS = (
    "Garmin refused the e-mail or password; check them and run `garmin-pipeline login` again"
)
BAD_MFA_CODE = "Garmin did not accept the MFA code; check it (or wait for a new one) and try again"


class MfaCodeRejectedError(SourceAuthError):
    """The MFA code was wrong; the pending login stays usable for another code."""


@dataclass
class PendingMfa:
    """A login waiting for its MFA code. ``client_state`` holds the SSO session cookies: keep
    it in memory (or as securely as a password) until `resume_login` has used it."""

    settings: Settings
    client_state: dict[str, Any] = field(repr=False)
    source: ConnectSource | None = field(default=None, repr=False)
    garmin: Garmin | None = field(default=None, repr=False)


@dataclass(frozen=True)
class LoginResult:
    """A finished login (display name, token file) or one that needs an MFA code first."""

    display_name: str | None = None
    token_file: Path | None = None
    pending: PendingMfa | None = None

    @property
    def needs_mfa(self) -> bool:
        return self.pending is not None


def _finish(source: ConnectSource, garmin: Garmin, mfa: bool) -> LoginResult:
    """Load the profile with the new tokens, then store them (0600; a missing folder 0700)
    under the store's lock, and forget an earlier refusal: the next sync may try again."""
    serialized = garmin.client.dumps()
    if not garmin.display_name:  # resume_login loads the profile, a login without MFA does not
        # Loading the new tokens the way a sync does also fetches the display name.
        source._call("profile after login", lambda: garmin.login(tokenstore=serialized))
    with source.store_lock:
        path = write_token_file(source.settings.token_store, serialized)
    remember_mfa(source.settings.token_store, mfa)
    if Refusals(source.settings, CONNECT).clear():
        log.info("forgot the refusal recorded for this account: the next sync logs in again")
    log.info("logged in to Garmin Connect as %s; tokens stored in %s", garmin.display_name, path)
    return LoginResult(display_name=str(garmin.display_name), token_file=path)


def start_login(settings: Settings, email: str, password: str) -> LoginResult:
    """Log in with an e-mail and password; the result either holds the stored token file or a
    `PendingMfa` to pass to `resume_login` with the code Garmin sent."""
    source = ConnectSource(settings, interactive=True)
    try:
        garmin, state = source.sign_in(email, password)
    except SourceAuthError as error:
        raise SourceAuthError(BAD_CREDENTIALS) from error
    if state is not None:
        return LoginResult(pending=PendingMfa(settings, state, source, garmin))
    return _finish(source, garmin, mfa=False)


def resume_login(pending: PendingMfa, code: str) -> LoginResult:
    """Finish an MFA login with the code; `MfaCodeRejectedError` leaves ``pending`` usable.

    A `PendingMfa` carrying only settings and ``client_state`` (another process, say) is
    resumed on a new ``Garmin`` instance rebuilt from that state.
    """
    if pending.source is None:
        pending.source = ConnectSource(pending.settings, interactive=True)
    if pending.garmin is None:
        pending.garmin, _ = connect_client(pending.settings, pending.source.governor)
    source, garmin = pending.source, pending.garmin
    try:
        source._call(
            "MFA verification", lambda: garmin.resume_login(pending.client_state, code.strip())
        )
    except MfaCodeRejectedError:
        raise
    except SourceAuthError as error:
        raise MfaCodeRejectedError(BAD_MFA_CODE) from error
    return _finish(source, garmin, mfa=True)
