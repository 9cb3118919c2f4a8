"""Connect + close, one after the other: the `$connect` PutItem and `$disconnect` DeleteItem.

Each iteration opens a WebSocket (local_aws runs the `$connect` VTL template and PutItem before
it completes the handshake), then closes it and waits for the server's close frame
(websocket-client's `close()` does). `$disconnect` runs after the close handshake, so its
DeleteItem is load on the server rather than part of the client's round trip; at the end the
sessions table must be empty again. Reference: the same against the bare echo server.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import websocket

from benchmarks.processes import CpuMeter, CpuUse
from benchmarks.results import CpuRows, Section, Target, percentile
from benchmarks.session import Session


@dataclass
class Trial:
    rate: float  # connect + close per second
    p50_ms: float
    p99_ms: float
    cpu: CpuUse


def measure(url: str, count: int, warmup: int, pid: int) -> Trial:
    for _ in range(warmup):
        websocket.create_connection(url, timeout=10).close()
    meter = CpuMeter(pid)
    latencies = []
    clock = time.perf_counter
    meter.start()
    started = clock()
    for _ in range(count):
        opened_at = clock()
        ws = websocket.create_connection(url, timeout=10)
        ws.close()  # sends the close frame and waits for the server's (up to 3 s)
        latencies.append(clock() - opened_at)
    elapsed = clock() - started
    cpu = meter.stop()
    return Trial(
        rate=count / elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        cpu=cpu,
    )


def run(session: Session) -> Section:
    sizes = session.sizes
    local, stack = session.local, session.stack
    bare = session.reference("echo")
    dynamodb = local.client("dynamodb")
    section = Section("Connect + close (sequential)")
    section.notes.append(
        f"{sizes.connects} connect + close after {sizes.connect_warmup} warm-up; the client "
        "waits for the server's close frame each time."
    )
    rate = section.row(
        "connect+close /s", "/s", "bare echo", target=Target("≥ 0.8×", ratio_min=0.8)
    )
    p50 = section.row("connect+close p50", "ms", "bare echo")
    p99 = section.row("connect+close p99", "ms", "bare echo")
    cpu = CpuRows(section, "connect+close", "bare echo")

    # Items left by earlier benchmarks would make the final count meaningless.
    left_before = session.wait_for_empty_table(dynamodb)
    for trial in range(sizes.trials):
        order = ["local", "bare"] if trial % 2 == 0 else ["bare", "local"]
        for side in order:
            if side == "local":
                result = measure(stack.url, sizes.connects, sizes.connect_warmup, local.pid)
                rows_series = (rate.local, p50.local, p99.local)
                cpu.add_local(result.cpu, sizes.connects)
            else:
                result = measure(bare.url, sizes.connects, sizes.connect_warmup, bare.pid)
                rows_series = (rate.ref, p50.ref, p99.ref)
                cpu.add_reference(result.cpu, sizes.connects)
            values = (result.rate, result.p50_ms, result.p99_ms)
            for series, value in zip(rows_series, values, strict=True):
                series.add(value)
    left = session.wait_for_empty_table(dynamodb)
    total = sizes.trials * (sizes.connects + sizes.connect_warmup)
    section.check(
        "connect: every $disconnect deleted its item",
        left == 0,
        f"{left} of {total} items left in the table 10 s after the last close"
        + (f" ({left_before} were left before the benchmark)" if left_before else ""),
    )
    return section
