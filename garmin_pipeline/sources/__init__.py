"""Sources talk to Garmin and nothing else: the `connect` client (garminconnect), the official
Personal API, and the rate governor, breaker and gate every request of theirs passes.

What every source and the layers above them share is here: the sources' names (the
provenance raw records, the keys of `RawFeed.fetchers`) and the zone a Garmin profile names.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

CONNECT = "connect"
PERSONAL_API = "personal_api"


def profile_zone(name: str | None) -> ZoneInfo:
    """The zone a Garmin profile names (Garmin's calendar days are its days, not the host's);
    UTC when it names none or one this host does not know."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ValueError, ZoneInfoNotFoundError):
        log.warning("unknown profile timezone %r; using UTC", name)
        return ZoneInfo("UTC")
