"""The measurements: each benchmark `f(session) -> Section` times local_aws and its references.

Everything listens on 127.0.0.1: local_aws started by the tests' launcher, the references and
the connection holder as `benchmarks.peers` processes. Trials of local_aws and of its
references alternate, and the side that goes first changes each trial. CPU time and memory
come from psutil (which reads /proc): CPU in clock ticks of 10 ms, fine for totals over
hundreds of operations.
"""

from __future__ import annotations

import collections
import compileall
import contextlib
import json
import math
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import psutil
import websocket
from botocore.config import Config

from tests.support import ROOT, TEMPLATE, LocalAwsProcess
from tests.support.launcher import READY

TIMEOUT = 10.0  # a reply, a delivery or the table's clean-up slower than this counts as lost
SETTLE_SECONDS = 0.5  # before reading memory: let in-flight work (a $disconnect) finish


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


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (p99 of 2000 samples is the 1980th smallest)."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1] if ordered else math.nan


@dataclass
class Row:
    """One line of the summary table: the local_aws trials and, if named, a reference's.

    `met_if(local median, ratio)` is the goal (`benchmarks.goals`; the ratio is NaN without a
    reference, so any comparison with it fails); `requires` names a check that must pass too.
    """

    metric: str
    unit: str
    reference_name: str = ""
    target: str = ""
    met_if: Callable[[float, float], bool] | None = None
    requires: str = ""
    local: list[float] = field(default_factory=list)
    ref: list[float] = field(default_factory=list)

    def add(self, value: float, local: bool) -> None:
        """A trial's value for local_aws, or for the reference (dropped if the row has none)."""
        if local or self.reference_name:
            (self.local if local else self.ref).append(value)

    @property
    def ratio(self) -> float:
        reference = median(self.ref)
        return median(self.local) / reference if self.ref and reference else math.nan


@dataclass
class Section:
    """Everything one benchmark reports: rows, correctness checks (name, passed, detail), notes.

    A failed check means lost messages or events: the run then exits non-zero.
    """

    title: str
    rows: list[Row] = field(default_factory=list)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(
        self,
        metric: str,
        unit: str,
        reference_name: str = "",
        target: str = "",
        met_if: Callable[[float, float], bool] | None = None,
        requires: str = "",
    ) -> Row:
        """Add a row, to be filled trial by trial."""
        self.rows.append(Row(metric, unit, reference_name, target, met_if, requires))
        return self.rows[-1]

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append((name, ok, detail))

    def met(self, row: Row) -> str:
        """The summary's "met?" cell."""
        if row.met_if is None:
            return ""
        if not row.local:
            return "n/a"
        passed = all(ok for name, ok, _ in self.checks if name == row.requires)
        return "yes" if passed and row.met_if(median(row.local), row.ratio) else "**NO**"


# ------------------------------------------------------------------------------ processes


def client(service: str, endpoint_url: str) -> Any:
    """A boto3 client with dummy credentials; no retries, so a failure shows instead of hiding."""
    config = Config(retries={"total_max_attempts": 1})
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client(
        service, endpoint_url=endpoint_url, region_name="us-east-1", config=config, **keys
    )


class Peer:
    """A `python -m benchmarks.peers` process: a reference server, or the connection holder.

    It answers on stdout with one JSON line once ready (`first`) and one per command.
    """

    def __init__(self, *args: str) -> None:
        command = [sys.executable, "-m", "benchmarks.peers", *args]
        pipe = subprocess.PIPE
        self.process = subprocess.Popen(command, cwd=ROOT, text=True, stdin=pipe, stdout=pipe)
        self.name, self.pid = " ".join(args[:1]), self.process.pid
        self.first = self._reply()
        scheme = "http" if args == ("http",) else "ws"
        self.url = f"{scheme}://127.0.0.1:{self.first['port']}" if "port" in self.first else ""

    def _reply(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"peer {self.name} exited ({self.process.wait()})")
        return json.loads(line)

    def command(self, text: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        return self._reply()

    def close(self) -> None:
        """Ask the holder to close its connections (with the close handshake), and stop."""
        with contextlib.suppress(OSError, RuntimeError):  # unless it is gone already
            self.command("close")
        self.stop()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


class Spawned:
    """`python -m local_aws --port 0`, its output read as it comes, for timing its start.

    The tests' launcher polls local_aws's log file every 50 ms, which adds up to 50 ms to a
    start of well under a second (the references' ready lines come through a pipe). Here a
    thread reads the pipe: the ready line is timed when it is written, and the rest of the
    output is drained so that the pipe never fills up and blocks the server.
    """

    def __init__(self, timeout: float = 60.0) -> None:
        started = time.perf_counter()
        command = [sys.executable, "-m", "local_aws", "--port", "0"]
        self.process = subprocess.Popen(
            command, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.output: collections.deque[str] = collections.deque(maxlen=200)  # for errors
        self._ready = threading.Event()
        self.endpoint_url, self.ready_at = "", math.nan
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("local_aws did not start:\n" + "".join(self.output))
        self.seconds = self.ready_at - started  # spawn → ready line

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if not self._ready.is_set() and (ready := READY.search(line.rstrip("\n"))):
                self.ready_at, self.endpoint_url = time.perf_counter(), ready["url"]
                self._ready.set()
            self.output.append(line)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def hold(url: str, count: int) -> Peer:
    """`count` connections to `url`, opened and held by another process (see peers.hold)."""
    holder = Peer("hold", url, str(count))
    if holder.first["opened"] != count:
        holder.close()
        raise RuntimeError(f"the holder could not open every connection: {holder.first}")
    return holder


@dataclass(frozen=True)
class Stack:
    """The deployed template's WebSocket URL, @connections URL and sessions table."""

    url: str
    connections_url: str
    table: str


def deploy(cloudformation: Any, name: str) -> Stack:
    """create_stack, then poll every 5 ms (the boto3 waiter's 1 s would hide the deploy time)."""
    body = TEMPLATE.read_text()
    cloudformation.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
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
    pages = dynamodb.get_paginator("scan").paginate(TableName=table)
    return [item for page in pages for item in page["Items"]]


class Session:
    """One run: its sizes, the shared local_aws (with the stack) and references, on demand."""

    def __init__(self, sizes: Sizes) -> None:
        self.sizes = sizes
        self._local: LocalAwsProcess | None = None
        self._references: dict[str, Peer] = {}

    @property
    def local(self) -> LocalAwsProcess:
        if self._local is None:
            self._local = LocalAwsProcess()
            self._stack = deploy(self.client("cloudformation"), "bench")
        if self._local.process.poll() is not None:
            raise RuntimeError(f"local_aws died:\n{self._local.log()[-3000:]}")
        return self._local

    @property
    def stack(self) -> Stack:
        _ = self.local  # starts local_aws and deploys the stack, if need be
        return self._stack

    def client(self, service: str) -> Any:
        return client(service, self.local.endpoint_url)

    def reference(self, kind: str) -> Peer:
        """The reference server `kind` of benchmarks.peers: "echo", "event" or "http"."""
        if kind not in self._references:
            self._references[kind] = Peer(kind)
        return self._references[kind]

    def server(self, side: str) -> tuple[str, int]:
        """URL and pid of a side: "local" (the stack's WebSocket URL) or a reference's kind."""
        if side == "local":
            return self.stack.url, self.local.process.pid
        return self.reference(side).url, self.reference(side).pid

    def holder_ids(self, count: int) -> list[str]:
        """The connection id of each holder connection, from the `$connect` items' headers."""
        ids = [""] * count
        for item in table_items(self.client("dynamodb"), self.stack.table):
            headers = {name.lower(): value["S"] for name, value in item["headers"]["M"].items()}
            if int(headers.get("x-bench-index", count)) < count:
                ids[int(headers["x-bench-index"])] = item["connectionid"]["S"]
        if not all(ids):
            raise RuntimeError(f"{ids.count('')} holder connections have no item in the table")
        return ids

    def items_left(self) -> int:
        """Wait until the sessions table is empty (every $disconnect done); items left."""
        dynamodb, deadline = self.client("dynamodb"), time.monotonic() + TIMEOUT
        while len(items := table_items(dynamodb, self.stack.table)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(items)

    def close(self) -> None:
        for server in [*self._references.values(), self._local]:
            if server is not None:
                server.stop()


def rotated(sides: list[str], trial: int) -> list[str]:
    """The order of the sides in a trial: the one that goes first changes each trial."""
    return sides[trial % len(sides) :] + sides[: trial % len(sides)]


# ------------------------------------------------------------------------------ measuring


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
            main = next(t for t in self.process.threads() if t.id == self.process.pid)
        kids = {}
        for kid in self.process.children():
            with contextlib.suppress(psutil.NoSuchProcess):  # it exited meanwhile
                kids[kid.pid] = _cpu_seconds(kid)
        return total, main.user_time + main.system_time, kids

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
        self.rows = [
            section.row(f"{what}: server CPU each, all threads", "µs", reference),
            section.row(f"{what}: server CPU each, event-loop thread", "µs"),
        ]
        if workers:
            self.rows.append(section.row(f"{what}: Lambda worker CPU each", "µs"))

    def add(self, use: CpuUse, count: int, local: bool) -> None:
        for row, seconds in zip(self.rows, (use.process, use.loop, use.children), strict=False):
            row.add(seconds / count * 1e6, local)


def memory_mb(process: psutil.Process) -> tuple[float, float, int]:
    """RSS of a process, the total RSS of its children (for local_aws, the Lambda workers), and
    how many children there are."""
    kids = process.children()
    workers = sum(kid.memory_info().rss for kid in kids) / 2**20
    return process.memory_info().rss / 2**20, workers, len(kids)


def peak_rss_mb(process: psutil.Process) -> float:
    """VmHWM, the peak resident memory, which psutil does not report."""
    status = Path(f"/proc/{process.pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


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
        p50, p99 = (percentile(self.latencies, f) * 1000 for f in (0.5, 0.99))
        for row, value in zip(rows, (self.done / self.seconds, p50, p99), strict=True):
            row.add(value, local)


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
    section.notes.append(
        f"{runs} run(s), alternating with the bare echo server's start; both ready lines are "
        "read from a pipe as they are written; deploy is timed from a client made beforehand."
    )
    # As after a first start: Python caches the bytecode of local_aws's modules, unless
    # PYTHONDONTWRITEBYTECODE is set, and then every start would compile them again.
    compileall.compile_dir(ROOT / "local_aws", quiet=1)
    section.notes.append(
        "local_aws's bytecode is compiled beforehand, as after its first start "
        f"(PYTHONDONTWRITEBYTECODE is {'set' if sys.flags.dont_write_bytecode else 'not set'})."
    )
    ready = section.row("startup: spawn → ready line", "s", "bare echo")
    deploy_row = section.row("deploy: create_stack → CREATE_COMPLETE", "s")
    total = section.row("startup + deploy", "s", target="< 1.0 s", met_if=lambda v, _: v < 1.0)
    for run in range(runs):
        for side in rotated(["local", "bare"], run):
            if side == "bare":
                spawned_at = time.perf_counter()
                peer = Peer("echo")
                ready.ref.append(time.perf_counter() - spawned_at)
                peer.stop()
                continue
            server = Spawned()
            ready_seconds = server.seconds
            try:
                cloudformation = client("cloudformation", server.endpoint_url)
                deploy_started = time.perf_counter()  # after the client's own start-up
                deploy(cloudformation, "startup")
                deploy_seconds = time.perf_counter() - deploy_started
            finally:
                server.stop()
            ready.local.append(ready_seconds)
            deploy_row.local.append(deploy_seconds)
            total.local.append(ready_seconds + deploy_seconds)
    return section


def memory(session: Session) -> Section:
    """Resident memory, idle with the stack deployed, then with many connections open.

    A fresh server per trial. local_aws: deploy, one echo message (so `$default` has its warm
    worker, the state a workshop runs in), close; then settle, read, open the connections.
    """
    count = session.sizes.memory_connections
    section = Section(f"Resident memory (idle, then {count:,} open connections)")
    section.notes.append(
        "RSS from psutil (/proc/<pid>/statm), peak from VmHWM in /proc/<pid>/status; Lambda "
        "workers are the local_aws process's children; a fresh local_aws per trial."
    )
    more = f"RSS +{count:,} connections"
    rows = [
        section.row(
            "RSS idle, local_aws process", "MB", "bare echo", "< 120 MB", lambda v, _: v < 120
        ),
        section.row("RSS idle, Lambda workers", "MB"),
        section.row("RSS idle, local_aws process + Lambda workers", "MB"),
        section.row(
            f"{more}, local_aws process", "MB", "bare echo", "< 30 MB", lambda v, _: v < 30
        ),
        section.row(f"{more}, Lambda workers", "MB"),
        section.row("peak RSS (VmHWM), local_aws process", "MB"),
    ]
    worker_counts: list[int] = []
    for trial in range(session.sizes.trials):
        for side in rotated(["local", "bare"], trial):
            server = LocalAwsProcess() if side == "local" else Peer("echo")
            try:
                if isinstance(server, LocalAwsProcess):
                    url = deploy(client("cloudformation", server.endpoint_url), "memory").url
                    ws = websocket.create_connection(url, timeout=TIMEOUT)
                    ws.send(json.dumps({"action": "warm-up"}))
                    ws.recv()
                    ws.close()
                else:
                    url = server.url
                process = psutil.Process(server.process.pid)
                time.sleep(SETTLE_SECONDS)
                idle, idle_workers, workers = memory_mb(process)
                holder = hold(url, count)
                time.sleep(SETTLE_SECONDS)
                rss, workers_rss, _ = memory_mb(process)
                total, peak = idle + idle_workers, peak_rss_mb(process)
                values = (idle, idle_workers, total, rss - idle, workers_rss - idle_workers, peak)
                for row, value in zip(rows, values, strict=True):
                    row.add(value, side == "local")
                worker_counts += [workers] if side == "local" else []
                holder.close()
            finally:
                server.stop()
    section.notes.append(f"Lambda workers alive when idle: {worker_counts}.")
    return section


def _echoes(sent: str, reply: str | bytes, event: bool) -> bool:
    """The bare echo sends the message back; local_aws and the event echo, an event around it."""
    if not event:
        return reply == sent
    try:
        return json.loads(reply)["body"] == sent
    except (ValueError, KeyError, TypeError):
        return False


def _ping(seq: int) -> str:
    return json.dumps({"action": "ping", "seq": seq, "data": "hello"})


def _echo_trial(url: str, fast: bool, sizes: Sizes, event: bool, pid: int) -> tuple[Timing, int]:
    """Warm up, then time messages sent each after the previous reply; (timing, mismatches)."""
    ws = websocket.create_connection(url, timeout=TIMEOUT, skip_utf8_validation=fast)
    warmup = [_ping(-1 - seq) for seq in range(sizes.echo_warmup)]
    sent = [_ping(seq) for seq in range(sizes.echo_messages)]
    replies: list[str | bytes] = []

    def round_trip(index: int) -> None:
        ws.send(sent[index])
        replies.append(ws.recv())

    try:
        for message in warmup:
            ws.send(message)
            ws.recv()
        timing = timed(round_trip, len(sent), pid)
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
    sizes = session.sizes
    section = Section("Echo through $default → Lambda (sequential, one connection)")
    section.notes.append(
        f"{sizes.echo_messages} messages after {sizes.echo_warmup} warm-up, each sent after the "
        'previous reply; message `{"action": "ping", "seq": N, "data": "hello"}`; '
        "replies checked after the timed loop."
    )
    rows: dict[bool, tuple[Row, Row, Row, Row]] = {}
    for fast, mode in ((True, "fast client"), (False, "default client")):
        rate = section.row(f"echo msgs/s, {mode}", "/s", "event echo")
        if fast:
            rate.target, rate.met_if = "≥ 0.5×", lambda _, r: r >= 0.5
        # The same local figures against the bare echo: context, no target.
        bare = section.row(f"echo msgs/s, {mode} (vs bare echo)", "/s", "bare echo")
        bare.local = rate.local
        p50 = section.row(f"echo p50, {mode}", "ms", "event echo")
        rows[fast] = (rate, p50, section.row(f"echo p99, {mode}", "ms", "event echo"), bare)
    cpu = CpuRows(section, "echo, fast client", "event echo", workers=True)

    checked, problems = 0, []
    for trial in range(sizes.trials):
        for fast in (True, False):
            for side in rotated(["local", "event", "echo"], trial):
                url, pid = session.server(side)
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
    sizes = session.sizes
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
    for trial in range(sizes.trials):
        for side in rotated(["local", "echo"], trial):
            url, pid = session.server(side)

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
    """`count` @connections clients each for local_aws and for the trivial HTTP server, whose
    endpoint has the same shape (the same stage path)."""
    trivial = f"{session.reference('http').url}{urlsplit(session.stack.connections_url).path}"
    urls = {"local": session.stack.connections_url, "http": trivial}
    return {
        side: [client("apigatewaymanagementapi", url) for _ in range(count)]
        for side, url in urls.items()
    }


def _post_trial(management: Any, connection_id: str, messages: list[str], pid: int) -> Timing:
    payloads = [message.encode() for message in messages]
    post = management.post_to_connection
    return timed(lambda i: post(ConnectionId=connection_id, Data=payloads[i]), len(payloads), pid)


def post(session: Session) -> Section:
    """`post_to_connection` from one boto3 client, one call after the other, to one connection.

    The connection is the holder's: every post must be delivered, once, in order. Reference:
    the same client code against the trivial HTTP server (200, delivers nothing).
    """
    sizes = session.sizes
    section = Section("post_to_connection (one boto3 client, sequential)")
    section.notes.append(
        f"{sizes.posts} posts after {sizes.post_warmup} warm-up, to a connection held by a "
        "separate process; reference: the trivial HTTP server (asyncio streams, HTTP/1.1 "
        "keep-alive, 200 to any request)."
    )
    reference = "trivial HTTP"
    rows = (
        section.row("post_to_connection /s", "/s", reference, "≥ 0.9×", lambda _, r: r >= 0.9),
        section.row("post_to_connection p50", "ms", reference),
        section.row("post_to_connection p99", "ms", reference),
    )
    cpu = CpuRows(section, "post_to_connection", reference)
    clients = {side: clients[0] for side, clients in management_clients(session, 1).items()}
    session.items_left()
    holder, problems = hold(session.stack.url, 1), []
    try:
        target_id = session.holder_ids(1)[0]
        for trial in range(sizes.trials):
            for side in rotated(["local", "http"], trial):
                for _ in range(sizes.post_warmup):
                    clients[side].post_to_connection(ConnectionId=target_id, Data=b"warm-up")
                expected = [f"t{trial}-{seq}" for seq in range(sizes.posts)]
                timing = _post_trial(clients[side], target_id, expected, session.server(side)[1])
                timing.add_to(rows, side == "local")
                cpu.add(timing.cpu, sizes.posts, side == "local")
                if side == "local":
                    report = holder.command(f"collect {TIMEOUT} {sizes.post_warmup + sizes.posts}")
                    got = [message for message in report["received"][0] if message != "warm-up"]
                    problem = delivery_problem(expected, got)
                    problems += [f"trial {trial + 1}: {problem}"] if problem else []
    finally:
        holder.close()
    section.check(
        "post: every post delivered once, in order",
        not problems,
        "; ".join(problems) or f"{sizes.trials} × {sizes.posts} posts received, in order",
    )
    return section


def fan_out(clients: list[Any], ids: list[str], trial: int) -> tuple[float, float, list[str]]:
    """Post `b{trial}-{i}` to ids[i], thread k (with client k) taking every k-th id.

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
    sizes = session.sizes
    count, threads = sizes.broadcast_connections, sizes.broadcast_threads
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
    holder = hold(session.stack.url, count)
    problems: list[str] = []
    try:
        opening.local.append(holder.first["seconds"])
        ids = session.holder_ids(count)
        clients = management_clients(session, threads)
        for trial in range(sizes.trials):
            for side in rotated(["local", "http"], trial):
                # One call per client first, so each thread starts with an open keep-alive
                # connection; local_aws answers 410 Gone to this id, and sends nothing.
                for management in clients[side]:
                    with contextlib.suppress(management.exceptions.GoneException):
                        management.post_to_connection(
                            ConnectionId="AAAAAAAAAAAAAAA=", Data=b"warm-up"
                        )
                meter = CpuMeter(session.server(side)[1])
                started, seconds, errors = fan_out(clients[side], ids, trial)
                cpu.add(meter.stop(), count, side == "local")
                wall.add(seconds, side == "local")
                problems += [f"trial {trial + 1} {side}: {error}" for error in errors[:3]]
                if side == "http":
                    continue
                report = holder.command(f"collect {TIMEOUT + 5}")
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
