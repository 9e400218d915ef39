"""Telling a killed sync's process from a live one (garmin_pipeline.supervision), and the
instance config the code location ships (Dagster's run monitoring where it applies): pure
functions and files, no sync."""

import json
import os
import socket
import subprocess

import dagster as dg

from assets.instance import instance_config, prepare_dagster_home
from garmin_pipeline.supervision import process_gone, process_identity, process_started


def identity(run_id: str, **changes: object) -> str:
    return json.dumps({**json.loads(process_identity(run_id)), **changes})


def test_a_live_process_is_not_gone():
    tag = process_identity("run-1")
    assert json.loads(tag) == {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": process_started(os.getpid()),
        "run_id": "run-1",
    }
    assert process_gone(tag, "run-1") is False


def test_a_dead_pid_is_gone():
    ended = subprocess.Popen(["true"])
    ended.wait()
    assert process_gone(identity("run-1", pid=ended.pid), "run-1") is True


def test_a_reused_pid_is_gone():
    """The pid is alive, but its process started at another time: not the run's any more."""
    assert process_gone(identity("run-1", started="1"), "run-1") is True


def test_only_a_tag_of_this_run_on_this_host_is_judged():
    ended = subprocess.Popen(["true"])
    ended.wait()
    dead = identity("run-1", pid=ended.pid)
    assert process_gone(dead, "run-2") is False  # a re-execution copied its parent's tag
    assert process_gone(identity("run-1", pid=ended.pid, host="elsewhere"), "run-1") is False
    for garbage in ("", "not json", "5", '{"pid": "1"}', json.dumps({"run_id": "run-1"})):
        assert process_gone(garbage, "run-1") is False


def test_the_instance_config_turns_on_run_monitoring_and_pool_limits(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert prepare_dagster_home() == home
    assert (home / "dagster.yaml").read_bytes() == instance_config()
    assert home.stat().st_mode & 0o777 == 0o700
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.run_monitoring_enabled
        settings = instance.run_monitoring_settings
        assert settings["free_slots_after_run_end_seconds"] > 0
        assert settings["start_timeout_seconds"] > 0
        assert instance.event_log_storage.get_concurrency_info("garmin_api").limit == 1


def test_an_instance_config_of_the_users_is_kept(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    prepare_dagster_home()
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
