"""Tokens the real client accepts: HS256 JWT access tokens, rotating refresh tokens, token files.

garminconnect 0.3.20 keeps ``{"di_token", "di_refresh_token", "di_client_id"}`` in a JSON file,
decodes the access token's payload (rejecting ``alg: none``) to read ``client_id`` and ``exp``,
and refreshes when ``exp - 900 < now`` by POSTing the refresh token to the DI token endpoint.

Tokens are signed with an HMAC key derived from the athlete's seed, so a token written by one
emulator process stays valid for the next one with the same seed (the CLI restarts). Each token
names its account in an ``account`` claim, which is how an emulator serving several accounts
knows whose data a request may read (see ``accounts``); a token without the claim (written
before accounts existed) belongs to the primary account. Expiry uses the wall clock, because
the client compares ``exp`` with ``time.time()``; token values never appear in response bodies
of data, nor in logs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from garmin_pipeline.settings import DEFAULT_ACCOUNT

DEFAULT_CLIENT_ID = "GARMIN_CONNECT_MOBILE_ANDROID_DI_2025Q2"  # first of garminconnect's ids
ISSUER = "https://diauth.garmin.com"
SCOPES = ("CONNECT_READ", "CONNECT_WRITE")
ACCESS_TTL_S = 3600
REFRESH_TTL_S = 2_591_999  # as in the recorded OAuth2 exchange (garth test_daily_summary_get)
TOKEN_FILE_NAME = "garmin_tokens.json"
# A claim in every token the emulator issues, so it recognises a token file it wrote (and only
# such a file may it replace: never a real login's).
EMULATOR_CLAIM = "garmin_pipeline_emulator"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unverified_claims(token: str) -> dict[str, Any] | None:
    """A JWT's payload, signature unchecked (None if it does not decode): enough to pick the
    authority that then verifies it, as the account claim names it."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(_unb64(parts[1]))
    except (ValueError, TypeError):
        return None
    return payload if isinstance(payload, dict) else None


def token_file_path(path: str | os.PathLike[str]) -> Path:
    """Where garminconnect reads tokens for ``path``: mirrors ``client.tokens.token_file_path``
    (a directory, or anything not ending in ``.json``, means ``<path>/garmin_tokens.json``)."""
    token_path = Path(path).expanduser()
    if token_path.is_dir() or token_path.suffix.casefold() != ".json":
        return token_path / TOKEN_FILE_NAME
    return token_path


def written_by_an_emulator(path: Path) -> bool:
    """Whether the token file holds tokens an emulator issued (a plain file, whose tokens all
    carry `EMULATOR_CLAIM`); a real login's tokens never do."""
    try:
        if path.is_symlink():
            return False
        tokens = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(tokens, dict):
        return False
    values = [tokens.get("di_token"), tokens.get("di_refresh_token")]
    return all(
        isinstance(value, str) and (unverified_claims(value) or {}).get(EMULATOR_CLAIM) is True
        for value in values
    )


class TokenAuthority:
    """Issues, refreshes and checks the tokens of one account (``account``, the claim its
    tokens carry; a token naming another account is refused even if the key verified it).

    ``epoch`` reads the fault plan's revocation counter: tokens issued in an earlier epoch are
    refused (``FaultPlan.expire_tokens``), as are tokens issued before this account's own
    ``expire_access_tokens``; tokens from another process are accepted only while nothing has
    been revoked, since their issue epoch is unknown.
    """

    def __init__(
        self,
        seed: int,
        epoch: Callable[[], int] = lambda: 0,
        access_ttl_s: int = ACCESS_TTL_S,
        clock: Callable[[], float] = time.time,
        account: str = DEFAULT_ACCOUNT,
    ) -> None:
        self._key = hashlib.sha256(f"garmin-pipeline emulator signing key|{seed}".encode()).digest()
        self._epoch = epoch
        self.access_ttl_s = access_ttl_s
        self._clock = clock
        self.account = account
        self._issued: dict[str, tuple[int, int]] = {}  # access jti -> (epoch, generation) at issue
        self._access_generation = 0  # bumped by expire_access_tokens()
        self._spent: set[str] = set()  # refresh-token jtis already exchanged
        self._refresh_generation = 0  # bumped by revoke_refresh_tokens()
        self._lock = threading.Lock()

    # -------------------------------------------------------------- signing
    def _sign(self, header: dict[str, Any], payload: dict[str, Any]) -> str:
        head = _b64(json.dumps(header, separators=(",", ":")).encode())
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        signature = hmac.new(self._key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(signature)}"

    def _verify(self, token: str) -> dict[str, Any] | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(expected, _unb64(parts[2])):
                return None
            header = json.loads(_unb64(parts[0]))
            payload = json.loads(_unb64(parts[1]))
        except (ValueError, TypeError):
            return None
        if header.get("alg") != "HS256" or not isinstance(payload, dict):
            return None
        return payload

    # -------------------------------------------------------------- issuing
    def issue(
        self, client_id: str = DEFAULT_CLIENT_ID, access_ttl_s: int | None = None
    ) -> dict[str, Any]:
        """A fresh token pair, shaped like the DI token endpoint's response."""
        now = int(self._clock())
        ttl = self.access_ttl_s if access_ttl_s is None else access_ttl_s
        jti = secrets.token_hex(16)
        access = self._sign(
            {"alg": "HS256", "typ": "JWT"},
            {
                "iss": ISSUER,
                "client_id": client_id,
                "scope": list(SCOPES),
                "account": self.account,
                EMULATOR_CLAIM: True,
                "iat": now,
                "exp": now + ttl,
                "jti": jti,
            },
        )
        refresh = self._sign(
            {"alg": "HS256", "typ": "refresh"},
            {
                "client_id": client_id,
                "account": self.account,
                EMULATOR_CLAIM: True,
                "exp": now + REFRESH_TTL_S,
                "jti": secrets.token_hex(16),
                "gen": self._refresh_generation,
            },
        )
        with self._lock:
            self._issued[jti] = (self._epoch(), self._access_generation)
        return {
            "scope": " ".join(SCOPES),
            "jti": jti,
            "access_token": access,
            "token_type": "Bearer",
            "refresh_token": refresh,
            "expires_in": ttl,
            "refresh_token_expires_in": REFRESH_TTL_S,
        }

    def refresh(self, refresh_token: str, client_id: str | None) -> dict[str, Any] | None:
        """Exchange a refresh token for a new pair (the old one is spent); None if refused."""
        payload = self._verify(refresh_token)
        if payload is None or payload.get("exp", 0) < self._clock() or not self._owns(payload):
            return None
        if client_id is not None and payload.get("client_id") != client_id:
            return None
        with self._lock:
            if payload.get("gen", 0) != self._refresh_generation or payload["jti"] in self._spent:
                return None
            self._spent.add(payload["jti"])
        return self.issue(str(payload["client_id"]))

    def expire_access_tokens(self) -> None:
        """Refuse this account's access tokens issued so far (``FaultPlan.expire_tokens`` does
        it for every account): its client gets 401, refreshes and retries."""
        with self._lock:
            self._access_generation += 1

    def revoke_refresh_tokens(self) -> None:
        """Refuse every refresh token issued so far (a password change, or Garmin ending the
        session): the client's refresh fails and only a new login gets tokens again. Pair it
        with ``FaultPlan.expire_tokens`` to revoke the access tokens too."""
        with self._lock:
            self._refresh_generation += 1

    def check(self, authorization: str | None) -> str | None:
        """None when the bearer token is good, else why not (for the 401 body and the log)."""
        if not authorization or not authorization.startswith("Bearer "):
            return "missing bearer token"
        payload = self._verify(authorization[len("Bearer ") :].strip())
        if payload is None or "exp" not in payload or not self._owns(payload):
            return "invalid token"
        if payload["exp"] <= self._clock():
            return "token expired"
        epoch = self._epoch()
        with self._lock:
            issued = self._issued.get(str(payload.get("jti")), (0, 0))
            current = (epoch, self._access_generation)
        if issued != current:
            return "token revoked"
        return None

    def _owns(self, payload: dict[str, Any]) -> bool:
        return payload.get("account", self.account) == self.account

    # -------------------------------------------------------------- token file
    def write_token_store(
        self,
        path: str | os.PathLike[str],
        access_ttl_s: int = ACCESS_TTL_S,
        client_id: str = DEFAULT_CLIENT_ID,
    ) -> Path:
        """Write a garminconnect token file (0600, in a 0700 directory) and return its path."""
        tokens = self.issue(client_id, access_ttl_s)
        target = token_file_path(path)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        content = json.dumps(
            {
                "di_token": tokens["access_token"],
                "di_refresh_token": tokens["refresh_token"],
                "di_client_id": client_id,
            }
        )
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(content)
            tmp.replace(target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return target
