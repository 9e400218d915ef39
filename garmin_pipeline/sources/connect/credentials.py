"""Credentials for an unattended re-login, when the stored tokens lapse or are refused.

They come only from the environment (``GARMIN_EMAIL`` + ``GARMIN_PASSWORD``) or the system
keyring (service ``garmin-pipeline``, username the e-mail), never from run config or a file of
ours: `garmin-pipeline login --save-password` puts the password in the keyring. The e-mail is
``GARMIN_EMAIL`` or, failing that, the one `--save-password` recorded in the keyring too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from garmin_pipeline.errors import PipelineError

log = logging.getLogger(__name__)

KEYRING_SERVICE = "garmin-pipeline"
# The keyring entry (of KEYRING_SERVICE) holding the e-mail whose password is saved.
EMAIL_ENTRY = "login-email"


class CredentialStoreError(PipelineError):
    """The system keyring cannot store the password."""


@dataclass(frozen=True)
class Credentials:
    """An e-mail and password; ``source`` says where they came from (for messages)."""

    email: str
    password: str = field(repr=False)
    source: str = "the environment"


def unattended_credentials(environ: Mapping[str, str] | None = None) -> Credentials | None:
    """The credentials an unattended sync may log in with, or None when there are none."""
    env = os.environ if environ is None else environ
    email = env.get("GARMIN_EMAIL", "").strip()
    password = env.get("GARMIN_PASSWORD", "")
    if email and password:
        return Credentials(email, password, "the environment")
    try:
        import keyring

        email = email or (keyring.get_password(KEYRING_SERVICE, EMAIL_ENTRY) or "").strip()
        saved = keyring.get_password(KEYRING_SERVICE, email) if email else None
    except Exception as error:  # no backend, a locked keyring, D-Bus down: no credentials
        log.debug("no password from the system keyring (%s)", type(error).__name__)
        return None
    return Credentials(email, saved, "the system keyring") if saved else None


def save_password(email: str, password: str) -> str:
    """Keep the password in the system keyring for unattended re-login; returns the backend."""
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, email, password)
        keyring.set_password(KEYRING_SERVICE, EMAIL_ENTRY, email)
        return type(keyring.get_keyring()).__name__
    except Exception as error:
        raise CredentialStoreError(
            f"the system keyring could not store the password ({type(error).__name__}); "
            "the tokens are stored, and for unattended re-login set GARMIN_EMAIL and "
            "GARMIN_PASSWORD in the environment instead"
        ) from None
