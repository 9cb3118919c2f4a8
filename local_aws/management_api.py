"""The `@connections` management API: POST (send), GET (info), DELETE (close).

Wire format as boto3's `apigatewaymanagementapi` client expects it (reference §4): errors
carry `x-amzn-ErrorType`, so boto3 raises `GoneException` for unknown or closed ids rather
than a bare `ClientError('410')`.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from local_aws import sigv4, throttling
from local_aws.connections import Connection, OpenConnections
from local_aws.events import Client

DELETED_BY_BACKEND = 1000  # reference §8: the close code AWS sends here is not documented
# What AWS's connection ids look like (docs/fidelity.md 2a). AWS answers an id of another
# shape with 400 BadRequestException "Invalid connectionId: …", a well-formed id it does not
# know with 410 GoneException (reference §4.4; docs/fidelity.md 10g).
_WELL_FORMED_ID = re.compile(r"[A-Za-z0-9_-]{15}=")


def _iso(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


class ManagementApi:
    """`@connections` for the open connections of every API, with the message quota."""

    def __init__(
        self,
        connections: OpenConnections,
        message_limit_bytes: int,
        throttles: throttling.Throttles | None = None,
        limits: throttling.Limits | None = None,
        on_sent: Callable[[Client], None] | None = None,
    ) -> None:
        self._connections = connections
        self._on_sent = on_sent  # told of each message posted to a client (its metrics)
        self._message_limit_bytes = message_limit_bytes
        self._throttles = throttles  # None: calls are never throttled
        self._limits = limits or throttling.Limits(10_000.0, 5_000)

    async def handle(
        self,
        api_id: str,
        stage: str,
        region: str,
        raw_id: str,
        headers: dict[str, str],
        scope: dict[str, Any],
        receive: Any,
        send: Any,
    ) -> None:
        """Answer one `@connections/{id}` request for the API and stage in the path.

        `region` is the API's: a request signed for another region is refused, as on AWS.
        `headers` are the request's, names lower-cased (`trust.headers_of`).
        """
        data = await _read_body(receive, self._message_limit_bytes)
        if data is None:
            await _error(send, 413, "PayloadTooLargeException", "Message too long")
            return
        method = scope["method"]
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope["query_string"].decode("latin-1")
        refusal = sigv4.check(method, raw_path, query, headers, data, region=region)
        if refusal is not None:
            await _error(send, refusal.status, refusal.error_type, refusal.message)
            return
        reply, post = await self._answer(api_id, stage, region, method, unquote(raw_id), data)
        if post is not None and not post.fits():
            # It may be the message that overflows the client's buffer: its caller learns
            # whether it was delivered (else 410) before it is answered.
            reply, post = (reply if await post.deliver() else _GONE), None
        await _respond(send, reply.status, reply.body, reply.content_type, reply.headers)
        if post is not None:
            # Delivered right after its caller has the answer, which then does not wait for the
            # client's socket (nor for the client's process it wakes). It fits: only a client
            # that leaves in between misses it.
            await post.deliver()

    async def respond(
        self, api_id: str, stage: str, region: str, method: str, connection_id: str, data: bytes
    ) -> Reply:
        """The answer to an authorized `@connections/{connection_id}` call (the id decoded),
        a POST's message delivered first: what a Step Functions `apigateway:invoke` Task gets
        in process (`local_aws.invoke_task`)."""
        reply, post = await self._answer(api_id, stage, region, method, connection_id, data)
        if post is not None and not await post.deliver():
            return _GONE
        return reply

    async def _answer(
        self, api_id: str, stage: str, region: str, method: str, connection_id: str, data: bytes
    ) -> tuple[Reply, Post | None]:
        """The answer to an authorized call and, for a POST to an open connection, the post
        still to deliver: its answer is 200 if it is delivered, 410 if not."""
        if self._throttles is not None and not self._throttles.allow(
            throttling.connections_key(region), self._limits
        ):
            # The service model's LimitExceededException: "more than the allowed number of
            # requests per unit of time" (botocore retries a 429 before raising it).
            return _error_reply(429, "LimitExceededException", "Too Many Requests"), None
        if not connection_id:  # `/@connections/` names no connection: no such route on AWS
            return _error_reply(403, "ForbiddenException", "Forbidden"), None
        if _WELL_FORMED_ID.fullmatch(connection_id) is None:
            message = f"Invalid connectionId: {connection_id}"
            return _error_reply(400, "BadRequestException", message), None
        connection = self._connections.get(api_id, stage, connection_id)
        if method not in ("POST", "GET", "DELETE"):
            return _error_reply(403, "ForbiddenException", "Forbidden"), None
        if connection is None:
            return _GONE, None
        if method == "POST":
            return Reply(200), Post(connection, data, self._on_sent)
        if method == "GET":
            client = connection.client
            identity = {"sourceIp": client.source_ip}
            if client.user_agent is not None:
                identity["userAgent"] = client.user_agent
            info = {
                "connectedAt": _iso(client.connected_at),
                "identity": identity,
                "lastActiveAt": _iso(connection.last_active_at),
            }
            return Reply(200, json.dumps(info).encode(), "application/json"), None
        # DELETE. Sending never waits for the client to read (patches.uvicorn.WebSocketProtocol),
        # so this is quick; a client that is gone meanwhile is just as closed.
        with contextlib.suppress(Exception):
            await connection.close(DELETED_BY_BACKEND, "")
        return Reply(204), None


@dataclass(frozen=True)
class Reply:
    """An `@connections` answer: status, body, content type and extra headers."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    @property
    def error_type(self) -> str | None:
        """The `x-amzn-ErrorType` of an error answer."""
        return next((v.decode() for k, v in self.headers if k == b"x-amzn-errortype"), None)


@dataclass(frozen=True)
class Post:
    """A message posted to an open connection, still to be delivered."""

    connection: Connection
    data: bytes
    on_sent: Callable[[Client], None] | None

    def fits(self) -> bool:
        """Whether its frame surely fits in the connection's write buffer (at most 3 bytes of
        UTF-8 for each byte decoded, and a frame header of at most 10)."""
        room = self.connection.room
        return room is not None and 3 * len(self.data) + 10 <= room()

    async def deliver(self) -> bool:
        """Send it; False if the connection closed meanwhile or was dropped for not reading.

        Returns at once: the frame waits in the connection's write buffer, and a client that
        leaves that buffer full is dropped (patches.uvicorn.WebSocketProtocol).
        """
        try:
            await self.connection.send_text(self.data.decode("utf-8", errors="replace"))
        except Exception:  # it closed while we were sending, or was dropped for not reading
            return False
        if self.on_sent is not None:
            self.on_sent(self.connection.client)
        return True


# Real AWS answers 410 with an empty body (reference §4.3).
_GONE = Reply(410, headers=[(b"x-amzn-errortype", b"GoneException")])


def _error_reply(status: int, error_type: str, message: str) -> Reply:
    body = json.dumps({"message": message}).encode()
    return Reply(status, body, "application/json", [(b"x-amzn-errortype", error_type.encode())])


async def _read_body(receive: Any, limit: int) -> bytes | None:
    """The request body, or None once it is larger than `limit` (the rest is discarded)."""
    chunks: list[bytes] = []
    size = 0
    too_large = False
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            too_large = True
            chunks.clear()
        elif not too_large:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return None if too_large else b"".join(chunks)


async def _error(send: Any, status: int, error_type: str, message: str) -> None:
    reply = _error_reply(status, error_type, message)
    await _respond(send, reply.status, reply.body, reply.content_type, reply.headers)


async def _respond(
    send: Any,
    status: int,
    body: bytes = b"",
    content_type: str | None = None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    headers.extend(extra or [])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
