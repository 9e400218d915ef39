"""A loopback Garmin Connect emulator serving a deterministic synthetic athlete.

The real ``garminconnect`` client talks to it over HTTP; only the base URL differs.

    athlete = SyntheticAthlete(seed=42, end_date=date(2024, 12, 31), days=365)
    with Emulator(athlete) as emu:           # a background thread on a free loopback port
        emu.write_token_store(token_dir)      # tokens the real client logs in with
        ...                                   # point the client at emu.base_url
    serve(athlete, port=8765)                 # blocking, for `garmin-pipeline emulator`
    Emulator(athlete, others={"bob": SyntheticAthlete(seed=8)})   # two accounts, see accounts
    SyntheticAthlete(seed=7, timezone="Pacific/Auckland")   # days are that profile zone's days
    Emulator(RecordedAthlete("tests/data/fit", seed=42))  # FIT files as activities, see recorded

Modules: ``athlete`` (synthetic values), ``activity`` (tracks and their summaries), ``fitgen``
(FIT encoding), ``shapes`` (response bodies), ``auth`` (tokens), ``accounts`` (several athletes,
each its own Garmin account), ``faults``, ``server``;
``personal_auth`` and ``personal_routes`` serve Garmin's Personal API under ``/personal-api``
(``emu.personal_api_url``, key ``emu.personal_api_key``); ``recorded`` serves FIT files (a real
device corpus, ``quirks``' generated hard cases) as an athlete's activities.

It writes FIT files with Garmin's FIT SDK (``garmin-fit-sdk``), which is under Garmin's FIT
licence, not an open-source one: an optional extra (``garmin-pipeline[emulator]``, in ``dev``)
that the library never needs, like the web server it serves with (starlette, uvicorn). Without
them, importing the emulator is a one-line error naming the extra.
"""

try:
    import garmin_fit_sdk  # noqa: F401
except ImportError:
    from garmin_pipeline.errors import PipelineError

    raise PipelineError(
        "the emulator (and `demo`) needs Garmin's FIT SDK, an optional extra under Garmin's "
        "FIT licence: pip install 'garmin-pipeline[emulator]'"
    ) from None
try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as missing:
    from garmin_pipeline.errors import PipelineError

    raise PipelineError(
        f"the emulator (and `demo`) needs a web server ({missing.name} is not installed), an "
        "optional extra: pip install 'garmin-pipeline[emulator]'"
    ) from None

from garmin_emulator.accounts import Account
from garmin_emulator.activity import SyntheticActivity
from garmin_emulator.athlete import SyntheticAthlete
from garmin_emulator.faults import FaultPlan, FaultRule
from garmin_emulator.personal_auth import (
    DEFAULT_PERSONAL_API_KEY,
    PersonalApiAuthority,
)
from garmin_emulator.recorded import RecordedAthlete
from garmin_emulator.server import Emulator, RequestRecord, serve

__all__ = [
    "DEFAULT_PERSONAL_API_KEY",
    "Account",
    "Emulator",
    "FaultPlan",
    "FaultRule",
    "PersonalApiAuthority",
    "RecordedAthlete",
    "RequestRecord",
    "SyntheticActivity",
    "SyntheticAthlete",
    "serve",
]
