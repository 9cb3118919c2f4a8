"""local_aws's WebSocket protocol (patches.uvicorn) tells the app how much a connection's write
buffer can still take: the room `@connections` needs to answer a post before delivering it."""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

from uvicorn.server import ServerState

from local_aws.connections import WRITE_ROOM
from local_aws.patches.uvicorn import Config, WebSocketProtocol
from local_aws.settings import Settings

LIMIT = 1000  # bytes a client may leave unread


class Transport(asyncio.Transport):
    """A socket's transport that keeps what is written, as if the client read nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.buffered = bytearray()
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 4566), "peername": ("127.0.0.1", 50000)}.get(name)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return len(self.buffered)

    def write(self, data: Any) -> None:
        self.buffered += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


def _handshake() -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        "GET /abcdef1234/api HTTP/1.1\r\nHost: 127.0.0.1:4566\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def test_the_app_sees_the_room_left_in_the_write_buffer() -> None:
    seen: list[int] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        room = scope["extensions"][WRITE_ROOM]
        seen.append(room())
        await send({"type": "websocket.send", "text": "x" * 100})  # a 102-byte frame
        seen.append(room())

    async def serve() -> int:
        settings = Settings(max_buffered_bytes_per_connection=LIMIT)
        config = Config(app, settings, ws="none", lifespan="off")
        protocol = WebSocketProtocol(config=config, server_state=ServerState(), app_state={})
        transport = Transport()
        protocol.connection_made(transport)
        protocol.data_received(_handshake())
        while len(seen) < 2:
            await asyncio.sleep(0.01)
        return len(transport.buffered)

    handshake_and_frame = asyncio.run(asyncio.wait_for(serve(), 5))
    assert seen[1] == seen[0] - 102
    assert seen[1] == LIMIT - handshake_and_frame
