"""How raw spells what it keeps: the bytes of a JSON answer (as received, re-serialised without
reordering, so equal content hashes equal) and the name of an activity's download. Here rather
than in a source or the lake, so the export, the parsers and the lake build share them."""

from __future__ import annotations

import json
from typing import Any


def canonical_json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def activity_zip_name(activity_id: int) -> str:
    """The payload name raw keeps an activity's ORIGINAL download (a zip of its FIT) under."""
    return f"activity-{activity_id}.zip"
