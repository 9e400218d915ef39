"""What a killed sync leaves behind, cleared by the next one before it starts.

A sync killed outright cannot record its own end: its run would stay STARTED in the UI and keep
its pool slots (garmin_api, duckdb: limit 1), so the next sync would wait for them forever.
Each run therefore records which process runs it (host, pid and the pid's start time, in a
tag), and before starting, a sync marks failed every unfinished run of these jobs whose process
is provably gone from this host (`garmin_pipeline.supervision` tells), and frees the pool slots
of finished runs. Under `dagster dev` Dagster's own run monitoring (dagster.yaml) frees those
slots too; `garmin-pipeline sync` runs without its daemon.
"""

from collections.abc import Collection

import dagster as dg

from garmin_pipeline.supervision import process_gone, surviving_children

# {"host", "pid", "started", "run_id"} of the process running the run (`process_identity`).
PROCESS_TAG = "garmin/process"
UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


class KilledRunStillBusy(Exception):
    """A killed run's child process (a dbt build) outlived it: freeing its slots is not safe."""


def worker_gone(run: dg.DagsterRun) -> bool:
    """True only when the process that ran `run` is provably gone. Runs started any other way
    (the UI, a schedule, another host) have no tag of ours and are never judged."""
    return process_gone(run.tags.get(PROCESS_TAG, ""), run.run_id)


def recover_killed_runs(
    instance: dg.DagsterInstance, superseded_by: str, job_names: Collection[str]
) -> list[str]:
    """Mark failed the unfinished runs of `job_names` whose process was killed, and free pool
    slots that finished runs still hold. Returns the ids of the runs marked failed."""
    recovered = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        if run.job_name not in job_names:
            continue
        if not worker_gone(run):
            continue  # still running (it keeps its slots), or not ours to judge
        children = surviving_children(run.run_id)
        if children:
            raise KilledRunStillBusy(
                f"run {run.run_id} was killed, but processes it started still run "
                f"(pids {', '.join(map(str, children))}, e.g. a dbt build holding the "
                "warehouse); wait for them to end, or kill them, then sync again"
            )
        instance.report_run_failed(
            run, message=f"killed before it finished; superseded by run {superseded_by}"
        )
        recovered.append(run.run_id)
    free_slots_of_finished_runs(instance)
    return recovered


def free_slots_of_finished_runs(instance: dg.DagsterInstance) -> list[str]:
    """What the daemon's run monitoring does (`free_slots_after_run_end_seconds`), for a sync
    that runs without a daemon: a run that ended, however, holds no pool slot."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders = set(storage.get_concurrency_run_ids())  # runs with steps waiting for a slot
    for pool in storage.get_concurrency_keys():
        holders |= {slot.run_id for slot in storage.get_concurrency_info(pool).claimed_slots}
    freed = []
    for run_id in sorted(holders):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)
            freed.append(run_id)
    return freed
