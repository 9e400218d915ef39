"""Run the sync job in-process against the DAGSTER_HOME instance, for `garmin-pipeline sync`.

Runs are recorded in DAGSTER_HOME like any other, so they show up in the UI. On failure this
prints one line saying why (the pipeline's own error message where there is one) and exits 1.
"""

import argparse
import sys
from datetime import date

import dagster as dg

from assets.jobs import range_tags
from assets.raw import REFETCH_TAG
from garmin_pipeline.errors import PipelineError

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
_OUR_ERRORS = {cls.__name__ for cls in (PipelineError, *PipelineError.__subclasses__())}


def failure_reason(result: dg.ExecuteInProcessResult) -> str:
    """The most specific message behind the first failed step."""
    for event in result.all_events:
        if not event.is_step_failure or event.step_failure_data is None:
            continue
        error = event.step_failure_data.error
        chain = []
        while error is not None:
            chain.append(error)
            error = error.cause or error.context
        ours = [e for e in chain if e.cls_name in _OUR_ERRORS]
        deepest = ours[0] if ours else chain[-1]
        message = deepest.message.strip().splitlines()[-1]
        asset = (event.step_key or "").replace("__", "/")  # the step of asset raw/x is raw__x
        return f"{asset}: {message.split(': ', 1)[-1] if ours else message}"
    return "the run failed before any step ran; see the run in the Dagster UI (make dev)"


def run_sync(
    first: date, last: date, instance: dg.DagsterInstance, refetch: bool = False
) -> dg.ExecuteInProcessResult:
    from assets.definitions import defs  # import late: loading the definitions parses dbt

    job = defs.resolve_job_def("sync")
    tags = range_tags(first.isoformat(), last.isoformat())
    if refetch:
        tags[REFETCH_TAG] = "true"
    return job.execute_in_process(
        instance=instance,
        tags=tags,
        run_config=QUIET_LOGS,
        raise_on_error=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assets.sync")
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument("--refetch", action="store_true")
    args = parser.parse_args(argv)
    with dg.DagsterInstance.get() as instance:
        result = run_sync(args.start, args.end, instance, refetch=args.refetch)
    if result.success:
        print(f"synced {args.start}..{args.end} (run {result.run_id})")
        return 0
    print(f"sync failed: {failure_reason(result)} (run {result.run_id})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
