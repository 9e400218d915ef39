"""The Garmin Connect source: the real `garminconnect` client behind the rate governor."""

from garmin_pipeline.sources.connect.client import ConnectSource

__all__ = ["ConnectSource"]
