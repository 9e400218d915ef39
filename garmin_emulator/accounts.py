"""The Garmin accounts one emulator serves: a household's, or a coaching service's athletes.

Each account is a separate Garmin login: its own athlete (its own seed, so its own display name,
profile id and values), Connect tokens, Personal API key and sign-in credentials. Every
credential the emulator issues names its account (the ``account`` claim of both APIs' JWTs, the
account an SSO ticket was issued for), and the gate serves a request the data of that
account's athlete only: one account's tokens never read another's data.

Activity ids come from the day (``SyntheticAthlete._plan``), not the seed, so two accounts'
activities of one day share an id, which Garmin's never do; each token still reads only its
own account's activity under that id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from garmin_emulator.athlete import SyntheticAthlete
from garmin_emulator.auth import TokenAuthority
from garmin_emulator.personal_auth import (
    DEFAULT_PERSONAL_API_KEY,
    PersonalApiAuthority,
)

# The names GARMIN_ACCOUNT takes (settings), so an emulated account is a pipeline account too.
ACCOUNT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Account:
    """One account's athlete and the authorities of its Connect tokens and Personal API key.

    Its sign-in credentials live in the emulator's ``SsoAuthority``: a login has to find the
    account its e-mail belongs to, so all accounts' credentials sit together there.
    """

    def __init__(
        self,
        name: str,
        athlete: SyntheticAthlete,
        tokens: TokenAuthority,
        personal_api: PersonalApiAuthority,
    ) -> None:
        self.name = name
        self._athlete = athlete
        self.tokens = tokens
        self.personal_api = personal_api

    @property
    def athlete(self) -> SyntheticAthlete:
        return self._athlete

    @athlete.setter
    def athlete(self, athlete: SyntheticAthlete) -> None:
        """Serve another athlete from now on, e.g. the same seed one day later: what Garmin
        looks like after the watch uploads a new day. Tokens stay valid (same seed)."""
        if athlete.seed != self._athlete.seed:
            raise ValueError("swap in an athlete with the same seed, or tokens would not match")
        self._athlete = athlete

    def __repr__(self) -> str:
        return f"Account({self.name!r}, {self._athlete.display_name!r})"


def other_credentials(name: str) -> tuple[str, str]:
    """A further account's e-mail and password: plus-addressed, so never the primary's e-mail."""
    return f"athlete+{name}@example.com", f"emulator-password-{name}"


def other_personal_api_key(name: str) -> str:
    return f"{DEFAULT_PERSONAL_API_KEY}-{name}"


def check_accounts(athletes: Mapping[str, SyntheticAthlete]) -> None:
    """Refuse accounts the emulator could not tell apart: a name the pipeline would not take,
    or two athletes with one seed (same display name and profile id, same signing keys)."""
    for name in athletes:
        if not isinstance(name, str) or not ACCOUNT_NAME.match(name):
            raise ValueError(
                f"account name {name!r} is not a slug (lower-case letters, digits, - and _)"
            )
    by_seed: dict[int, str] = {}
    for name, athlete in athletes.items():
        if athlete.seed in by_seed:
            raise ValueError(
                f"accounts {by_seed[athlete.seed]!r} and {name!r} have the same seed "
                f"{athlete.seed}: each account needs its own athlete"
            )
        by_seed[athlete.seed] = name
