"""Item 8: 1,000 concurrent connections on the workshop stack, against a dedicated local_aws.

1. 1,000 clients connect ($connect writes 1,000 items) and each learns its id from the echo;
2. a backend broadcasts one message to every id with post_to_connection: none may be lost
   or reach the wrong client;
3. every client vanishes without a close frame: $disconnect must empty the table within
   seconds, and @connections must answer 410 for them;
4. the local_aws process's RSS (/proc/<pid>/status) is read before, at the peak and after.
   CPython keeps freed memory in its arenas, so "near baseline" means: within 50 MiB of
   the baseline after the first round, at most 15 MiB more over a second round of 1,000
   connections without Lambda calls (the allocator's pools may grow once for a new mix of
   objects), and no growth (5 MiB at most) over a third. A per-connection leak shows as
   several MiB in every round.

Figures are printed (`pytest -s`) and kept as test properties (junit XML).
"""

from __future__ import annotations

import asyncio
import json
import resource
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from tests.fidelity.support import rss_kib
from tests.support import LocalAwsProcess, deploy, wait_for
from tests.support.clients import http_endpoint

pytestmark = pytest.mark.load

CONNECTIONS = 1000
PARALLEL_HANDSHAKES = 100


@pytest.fixture(scope="module")
def load_server():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * CONNECTIONS + 256  # client and server sockets, plus the usual files
    if soft < wanted:
        # Raised before the server starts, so it inherits the limit too.
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    server = LocalAwsProcess()
    try:
        yield server, deploy(server, "load")
    finally:
        server.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def item_count(server: LocalAwsProcess, table: str) -> int:
    dynamodb = server.client("dynamodb")
    pages = dynamodb.get_paginator("scan").paginate(TableName=table, Select="COUNT")
    return sum(page["Count"] for page in pages)


async def open_clients(
    url: str, count: int, ask_id: bool = True
) -> list[tuple[ClientConnection, str]]:
    """Connect `count` clients, PARALLEL_HANDSHAKES at a time; each asks the echo for its id."""
    gate = asyncio.Semaphore(PARALLEL_HANDSHAKES)

    async def one() -> tuple[ClientConnection, str]:
        async with gate:
            ws = await ws_connect(url, ping_interval=None, open_timeout=30, close_timeout=1)
            if not ask_id:
                return ws, ""
            await ws.send('{"action": "whoami"}')
            event = json.loads(await asyncio.wait_for(ws.recv(), 30))
            return ws, event["requestContext"]["connectionId"]

    return list(await asyncio.gather(*(one() for _ in range(count))))


def drop_all(clients: list[tuple[ClientConnection, str]]) -> None:
    for ws, _ in clients:
        ws.transport.abort()  # no close frame: the TCP connection just goes away


async def receive_one_each(clients: list[tuple[ClientConnection, str]]) -> list[str]:
    async def one(ws: ClientConnection) -> str:
        return await asyncio.wait_for(ws.recv(), 30)

    return list(await asyncio.gather(*(one(ws) for ws, _ in clients)))


def broadcast(server: LocalAwsProcess, url: str, connection_ids: list[str]) -> None:
    """What a backend does: post_to_connection to every id, from 16 threads."""
    local = threading.local()

    def post(connection_id: str) -> None:
        if not hasattr(local, "client"):
            local.client = server.client("apigatewaymanagementapi", endpoint_url=http_endpoint(url))
        local.client.post_to_connection(
            ConnectionId=connection_id, Data=f"broadcast to {connection_id}".encode()
        )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(post, connection_ids))


def test_thousand_connections_broadcast_and_abrupt_drops(load_server, record_property) -> None:
    server, stack = load_server
    url, table = stack["WebSocketURL"], stack["SessionsTableName"]
    pid = server.process.pid
    figures: dict[str, float] = {}

    async def scenario() -> None:
        # Warm up: Lambda workers, code paths, moto's tables.
        warm = await open_clients(url, 20)
        for ws, _ in warm:
            await ws.close()
        assert wait_for(lambda: item_count(server, table) == 0, timeout=10)
        await asyncio.sleep(0.5)
        figures["rss_before_mib"] = rss_kib(pid) / 1024

        started = time.monotonic()
        clients = await open_clients(url, CONNECTIONS)
        figures["connect_seconds"] = time.monotonic() - started
        ids = [connection_id for _, connection_id in clients]
        assert len(set(ids)) == CONNECTIONS
        assert wait_for(lambda: item_count(server, table) == CONNECTIONS, timeout=10)
        figures["rss_connected_mib"] = rss_kib(pid) / 1024

        started = time.monotonic()
        receiving = asyncio.ensure_future(receive_one_each(clients))
        await asyncio.to_thread(broadcast, server, url, ids)
        received = await receiving
        figures["broadcast_seconds"] = time.monotonic() - started
        lost = [
            cid
            for (_, cid), text in zip(clients, received, strict=True)
            if text != f"broadcast to {cid}"
        ]
        assert not lost, f"{len(lost)} clients missed their message"
        figures["rss_peak_mib"] = max(figures["rss_connected_mib"], rss_kib(pid) / 1024)

        started = time.monotonic()
        drop_all(clients)
        emptied = await asyncio.to_thread(wait_for, lambda: item_count(server, table) == 0, 20, 0.2)
        figures["drop_to_empty_seconds"] = time.monotonic() - started
        assert emptied, f"{item_count(server, table)} items left 20 s after the drops"

        management = server.client("apigatewaymanagementapi", endpoint_url=http_endpoint(url))
        for connection_id in ids[:: CONNECTIONS // 20]:
            with pytest.raises(management.exceptions.GoneException):
                management.get_connection(ConnectionId=connection_id)

        await asyncio.sleep(2)
        figures["rss_after_mib"] = rss_kib(pid) / 1024

        # Two more rounds of 1,000 connections without a Lambda call. The first of them may
        # still grow the allocator's pools once (a different mix of objects: measured
        # +7 MiB, then flat); the next must not grow memory again, or connections leak.
        for round_name in ("second", "third"):
            clients = await open_clients(url, CONNECTIONS, ask_id=False)
            assert wait_for(lambda: item_count(server, table) == CONNECTIONS, timeout=10)
            figures[f"rss_{round_name}_peak_mib"] = rss_kib(pid) / 1024
            drop_all(clients)
            assert await asyncio.to_thread(wait_for, lambda: item_count(server, table) == 0, 20)
            await asyncio.sleep(2)
            figures[f"rss_{round_name}_after_mib"] = rss_kib(pid) / 1024

    asyncio.run(scenario())
    for name, value in figures.items():
        record_property(name, round(value, 2))
    print("\nload figures:", {name: round(value, 2) for name, value in figures.items()})
    assert figures["rss_after_mib"] - figures["rss_before_mib"] <= 50, figures
    assert figures["rss_second_after_mib"] - figures["rss_after_mib"] <= 15, figures
    assert figures["rss_third_after_mib"] - figures["rss_second_after_mib"] <= 5, figures
