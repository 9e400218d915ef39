"""Emulator endpoints: see the module docstring of `http` for how they are mounted."""

from __future__ import annotations

from starlette.routing import Route

ROUTES: list[Route] = []
