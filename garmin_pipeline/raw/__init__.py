"""The raw zone (bronze): every payload as received, content-hashed, written atomically."""

from garmin_pipeline.raw.store import RawStore

__all__ = ["RawStore"]
