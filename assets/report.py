"""The report as an asset: the HTML page, and each chart as a PNG in its materialization.

Materialized on demand (from the UI, or `dagster asset materialize --select report`), never by
the sync or rebuild jobs, which must not wait for charts. It reads the warehouse, so it takes
the `duckdb` pool like dbt: even a read-only connection would block dbt's write.
"""

import base64

import dagster as dg

from assets.resources import DataDir, GarminConnect
from garmin_pipeline.report.frames import FRAME_MARTS

REPORT_GROUP = "report"
REPORT_MARTS = tuple(sorted({mart for marts in FRAME_MARTS.values() for mart in marts}))


def png_markdown(title: str, image: bytes) -> dg.MetadataValue:
    """An image the UI shows inline: Markdown with the PNG as a base64 data URI."""
    encoded = base64.b64encode(image).decode("ascii")
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{encoded})")


@dg.asset(
    key="report",
    group_name=REPORT_GROUP,
    deps=[dg.AssetKey(mart) for mart in REPORT_MARTS],
    kinds={"html", "altair"},
    pool="duckdb",
    description=(
        "One self-contained HTML page (`<data dir>/report.html`): training load, weekly volume, "
        "resting HR and HRV, sleep stages, the latest activity and a data-coverage calendar, "
        "with the data dictionary of the marts it charts. Each chart is also shown here."
    ),
)
def report(data_dir: DataDir, garmin: GarminConnect) -> dg.MaterializeResult:
    from garmin_pipeline.report.build import write_report  # Altair: only when drawing
    from garmin_pipeline.report.charts import png

    path, built = write_report(data_dir.layout, provisional_overrides=garmin.provisional_days)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "accounts": ", ".join(built.accounts),
            **{
                figure.key: png_markdown(figure.title, png(figure.spec)) for figure in built.figures
            },
        }
    )
