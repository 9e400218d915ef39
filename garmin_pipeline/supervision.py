"""Which process runs a sync, and whether it is provably gone: a sync killed outright (SIGKILL,
OOM, a power cut) cannot record its own end, so the next one must tell it from /proc.

Dagster's run monitoring (the daemon, `run_monitoring` in dagster.yaml) times out runs stuck
starting or cancelling and frees the pool slots of finished runs, but it cannot tell that the
worker of a run started in-process (`garmin-pipeline sync`) died: the default run launcher
has no worker health check. This module can, for processes of this host. No Dagster here:
`assets/supervision.py` applies it to the instance's runs.
"""

import json
import os
import socket
from pathlib import Path

from garmin_pipeline.files import process_alive

# Set in the sync's environment, so the run's child processes (dbt) can be found by it.
RUN_ID_ENV = "GARMIN_SYNC_RUN_ID"


def process_started(pid: int) -> str | None:
    """When `pid` started (clock ticks since boot, from /proc): a reused pid started later."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def process_identity(run_id: str) -> str:
    """This process, as the run `run_id` records it: {"host", "pid", "started", "run_id"}. The
    run id is in there because a re-execution from the UI copies its parent's tags: only the
    run it names is judged."""
    pid = os.getpid()
    identity = {"host": socket.gethostname(), "pid": pid, "started": process_started(pid)}
    return json.dumps({**identity, "run_id": run_id})


def process_gone(identity: str, run_id: str) -> bool:
    """True only when the process `identity` names (see `process_identity`) for `run_id` is
    provably gone: it ran on this host and its pid is dead, or now belongs to a process that
    started later. Anything else (no identity, another run's, another host) is never judged."""
    try:
        worker = json.loads(identity)
    except ValueError:
        return False
    if not isinstance(worker, dict):
        return False
    if worker.get("run_id") != run_id or worker.get("host") != socket.gethostname():
        return False
    pid = worker.get("pid")
    if not isinstance(pid, int):
        return False
    if not process_alive(pid):
        return True
    # Alive: the same process, unless the pid was reused by one that started later.
    then, now = worker.get("started"), process_started(pid)
    return then is not None and now is not None and now != then


def surviving_children(run_id: str) -> list[int]:
    """Live processes started by the run that outlived it (found by their environment)."""
    marker = f"{RUN_ID_ENV}={run_id}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile, or another user's
        if marker in environment and process_alive(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)
