"""The report: one self-contained HTML page of Altair charts over the DuckDB warehouse.

`frames` queries the marts into polars frames, `coverage` says which days are complete,
provisional or missing, `charts` turns frames into Vega-Lite specs (and PNGs for Dagster), and
`page` writes the HTML with the Vega libraries and the data dictionary inline, so the page
works offline. `build` ties them together for the CLI, the demo and the Dagster asset.

Nothing is imported here: the Dagster code location names the report asset on every sync, and
Altair and vl-convert are loaded only when a report is drawn.
"""
