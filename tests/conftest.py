"""Shared fixtures: a real `python -m local_aws` on a free loopback port, and a deployed stack."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "cfn" / "template.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalAwsProcess:
    """A local_aws subprocess; `endpoint_url` is what boto3 talks to.

    Its output goes to a file, not a pipe: a pipe nobody reads fills up and blocks the server
    (possibly while it holds moto's lock). `log()` reads what it wrote so far.
    """

    def __init__(self, *extra_args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(tempfile.mkstemp(prefix="local_aws-", suffix=".log")[1])
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "local_aws", "--port", str(self.port), *extra_args],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.ready_line = self._wait_until_ready()

    def log(self) -> str:
        """Everything local_aws has printed so far."""
        return self.log_path.read_text(errors="replace")

    def _wait_until_ready(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = [line for line in self.log().splitlines() if "ready" in line]
            if ready:
                return ready[0].strip()
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"local_aws exited with {code}:\n{self.log()}")
            time.sleep(0.05)
        raise RuntimeError("local_aws did not become ready")

    def client(self, service: str, **kwargs: object):
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        return boto3.client(
            service,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            **kwargs,
        )

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=15)
        finally:
            self.log_path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAwsProcess]:
    server = LocalAwsProcess("--ttl-sweep-seconds", "0.5")
    yield server
    server.stop()


def deploy(server: LocalAwsProcess, stack_name: str, template: str | None = None) -> dict[str, str]:
    """Create a stack from the template and return its outputs."""
    cloudformation = server.client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=template or TEMPLATE.read_text(),
        Capabilities=["CAPABILITY_IAM"],
    )
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}


@pytest.fixture(scope="session")
def stack(local_aws: LocalAwsProcess) -> dict[str, str]:
    return deploy(local_aws, "e2e")


# Keep any credentials or endpoint of the machine out of the tests.
for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(name, None)
