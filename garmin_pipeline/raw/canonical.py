"""The bytes raw keeps for a JSON answer: as received, re-serialised without reordering, so
equal content hashes equal. Here rather than in a source, so parsing and building the lake do
not import the HTTP clients."""

from __future__ import annotations

import json
from typing import Any


def canonical_json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
