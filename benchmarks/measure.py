"""The benchmarks: each `run(session) -> Section` measures local_aws and its reference servers.

Everything listens on 127.0.0.1. Trials of local_aws and of its references alternate (the order
rotates each trial, so none always goes first). CPU time and memory come from psutil, which
reads /proc: CPU in clock ticks (10 ms), fine for totals over hundreds of operations.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import psutil
import websocket
from botocore.config import Config

from benchmarks.report import ROOT, Row, Section, percentile

TEMPLATE = ROOT / "cfn" / "template.yaml"
TIMEOUT = 10.0  # a reply, delivery or table clean-up slower than this counts as lost
SETTLE_SECONDS = 0.5  # before reading memory: let in-flight work (a $disconnect) finish
BROADCAST_DELIVERY_TIMEOUT = 15.0


@dataclass(frozen=True)
class Sizes:
    """How much each benchmark does; `--quick` shrinks everything for a smoke run."""

    trials: int = 3
    echo_messages: int = 2000
    echo_warmup: int = 50
    connects: int = 200
    connect_warmup: int = 5
    posts: int = 500
    post_warmup: int = 10
    broadcast_connections: int = 1000
    broadcast_threads: int = 8
    startup_runs: int = 3
    memory_connections: int = 1000


QUICK = Sizes(1, 300, 20, 40, 5, 100, 10, 200, 8, 1, 200)


# ------------------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client(service: str, endpoint_url: str) -> Any:
    """A boto3 client with dummy credentials; no retries, so a failure shows instead of hiding."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


class LocalAws:
    """`python -m local_aws --port N`; `ready_seconds` is from spawn to its ready line.

    Output goes to a file: a pipe nobody reads would fill up and block the server.
    """

    def __init__(self, port: int | None = None) -> None:
        self.endpoint_url = f"http://127.0.0.1:{port or free_port()}"
        self._log = Path(tempfile.mkstemp(prefix="bench-local_aws-", suffix=".log")[1])
        spawned_at = time.perf_counter()
        with self._log.open("wb") as log:
            command = [sys.executable, "-m", "local_aws", "--port", self.endpoint_url[17:]]
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log)
        self.pid = self.process.pid
        deadline = time.monotonic() + 60
        # Polled every 5 ms: fine enough for a start-up of seconds.
        while f"ready on {self.endpoint_url}" not in self._log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"local_aws did not start:\n{self._log.read_text()[-3000:]}")
            time.sleep(0.005)
        self.ready_seconds = time.perf_counter() - spawned_at

    def client(self, service: str) -> Any:
        return client(service, self.endpoint_url)

    def stop(self) -> None:
        _stop(self.process)
        self._log.unlink(missing_ok=True)


def _stop(process: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Reference:
    """A reference server of `benchmarks.peers` ("echo", "event" or "http"), on its own port."""

    def __init__(self, kind: str) -> None:
        spawned_at = time.perf_counter()
        command = [sys.executable, "-m", "benchmarks.peers", kind]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        ready = self.process.stdout.readline()  # its only line of output
        if not ready.startswith("ready "):
            raise RuntimeError(f"reference server {kind} exited ({self.process.wait()})")
        self.ready_seconds = time.perf_counter() - spawned_at
        self.pid = self.process.pid
        self.url = f"{'http' if kind == 'http' else 'ws'}://127.0.0.1:{ready.split()[1]}"

    def stop(self) -> None:
        _stop(self.process)


class Holder:
    """`python -m benchmarks.peers hold URL COUNT`: many open connections in another process."""

    def __init__(self, url: str, count: int) -> None:
        command = [sys.executable, "-m", "benchmarks.peers", "hold", url, str(count)]
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
        self.process = subprocess.Popen(command, cwd=ROOT, text=True, **pipes)
        self.opened = self._reply()
        if self.opened["opened"] != count:
            self.close()
            raise RuntimeError(f"the holder could not open every connection: {self.opened}")

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

    def close(self) -> None:
        try:
            self.command("close")
        finally:
            self.process.wait(timeout=30)


@dataclass(frozen=True)
class Stack:
    """The deployed template's WebSocket URL, @connections URL and sessions table."""

    url: str
    connections_url: str
    table: str


def deploy(cloudformation: Any, name: str) -> Stack:
    """create_stack, then poll every 5 ms (the boto3 waiter's 1 s would hide the deploy time)."""
    cloudformation.create_stack(
        StackName=name, TemplateBody=TEMPLATE.read_text(), Capabilities=["CAPABILITY_IAM"]
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
            url = outputs["WebSocketURL"]
            return Stack(url, url.replace("ws://", "http://", 1), outputs["SessionsTableName"])
        if status.endswith("FAILED") or "ROLLBACK" in status:
            raise RuntimeError(f"stack {name}: {status} {stack.get('StackStatusReason', '')}")
        time.sleep(0.005)
    raise RuntimeError(f"stack {name} was not created within 60 s")


def table_items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every item of a table (scan, all pages)."""
    pages = dynamodb.get_paginator("scan").paginate(TableName=table)
    return [item for page in pages for item in page["Items"]]


class Session:
    """One run: its sizes, and the shared local_aws (stack deployed) and references, on demand."""

    def __init__(self, sizes: Sizes) -> None:
        self.sizes = sizes
        self._local: LocalAws | None = None
        self._references: dict[str, Reference] = {}

    @property
    def local(self) -> LocalAws:
        if self._local is None:
            self._local = LocalAws()
            self.stack = deploy(self._local.client("cloudformation"), "bench")
        if self._local.process.poll() is not None:
            raise RuntimeError(f"local_aws died ({self._local.process.returncode})")
        return self._local

    def reference(self, kind: str) -> Reference:
        if kind not in self._references:
            self._references[kind] = Reference(kind)
        return self._references[kind]

    def items_left(self, timeout: float = TIMEOUT) -> int:
        """Wait until the sessions table is empty (every $disconnect done); items left."""
        dynamodb, deadline = self.local.client("dynamodb"), time.monotonic() + timeout
        while (
            left := len(table_items(dynamodb, self.stack.table))
        ) and time.monotonic() < deadline:
            time.sleep(0.05)
        return left

    def close(self) -> None:
        for server in [*self._references.values(), self._local]:
            if server is not None:
                server.stop()


def rotated(sides: list[str], trial: int) -> list[str]:
    """The order of the sides in a trial: the one that goes first changes each trial."""
    return sides[trial % len(sides) :] + sides[: trial % len(sides)]


def rotations(trials: int, sides: list[str]) -> Iterator[tuple[int, str]]:
    """(trial, side) for every trial and side, in rotated order."""
    for trial in range(trials):
        for side in rotated(sides, trial):
            yield trial, side


# ------------------------------------------------------------------------------ CPU, memory


@dataclass
class CpuUse:
    """CPU seconds a server spent while measured."""

    process: float  # all threads
    loop: float  # the main thread (for local_aws, the event loop)
    children: float  # for local_aws, the Lambda workers


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class CpuMeter:
    """The CPU time a server and, separately, its children spend from creation to stop()."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self._before = self._sample()

    def _sample(self) -> tuple[float, float, dict[int, float]]:
        with self.process.oneshot():
            total = _cpu_seconds(self.process)
            main = [t for t in self.process.threads() if t.id == self.process.pid]
            loop = main[0].user_time + main[0].system_time
        kids = {}
        for kid in self.process.children():
            with contextlib.suppress(psutil.NoSuchProcess):  # it exited meanwhile
                kids[kid.pid] = _cpu_seconds(kid)
        return total, loop, kids

    def stop(self) -> CpuUse:
        """A child that started meanwhile counts from 0."""
        (total, loop, kids), (total_0, loop_0, kids_0) = self._sample(), self._before
        spent = sum(seconds - kids_0.get(pid, 0.0) for pid, seconds in kids.items())
        return CpuUse(total - total_0, loop - loop_0, spent)


class CpuRows:
    """Rows for the server CPU time per operation: where the time goes.

    Reference servers are single-threaded, so only their total is shown; for local_aws the
    event-loop thread is shown separately (the rest is its integration and logging threads).
    """

    def __init__(self, section: Section, what: str, reference: str, workers: bool = False):
        self.total = section.row(f"{what}: server CPU each, all threads", "µs", reference)
        self.loop = section.row(f"{what}: server CPU each, event-loop thread", "µs")
        self.workers = section.row(f"{what}: Lambda worker CPU each", "µs") if workers else None

    def add(self, use: CpuUse, count: int, local: bool) -> None:
        if not local:
            self.total.ref.append(use.process / count * 1e6)
            return
        self.total.local.append(use.process / count * 1e6)
        self.loop.local.append(use.loop / count * 1e6)
        if self.workers is not None:
            self.workers.local.append(use.children / count * 1e6)


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def children_rss_mb(pid: int) -> tuple[float, int]:
    """Total RSS of a process's children (for local_aws, its Lambda workers), and how many."""
    kids = psutil.Process(pid).children()
    return sum(kid.memory_info().rss for kid in kids) / 2**20, len(kids)


def peak_rss_mb(pid: int) -> float:
    """VmHWM, the peak resident memory, which psutil does not report."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


# ------------------------------------------------------------------------------ timing


@dataclass
class Timing:
    """One timed loop of operations done one after the other."""

    done: int
    seconds: float
    latencies: list[float]
    cpu: CpuUse  # of the server, during the loop
    error: str  # why the loop stopped early, if it did

    def add_to(self, rows: tuple[Row, Row, Row], local: bool) -> None:
        """Operations per second, p50 and p99 in ms, to the local or the reference side."""
        values = (
            self.done / self.seconds,
            *(percentile(self.latencies, f) * 1000 for f in (0.5, 0.99)),
        )
        for row, value in zip(rows, values, strict=True):
            (row.local if local else row.ref).append(value)


def timed(operation: Callable[[int], object], count: int, pid: int) -> Timing:
    """Call operation(0), …, operation(count - 1), timing each, and the server's CPU meanwhile.

    A WebSocket timeout ends the loop: what was measured until then still counts.
    """
    latencies: list[float] = []
    clock, error = time.perf_counter, ""
    meter = CpuMeter(pid)
    started = clock()
    try:
        for index in range(count):
            begun = clock()
            operation(index)
            latencies.append(clock() - begun)
    except websocket.WebSocketTimeoutException:
        error = f"no reply to operation {len(latencies)} within {TIMEOUT:.0f} s"
    seconds = clock() - started
    return Timing(len(latencies), seconds, latencies, meter.stop(), error)


# ------------------------------------------------------------------------------ benchmarks


def startup(session: Session) -> Section:
    """From spawning `python -m local_aws` to the stack's CREATE_COMPLETE, fresh each run."""
    runs = session.sizes.startup_runs
    section = Section("Startup + deploy (fresh process each run)")
    section.notes.append(f"{runs} run(s), alternating with the bare echo server's start.")
    ready = section.row("startup: spawn → ready line", "s", "bare echo")
    deploy_row = section.row("deploy: create_stack → CREATE_COMPLETE", "s")
    total = section.row("startup + deploy", "s", target="< 1.5 s", met_if=lambda v, _: v < 1.5)
    for _, side in rotations(runs, ["local", "bare"]):
        if side == "bare":
            reference = Reference("echo")
            reference.stop()
            ready.ref.append(reference.ready_seconds)
            continue
        port = free_port()
        # Created before the spawn, so that loading its service models is not counted.
        cloudformation = client("cloudformation", f"http://127.0.0.1:{port}")
        local = LocalAws(port)
        try:
            deploy_started = time.perf_counter()
            deploy(cloudformation, "startup")
            deploy_seconds = time.perf_counter() - deploy_started
        finally:
            local.stop()
        ready.local.append(local.ready_seconds)
        deploy_row.local.append(deploy_seconds)
        total.local.append(local.ready_seconds + deploy_seconds)
    return section


def memory(session: Session) -> Section:
    """Resident memory, idle with the stack deployed, then with many connections open.

    A fresh local_aws per trial: deploy, one echo message (so `$default` has its warm worker,
    the state a workshop runs in), settle, read; then the holder opens the connections.
    """
    sizes, count = session.sizes, session.sizes.memory_connections
    section = Section(f"Resident memory (idle, then {count:,} open connections)")
    section.notes.append(
        "VmRSS from /proc/<pid>/status; Lambda workers are the local_aws process's children; "
        "a fresh local_aws per trial."
    )
    idle = section.row(
        "RSS idle, local_aws process", "MB", "bare echo", "< 120 MB", lambda v, _: v < 120
    )
    idle_workers = section.row("RSS idle, Lambda workers", "MB")
    idle_total = section.row("RSS idle, local_aws process + Lambda workers", "MB")
    grown = section.row(
        f"RSS +{count:,} connections, local_aws process",
        "MB",
        "bare echo",
        "< 30 MB",
        lambda v, _: v < 30,
    )
    grown_workers = section.row(f"RSS +{count:,} connections, Lambda workers", "MB")
    peak = section.row("peak RSS (VmHWM), local_aws process", "MB")
    worker_counts: list[int] = []
    for _, side in rotations(sizes.trials, ["local", "bare"]):
        if side == "bare":
            reference = Reference("echo")
            try:
                time.sleep(SETTLE_SECONDS)
                before = rss_mb(reference.pid)
                holder = Holder(reference.url, count)
                time.sleep(SETTLE_SECONDS)
                idle.ref.append(before)
                grown.ref.append(rss_mb(reference.pid) - before)
                holder.close()
            finally:
                reference.stop()
            continue
        local = LocalAws()
        try:
            stack = deploy(local.client("cloudformation"), "memory")
            ws = websocket.create_connection(stack.url, timeout=TIMEOUT)
            ws.send(json.dumps({"action": "warm-up"}))
            ws.recv()
            ws.close()
            time.sleep(SETTLE_SECONDS)
            before, (workers_before, workers) = rss_mb(local.pid), children_rss_mb(local.pid)
            holder = Holder(stack.url, count)
            time.sleep(SETTLE_SECONDS)
            worker_counts.append(workers)
            idle.local.append(before)
            idle_workers.local.append(workers_before)
            idle_total.local.append(before + workers_before)
            grown.local.append(rss_mb(local.pid) - before)
            grown_workers.local.append(children_rss_mb(local.pid)[0] - workers_before)
            peak.local.append(peak_rss_mb(local.pid))
            holder.close()
        finally:
            local.stop()
    section.notes.append(f"Lambda workers alive when idle: {worker_counts}.")
    return section


def _echoes(sent: str, reply: str, event: bool) -> bool:
    """The bare echo sends the message back; local_aws and the event echo, an event around it."""
    if not event:
        return reply == sent
    try:
        return json.loads(reply)["body"] == sent
    except (ValueError, KeyError, TypeError):
        return False


def _echo_trial(url: str, fast: bool, sizes: Sizes, event: bool, pid: int) -> tuple[Timing, int]:
    """Warm up, then time messages sent each after the previous reply; (timing, mismatches)."""
    ws = websocket.create_connection(url, timeout=TIMEOUT, skip_utf8_validation=fast)
    message = '{{"action": "ping", "seq": {}, "data": "hello"}}'.format
    try:
        for seq in range(sizes.echo_warmup):
            ws.send(message(-1 - seq))
            ws.recv()
        sent = [message(seq) for seq in range(sizes.echo_messages)]
        replies: list[str] = []
        timing = timed(lambda i: (ws.send(sent[i]), replies.append(ws.recv())), len(sent), pid)
    finally:
        ws.close()
    # Checked after the timed loop, not during it.
    return timing, sum(not _echoes(s, r, event) for s, r in zip(sent, replies, strict=False))


def echo(session: Session) -> Section:
    """Echo round trips through `$default` → Lambda, one connection, one message at a time.

    The client is websocket-client, as in the notebooks, in two modes: "fast"
    (`skip_utf8_validation=True`: without wsaccel it validates UTF-8 in pure Python, about
    0.4 ms per 900-byte reply, which would dominate the references) and "default".
    """
    sizes, local = session.sizes, session.local
    servers = {"local": (session.stack.url, local.pid)}
    for kind in ("event", "echo"):
        servers[kind] = (session.reference(kind).url, session.reference(kind).pid)
    section = Section("Echo through $default → Lambda (sequential, one connection)")
    section.notes.append(
        f"{sizes.echo_messages} messages after {sizes.echo_warmup} warm-up, each sent after the "
        'previous reply; message `{"action": "ping", "seq": N, "data": "hello"}`; '
        "replies checked after the timed loop."
    )
    rows: dict[bool, tuple[Row, Row, Row, Row]] = {}
    for fast in (True, False):
        mode = "fast client" if fast else "default client"
        rate = section.row(
            f"echo msgs/s, {mode}",
            "/s",
            "event echo",
            "≥ 0.5× and ≥ 3,700/s" if fast else "",
            (lambda v, r: r >= 0.5 and v >= 3700) if fast else None,
        )
        # The same local figures against the bare echo: context, no target.
        bare = section.row(
            f"echo msgs/s, {mode} (vs bare echo)", "/s", "bare echo", local=rate.local
        )
        p50 = section.row(f"echo p50, {mode}", "ms", "event echo")
        rows[fast] = (rate, p50, section.row(f"echo p99, {mode}", "ms", "event echo"), bare)
    cpu = CpuRows(section, "echo, fast client", "event echo", workers=True)

    checked, problems = 0, []
    for trial in range(sizes.trials):
        for fast in (True, False):
            for side in rotated(["local", "event", "echo"], trial):
                url, pid = servers[side]
                timing, wrong = _echo_trial(url, fast, sizes, side != "echo", pid)
                checked += timing.done
                problems += [f"{side}: {timing.error}"] if timing.error else []
                problems += [f"{side}: {wrong} replies did not echo their message"] if wrong else []
                rate, p50, p99, bare = rows[fast]
                if side == "echo":
                    bare.ref.append(timing.done / timing.seconds)
                    continue
                timing.add_to((rate, p50, p99), side == "local")
                if fast:
                    cpu.add(timing.cpu, timing.done, side == "local")
    section.check(
        "echo: every message answered with its echo",
        not problems,
        "; ".join(problems) or f"{checked} replies checked",
    )
    return section


def connect(session: Session) -> Section:
    """Connect + close, one after the other: the `$connect` PutItem and `$disconnect` DeleteItem.

    local_aws runs the `$connect` VTL template and PutItem before it completes the handshake;
    `$disconnect` runs after the close handshake, so its DeleteItem is load on the server rather
    than part of the round trip. At the end the sessions table must be empty again.
    """
    sizes, local = session.sizes, session.local
    servers = {"local": (session.stack.url, local.pid)}
    servers["bare"] = (session.reference("echo").url, session.reference("echo").pid)
    section = Section("Connect + close (sequential)")
    section.notes.append(
        f"{sizes.connects} connect + close after {sizes.connect_warmup} warm-up; the client "
        "waits for the server's close frame each time."
    )
    rows = (
        section.row("connect+close /s", "/s", "bare echo", "≥ 0.8×", lambda _, r: r >= 0.8),
        section.row("connect+close p50", "ms", "bare echo"),
        section.row("connect+close p99", "ms", "bare echo"),
    )
    cpu = CpuRows(section, "connect+close", "bare echo")
    left_before = session.items_left()  # items of earlier benchmarks would spoil the count
    problems = []
    for _, side in rotations(sizes.trials, ["local", "bare"]):
        url, pid = servers[side]

        def connect_and_close(_: int, url: str = url) -> None:
            # close() sends the close frame and waits for the server's (up to 3 s).
            websocket.create_connection(url, timeout=TIMEOUT).close()

        for index in range(sizes.connect_warmup):
            connect_and_close(index)
        timing = timed(connect_and_close, sizes.connects, pid)
        problems += [f"{side}: {timing.error}"] if timing.error else []
        timing.add_to(rows, side == "local")
        cpu.add(timing.cpu, timing.done, side == "local")
    left = session.items_left()
    total = sizes.trials * (sizes.connects + sizes.connect_warmup)
    detail = f"{left} of {total} items left in the table 10 s after the last close"
    detail += f" ({left_before} were left before the benchmark)" if left_before else ""
    section.check("connect: every $disconnect deleted its item", left == 0, detail)
    if problems:
        section.check("connect: every handshake answered", False, "; ".join(problems))
    return section


class Reader(threading.Thread):
    """Receives every message of one connection into `messages`, until stop()."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        super().__init__(daemon=True)
        self.ws, self.messages, self._stopping = ws, [], threading.Event()

    def run(self) -> None:
        # A short timeout lets the loop notice stop(): closing the socket from another thread
        # while this one is in recv() would make both read the close handshake.
        self.ws.settimeout(0.2)
        while not self._stopping.is_set():
            try:
                self.messages.append(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            except Exception:
                return  # the connection closed

    def stop(self) -> None:
        self._stopping.set()
        self.join()

    def wait_for(self, prefix: str, count: int) -> list[str]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            got = [message for message in self.messages if message.startswith(prefix)]
            if len(got) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.01)


def delivery_problem(expected: list[str], got: list[str]) -> str | None:
    """None if `got` is exactly `expected`; else what is wrong with it."""
    if got == expected:
        return None
    unique = list(dict.fromkeys(got))
    missing = len(set(expected) - set(unique))
    in_order = [message for message in expected if message in set(unique)] == unique
    return (
        f"{len(got)} of {len(expected)} received, {missing} missing, "
        f"{len(got) - len(unique)} duplicated, {'in' if in_order else 'OUT OF'} order"
    )


def management_clients(session: Session, count: int) -> dict[str, list[Any]]:
    """`count` @connections clients for local_aws and for the trivial HTTP server, whose
    endpoint has the same shape (the same stage path)."""
    trivial = f"{session.reference('http').url}{urlsplit(session.stack.connections_url).path}"
    urls = {"local": session.stack.connections_url, "trivial": trivial}
    return {
        side: [client("apigatewaymanagementapi", url) for _ in range(count)]
        for side, url in urls.items()
    }


def post(session: Session) -> Section:
    """`post_to_connection` from one boto3 client, one call after the other, to one connection.

    A reader thread collects what arrives: every post must be delivered, once, in order.
    Reference: the same client code against the trivial HTTP server (200, delivers nothing).
    """
    sizes, local = session.sizes, session.local
    pids = {"local": local.pid, "trivial": session.reference("http").pid}
    section = Section("post_to_connection (one boto3 client, sequential)")
    section.notes.append(
        f"{sizes.posts} posts after {sizes.post_warmup} warm-up; reference: the trivial HTTP "
        "server (asyncio streams, HTTP/1.1 keep-alive, 200 to any request)."
    )
    reference = "trivial HTTP"
    rows = (
        section.row("post_to_connection /s", "/s", reference, "≥ 0.9×", lambda _, r: r >= 0.9),
        section.row("post_to_connection p50", "ms", reference),
        section.row("post_to_connection p99", "ms", reference),
    )
    cpu = CpuRows(section, "post_to_connection", reference)
    clients = {side: clients[0] for side, clients in management_clients(session, 1).items()}

    ws = websocket.create_connection(session.stack.url, timeout=TIMEOUT, skip_utf8_validation=True)
    ws.send(json.dumps({"action": "whoami"}))  # the echoed event names this connection
    target_id = json.loads(ws.recv())["requestContext"]["connectionId"]
    reader = Reader(ws)
    reader.start()
    problems = []
    try:
        for trial, side in rotations(sizes.trials, ["local", "trivial"]):
            management, expected = clients[side], [f"t{trial}-{seq}" for seq in range(sizes.posts)]
            for _ in range(sizes.post_warmup):
                management.post_to_connection(ConnectionId=target_id, Data=b"warm-up")
            payloads = [message.encode() for message in expected]
            timing = timed(
                lambda i, m=management, p=payloads: m.post_to_connection(
                    ConnectionId=target_id, Data=p[i]
                ),
                sizes.posts,
                pids[side],
            )
            timing.add_to(rows, side == "local")
            cpu.add(timing.cpu, sizes.posts, side == "local")
            if side == "local":
                problem = delivery_problem(expected, reader.wait_for(f"t{trial}-", sizes.posts))
                problems += [f"trial {trial + 1}: {problem}"] if problem else []
    finally:
        reader.stop()
        ws.close()
    section.check(
        "post: every post delivered once, in order",
        not problems,
        "; ".join(problems) or f"{sizes.trials} × {sizes.posts} posts received, in order",
    )
    return section


def fan_out(clients: list[Any], ids: list[str], trial: int) -> tuple[float, float, list[str]]:
    """Post `b{trial}-{i}` to ids[i], thread k (client k) taking every k-th id.

    Returns when the threads were released (time.monotonic, the holder's clock too), the wall
    time to the last response, and the errors.
    """
    go, errors = threading.Event(), []

    def work(k: int) -> None:
        go.wait()
        for i in range(k, len(ids), len(clients)):
            try:
                clients[k].post_to_connection(ConnectionId=ids[i], Data=f"b{trial}-{i}".encode())
            except Exception as error:
                errors.append(f"{i}: {error!r}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(clients))]
    for thread in threads:
        thread.start()
    time.sleep(0.05)  # every thread is waiting on the event
    started = time.monotonic()
    go.set()
    for thread in threads:
        thread.join()
    return started, time.monotonic() - started, errors


def broadcast(session: Session) -> Section:
    """One `post_to_connection` to each of many open connections, from several threads.

    Connection ids come from the `$connect` items, matched through the `X-Bench-Index` header
    each holder connection sent. Every connection must receive exactly its own message.
    """
    sizes, local = session.sizes, session.local
    count, threads = sizes.broadcast_connections, sizes.broadcast_threads
    pids = {"local": local.pid, "trivial": session.reference("http").pid}
    section = Section(f"Broadcast to {count:,} open connections ({threads} threads)")
    section.notes.append(
        f"{count:,} connections held by an asyncio `websockets` client in a separate process; "
        f"{threads} threads, one boto3 client each, post one message per connection; "
        "reference: the same posts to the trivial HTTP server."
    )
    all_delivered = "broadcast: every connection received exactly its message"
    wall = section.row(
        f"broadcast wall, {count:,} posts",
        "s",
        "trivial HTTP",
        "≤ 1.25×, all delivered",
        lambda _, r: r <= 1.25,
        requires=all_delivered,
    )
    delivered = section.row(f"broadcast last delivery, {count:,} posts", "s")
    cpu = CpuRows(section, "broadcast post", "trivial HTTP")
    opening = section.row(f"open {count:,} connections (holder, 50 at a time)", "s")

    session.items_left()
    holder = Holder(session.stack.url, count)
    problems: list[str] = []
    try:
        opening.local.append(holder.opened["seconds"])
        ids = [""] * count
        for item in table_items(local.client("dynamodb"), session.stack.table):
            headers = {name.lower(): value["S"] for name, value in item["headers"]["M"].items()}
            if int(headers.get("x-bench-index", count)) < count:
                ids[int(headers["x-bench-index"])] = item["connectionid"]["S"]
        if not all(ids):
            raise RuntimeError(f"{ids.count('')} connections have no item in the table")
        clients = management_clients(session, threads)
        for trial, side in rotations(sizes.trials, ["local", "trivial"]):
            # One call per client first, so each thread starts with an open keep-alive
            # connection; local_aws answers 410 Gone to this id, and sends nothing.
            for management in clients[side]:
                with contextlib.suppress(management.exceptions.GoneException):
                    management.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"warm-up")
            meter = CpuMeter(pids[side])
            started, seconds, errors = fan_out(clients[side], ids, trial)
            cpu.add(meter.stop(), count, side == "local")
            problems += [f"trial {trial + 1} {side}: {error}" for error in errors[:3]]
            if side == "trivial":
                wall.ref.append(seconds)
                continue
            wall.local.append(seconds)
            report = holder.command(f"collect {BROADCAST_DELIVERY_TIMEOUT}")
            received = report["received"]
            wrong = [i for i, messages in enumerate(received) if messages != [f"b{trial}-{i}"]]
            if wrong:
                problems.append(
                    f"trial {trial + 1}: {len(wrong)} connections wrong "
                    f"({sum(not received[i] for i in wrong)} received nothing), "
                    f"e.g. #{wrong[0]}: {received[wrong[0]][:3]}"
                )
            if report["closed_early"]:
                problems.append(f"{report['closed_early']} connections closed early")
            delivered.local.append(report["last_received_at"] - started)
    finally:
        holder.close()
    section.check(
        all_delivered,
        not problems,
        "; ".join(problems) or f"{sizes.trials} × {count:,} messages, one per connection",
    )
    left = session.items_left()
    section.check(
        "broadcast: every $disconnect deleted its item",
        left == 0,
        f"{left} of {count:,} items left 10 s after the holder closed its connections",
    )
    return section
