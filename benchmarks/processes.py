"""The processes a benchmark talks to: local_aws, the reference servers and the holder.

Everything listens on 127.0.0.1 only. Resident memory and CPU time are read from /proc.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "cfn" / "template.yaml"
REGION = "us-east-1"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_fd_limit(wanted: int) -> None:
    """Raise the soft limit on open files; children inherit it (local_aws needs one per socket)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))


def client(service: str, endpoint_url: str, **config: Any) -> Any:
    """A boto3 client with dummy credentials; no retries, so a failure shows instead of hiding."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


# ------------------------------------------------------------------------------ /proc


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """VmRSS (or another kB field of /proc/<pid>/status, e.g. VmHWM) in MB (MiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    """Direct children of `pid` (the Lambda workers of local_aws), found by scanning /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it exited meanwhile
            continue
        # The command name is in parentheses and may contain spaces: split after it.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def cpu_seconds(pid: int, path: str = "") -> float:
    """User + system CPU time of one process (or, given its stat path, thread); 0 if gone.

    In clock ticks (10 ms): fine for totals over thousands of operations.
    """
    try:
        stat = Path(path or f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def main_thread_cpu_seconds(pid: int) -> float:
    """CPU time of a process's main thread: for local_aws, the event loop."""
    return cpu_seconds(pid, f"/proc/{pid}/task/{pid}/stat")


@dataclass
class CpuUse:
    """CPU seconds spent by a server between CpuMeter.start() and stop()."""

    process: float  # all threads
    loop: float  # the main thread (the event loop); the rest is other threads
    children: float  # for local_aws, the Lambda workers


class CpuMeter:
    """CPU time a server (and, separately, its children) spent between start() and stop()."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def _sample(self) -> tuple[float, float, dict[int, float]]:
        kids = {child: cpu_seconds(child) for child in children(self.pid)}
        return cpu_seconds(self.pid), main_thread_cpu_seconds(self.pid), kids

    def start(self) -> None:
        self._before = self._sample()

    def stop(self) -> CpuUse:
        """A child that started meanwhile counts from 0."""
        process, loop, kids = self._sample()
        before_process, before_loop, before_kids = self._before
        kid_seconds = sum(value - before_kids.get(pid, 0.0) for pid, value in kids.items())
        return CpuUse(process - before_process, loop - before_loop, kid_seconds)


# ------------------------------------------------------------------------------ servers


class _Subprocess:
    """A child process whose output is drained by a thread (a full pipe would block it)."""

    def __init__(self, command: list[str], ready_marker: str, timeout: float = 60.0) -> None:
        self.spawned_at = time.perf_counter()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.pid = self.process.pid
        self.output: deque[str] = deque(maxlen=200)  # the last lines, to explain a crash
        self.ready_line = self._wait_for(ready_marker, timeout)
        self.ready_at = time.perf_counter()
        threading.Thread(target=self._drain, daemon=True).start()

    def _wait_for(self, marker: str, timeout: float) -> str:
        assert self.process.stdout is not None
        # readline() blocks; a timer kills a process that hangs before printing the marker.
        timer = threading.Timer(timeout, self.process.kill)
        timer.start()
        try:
            for line in self.process.stdout:
                self.output.append(line.rstrip())
                if marker in line:
                    return line.strip()
        finally:
            timer.cancel()
        tail = "\n".join(self.output)
        raise RuntimeError(f"{self.process.args} exited before {marker!r}:\n{tail}")

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip())

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = "\n".join(self.output)
            raise RuntimeError(f"{self.process.args[:4]} died ({self.process.returncode}):\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class LocalAws(_Subprocess):
    """`python -m local_aws --port N`, timed from spawn to its ready line."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            [sys.executable, "-m", "local_aws", "--port", str(self.port)],
            ready_marker=f"local_aws ready on {self.endpoint_url}",
        )

    def client(self, service: str) -> Any:
        return client(service, self.endpoint_url)


class Stack:
    """The outputs of a deployed template, and the URLs derived from them."""

    def __init__(self, outputs: dict[str, str]) -> None:
        self.outputs = outputs
        self.url = outputs["WebSocketURL"]
        self.table = outputs["SessionsTableName"]
        self.connections_url = self.url.replace("ws://", "http://", 1)


def deploy(cloudformation: Any, name: str) -> Stack:
    """create_stack, then poll until CREATE_COMPLETE.

    Polls every 5 ms instead of using the boto3 waiter, whose 1 s minimum delay would hide
    the deploy time.
    """
    cloudformation.create_stack(
        StackName=name, TemplateBody=TEMPLATE.read_text(), Capabilities=["CAPABILITY_IAM"]
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return Stack({o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]})
        if status.endswith("FAILED") or "ROLLBACK" in status:
            raise RuntimeError(f"stack {name}: {status} {stack.get('StackStatusReason', '')}")
        time.sleep(0.005)
    raise RuntimeError(f"stack {name} was not created within 60 s")


def table_items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every item of a table (scan, all pages)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = dynamodb.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class ReferenceServer(_Subprocess):
    """One of the bare servers of `benchmarks.servers`, on a port it picks itself."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__([sys.executable, "-m", "benchmarks.servers", kind], ready_marker="ready")
        self.port = int(self.ready_line.split()[-1])
        scheme = "http" if kind == "http" else "ws"
        self.url = f"{scheme}://127.0.0.1:{self.port}"


class Holder:
    """`benchmarks.holder`: a separate process that holds many open WebSocket connections.

    Separate so that receiving 1,000 messages does not compete for the benchmark process's
    GIL with the threads that post them.
    """

    def __init__(self, url: str, count: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.holder", url, str(count)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.opened = self._reply()

    def _reply(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the holder exited ({self.process.wait()})")
        return json.loads(line)

    def command(self, text: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        return self._reply()

    def close(self) -> dict[str, Any]:
        try:
            reply = self.command("close")
        finally:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return reply
