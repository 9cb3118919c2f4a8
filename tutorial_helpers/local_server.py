"""Start and stop `local_aws`, the offline AWS the workshop runs on by default.

`ensure_local_aws` starts `python -m local_aws` only if nothing answers yet, and records the
process id in a pid file; `stop_local_aws_if_we_started_it` stops that process and no other
(a local_aws you started yourself, or with `make lab`, keeps running).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from tutorial_helpers.errors import WorkshopError
from tutorial_helpers.target import Target, describe, select_target

REPOSITORY = Path(__file__).resolve().parents[1]
READY_LINE = "local_aws ready on"


def is_running(endpoint_url: str, timeout: float = 1.0) -> bool:
    """True if local_aws answers on `endpoint_url` (its `/moto-api/` page returns 200)."""
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def port_of(endpoint_url: str) -> int:
    """The port in a URL such as `http://127.0.0.1:4566`."""
    port = urlparse(endpoint_url).port
    if port is None:
        raise WorkshopError(f"{endpoint_url!r} names no port; use e.g. http://127.0.0.1:4566.")
    return port


def pid_file(port: int) -> Path:
    """Where the pid of a local_aws started by these helpers is written."""
    return Path(tempfile.gettempdir()) / f"tutorial_helpers-local_aws-{port}.pid"


def log_file(port: int) -> Path:
    """Where that local_aws writes its output (its log, for when something goes wrong)."""
    return Path(tempfile.gettempdir()) / f"tutorial_helpers-local_aws-{port}.log"


def start_local_aws(
    port: int, *extra_args: str, log_path: Path | None = None, timeout: float = 60.0
) -> subprocess.Popen[bytes]:
    """Run `python -m local_aws --port PORT [extra_args]` and wait for its ready line.

    Its output goes to `log_path` (default: `log_file(port)`). The process runs in its own
    session, so it outlives this kernel and serves the next notebooks too. Raises
    `WorkshopError` with the end of the log if it exits or is not ready within `timeout`.
    """
    log_path = log_path or log_file(port)
    command = [sys.executable, "-m", "local_aws", "--port", str(port), *extra_args]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if READY_LINE in log_path.read_text(errors="replace"):
            return process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    else:
        process.terminate()
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-5:])
    raise WorkshopError(
        f"local_aws did not start on port {port}. Its last lines:\n{tail}\n"
        "If the port is taken, set LOCAL_AWS_PORT to a free port and restart the kernel."
    )


def ensure_local_aws(target: Target) -> str:
    """Make sure local_aws answers at the target's endpoint; start it if needed.

    Returns a sentence saying what happened. Does nothing on AWS.
    """
    if not target.is_local:
        return "Target is AWS: local_aws is not needed."
    assert target.endpoint_url is not None
    if is_running(target.endpoint_url):
        return f"local_aws is already running on {target.endpoint_url}."
    port = port_of(target.endpoint_url)
    process = start_local_aws(port)
    pid_file(port).write_text(str(process.pid))
    return f"Started local_aws on {target.endpoint_url}; 05_cleanup stops it."


def stop_local_aws_if_we_started_it(target: Target, timeout: float = 15.0) -> str:
    """Stop the local_aws that `ensure_local_aws` started (found by its pid file), else nothing.

    Returns a sentence saying what happened.
    """
    if not target.is_local:
        return "Target is AWS: no local_aws to stop."
    assert target.endpoint_url is not None
    path = pid_file(port_of(target.endpoint_url))
    if not path.exists():
        return "local_aws was not started by a notebook: it keeps running."
    pid = int(path.read_text().strip())
    path.unlink()
    try:
        os.kill(pid, signal.SIGTERM)  # local_aws shuts down cleanly on SIGTERM
    except ProcessLookupError:
        return "local_aws had already stopped."
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and is_running(target.endpoint_url, timeout=0.5):
        time.sleep(0.2)
    log_file(port_of(target.endpoint_url)).unlink(missing_ok=True)
    return f"Stopped local_aws on {target.endpoint_url}."


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
    """Stop a local_aws from `start_local_aws` (SIGTERM, then kill) and return its exit code."""
    process.terminate()
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def start_workshop() -> Target:
    """Select the target and start local_aws if it is local and not running; print both.

    The first cell of every notebook calls it, so each notebook runs on its own.
    """
    target = select_target()
    print(describe(target))
    print(ensure_local_aws(target))
    return target
