"""`python -m garmin_pipeline` is the `garmin-pipeline` command."""

from garmin_pipeline.cli import entry

entry()
