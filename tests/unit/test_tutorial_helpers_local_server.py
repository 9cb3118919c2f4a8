"""tutorial_helpers.local_server: start local_aws if nothing answers; stop only what it started."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import free_port
from tutorial_helpers import WorkshopError
from tutorial_helpers.local_server import (
    ensure_local_aws,
    is_running,
    log_file,
    pid_file,
    port_of,
    start_for_make,
    start_local_aws,
    stop_by_pid_file,
    stop_local_aws_if_we_started_it,
    stop_process,
)
from tutorial_helpers.target import Target


def local_target(port: int) -> Target:
    return Target("local", "us-east-1", "ws-workshop", f"http://127.0.0.1:{port}")


def test_port_of_needs_a_port() -> None:
    assert port_of("http://127.0.0.1:4566") == 4566
    with pytest.raises(WorkshopError, match="names no port"):
        port_of("http://127.0.0.1")


def test_nothing_to_do_on_aws() -> None:
    target = Target("aws", "eu-west-1", "ws-workshop-ada")
    assert ensure_local_aws(target) == "Target is AWS: local_aws is not needed."
    assert stop_local_aws_if_we_started_it(target) == "Target is AWS: no local_aws to stop."


def test_a_running_local_aws_is_used_and_left_running(local_aws) -> None:
    target = local_target(local_aws.port)
    assert ensure_local_aws(target) == f"local_aws is already running on {local_aws.endpoint_url}."
    assert not pid_file(local_aws.port).exists()
    assert stop_local_aws_if_we_started_it(target) == (
        "local_aws was not started by a notebook: it keeps running."
    )
    assert is_running(local_aws.endpoint_url)


def test_started_when_nothing_answers_then_stopped_by_its_pid_file() -> None:
    port = free_port()
    target = local_target(port)
    assert not is_running(target.endpoint_url)
    try:
        message = ensure_local_aws(target)
        assert message == f"Started local_aws on http://127.0.0.1:{port}; 05_cleanup stops it."
        assert is_running(target.endpoint_url)
        assert pid_file(port).read_text().strip().isdigit()
        assert ensure_local_aws(target).startswith("local_aws is already running")
    finally:
        stopped = stop_local_aws_if_we_started_it(target)
    assert stopped == f"Stopped local_aws on http://127.0.0.1:{port}."
    assert not pid_file(port).exists()
    assert not log_file(port).exists()
    assert not is_running(target.endpoint_url)


def test_a_port_in_use_is_reported_with_the_log_and_the_fix(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        expected = r"(?s)did not start on port .*address already in use.*make lab PORT=4567"
        with pytest.raises(WorkshopError, match=expected):
            start_local_aws(port, log_path=tmp_path / "local_aws.log", timeout=60)
        assert time.monotonic() - started < 60  # it notices the exit, not the timeout


def test_stop_process_returns_the_exit_code(tmp_path) -> None:
    process = start_local_aws(free_port(), log_path=tmp_path / "local_aws.log")
    assert stop_process(process) == 0


def test_a_stale_pid_file_never_stops_an_unrelated_process(tmp_path) -> None:
    """A pid reused by another program is left alone, and the pid file goes."""
    unrelated = subprocess.Popen(["sleep", "30"])
    try:
        path = tmp_path / "stale.pid"
        path.write_text(str(unrelated.pid))
        message = stop_by_pid_file(path, "http://127.0.0.1:1")
        assert message == f"local_aws (pid {unrelated.pid}) had already stopped."
        assert unrelated.poll() is None
        assert not path.exists()
    finally:
        unrelated.kill()
        unrelated.wait()


def test_stop_reports_the_truth_when_sigterm_is_ignored(tmp_path) -> None:
    """A local_aws that ignores SIGTERM is killed, and the message says so."""
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ignoring SIGTERM', flush=True); time.sleep(60)",
            "local_aws",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        # Its one line says the handler is in place; nothing else is written to the pipe.
        assert stubborn.stdout.readline() == b"ignoring SIGTERM\n"
        path = tmp_path / "stubborn.pid"
        path.write_text(str(stubborn.pid))
        message = stop_by_pid_file(path, "http://127.0.0.1:1", timeout=0.5)
        assert message.startswith("Killed local_aws") and "did not stop on SIGTERM" in message
        assert stubborn.wait(timeout=5) == -9
        assert not path.exists()
    finally:
        stubborn.kill()
        stubborn.wait()
        stubborn.stdout.close()


def test_make_lab_stops_when_local_aws_cannot_start_and_names_the_port_option(tmp_path) -> None:
    """`make local-aws` (run by `make lab`) exits 1 with the fix, so JupyterLab never starts."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-c", "from tutorial_helpers.local_server import main; main()"]
            + ["start", str(port), str(tmp_path / "pid"), str(tmp_path / "log")],
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert result.returncode == 1
    assert "address already in use" in result.stderr
    assert f"make lab PORT={port + 1}" in result.stderr
    assert not (tmp_path / "pid").exists()


def test_make_lab_uses_a_running_local_aws(local_aws, tmp_path) -> None:
    status = start_for_make(local_aws.port, tmp_path / "pid", tmp_path / "log")
    assert status == 0 and not (tmp_path / "pid").exists()


def test_make_chooses_the_port_with_port_and_hands_it_to_the_kernels() -> None:
    """`make lab PORT=4567` is the one way: the kernels get it as LOCAL_AWS_PORT."""
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "export LOCAL_AWS_PORT := $(PORT)" in makefile
    assert "start $(PORT) .local_aws.pid" in makefile
