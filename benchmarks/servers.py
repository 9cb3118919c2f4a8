"""The reference servers: `python -m benchmarks.servers {echo,event,http}`.

- `echo`: a bare `websockets` asyncio server that sends each message back as it is;
- `event`: the same, but it replies with an event-sized JSON built per message, shaped like the
  Lambda proxy event local_aws's `$default` echoes (ids, times, requestContext; about 900 bytes):
  the fair reference for the echo through Lambda, which also builds and serialises an event;
- `http`: a trivial HTTP/1.1 server on asyncio streams (keep-alive; reads the body, answers
  200 with an empty body to any request), the reference for `@connections` POSTs.

Each binds 127.0.0.1 on a free port and prints `ready <port>` once it accepts connections.
Settings match local_aws's WebSocket side: no compression, no pings.
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

from websockets.asyncio.server import ServerConnection, serve

HOST = "127.0.0.1"
MAX_MESSAGE = 128 * 1024  # local_aws's (and AWS's) message quota
_CLF_TIME = "%d/%b/%Y:%H:%M:%S +0000"


def _new_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(11)).decode("ascii")


def proxy_event(body: str, connection_id: str, connected_at: int, port: int) -> dict[str, Any]:
    """A MESSAGE event as API Gateway builds it for a Lambda proxy integration."""
    now = time.time_ns() // 1_000_000
    request_id = _new_id()
    return {
        "requestContext": {
            "routeKey": "$default",
            "messageId": _new_id(),
            "eventType": "MESSAGE",
            "extendedRequestId": request_id,
            "requestTime": datetime.fromtimestamp(now / 1000, UTC).strftime(_CLF_TIME),
            "messageDirection": "IN",
            "stage": "api",
            "connectedAt": connected_at,
            "requestTimeEpoch": now,
            "identity": {"userAgent": "Python/3.11 websocket-client", "sourceIp": HOST},
            "requestId": request_id,
            "domainName": f"referenceapi.execute-api.localhost:{port}",
            "connectionId": connection_id,
            "apiId": "referenceapi",
        },
        "body": body,
        "isBase64Encoded": False,
    }


async def echo(websocket: ServerConnection) -> None:
    async for message in websocket:
        await websocket.send(message)


async def event_echo(websocket: ServerConnection) -> None:
    connection_id, connected_at = _new_id(), time.time_ns() // 1_000_000
    port = websocket.local_address[1]
    async for message in websocket:
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        event = proxy_event(text, connection_id, connected_at, port)
        # The Lambda's reply is {"statusCode": 200, "body": json.dumps(event)}: serialise once.
        await websocket.send(json.dumps(event))


async def http_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request on a keep-alive connection with 200 and no body."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client closed its connection
    finally:
        writer.close()


async def main(kind: str) -> None:
    if kind == "http":
        server: Any = await asyncio.start_server(http_ok, HOST, 0, backlog=2048)
    else:
        handler = echo if kind == "echo" else event_echo
        server = await serve(
            handler,
            HOST,
            0,
            compression=None,
            ping_interval=None,
            max_size=MAX_MESSAGE,
            backlog=2048,
        )
    port = server.sockets[0].getsockname()[1]
    print(f"ready {port}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("echo", "event", "http"):
        sys.exit("usage: python -m benchmarks.servers {echo,event,http}")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(sys.argv[1]))
