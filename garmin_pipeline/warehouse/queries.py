"""The canonical analyst queries: dbt analyses in `dbt/analyses/`, run against the warehouse.

Each analysis is one `.sql` file whose leading `--` comment says the question it answers. They
are dbt analyses, so `dbt compile` renders them and dbt docs list them; here they are rendered
without dbt (their only Jinja is `ref()`, and every mart lives in the warehouse's default
schema), so running one costs a DuckDB query, not a dbt start-up. Connections are read-only:
DuckDB allows one writer, and that is dbt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import jinja2
import polars as pl

from garmin_pipeline.warehouse.dbt_project import DBT_PROJECT_DIR

ANALYSES_DIR = DBT_PROJECT_DIR / "analyses"


@dataclass(frozen=True)
class Analysis:
    name: str
    question: str  # the header comment, as one paragraph
    sql: str  # rendered: ref('x') is the warehouse relation x

    def run(self, con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
        return con.sql(self.sql).pl()


def _question(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line.removeprefix("--").strip())
    return " ".join(part for part in lines if part)


def _render(text: str) -> str:
    """Only `ref()` is defined: anything else dbt-specific fails loudly instead of half-working."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    return environment.from_string(text).render(ref=lambda name: f'"{name}"')


def load_analysis(path: Path) -> Analysis:
    text = path.read_text(encoding="utf-8")
    return Analysis(name=path.stem, question=_question(text), sql=_render(text))


def analyses(directory: Path = ANALYSES_DIR) -> list[Analysis]:
    """Every analysis, by name."""
    return [load_analysis(path) for path in sorted(directory.glob("*.sql"))]


def analysis(name: str, directory: Path = ANALYSES_DIR) -> Analysis:
    path = directory / f"{name}.sql"
    if not path.is_file():
        known = ", ".join(a.name for a in analyses(directory))
        raise KeyError(f"no analysis {name!r}; there are: {known}")
    return load_analysis(path)


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """Read-only, so it never takes the writer's lock (it still fails while dbt writes)."""
    return duckdb.connect(str(warehouse), read_only=True)


def run_analysis(name: str, warehouse: Path) -> pl.DataFrame:
    """The answer to analysis `name` from the warehouse file at `warehouse`."""
    with connect(warehouse) as con:
        return analysis(name).run(con)


def main(argv: list[str] | None = None) -> int:
    """`python -m garmin_pipeline.warehouse.queries [NAME]`: list the analyses, or run one
    against GARMIN_DATA_DIR's warehouse and print its answer."""
    import argparse

    from garmin_pipeline.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m garmin_pipeline.warehouse.queries")
    parser.add_argument("name", nargs="?", help="the analysis to run; none: list them")
    parser.add_argument("--warehouse", type=Path, help="default: GARMIN_DATA_DIR's warehouse")
    args = parser.parse_args(argv)
    if args.name is None:
        for known in analyses():
            print(f"{known.name}\n    {known.question}")
        return 0
    warehouse = args.warehouse or Settings.from_env().layout.warehouse_path
    with pl.Config(tbl_rows=50, tbl_cols=-1, tbl_width_chars=200):
        print(run_analysis(args.name, warehouse))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
