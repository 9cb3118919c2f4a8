"""Start and stop `local_aws`, the offline AWS the workshop runs on by default.

`ensure_local_aws` starts `python -m local_aws` only if nothing answers yet, and records the
process id in a pid file; `stop_local_aws_if_we_started_it` stops that process and no other
(a local_aws you started yourself, or with `make lab`, keeps running).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from tutorial_helpers.errors import WorkshopError
from tutorial_helpers.target import Target, describe, select_target

REPOSITORY = Path(__file__).resolve().parents[1]
READY_LINE = "local_aws ready on"
HEALTH_PATH = "/_local_aws/health"


def is_running(endpoint_url: str, timeout: float = 1.0) -> bool:
    """True if local_aws answers its health check (`/_local_aws/health`) on `endpoint_url`."""
    try:
        with urllib.request.urlopen(f"{endpoint_url}{HEALTH_PATH}", timeout=timeout) as response:
            health = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return isinstance(health, dict) and health.get("service") == "local_aws"


def port_of(endpoint_url: str) -> int:
    """The port in a URL such as `http://127.0.0.1:4566`."""
    port = urlparse(endpoint_url).port
    if port is None:
        raise WorkshopError(f"{endpoint_url!r} names no port; use e.g. http://127.0.0.1:4566.")
    return port


def pid_file(port: int) -> Path:
    """Where the pid of a local_aws started by these helpers is written: in this clone, so
    another user's or another clone's notebooks never stop it."""
    return REPOSITORY / f".local_aws-notebook-{port}.pid"


def log_file(port: int) -> Path:
    """Where that local_aws writes its output (its log, for when something goes wrong)."""
    return REPOSITORY / f".local_aws-notebook-{port}.log"


# What to do when the port is taken: JupyterLab's kernels inherit the port from `make lab`.
CHOOSE_ANOTHER_PORT = (
    "If the port is taken, stop what holds it (`make stop` stops a local_aws that make "
    "started), or choose another port: stop JupyterLab and run `make lab PORT=4567`."
)


def start_local_aws(
    port: int,
    *extra_args: str,
    log_path: Path | None = None,
    timeout: float = 60.0,
    advice: str = CHOOSE_ANOTHER_PORT,
) -> subprocess.Popen[bytes]:
    """Run `python -m local_aws --port PORT [extra_args]` and wait for its ready line.

    Its output goes to `log_path` (default: `log_file(port)`). The process runs in its own
    session, so it outlives this kernel and serves the next notebooks too. Raises
    `WorkshopError` with the end of the log and `advice` if it exits or is not ready within
    `timeout`.
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
        f"local_aws did not start on port {port}. Its last lines:\n{tail}\n{advice}"
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

    Returns a sentence saying what really happened.
    """
    if not target.is_local:
        return "Target is AWS: no local_aws to stop."
    assert target.endpoint_url is not None
    port = port_of(target.endpoint_url)
    if not pid_file(port).exists():
        return "local_aws was not started by a notebook: it keeps running."
    message = stop_by_pid_file(pid_file(port), target.endpoint_url, timeout)
    if not pid_file(port).exists():  # it is gone: its log is of no more use
        log_file(port).unlink(missing_ok=True)
    return message


def stop_by_pid_file(path: Path, endpoint_url: str, timeout: float = 15.0) -> str:
    """Stop the local_aws whose pid `path` holds; say what happened, truthfully.

    The pid is signalled only if that process is a local_aws (its command line says so), so a
    stale pid file never stops an unrelated process that reuses the number. SIGTERM first (a
    clean shutdown), SIGKILL if it is still there after `timeout`. The pid file is removed
    once the process is gone.
    """
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return f"No usable pid in {path.name}: nothing stopped."
    if not _alive(pid) or not _is_local_aws(pid):
        path.unlink(missing_ok=True)
        return f"local_aws (pid {pid}) had already stopped."
    os.kill(pid, signal.SIGTERM)  # local_aws shuts down cleanly on SIGTERM
    if not _wait_until_gone(pid, timeout):
        os.kill(pid, signal.SIGKILL)
        if not _wait_until_gone(pid, 5.0):
            return f"local_aws (pid {pid}) did not stop, even on SIGKILL: stop it by hand."
        path.unlink(missing_ok=True)
        return f"Killed local_aws on {endpoint_url} (pid {pid}): it did not stop on SIGTERM."
    path.unlink(missing_ok=True)
    return f"Stopped local_aws on {endpoint_url}."


def _alive(pid: int) -> bool:
    """True if the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return state not in ("Z", "X")


def _is_local_aws(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust the pid file, which only these helpers write
    return b"local_aws" in command


def _wait_until_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


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


def start_for_make(port: int, pid_path: Path, log_path: Path) -> int:
    """What `make local-aws` (and so `make lab`) runs: use a running local_aws, or start one.

    Returns the exit status: 0 when local_aws answers on `port`, 1 (after saying why and what
    to do) when it could not start, so that make stops before JupyterLab.
    """
    endpoint_url = f"http://127.0.0.1:{port}"
    if is_running(endpoint_url):
        print(f"local_aws already running on {endpoint_url}")
        return 0
    try:
        process = start_local_aws(
            port,
            log_path=log_path,
            advice=(
                "Stop what holds the port (`make stop` stops a local_aws that make started), "
                f"or choose another one: `make lab PORT={port + 1}`."
            ),
        )
    except WorkshopError as error:
        print(f"make: {error}", file=sys.stderr)
        return 1
    pid_path.write_text(str(process.pid))
    print(f"local_aws ready on {endpoint_url} (pid {process.pid}; `make stop` stops it)")
    return 0


def main() -> None:
    """The command line of `make`: `stop PID_FILE ENDPOINT_URL` (`make stop`), and
    `start PORT PID_FILE LOG_FILE` (`make local-aws`)."""
    if len(sys.argv) == 5 and sys.argv[1] == "start":
        raise SystemExit(start_for_make(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])))
    if len(sys.argv) != 4 or sys.argv[1] != "stop":
        raise SystemExit("usage: stop PID_FILE ENDPOINT_URL | start PORT PID_FILE LOG_FILE")
    path = Path(sys.argv[2])
    if not path.exists():
        print(f"No {path.name}: no local_aws started by make to stop.")
        return
    message = stop_by_pid_file(path, sys.argv[3])
    print(message)
    if path.exists():
        raise SystemExit(1)


if __name__ == "__main__":
    main()
