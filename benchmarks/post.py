"""`post_to_connection` from one boto3 client, one call after the other, to one connection.

A reader thread on the WebSocket (websocket-client) collects what arrives; after the timed
loop every post must have been delivered, once, in order. Reference: the same boto3 client
code, same `endpoint_url` shape, against the trivial HTTP server (which answers 200 and
delivers nothing): what a POST costs with local_aws's work taken out.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import websocket

from benchmarks.processes import CpuMeter, client
from benchmarks.results import CpuRows, Section, Target, percentile
from benchmarks.session import Session

DELIVERY_TIMEOUT = 10.0


class Reader(threading.Thread):
    """Receives every message of one connection into `messages`, until stop()."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        super().__init__(daemon=True)
        self.ws = ws
        self.messages: list[str] = []
        self._stopping = threading.Event()

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
                return

    def stop(self) -> None:
        self._stopping.set()
        self.join()

    def wait_for(self, prefix: str, count: int, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
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
    seen = set(unique)
    missing = len(set(expected) - seen)
    in_order = [message for message in expected if message in seen] == unique
    return (
        f"{len(got)} of {len(expected)} received, {missing} missing, "
        f"{len(got) - len(unique)} duplicated, {'in' if in_order else 'OUT OF'} order"
    )


def connection_id(ws: websocket.WebSocket) -> str:
    """Ask the echo route for the event: its requestContext names this connection."""
    ws.send(json.dumps({"action": "whoami"}))
    return json.loads(ws.recv())["requestContext"]["connectionId"]


def timed_posts(
    management: Any, target_id: str, prefix: str, count: int, warmup: int
) -> tuple[float, list[float]]:
    """Warm up, then post `count` messages `prefix0`, `prefix1`, …; (seconds, latencies)."""
    for _ in range(warmup):
        management.post_to_connection(ConnectionId=target_id, Data=b"warm-up")
    payloads = [f"{prefix}{seq}".encode() for seq in range(count)]
    latencies = []
    clock = time.perf_counter
    started = clock()
    for payload in payloads:
        sent_at = clock()
        management.post_to_connection(ConnectionId=target_id, Data=payload)
        latencies.append(clock() - sent_at)
    return clock() - started, latencies


def run(session: Session) -> Section:
    sizes = session.sizes
    local, stack = session.local, session.stack
    trivial = session.reference("http")
    section = Section("post_to_connection (one boto3 client, sequential)")
    section.notes.append(
        f"{sizes.posts} posts after {sizes.post_warmup} warm-up; reference: the trivial HTTP "
        "server (asyncio streams, HTTP/1.1 keep-alive, 200 to any request)."
    )
    rate = section.row(
        "post_to_connection /s",
        "/s",
        "trivial HTTP",
        target=Target("≥ 0.9×", ratio_min=0.9),
    )
    p50 = section.row("post_to_connection p50", "ms", "trivial HTTP")
    p99 = section.row("post_to_connection p99", "ms", "trivial HTTP")
    cpu = CpuRows(section, "post_to_connection", "trivial HTTP")

    ws = websocket.create_connection(stack.url, timeout=10, skip_utf8_validation=True)
    target_id = connection_id(ws)
    reader = Reader(ws)
    reader.start()
    stage_path = urlsplit(stack.connections_url).path  # /{apiId}/{stage}
    managements = {
        "local": client("apigatewaymanagementapi", stack.connections_url),
        "trivial": client("apigatewaymanagementapi", f"{trivial.url}{stage_path}"),
    }
    problems = []
    try:
        for trial in range(sizes.trials):
            order = ["local", "trivial"] if trial % 2 == 0 else ["trivial", "local"]
            for side in order:
                prefix = f"t{trial}-"
                meter = CpuMeter(local.pid if side == "local" else trivial.pid)
                meter.start()
                elapsed, latencies = timed_posts(
                    managements[side], target_id, prefix, sizes.posts, sizes.post_warmup
                )
                use = meter.stop()
                if side == "local":
                    series = (rate.local, p50.local, p99.local)
                    cpu.add_local(use, sizes.posts)
                else:
                    series = (rate.ref, p50.ref, p99.ref)
                    cpu.add_reference(use, sizes.posts)
                values = (
                    sizes.posts / elapsed,
                    percentile(latencies, 0.50) * 1000,
                    percentile(latencies, 0.99) * 1000,
                )
                for one_series, value in zip(series, values, strict=True):
                    one_series.add(value)
                if side == "local":
                    got = reader.wait_for(prefix, sizes.posts, DELIVERY_TIMEOUT)
                    expected = [f"{prefix}{seq}" for seq in range(sizes.posts)]
                    problem = delivery_problem(expected, got)
                    if problem:
                        problems.append(f"trial {trial + 1}: {problem}")
    finally:
        reader.stop()
        ws.close()
    section.check(
        "post: every post delivered once, in order",
        not problems,
        "; ".join(problems) or f"{sizes.trials} × {sizes.posts} posts received, in order",
    )
    return section
