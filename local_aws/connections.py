"""The open WebSocket connections, by connection id.

A connection is registered once its `$connect` integration has succeeded and the handshake
is complete, and removed the moment it starts closing: from then on `@connections` calls get
410 Gone, as on AWS (reference §4.4).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from local_aws.events import Client


@dataclass
class Connection:
    client: Client
    send_text: Callable[[str], Awaitable[None]]
    close: Callable[[int, str], Awaitable[None]]
    last_active_at: int  # epoch ms of the last message in either direction


class Registry:
    def __init__(self) -> None:
        self._connections: dict[str, Connection] = {}

    def add(self, connection: Connection) -> None:
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
