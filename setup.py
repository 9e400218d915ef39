"""What pyproject.toml cannot say: the wheel carries the dbt project.

The dbt project stays a top-level folder of the repository (`dbt/`, where dbt users look for
it), and ships inside the library as `garmin_pipeline/warehouse/dbt/` (package data of a
package mapped onto that folder), so a regular install builds the warehouse with no checkout
(`garmin_pipeline.warehouse.dbt_project` finds either). dbt's own output (target/, logs/)
never ships: at run time it goes to the data directory.
"""

from setuptools import find_namespace_packages, setup

DBT_PACKAGE = "garmin_pipeline.warehouse.dbt"

setup(
    packages=[
        *find_namespace_packages(include=["garmin_pipeline*", "garmin_emulator*", "assets*"]),
        DBT_PACKAGE,
    ],
    package_dir={DBT_PACKAGE: "dbt"},
    package_data={
        # Copied into DAGSTER_HOME when it has none.
        "assets": ["dagster.yaml"],
        DBT_PACKAGE: ["**/*.sql", "**/*.yml", "**/*.csv", "**/*.md"],
    },
    # What dbt writes into the project folder of a checkout.
    exclude_package_data={DBT_PACKAGE: ["target/**", "logs/**", "dbt_packages/**", ".user.yml"]},
)
