"""The programs the benchmarks talk to besides local_aws, each run in its own process.

`python -m benchmarks.peers echo|event|http` starts a reference server on a free 127.0.0.1 port
and prints `ready <port>` once it accepts connections:

- `echo`: a bare `websockets` asyncio server that sends each message back as it is;
- `event`: the same, but it replies with an event-sized JSON built per message, shaped like the
  Lambda proxy event local_aws's `$default` echoes (ids, times, requestContext; about 900 bytes):
  the fair reference for the echo through Lambda, which also builds and serialises an event;
- `http`: a trivial HTTP/1.1 server on asyncio streams (keep-alive; reads the body, answers
  200 with an empty body to any request), the reference for `@connections` POSTs.

WebSocket settings match local_aws's: no compression, no pings.

`python -m benchmarks.peers hold URL COUNT` holds COUNT WebSocket connections open (in its own
process, so receiving does not compete for the benchmark's GIL with the threads that post).
Connection i sends the header `X-Bench-Index: i`, so connection ids can be matched through the
`$connect` items. It prints one JSON line once they are open, then answers each stdin command
with one JSON line: `collect SECONDS` (wait until every connection has received a message since
the last collect, or SECONDS pass, then 0.2 s more to catch duplicates; report them all) and
`close` (close every connection with the close handshake, and exit).
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
    now = time.time_ns() // 1_000_000
    request_id = _new_id()
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
        options = {"compression": None, "ping_interval": None, "max_size": MAX_MESSAGE}
        server = await serve(handler, HOST, 0, backlog=2048, **options)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


async def hold(url: str, count: int) -> None:
    """Open `count` connections, then obey `collect` and `close` commands (see the docstring)."""
    gate = asyncio.Semaphore(OPENING_CONCURRENCY)
    connections: list[ClientConnection] = []
    received: list[list[str]] = [[] for _ in range(count)]
    progress = asyncio.Event()
    state = {"last_received_at": 0.0, "closed_early": 0, "closing": False}

    async def read(index: int, websocket: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for message in websocket:
                received[index].append(message if isinstance(message, str) else message.decode())
                state["last_received_at"] = time.monotonic()  # the benchmark's clock too
                progress.set()
        if not state["closing"]:
            state["closed_early"] += 1

    async def open_one(index: int) -> str | None:
        async with gate:
            try:
                websocket = await connect(
                    url,
                    additional_headers={"X-Bench-Index": str(index)},
                    compression=None,
                    ping_interval=None,
                    open_timeout=30,
                )
            except Exception as error:
                return repr(error)
        connections.append(websocket)
        readers.add(asyncio.create_task(read(index, websocket)))
        return None

    readers: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks
    started = time.monotonic()
    errors = [e for e in await asyncio.gather(*map(open_one, range(count))) if e]
    opened = {"opened": len(connections), "failed": len(errors), "errors": errors[:5]}
    print(json.dumps({**opened, "seconds": time.monotonic() - started}), flush=True)

    loop = asyncio.get_running_loop()
    while True:
        command = (await loop.run_in_executor(None, sys.stdin.readline)).split() or ["close"]
        if command[0] == "collect":
            deadline = time.monotonic() + float(command[1])
            while not all(received) and time.monotonic() < deadline:
                progress.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(progress.wait(), deadline - time.monotonic())
            await asyncio.sleep(0.2)
            print(json.dumps({**state, "received": received}), flush=True)
            received[:] = [[] for _ in range(count)]
        else:
            state["closing"] = True

            async def close_one(websocket: ClientConnection) -> None:
                async with gate:
                    await websocket.close()

            await asyncio.gather(*map(close_one, connections), return_exceptions=True)
            print(json.dumps({"closed": len(connections)}), flush=True)
            return


if __name__ == "__main__":
    if sys.argv[1:2] == ["hold"] and len(sys.argv) == 4:
        asyncio.run(hold(sys.argv[2], int(sys.argv[3])))
    elif sys.argv[1:] in (["echo"], ["event"], ["http"]):
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(reference_server(sys.argv[1]))
    else:
        sys.exit("usage: python -m benchmarks.peers {echo,event,http} | hold URL COUNT")
