"""Decoding of activity FIT files into analysis-ready tables in canonical units.

Why canonical units: FIT stores values the way small devices find cheap, not the way people
read them: positions in semicircles (2**31 per 180 degrees), speeds in mm/s, times in seconds
since 1989-12-31, and two versions of some fields (16-bit ``speed`` and 32-bit
``enhanced_speed``). Converting once, here, means the lake holds degrees, metres, m/s and UTC
timestamps, so analysts and every downstream model read plain numbers and never meet a
semicircle or have to know which of two speed fields to trust.

What is decoded, and how, is declared in `garmin_pipeline.fit.tables` (one `Table` per FIT
message type, one `Column` per column); the same declaration gives the frame schema, and is
meant for deriving validation schemas and the data dictionary too.
"""

from garmin_pipeline.fit.decode import FitDecodeError, decode_activity
from garmin_pipeline.fit.tables import (
    ACTIVITY_TABLES,
    TABLE_COLUMNS,
    TABLE_KEYS,
    TABLES,
    Column,
    Table,
    frame_schema,
)
from garmin_pipeline.fit.wellness import (
    WELLNESS_TABLES,
    WellnessTable,
    decode_wellness,
    wellness_frame_schema,
)

__all__ = [
    "ACTIVITY_TABLES",
    "TABLES",
    "TABLE_COLUMNS",
    "TABLE_KEYS",
    "WELLNESS_TABLES",
    "Column",
    "FitDecodeError",
    "Table",
    "WellnessTable",
    "decode_activity",
    "decode_wellness",
    "frame_schema",
    "wellness_frame_schema",
]
