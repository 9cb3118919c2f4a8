"""What the benchmarks talk to besides local_aws, each in its own process (127.0.0.1 only).

`python -m benchmarks.peers echo|event|http`: a reference server; prints `{"port": N}` once
it accepts connections. `echo` sends each message back as it is; `event` replies with an
event-sized JSON built per message, shaped like the Lambda proxy event local_aws's `$default`
echoes (about 900 bytes: the fair reference for the echo through Lambda, which also builds and
serialises an event); `http` is a trivial HTTP/1.1 keep-alive server that reads the body and
answers 200 with no body (the reference for `@connections` POSTs). WebSocket settings match
local_aws's: no compression, no pings.

`python -m benchmarks.peers hold URL COUNT`: holds COUNT connections (apart, so that receiving
does not compete for the benchmark's GIL with the threads that post). Connection i sends
`X-Bench-Index: i`, which maps `$connect` items to connections. Prints one JSON line once they
are open, then one per stdin command: `collect SECONDS [EACH]` waits until every connection has
received EACH (1) messages since the last collect, or SECONDS pass, then 0.2 s more to catch
duplicates, and reports them all; `close` closes every connection and exits.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

HOST = "127.0.0.1"
MAX_MESSAGE = 128 * 1024  # local_aws's (and AWS's) message quota
OPENING_CONCURRENCY = 50  # handshakes in flight at once: a burst, not a thundering herd


def _new_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(11)).decode("ascii")


def proxy_event(body: str, connection_id: str, connected_at: int, port: int) -> dict[str, Any]:
    """A MESSAGE event as API Gateway builds it for a Lambda proxy integration."""
    now, request_id = time.time_ns() // 1_000_000, _new_id()
    context = {
        "routeKey": "$default",
        "messageId": _new_id(),
        "eventType": "MESSAGE",
        "extendedRequestId": request_id,
        "requestTime": datetime.fromtimestamp(now / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "messageDirection": "IN",
        "stage": "api",
        "connectedAt": connected_at,
        "requestTimeEpoch": now,
        "identity": {"userAgent": "Python/3.11 websocket-client", "sourceIp": HOST},
        "requestId": request_id,
        "domainName": f"referenceapi.execute-api.localhost:{port}",
        "connectionId": connection_id,
        "apiId": "referenceapi",
    }
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


async def echo(websocket: ServerConnection) -> None:
    async for message in websocket:
        await websocket.send(message)


async def event_echo(websocket: ServerConnection) -> None:
    connection_id, connected_at = _new_id(), time.time_ns() // 1_000_000
    port = websocket.local_address[1]
    async for message in websocket:
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        # The Lambda's reply is {"statusCode": 200, "body": json.dumps(event)}: serialise once.
        await websocket.send(json.dumps(proxy_event(text, connection_id, connected_at, port)))


async def http_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request on a keep-alive connection with 200 and no body."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length" and int(value):
                    await reader.readexactly(int(value))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client closed its connection
    finally:
        writer.close()


async def reference_server(kind: str) -> None:
    if kind == "http":
        server: Any = await asyncio.start_server(http_ok, HOST, 0, backlog=2048)
    else:
        handler = echo if kind == "echo" else event_echo
        server = await serve(
            handler,
            HOST,
            0,
            backlog=2048,
            compression=None,
            ping_interval=None,
            max_size=MAX_MESSAGE,
        )
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    await server.serve_forever()


async def hold(url: str, count: int) -> None:
    """Open `count` connections, then obey `collect` and `close` (see the module's docstring)."""
    gate, progress, closing = (
        asyncio.Semaphore(OPENING_CONCURRENCY),
        asyncio.Event(),
        asyncio.Event(),
    )
    connections: list[ClientConnection] = []
    received: list[list[str]] = [[] for _ in range(count)]
    state = {"last_received_at": 0.0, "closed_early": 0}
    readers = set()  # the loop keeps only weak references to tasks

    async def read(index: int, websocket: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for message in websocket:
                received[index].append(message if isinstance(message, str) else message.decode())
                state["last_received_at"] = time.monotonic()  # the benchmark's clock too
                progress.set()
        if not closing.is_set():
            state["closed_early"] += 1

    async def open_one(index: int) -> str:
        async with gate:
            try:
                header = {"X-Bench-Index": str(index)}
                websocket = await connect(
                    url,
                    additional_headers=header,
                    open_timeout=30,
                    compression=None,
                    ping_interval=None,
                    max_size=MAX_MESSAGE,
                )
            except Exception as error:
                return repr(error)
        connections.append(websocket)
        readers.add(asyncio.create_task(read(index, websocket)))
        return ""

    started = time.monotonic()
    errors = [error for error in await asyncio.gather(*map(open_one, range(count))) if error]
    opened = {"opened": len(connections), "failed": len(errors), "errors": errors[:5]}
    print(json.dumps({**opened, "seconds": time.monotonic() - started}), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        command = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if command[:1] != ["collect"]:
            break
        deadline, each = time.monotonic() + float(command[1]), int((command + ["1"])[2])
        while any(len(got) < each for got in received) and time.monotonic() < deadline:
            progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(progress.wait(), deadline - time.monotonic())
        await asyncio.sleep(0.2)
        print(json.dumps({**state, "received": received}), flush=True)
        received[:] = [[] for _ in range(count)]

    closing.set()

    async def close_one(websocket: ClientConnection) -> None:
        async with gate:
            await websocket.close()

    await asyncio.gather(*map(close_one, connections), return_exceptions=True)
    print(json.dumps({"closed": len(connections)}), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["hold"] and len(sys.argv) == 4:
        asyncio.run(hold(sys.argv[2], int(sys.argv[3])))
    elif sys.argv[1:] in (["echo"], ["event"], ["http"]):
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(reference_server(sys.argv[1]))
    else:
        sys.exit("usage: python -m benchmarks.peers {echo,event,http} | hold URL COUNT")
