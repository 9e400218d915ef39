"""The code location's executor: Dagster's default one, holding the data directory's lock for
the whole run (`garmin_pipeline.run_lock`).

A run launched from the UI, a schedule or a sensor runs in a run worker process that lives
from the run's start to its end, while its steps run in subprocesses of their own; the
executor's `execute` runs in that worker for exactly that span, so the lock lives there. A
second run on the same data directory fails at once, before any step, naming the first.
(`garmin-pipeline sync` runs in-process, where Dagster swaps the executor for its own: the
sync takes the same lock itself, in `assets.sync`.)
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from assets.resources import location_settings
from garmin_pipeline.run_lock import data_dir_lock

DEFAULT_EXECUTOR = dg.multi_or_in_process_executor


class DataDirLockedExecutor(dg.Executor):
    """`inner`, inside the data directory's lock."""

    def __init__(self, inner: dg.Executor, data_dir: Path) -> None:
        self.inner = inner
        self.data_dir = data_dir

    @property
    def retries(self) -> Any:
        return self.inner.retries

    @property
    def step_dependency_config(self) -> Any:
        return self.inner.step_dependency_config

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[dg.DagsterEvent]:
        run = plan_context.dagster_run
        with data_dir_lock(self.data_dir, f"{run.job_name} run {run.run_id}"):
            yield from self.inner.execute(plan_context, execution_plan)


def _locked(init_context: dg.InitExecutorContext) -> dg.Executor:
    inner = DEFAULT_EXECUTOR.executor_creation_fn(init_context)  # type: ignore[misc]
    return DataDirLockedExecutor(inner, location_settings().data_dir)


data_dir_locked_executor = dg.ExecutorDefinition(
    name="data_dir_locked",
    config_schema=DEFAULT_EXECUTOR.config_schema,
    requirements=DEFAULT_EXECUTOR.get_requirements,
    executor_creation_fn=_locked,
    description="Dagster's default executor, holding the data directory's lock for the run.",
)
