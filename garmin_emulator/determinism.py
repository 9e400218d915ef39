"""Stable randomness: every synthetic value is a pure function of (seed, what, when).

Python's ``hash()`` is salted per process for ``str``, so seeds are derived with SHA-256 instead.
Only ``random.Random`` methods built on plain arithmetic are used by callers (``random``,
``uniform``, ``randint``, ``choice``), never ``gauss`` & co., which go through the platform's libm:
that keeps bodies and FIT files byte-identical on every machine, not just on this one.
"""

from __future__ import annotations

import hashlib
import random


def _digest(*parts: object) -> bytes:
    text = "\x1f".join(str(part) for part in parts)
    return hashlib.sha256(text.encode("utf-8")).digest()


def stable_rng(*parts: object) -> random.Random:
    """A ``random.Random`` seeded from the parts, e.g. ``stable_rng(seed, "sleep", day)``."""
    return random.Random(int.from_bytes(_digest(*parts)[:16], "big"))


def stable_int(*parts: object, bits: int = 63) -> int:
    """A non-negative integer below ``2**bits`` derived from the parts."""
    return int.from_bytes(_digest(*parts), "big") >> (256 - bits)


def stable_hex(*parts: object, length: int = 32) -> str:
    """Hex digits derived from the parts (uuid-like identifiers in bodies)."""
    return _digest(*parts).hex()[:length]


def jitter(rng: random.Random, amplitude: float) -> float:
    """Bell-shaped noise in [-amplitude, amplitude]: a sum of uniforms, no libm involved."""
    return (rng.random() + rng.random() + rng.random() - 1.5) * (amplitude / 1.5)


def clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value
