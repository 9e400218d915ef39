"""The Dagster instance the CLI's runs record into: DAGSTER_HOME, given this code location's
instance config (dagster.yaml, package data of `assets`) when it has none, so an installed
package needs no checkout to copy it from."""

import os
from importlib.resources import files
from pathlib import Path

from garmin_pipeline.files import make_private_dir, write_atomically

INSTANCE_CONFIG = "dagster.yaml"


def instance_config() -> bytes:
    """The instance config shipped with the code location (pools, run monitoring)."""
    return files(__package__).joinpath(INSTANCE_CONFIG).read_bytes()


def prepare_dagster_home() -> Path | None:
    """DAGSTER_HOME (private), with the instance config in place; None when it is unset (then
    Dagster itself says so)."""
    if not os.environ.get("DAGSTER_HOME"):
        return None
    home = make_private_dir(Path(os.environ["DAGSTER_HOME"]).absolute())
    if not (home / INSTANCE_CONFIG).exists():
        write_atomically(home / INSTANCE_CONFIG, instance_config())
    return home
