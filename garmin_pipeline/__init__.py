"""garmin-pipeline: a complete, analysis-ready copy of Garmin Connect data.

This package is the library: sources, raw store, lake, FIT decoding and the dbt project wiring.
It never imports Dagster; the Dagster code location in ``assets/`` is thin wiring over it.
"""

__version__ = "0.1.0"
