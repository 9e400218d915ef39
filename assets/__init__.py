"""The Dagster code location: thin wiring over `garmin_pipeline`, loaded by workspace.yaml."""

from garmin_pipeline.files import keep_new_files_private

# Every process that loads the code location (`dagster dev`'s code server, a run's worker, its
# step processes, `python -m assets.sync`) writes health data: owner-only, whatever its umask.
keep_new_files_private()
