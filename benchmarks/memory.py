"""Resident memory: idle with the stack deployed, then with 1,000 connections open.

A fresh local_aws per trial: deploy, one echo message (so the `$default` function has its warm
worker, the state a workshop runs in), close, settle, then read VmRSS of the local_aws process
and, separately, of its children (the Lambda workers). Then `benchmarks.holder` opens the
connections and the RSS is read again: the difference is the cost of the connections.
Reference (context): the bare echo server, idle and with the same connections.
"""

from __future__ import annotations

import json
import time

import websocket

from benchmarks.processes import Holder, LocalAws, ReferenceServer, children, deploy, rss_mb
from benchmarks.results import Section, Target
from benchmarks.session import Session

SETTLE_SECONDS = 0.5  # let in-flight work (the $disconnect of the warm-up) finish


def workers_mb(pid: int) -> tuple[float, int]:
    """Total RSS of a process's children, and how many there are."""
    kids = children(pid)
    return sum(rss_mb(kid) for kid in kids), len(kids)


def run(session: Session) -> Section:
    sizes = session.sizes
    count = sizes.memory_connections
    section = Section(f"Resident memory (idle, then {count:,} open connections)")
    section.notes.append(
        "VmRSS from /proc/<pid>/status; Lambda workers are the local_aws process's children; "
        "a fresh local_aws per trial."
    )
    server_idle = section.row(
        "RSS idle, local_aws process", "MB", "bare echo", target=Target("< 120 MB", value_max=120)
    )
    workers_idle = section.row("RSS idle, Lambda workers", "MB")
    total_idle = section.row("RSS idle, local_aws process + Lambda workers", "MB")
    server_delta = section.row(
        f"RSS +{count:,} connections, local_aws process",
        "MB",
        "bare echo",
        target=Target("< 30 MB", value_max=30),
    )
    workers_delta = section.row(f"RSS +{count:,} connections, Lambda workers", "MB")
    peak = section.row("peak RSS (VmHWM), local_aws process", "MB")
    worker_counts: list[int] = []

    for trial in range(sizes.trials):
        order = ["local", "bare"] if trial % 2 == 0 else ["bare", "local"]
        for side in order:
            if side == "bare":
                reference = ReferenceServer("echo")
                try:
                    time.sleep(SETTLE_SECONDS)
                    idle = rss_mb(reference.pid)
                    holder = Holder(reference.url, count)
                    time.sleep(SETTLE_SECONDS)
                    server_idle.ref.add(idle)
                    server_delta.ref.add(rss_mb(reference.pid) - idle)
                    holder.close()
                finally:
                    reference.stop()
                continue
            local = LocalAws()
            try:
                stack = deploy(local.client("cloudformation"), "memory")
                ws = websocket.create_connection(stack.url, timeout=10)
                ws.send(json.dumps({"action": "warm-up"}))
                ws.recv()
                ws.close()
                time.sleep(SETTLE_SECONDS)
                idle = rss_mb(local.pid)
                idle_workers, workers = workers_mb(local.pid)
                worker_counts.append(workers)
                holder = Holder(stack.url, count)
                if holder.opened["opened"] != count:
                    raise RuntimeError(
                        f"the holder could not open every connection: {holder.opened}"
                    )
                time.sleep(SETTLE_SECONDS)
                server_idle.local.add(idle)
                workers_idle.local.add(idle_workers)
                total_idle.local.add(idle + idle_workers)
                server_delta.local.add(rss_mb(local.pid) - idle)
                workers_delta.local.add(workers_mb(local.pid)[0] - idle_workers)
                peak.local.add(rss_mb(local.pid, "VmHWM"))
                holder.close()
            finally:
                local.stop()
    section.notes.append(f"Lambda workers alive when idle: {worker_counts}.")
    return section
