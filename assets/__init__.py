"""The Dagster code location: thin wiring over `garmin_pipeline`, loaded by workspace.yaml."""
