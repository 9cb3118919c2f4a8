"""One way to run `python -m local_aws` for the tests: `LocalAwsProcess`."""

from __future__ import annotations

import functools
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"^local_aws ready on (?P<url>http://127\.0\.0\.1:(?P<port>\d+))$", re.M)


def _limit(open_files: int) -> None:
    """In the child: at most `open_files` file descriptors."""
    resource.setrlimit(
        resource.RLIMIT_NOFILE, (open_files, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    )


def free_port() -> int:
    """A loopback port that was free a moment ago, for code that must name its port up front."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalAwsProcess:
    """A `python -m local_aws` subprocess on loopback, ready when the constructor returns.

    Its output goes to a file, not a pipe: a pipe nobody reads fills up and blocks the server
    (possibly while it holds moto's lock). The port is the one local_aws names in its ready
    line: it picks a free one itself.
    """

    def __init__(
        self,
        *extra_args: str,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        ready_timeout: float = 60.0,
        open_files: int | None = None,
    ) -> None:
        """Start local_aws on a free port with these extra arguments.

        `env` replaces the inherited environment; `log_path` keeps the log where the caller
        wants it (else a temporary file, removed by `stop()`); `open_files` is the process's
        file descriptor limit (`ulimit -n`; 256 is a laptop's default).
        """
        self._owns_log = log_path is None
        if log_path is None:
            log_path = Path(tempfile.mkstemp(prefix="local_aws-", suffix=".log")[1])
        self.log_path = log_path
        # Port 0: local_aws binds a free port itself and names it in its ready line, so no
        # other process can take the port between choosing it and listening on it.
        command = [sys.executable, "-m", "local_aws", "--port", "0", *extra_args]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=None if open_files is None else functools.partial(_limit, open_files),
            )
        try:
            ready = self._wait_until_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise
        self.ready_line = ready.group(0)
        self.endpoint_url = ready["url"]
        self.port = int(ready["port"])

    def log(self) -> str:
        """Everything local_aws has printed so far."""
        return self.log_path.read_text(errors="replace")

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for this local_aws, with the dummy keys every test uses."""
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        return boto3.client(
            service,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            **kwargs,
        )

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL after `timeout` seconds; return the exit code."""
        try:
            self.process.terminate()
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait()
        finally:
            if self._owns_log:
                self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> LocalAwsProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_until_ready(self, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = READY.search(self.log())
            if ready:
                return ready
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"local_aws exited with {code}:\n{self.log()}")
            time.sleep(0.05)
        raise RuntimeError(f"local_aws was not ready within {timeout} s:\n{self.log()}")
