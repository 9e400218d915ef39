"""Garmin's official Personal API: key-based, read-only, through Garmin's own client."""

from garmin_pipeline.sources.personal_api.client import PersonalApiSource

__all__ = ["PersonalApiSource"]
