"""The open WebSocket connections, by connection id.

A connection is registered once its `$connect` integration has succeeded and the handshake
is complete, and removed the moment it starts closing: from then on `@connections` calls get
410 Gone, as on AWS (reference §4.4).

Deleting an API or a stage closes its connections (`close_deployed`), as AWS does: the
deletion runs on one of moto's worker threads, so it is handed over to the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from local_aws.events import Client

logger = logging.getLogger(__name__)
GOING_AWAY = 1001  # what a deleted API or stage closes its connections with (docs/fidelity.md)
# The ASGI scope extension under which local_aws's WebSocket protocol (patches.uvicorn) hands the
# app a function saying how many bytes a connection's write buffer can still take.
WRITE_ROOM = "local_aws.write_room"


@dataclass
class Connection:
    client: Client
    send_text: Callable[[str], Awaitable[None]]
    close: Callable[[int, str], Awaitable[None]]
    last_active_at: int  # epoch ms of the last message in either direction
    # Bytes its write buffer can still take before the client counts as not reading (and is
    # dropped); None where the server does not say.
    room: Callable[[], int] | None = None


class OpenConnections:
    """The open connections of every API and stage, by connection id."""

    def __init__(self) -> None:
        self._connections: dict[str, Connection] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: set[asyncio.Task[None]] = set()  # keeps close tasks alive until done

    def add(self, connection: Connection) -> None:
        """Register a connection (on the event loop, whose identity is kept for hand-offs)."""
        self._loop = asyncio.get_running_loop()
        self._connections[connection.client.connection_id] = connection

    def remove(self, connection_id: str) -> Connection | None:
        return self._connections.pop(connection_id, None)

    def get(self, api_id: str, stage: str, connection_id: str) -> Connection | None:
        """The open connection with this id on this API and stage, if any."""
        connection = self._connections.get(connection_id)
        if connection is None or (connection.client.api_id, connection.client.stage) != (
            api_id,
            stage,
        ):
            return None
        return connection

    def __len__(self) -> int:
        return len(self._connections)

    def close_deployed(self, api_id: str, stage: str | None = None) -> None:
        """Close every connection of the API (of one stage, if given); callable from any thread.

        Each connection closes with 1001 "Going away" and then runs its `$disconnect` with the
        deployment it was opened on, which is still known to its gateway session.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # no connection was ever made
        # RuntimeError: the loop closed meanwhile, and so did every connection.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._close_matching, api_id, stage)

    def _close_matching(self, api_id: str, stage: str | None) -> None:
        for connection in list(self._connections.values()):
            client = connection.client
            if client.api_id == api_id and stage in (None, client.stage):
                task = asyncio.ensure_future(self._close(connection))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)

    async def _close(self, connection: Connection) -> None:
        try:
            await connection.close(GOING_AWAY, "Going away")
        except Exception:  # the client went away meanwhile: its $disconnect runs anyway
            logger.debug("could not close %s", connection.client.connection_id)
