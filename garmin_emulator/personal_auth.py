"""The Personal API's credentials: one athlete's API key and the bearer JWTs it is exchanged for.

Garmin's ``garmin_personal_api`` client POSTs ``Authorization: ApiKey <key>`` to the token path
and gets the bare JWT back as text; it decodes ``exp`` without verifying and caches the token
until an hour before that. Data paths then take ``Authorization: Bearer <jwt>``. The authority
here is separate from the Connect one (``auth.TokenAuthority``): its tokens are signed with a
different key and checked against the set it issued, so neither side's tokens open the other's
paths. Each account an emulator serves has its own authority: its own key, and tokens naming
the account in an ``account`` claim, which routes a request to the authority that checks it.
Expiry uses the wall clock, as the client compares ``exp`` with ``time.time()``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from garmin_emulator.auth import _b64
from garmin_pipeline.settings import DEFAULT_ACCOUNT

DEFAULT_PERSONAL_API_KEY = "emulator-personal-api-key"
PERSONAL_TOKEN_TTL_S = 24 * 3600
ISSUER = "https://personal.connectapi.garmin.com"
SCOPE = "PERSONAL_API_READ"


def _epoch_s(moment: datetime) -> float:
    """A naive datetime is read as UTC (``datetime.timestamp`` would read it as local time)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class PersonalApiAuthority:
    """Holds the API key (its expiry, whether it was revoked) and the bearer tokens issued.

    Revoking the key refuses further exchanges only: a bearer token already issued stays good
    until it expires, as a stateless JWT would; ``expire_tokens`` ends those too.
    """

    def __init__(
        self,
        seed: int,
        api_key: str = DEFAULT_PERSONAL_API_KEY,
        key_expires_at: datetime | None = None,
        token_ttl_s: int = PERSONAL_TOKEN_TTL_S,
        clock: Callable[[], float] = time.time,
        account: str = DEFAULT_ACCOUNT,
    ) -> None:
        self._seed = seed
        self.account = account
        self._signing_key = hashlib.sha256(
            f"garmin-pipeline emulator personal api signing key|{seed}".encode()
        ).digest()
        self.api_key = api_key
        self.key_expires_at = key_expires_at
        self.revoked = False
        self.token_ttl_s = token_ttl_s
        self._clock = clock
        self._issued: dict[str, float] = {}  # token -> exp (0 once expired by the harness)
        self._count = 0
        self._lock = threading.Lock()

    # -------------------------------------------------------------- controls
    def set_key(self, api_key: str, expires_at: datetime | None = None) -> None:
        """Replace the key (a new one from Garmin's settings page): not revoked, new expiry."""
        with self._lock:
            self.api_key, self.key_expires_at, self.revoked = api_key, expires_at, False

    def revoke_key(self) -> None:
        with self._lock:
            self.revoked = True

    def expire_tokens(self) -> None:
        """End every bearer token issued so far: the next data call gets 401."""
        with self._lock:
            self._issued = dict.fromkeys(self._issued, 0.0)

    @property
    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._issued)

    # -------------------------------------------------------------- exchange and check
    def holds_key(self, authorization: str | None) -> bool:
        """Whether an ``ApiKey`` header carries this account's key (revoked or expired too:
        the exchange then says why it is refused)."""
        scheme, _, key = (authorization or "").partition(" ")
        with self._lock:
            known = hmac.compare_digest(key.strip().encode(), self.api_key.encode())
        return scheme == "ApiKey" and known

    def exchange(self, authorization: str | None) -> tuple[str | None, str]:
        """(token, "") for a good ``ApiKey`` header, else (None, why not) for the 401 body."""
        scheme, _, key = (authorization or "").partition(" ")
        key = key.strip()
        with self._lock:
            known = hmac.compare_digest(key.encode(), self.api_key.encode())
            revoked, expires_at = self.revoked, self.key_expires_at
        if scheme != "ApiKey" or not key:
            return None, "Missing API key"
        if not known:
            return None, "Invalid API key"
        if revoked:
            return None, "The API key was revoked"
        if expires_at is not None and self._clock() > _epoch_s(expires_at):
            return None, "The API key expired"
        return self.issue(), ""

    def issue(self) -> str:
        """A new JWT-shaped token: HS256 header, ``exp`` in epoch seconds, a unique ``jti``
        that is a hash of (seed, issue count), so runs look alike without tokens repeating."""
        now = int(self._clock())
        with self._lock:
            self._count += 1
            jti = hashlib.sha256(f"personal-api|{self._seed}|{self._count}".encode()).hexdigest()
        header = {"alg": "HS256", "typ": "JWT"}
        payload = {
            "iss": ISSUER,
            "scope": [SCOPE],
            "account": self.account,
            "iat": now,
            "exp": now + self.token_ttl_s,
            "jti": jti[:32],
        }
        head = _b64(json.dumps(header, separators=(",", ":")).encode())
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        signature = hmac.new(self._signing_key, f"{head}.{body}".encode(), hashlib.sha256)
        token = f"{head}.{body}.{_b64(signature.digest())}"
        with self._lock:
            self._issued[token] = float(payload["exp"])
        return token

    def check(self, authorization: str | None) -> str | None:
        """None when the bearer token is one this authority issued and still live, else why
        not (for the 401 body)."""
        if not authorization or not authorization.startswith("Bearer "):
            return "missing bearer token"
        with self._lock:
            exp = self._issued.get(authorization[len("Bearer ") :].strip())
        if exp is None:
            return "invalid token"
        if exp <= self._clock():
            return "token expired"
        return None
