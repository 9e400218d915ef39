"""The fast tier's guard can fail: while a fast test runs, a server, a child process other than
a `python -c` probe, or a first import of Dagster is refused (tests/conftest.py)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests import conftest

pytestmark = pytest.mark.fast


def test_a_fast_test_may_not_start_a_server() -> None:
    with socket.socket() as server, pytest.raises(conftest.NotAFastTest, match="a server bound"):
        server.bind(("127.0.0.1", 0))
    assert conftest._violations == ["a server bound ('127.0.0.1', 0)"]
    conftest._violations.clear()  # this test's own violation, on purpose


def test_a_fast_test_may_not_start_a_child_process() -> None:
    with pytest.raises(conftest.NotAFastTest, match="a child process"):
        subprocess.run([sys.executable, "-m", "garmin_pipeline", "--help"], check=False)
    assert conftest._violations == [
        f"a child process {[sys.executable, '-m', 'garmin_pipeline', '--help']!r}"
    ]
    conftest._violations.clear()


def test_a_python_probe_and_a_local_socket_are_allowed() -> None:
    probe = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True)
    assert probe.stdout == "42\n"
    left, right = socket.socketpair()  # AF_UNIX, as multiprocessing uses: not a server
    with left, right:
        left.sendall(b"x")
        assert right.recv(1) == b"x"
    assert conftest._violations == []
