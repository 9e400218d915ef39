"""`python -m garmin_pipeline` is the `garmin-pipeline` command."""

from garmin_pipeline.cli import entry

if __name__ == "__main__":
    entry()
