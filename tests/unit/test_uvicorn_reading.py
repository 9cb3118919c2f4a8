"""The WebSocket protocol's reading: when it stops reading from a client's socket."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.server import ServerState
from websockets.client import ClientProtocol
from websockets.uri import parse_uri

from local_aws.patches import uvicorn as uvicorn_patches
from local_aws.settings import Settings


class FakeTransport(asyncio.Transport):
    """Records what the protocol writes and whether it reads."""

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
        return 0


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

        config = uvicorn_patches.Config(app, Settings(), ws=uvicorn_patches.WebSocketProtocol)
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
