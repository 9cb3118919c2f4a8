"""The WebSocket data plane: handshake → `$connect`, frames → routes, close → `$disconnect`.

One ASGI WebSocket session per client. Data flows one way: frame → route selection →
integration → route response → frame. Everything AWS-specific that can be a pure function
lives in `routing` and `events`; this module moves messages and keeps time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any
from urllib.parse import parse_qsl

from uvicorn.protocols.utils import ClientDisconnected

from local_aws import events, observability, routing, stage_settings, throttling
from local_aws.authorizers import Authorizers
from local_aws.connections import WRITE_ROOM, Connection, OpenConnections
from local_aws.deployments import DeployedApi, Route
from local_aws.integrations import Integrations, Outcome, reply_frame
from local_aws.settings import Settings

logger = logging.getLogger(__name__)

# Hop-by-hop headers API Gateway does not pass on to integrations (reference §5.2).
_DROPPED_HEADERS = {"connection", "upgrade"}
GOING_AWAY = 1001  # idle timeout and maximum duration (observed on AWS, not documented)
UNSUPPORTED_DATA = 1003  # binary frame (reference §3.7)
NO_STATUS_RECEIVED = 1005  # RFC 6455: the client's close frame had no status code
ABNORMAL_CLOSURE = 1006  # RFC 6455: the connection ended without a close frame
_REFUSALS = {401: "Unauthorized", 403: "Forbidden"}  # `$context.error.message` of a refusal
TOO_MANY_REQUESTS = "Too Many Requests"  # a throttled request (docs/fidelity.md, throttling)


class Gateway:
    """Serves the WebSocket connections of every deployed API, within `settings`' quotas."""

    def __init__(
        self,
        integrations: Integrations,
        connections: OpenConnections,
        settings: Settings,
        observer: observability.Observer | None = None,
        throttles: throttling.Throttles | None = None,
    ) -> None:
        self._integrations = integrations
        self._throttles = throttles  # None: nothing is throttled
        self._observer = observer  # metrics and access logs of every finished request
        self._connections = connections
        self._settings = settings
        self._authorizers = Authorizers(integrations, settings.integration_timeout_seconds)
        self._account_limits = throttling.Limits(
            settings.account_rate_limit, settings.account_burst_limit
        )

    async def serve(
        self, deployed: DeployedApi, scope: dict[str, Any], receive: Any, send: Any
    ) -> None:
        """Run one WebSocket connection from handshake to `$disconnect`."""
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        client = _client(deployed, scope, self._settings.port)
        connect = events.Request(
            client,
            "CONNECT",
            "$connect",
            events.new_request_id(),
            request_time_epoch=client.connected_at,
        )
        if not self._allowed(deployed, "$connect"):  # throttled: before the authorizer runs
            if self._observer is not None:
                self._observer.request_done(
                    deployed, observability.refused(connect, 429, TOO_MANY_REQUESTS)
                )
            await _refuse_handshake(send, 429)
            return
        decision = await self._authorizers.authorize(deployed, connect, scope)
        if not decision.allowed:
            if self._observer is not None:  # refused before the integration: a ClientError
                done = observability.refused(
                    connect,
                    decision.status,
                    _REFUSALS.get(decision.status, "Internal server error"),
                )
                self._observer.request_done(deployed, done)
            await _refuse_handshake(send, decision.status)
            return
        client.authorizer = decision.context  # in every event of this connection from now on
        outcome = await self._run_route(deployed, deployed.routes.get("$connect"), connect)
        if outcome is not None and not outcome.ok:
            await _refuse_handshake(send, self._handshake_status(deployed, outcome))
            return
        accept: dict[str, Any] = {"type": "websocket.accept"}
        if outcome is not None and outcome.headers:
            accept["headers"] = [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in outcome.headers.items()
                if name.lower() != "sec-websocket-protocol"
            ]
            protocol = {k.lower(): v for k, v in outcome.headers.items()}.get(
                "sec-websocket-protocol"
            )
            if protocol:
                accept["subprotocol"] = protocol
        if not await _accept(send, accept):
            # The client left after `$connect` succeeded (its handshake was dropped): the
            # connection never opened, but `$connect` may have stored it, so undo that.
            await self._disconnect(deployed, client, ABNORMAL_CLOSURE, "")
            return

        closing: dict[str, Any] = {}

        async def send_text(text: str) -> None:
            connection.last_active_at = events.now_ms()
            await send({"type": "websocket.send", "text": text})

        async def close(code: int, reason: str) -> None:
            if self._connections.remove(client.connection_id) is not None:
                closing.update(code=code, reason=reason)
                await send({"type": "websocket.close", "code": code, "reason": reason})

        connection = Connection(
            client,
            send_text,
            close,
            last_active_at=client.connected_at,
            room=scope.get("extensions", {}).get(WRITE_ROOM),
        )
        self._connections.add(connection)
        try:
            code, reason, we_close = await self._receive_messages(deployed, connection, receive)
        finally:
            self._connections.remove(client.connection_id)
        if we_close:
            with contextlib.suppress(Exception):  # the client may already be gone
                await send({"type": "websocket.close", "code": code, "reason": reason})
        if closing:  # closed through DELETE @connections or by deleting the API or stage
            code, reason = closing["code"], closing["reason"]
        await self._disconnect(deployed, client, code, reason)

    async def _disconnect(
        self, deployed: DeployedApi, client: events.Client, code: int, reason: str
    ) -> None:
        disconnect = events.Request(
            client,
            "DISCONNECT",
            "$disconnect",
            events.new_request_id(),
            request_time_epoch=events.now_ms(),
            disconnect_status_code=code,
            disconnect_reason=reason or "",
        )
        # reference §3.5: $disconnect is best-effort and its result is ignored.
        await self._run_route(deployed, deployed.routes.get("$disconnect"), disconnect)

    async def _receive_messages(
        self, deployed: DeployedApi, connection: Connection, receive: Any
    ) -> tuple[int, str, bool]:
        """Handle messages until the connection ends.

        Returns the close code and reason, and whether the gateway must send the close frame.
        """
        limits = self._settings
        ends_at = time.monotonic() + limits.max_connection_seconds
        while True:
            remaining = ends_at - time.monotonic()
            try:
                async with asyncio.timeout(min(limits.idle_timeout_seconds, remaining)):
                    message = await receive()
            except TimeoutError:
                return GOING_AWAY, "Going away", True
            if message["type"] == "websocket.disconnect":
                code = message.get("code", NO_STATUS_RECEIVED)
                return code, message.get("reason") or _default_reason(code), False
            text = message.get("text")
            if text is None:
                return UNSUPPORTED_DATA, "Binary frames are not supported", True
            connection.last_active_at = events.now_ms()
            await self._handle_message(deployed, connection, text)

    async def _handle_message(
        self, deployed: DeployedApi, connection: Connection, text: str
    ) -> None:
        request_id = events.new_request_id()
        try:
            await self._answer_message(deployed, connection, text, request_id)
        except Exception:  # a failure must cost this message its answer, not the connection
            client = connection.client
            logger.exception("message %s on %s failed", request_id, client.connection_id)
            frame = events.error_frame("Internal server error", client.connection_id, request_id)
            await _send_quietly(connection, frame)

    async def _answer_message(
        self, deployed: DeployedApi, connection: Connection, text: str, request_id: str
    ) -> None:
        client = connection.client
        route_key = routing.select_route(
            deployed.route_selection_expression, routing.parse_body(text), deployed.routes
        )
        if route_key is None:
            if self._observer is not None:  # no route: a 403 before any integration
                refused = events.Request(client, "MESSAGE", "", request_id, events.now_ms())
                done = observability.refused(refused, 403, "Forbidden")
                self._observer.request_done(deployed, done)
            await _send_quietly(
                connection, events.error_frame("Forbidden", client.connection_id, request_id)
            )
            return
        route = deployed.routes[route_key]
        request = events.Request(
            client,
            "MESSAGE",
            route_key,
            request_id,
            request_time_epoch=events.now_ms(),
            body=text,
            message_id=events.new_message_id(client.connection_id),
        )
        if not self._allowed(deployed, route_key):  # throttled: the socket stays open
            if self._observer is not None:
                done = observability.refused(request, 429, TOO_MANY_REQUESTS)
                self._observer.request_done(deployed, done)
            frame = events.error_frame(TOO_MANY_REQUESTS, client.connection_id, request_id)
            await _send_quietly(connection, frame)
            return
        outcome = await self._run_route(deployed, route, request)
        if outcome is None:
            outcome = Outcome(500, error="Internal server error")
        if outcome.error is not None:
            frame = events.error_frame(outcome.error, client.connection_id, request_id)
            await _send_quietly(connection, frame)
        elif route.two_way and outcome.body is not None:
            limit = self._settings.message_limit_bytes
            await _send_quietly(connection, reply_frame(outcome.body, request, limit))
            if self._observer is not None:
                self._observer.message_sent(deployed.account_id, deployed.region, client)

    def _allowed(self, deployed: DeployedApi, route_key: str) -> bool:
        """Whether the route's token bucket has room for one more request (it takes it)."""
        if self._throttles is None:
            return True
        settings = stage_settings.read(
            deployed.account_id, deployed.region, deployed.api_id, deployed.stage
        ).route(route_key)
        limits = throttling.route_limits(
            settings.burst_limit, settings.rate_limit, self._account_limits
        )
        key = throttling.route_key(deployed.api_id, deployed.stage, route_key)
        return self._throttles.allow(key, limits)

    def _handshake_status(self, deployed: DeployedApi, outcome: Outcome) -> int:
        integration = deployed.routes["$connect"].integration
        if integration is not None and integration.integration_type in ("AWS", "HTTP"):
            # reference §8: what AWS does when a $connect service (or non-proxy HTTP)
            # integration fails is not documented; the connection is not made, with a
            # configurable status (500).
            return self._settings.connect_failure_status
        if not 200 <= outcome.status <= 599:
            # A 1XX is no final answer to a handshake, and past 599 is no HTTP status: the
            # proxy response is malformed (502, as for any malformed Lambda proxy response).
            return 502
        return outcome.status

    async def _run_route(
        self, deployed: DeployedApi, route: Route | None, request: events.Request
    ) -> Outcome | None:
        integration = route.integration if route is not None else None
        started = time.monotonic()
        outcome = (
            None
            if integration is None
            else await self._integrations.run(deployed, integration, request)
        )
        if self._observer is not None:
            latency_ms = round((time.monotonic() - started) * 1000)
            kind = integration.integration_type if integration is not None else None
            done = observability.finished(request, outcome, latency_ms, kind)
            self._observer.request_done(deployed, done)
        return outcome


def _default_reason(code: int) -> str:
    """What AWS puts in `disconnectReason` for a close frame without a reason."""
    # The $disconnect sample in AWS's WebSocket docs and every published capture.
    return "Client-side close frame status not set" if code == NO_STATUS_RECEIVED else ""


async def _accept(send: Any, accept: dict[str, Any]) -> bool:
    """Send the 101; False if the client is already gone."""
    try:
        await send(accept)
    except ClientDisconnected:
        return False
    return True


async def _send_quietly(connection: Connection, text: str) -> None:
    try:
        await connection.send_text(text)
    except Exception:  # the client went away meanwhile: its $disconnect is on its way
        logger.debug("could not send to %s", connection.client.connection_id)


async def _refuse_handshake(send: Any, status: int) -> None:
    body = b'{"message": "Internal server error"}' if status >= 500 else b""
    if status == 429:  # as HTTP and REST APIs answer a throttled request [inf]
        body = b'{"message":"Too Many Requests"}'
    await send(
        {
            "type": "websocket.http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})


def _client(deployed: DeployedApi, scope: dict[str, Any], port: int) -> events.Client:
    """What the handshake tells about the client, as API Gateway passes it on.

    `port` is local_aws's, for a server that does not say which port it was reached on.
    """
    headers: dict[str, str] = {}
    multi_value_headers: dict[str, list[str]] = {}
    hop_by_hop_headers: dict[str, str] = {}
    forwarded_for: list[str] = []
    domain_name = Settings.domain_name(deployed.api_id)
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1"), _decode_header(raw_value)
        if name.lower() in _DROPPED_HEADERS:
            hop_by_hop_headers[name] = value
            continue
        if name.lower() == "x-forwarded-for":  # the chain so far: API Gateway appends to it
            forwarded_for.append(value)
            continue
        if name.lower() == "host":
            # Captures: CONNECT's Host is always the API's domain name, whatever the client
            # sent (so CONNECT and DISCONNECT agree, and @connections URLs built from it work).
            name, value = "Host", domain_name
            if name in headers:
                continue
        headers[name] = value
        multi_value_headers.setdefault(name, []).append(value)
    source_ip, source_port = scope.get("client") or ("127.0.0.1", 0)
    server_port = (scope.get("server") or ("127.0.0.1", port))[1]
    connected_at = events.now_ms()
    # Headers API Gateway adds (reference §5.2).
    added = {
        "X-Amzn-Trace-Id": f"Root=1-{connected_at // 1000:08x}-{os.urandom(12).hex()}",
        # A proxy appends the address it was called from to the client's chain; sourceIp is
        # that address, not what the client wrote (docs/fidelity.md 4b).
        "X-Forwarded-For": ", ".join([*forwarded_for, source_ip]),
        "X-Forwarded-Port": str(server_port),
        "X-Forwarded-Proto": "http",
    }
    for name, value in added.items():
        headers[name] = value
        multi_value_headers[name] = [value]
    # Every capture lists CONNECT's headers sorted by name, ignoring case (reference §8).
    headers = dict(sorted(headers.items(), key=_name_ignoring_case))
    multi_value_headers = dict(sorted(multi_value_headers.items(), key=_name_ignoring_case))
    query: dict[str, str] = {}
    multi_value_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(scope["query_string"].decode(), keep_blank_values=True):
        query[name] = value
        multi_value_query.setdefault(name, []).append(value)
    user_agent = next((v for k, v in headers.items() if k.lower() == "user-agent"), None)
    return events.Client(
        connection_id=events.new_connection_id(),
        api_id=deployed.api_id,
        stage=deployed.stage,
        domain_name=domain_name,
        source_ip=source_ip,
        user_agent=user_agent,
        connected_at=connected_at,
        headers=headers,
        multi_value_headers=multi_value_headers,
        query=query,
        multi_value_query=multi_value_query,
        hop_by_hop_headers=hop_by_hop_headers,
    )


def _name_ignoring_case(item: tuple[str, object]) -> tuple[str, str]:
    return item[0].lower(), item[0]


def _decode_header(raw: bytes) -> str:
    """Header bytes as text: UTF-8 when they are, else ISO-8859-1 (HTTP's historical charset)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
