"""local_aws's WebSocket protocol (patches.uvicorn): when it stops reading from a client's
socket, and the room it tells the app is left in the connection's write buffer (what
`@connections` needs to answer a post before delivering it)."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.server import ServerState
from websockets.client import ClientProtocol
from websockets.uri import parse_uri

from local_aws.connections import WRITE_ROOM
from local_aws.patches import uvicorn as uvicorn_patches
from local_aws.settings import Settings

LIMIT = 1000  # bytes a client may leave unread


class FakeTransport(asyncio.Transport):
    """Records what the protocol writes (as if the client read none of it) and whether it
    reads."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 4566) if name in ("sockname", "peername") else default

    def write(self, data: Any) -> None:
        self.written += data

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return len(self.written)


async def _connected(
    app: Any, settings: Settings | None = None
) -> tuple[uvicorn_patches.WebSocketProtocol, FakeTransport, ClientProtocol]:
    """The protocol serving `app`, its transport, and a client whose handshake it answered."""
    config = uvicorn_patches.Config(
        app, settings or Settings(), ws=uvicorn_patches.WebSocketProtocol
    )
    config.load()
    protocol = uvicorn_patches.WebSocketProtocol(config, ServerState(), {})
    transport = FakeTransport()
    protocol.connection_made(transport)
    client = ClientProtocol(parse_uri("ws://127.0.0.1:4566/api"))
    client.send_request(client.connect())
    protocol.data_received(b"".join(client.data_to_send()))
    for _ in range(5):  # the app accepts
        await asyncio.sleep(0)
    client.receive_data(bytes(transport.written))
    return protocol, transport, client


def test_reading_stops_once_two_messages_wait_for_the_app_and_resumes_once_none_does() -> None:
    async def scenario() -> None:
        received: asyncio.Queue[Any] = asyncio.Queue()
        take = asyncio.Event()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            assert (await receive())["type"] == "websocket.connect"
            await send({"type": "websocket.accept"})
            while True:
                await take.wait()
                take.clear()
                message = await receive()
                received.put_nowait(message)
                if message["type"] == "websocket.disconnect":
                    return

        protocol, transport, client = await _connected(app)

        def send(text: str) -> None:
            client.send_text(text.encode())
            protocol.data_received(b"".join(client.data_to_send()))

        send("one")
        assert transport.reading  # one message waiting: reading goes on
        send("two")
        assert not transport.reading  # two: the client waits for the gateway
        take.set()
        assert (await received.get())["text"] == "one"
        assert not transport.reading  # "two" still waits
        take.set()
        assert (await received.get())["text"] == "two"
        assert transport.reading  # none waits: reading again
        send("three")  # one at a time, as a client waiting for each reply sends
        assert transport.reading
        take.set()
        assert (await received.get())["text"] == "three"
        protocol.connection_lost(None)
        take.set()
        assert (await received.get())["type"] == "websocket.disconnect"

    asyncio.run(asyncio.wait_for(scenario(), 5))


def test_the_app_sees_the_room_left_in_the_write_buffer() -> None:
    seen: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        room = scope["extensions"][WRITE_ROOM]
        seen.append(room())
        await send({"type": "websocket.send", "text": "x" * 100})  # a 102-byte frame
        seen.append(room())

    async def scenario() -> int:
        settings = Settings(max_buffered_bytes_per_connection=LIMIT)
        _, transport, _ = await _connected(app, settings)
        while len(seen) < 2:
            await asyncio.sleep(0.01)
        return len(transport.written)

    handshake_and_frame = asyncio.run(asyncio.wait_for(scenario(), 5))
    assert seen[1] == seen[0] - 102
    assert seen[1] == LIMIT - handshake_and_frame
