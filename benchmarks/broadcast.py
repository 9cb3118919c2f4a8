"""Broadcast: one `post_to_connection` to each of 1,000 open connections, from 8 threads.

The connections are held by `benchmarks.holder` (an asyncio `websockets` client in its own
process). Connection ids come from the `$connect` items in DynamoDB, matched through the
`X-Bench-Index` header each connection sent. Each of 8 threads has its own boto3 client and
posts to every 8th connection; the wall time runs from releasing the threads to the last
response. Every connection must then have received exactly its own message. Reference: the
same fan-out against the trivial HTTP server (same ids, same endpoint shape).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from benchmarks.processes import CpuMeter, Holder, client, table_items
from benchmarks.results import CpuRows, Section, Target
from benchmarks.session import Session

DELIVERY_TIMEOUT = 15.0
ALL_DELIVERED = "broadcast: every connection received exactly its message"


def connection_ids(dynamodb: Any, table: str, count: int) -> list[str]:
    """Connection id of holder connection i, from the X-Bench-Index header of its item."""
    ids = [""] * count
    for item in table_items(dynamodb, table):
        headers = {name.lower(): value["S"] for name, value in item["headers"]["M"].items()}
        index = headers.get("x-bench-index")
        if index is not None and int(index) < count:
            ids[int(index)] = item["connectionid"]["S"]
    return ids


def warm_up(clients: list[Any], some_id: str) -> None:
    """One call per client, so each thread starts with an open keep-alive connection."""
    for management in clients:
        # local_aws answers 410 Gone: the id is not a connection, and no message is sent.
        with contextlib.suppress(management.exceptions.GoneException):
            management.post_to_connection(ConnectionId=some_id, Data=b"warm-up")


def fan_out(
    clients: list[Any], ids: list[str], payload: Callable[[int], bytes]
) -> tuple[float, float, list[str]]:
    """Post payload(i) to ids[i], thread k taking every k-th id; (start, seconds, errors)."""
    go = threading.Event()
    errors: list[str] = []

    def work(k: int) -> None:
        management = clients[k]
        go.wait()
        for i in range(k, len(ids), len(clients)):
            try:
                management.post_to_connection(ConnectionId=ids[i], Data=payload(i))
            except Exception as error:
                errors.append(f"{i}: {error!r}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(clients))]
    for thread in threads:
        thread.start()
    time.sleep(0.05)  # every thread is waiting on the event
    started = time.monotonic()  # the holder uses the same clock, in another process
    go.set()
    for thread in threads:
        thread.join()
    return started, time.monotonic() - started, errors


def run(session: Session) -> Section:
    sizes = session.sizes
    count, threads = sizes.broadcast_connections, sizes.broadcast_threads
    local, stack = session.local, session.stack
    trivial = session.reference("http")
    dynamodb = local.client("dynamodb")
    section = Section(f"Broadcast to {count:,} open connections ({threads} threads)")
    section.notes.append(
        f"{count:,} connections held by an asyncio `websockets` client in a separate process; "
        f"{threads} threads, one boto3 client each, post one message per connection; "
        "reference: the same posts to the trivial HTTP server."
    )
    wall = section.row(
        f"broadcast wall, {count:,} posts",
        "s",
        "trivial HTTP",
        target=Target("≤ 1.25×, all delivered", ratio_max=1.25),
        requires=(ALL_DELIVERED,),
    )
    delivered = section.row(f"broadcast last delivery, {count:,} posts", "s")
    cpu = CpuRows(section, "broadcast post", "trivial HTTP")
    opening = section.row(f"open {count:,} connections (holder, 50 at a time)", "s")

    session.wait_for_empty_table(dynamodb)
    holder = Holder(stack.url, count)
    problems: list[str] = []
    try:
        opening.local.add(holder.opened["seconds"])
        if holder.opened["opened"] != count:
            raise RuntimeError(f"the holder could not open every connection: {holder.opened}")
        ids = connection_ids(dynamodb, stack.table, count)
        if not all(ids):
            raise RuntimeError(f"{ids.count('')} connections have no item in the table")
        stage_path = urlsplit(stack.connections_url).path
        clients = {
            "local": [
                client("apigatewaymanagementapi", stack.connections_url) for _ in range(threads)
            ],
            "trivial": [
                client("apigatewaymanagementapi", f"{trivial.url}{stage_path}")
                for _ in range(threads)
            ],
        }
        for trial in range(sizes.trials):
            order = ["local", "trivial"] if trial % 2 == 0 else ["trivial", "local"]
            for side in order:
                warm_up(clients[side], "AAAAAAAAAAAAAAA=")
                meter = CpuMeter(local.pid if side == "local" else trivial.pid)
                meter.start()
                started, seconds, errors = fan_out(
                    clients[side], ids, lambda i, t=trial: f"b{t}-{i}".encode()
                )
                use = meter.stop()
                problems += [f"trial {trial + 1} {side}: {error}" for error in errors[:3]]
                if side == "trivial":
                    wall.ref.add(seconds)
                    cpu.add_reference(use, count)
                    continue
                wall.local.add(seconds)
                cpu.add_local(use, count)
                report = holder.command(f"collect {DELIVERY_TIMEOUT}")
                wrong = [
                    i
                    for i, messages in enumerate(report["received"])
                    if messages != [f"b{trial}-{i}"]
                ]
                if wrong:
                    missing = sum(not report["received"][i] for i in wrong)
                    problems.append(
                        f"trial {trial + 1}: {len(wrong)} connections wrong ({missing} received "
                        f"nothing), e.g. #{wrong[0]}: {report['received'][wrong[0]][:3]}"
                    )
                if report["closed_early"]:
                    problems.append(f"{report['closed_early']} connections closed early")
                delivered.local.add(report["last_received_at"] - started)
    finally:
        holder.close()
    section.check(
        ALL_DELIVERED,
        not problems,
        "; ".join(problems) or f"{sizes.trials} × {count:,} messages, one per connection",
    )
    left = session.wait_for_empty_table(dynamodb)
    section.check(
        "broadcast: every $disconnect deleted its item",
        left == 0,
        f"{left} of {count:,} items left 10 s after the holder closed its connections",
    )
    return section
