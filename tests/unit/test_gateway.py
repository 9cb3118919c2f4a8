"""The WebSocket data plane, one ASGI session at a time, with the integrations faked.

The gateway is driven through its ASGI interface (`websocket.connect`, `websocket.receive`,
`websocket.disconnect` in; `websocket.accept`, `websocket.send`, `websocket.close` or an HTTP
refusal out). What each route's integration answers is scripted, so these tests hold what
the gateway does with those answers: which route a frame goes to, what the client gets back,
how and when the connection ends, and what `$disconnect` is told.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

import pytest

from local_aws import events
from local_aws.connections import WRITE_ROOM, OpenConnections
from local_aws.deployments import DeployedApi, Integration, Route
from local_aws.gateway import Gateway
from local_aws.integrations import Integrations, Outcome
from local_aws.settings import Settings

# What a route's fake integration does: answer with an Outcome, or raise.
Behaviour = Outcome | Exception | Callable[[events.Request], Outcome]

TIMEOUT = 5.0  # no scenario here needs more than a fraction of a second


class FakeIntegrations:
    """Stands in for `Integrations`: answers per route key, and records every request."""

    def __init__(self, behaviours: dict[str, Behaviour]) -> None:
        self.behaviours = behaviours
        self.requests: list[events.Request] = []
        self.disconnected = asyncio.Event()

    async def run(
        self, deployed: DeployedApi, integration: Integration, request: events.Request
    ) -> Outcome:
        self.requests.append(request)
        if request.event_type == "DISCONNECT":
            self.disconnected.set()
        behaviour = self.behaviours.get(request.route_key, Outcome(200))
        if isinstance(behaviour, Exception):
            raise behaviour
        if callable(behaviour):
            return behaviour(request)
        return behaviour

    def of_type(self, event_type: str) -> list[events.Request]:
        return [request for request in self.requests if request.event_type == event_type]


def _integration(kind: str = "AWS_PROXY") -> Integration:
    return Integration(
        integration_id="abc123",
        integration_type=kind,
        uri=None,
        method=None,
        credentials_arn=None,
        request_templates={},
        template_selection_expression=None,
        passthrough_behavior=None,
        timeout_seconds=29.0,
        responses=(),
    )


def _deployed(
    *route_keys: str,
    one_way: tuple[str, ...] = (),
    connect_type: str = "AWS_PROXY",
    expression: str = "$request.body.action",
    connect: bool = True,
) -> DeployedApi:
    """An API whose routes all have an integration; two-way unless named in `one_way`.

    It has a `$connect` route (so the connection id is known) unless `connect` is False.
    """
    if connect and "$connect" not in route_keys:
        route_keys = ("$connect", *route_keys)
    routes = {
        key: Route(
            key,
            _integration(connect_type if key == "$connect" else "AWS_PROXY"),
            two_way=key not in one_way,
        )
        for key in route_keys
    }
    return DeployedApi(
        account_id="123456789012",
        region="us-east-1",
        api_id="abcdef1234",
        stage="api",
        route_selection_expression=expression,
        routes=routes,
    )


def _scope(query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "websocket",
        "path": "/abcdef1234/api",
        "query_string": query,
        "headers": headers or [(b"host", b"127.0.0.1:4566")],
        "client": ("10.1.2.3", 50000),
        "server": ("127.0.0.1", 4566),
    }


class Session:
    """One client's ASGI session with the gateway: what it sends in and what comes out."""

    def __init__(
        self,
        deployed: DeployedApi,
        behaviours: dict[str, Behaviour] | None = None,
        settings: Settings | None = None,
        scope: dict[str, Any] | None = None,
    ) -> None:
        self.deployed = deployed
        self.integrations = FakeIntegrations(behaviours or {})
        self.connections = OpenConnections()
        self.gateway = Gateway(
            cast(Integrations, self.integrations), self.connections, settings or Settings()
        )
        self.scope = scope or _scope()
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _receive(self) -> dict[str, Any]:
        return await self._inbox.get()

    async def _send(self, message: dict[str, Any]) -> None:
        await self._outbox.put(message)

    def start(self, send: Callable[[dict[str, Any]], Awaitable[None]] | None = None) -> None:
        """Connect; `send` replaces the recording one (e.g. for a client that is gone)."""
        self._inbox.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.create_task(
            self.gateway.serve(self.deployed, self.scope, self._receive, send or self._send)
        )

    async def open(self) -> None:
        """Connect, and expect the handshake to be accepted."""
        self.start()
        accept = await self.next()
        assert accept["type"] == "websocket.accept"

    def text(self, text: str) -> None:
        self._inbox.put_nowait({"type": "websocket.receive", "text": text})

    def binary(self, data: bytes) -> None:
        self._inbox.put_nowait({"type": "websocket.receive", "bytes": data})

    def leave(self, code: int, reason: str = "") -> None:
        self._inbox.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})

    async def next(self) -> dict[str, Any]:
        """The next ASGI message the gateway sends."""
        return await self._outbox.get()

    async def next_text(self) -> str:
        message = await self.next()
        assert message["type"] == "websocket.send", message
        return cast(str, message["text"])

    async def finished(self) -> None:
        """Wait for the session to end (after its `$disconnect`)."""
        assert self.task is not None
        await self.task

    def unsent(self) -> list[dict[str, Any]]:
        """What the gateway sent that the test has not read yet."""
        messages = []
        while not self._outbox.empty():
            messages.append(self._outbox.get_nowait())
        return messages

    @property
    def connection_id(self) -> str:
        return self.integrations.of_type("CONNECT")[0].client.connection_id


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a scenario on a fresh event loop, failing instead of hanging."""

    async def bounded() -> None:
        await asyncio.wait_for(scenario(), TIMEOUT)

    asyncio.run(bounded())


def _error_message(frame: str) -> str:
    parsed = json.loads(frame)
    assert set(parsed) == {"message", "connectionId", "requestId"}
    return cast(str, parsed["message"])


# --- $connect ---------------------------------------------------------------------------


def test_a_connection_knows_the_room_its_server_reports_in_the_scope() -> None:
    async def scenario() -> None:
        scope = {**_scope(), "extensions": {WRITE_ROOM: lambda: 4321}}
        session = Session(_deployed("$connect", "$default"), scope=scope)
        await session.open()
        connection = session.connections.get("abcdef1234", "api", session.connection_id)
        assert connection is not None and connection.room is not None
        assert connection.room() == 4321
        session.leave(1000)
        await session.finished()

    run(scenario)


def test_a_successful_connect_accepts_and_registers_the_connection() -> None:
    async def scenario() -> None:
        session = Session(_deployed("$connect", "$default"))
        await session.open()
        connection_id = session.connection_id
        assert session.connections.get("abcdef1234", "api", connection_id) is not None
        assert session.connections.get("abcdef1234", "other", connection_id) is None
        session.leave(1000)
        await session.finished()
        assert len(session.connections) == 0

    run(scenario)


def test_an_api_without_a_connect_route_accepts_every_client() -> None:
    async def scenario() -> None:
        session = Session(_deployed("$default", connect=False))
        await session.open()
        assert len(session.connections) == 1
        session.leave(1000)
        await session.finished()

    run(scenario)


@pytest.mark.parametrize("status", [401, 403, 500])
def test_a_failed_proxy_connect_refuses_the_handshake_with_its_status(status: int) -> None:
    async def scenario() -> None:
        session = Session(_deployed("$connect", "$disconnect"), {"$connect": Outcome(status)})
        session.start()
        await session.finished()
        start, body = session.unsent()
        assert start["type"] == "websocket.http.response.start"
        assert start["status"] == status
        assert body["type"] == "websocket.http.response.body"
        # Only server errors carry AWS's message; refusals by the function have no body.
        assert (b"Internal server error" in body["body"]) == (status >= 500)
        # A connection that never opened is not registered and has no $disconnect.
        assert len(session.connections) == 0
        assert session.integrations.of_type("DISCONNECT") == []

    run(scenario)


@pytest.mark.parametrize("status", [100, 101, 199, 600, 99999])
def test_a_connect_status_that_is_no_final_http_status_is_a_502(status: int) -> None:
    """A `$connect` function answering `statusCode` 100 (or 99999) is a malformed proxy
    response: the handshake gets 502, not an informational or impossible status."""

    async def scenario() -> None:
        session = Session(_deployed("$connect", "$disconnect"), {"$connect": Outcome(status)})
        session.start()
        await session.finished()
        start, _ = session.unsent()
        assert start["status"] == 502
        assert len(session.connections) == 0

    run(scenario)


def test_a_failed_service_connect_refuses_with_the_configured_status() -> None:
    async def scenario() -> None:
        session = Session(
            _deployed("$connect", connect_type="AWS"),
            {"$connect": Outcome(400, error="Internal server error")},
            settings=Settings(connect_failure_status=502),
        )
        session.start()
        await session.finished()
        start, body = session.unsent()
        assert start["status"] == 502
        assert b"Internal server error" in body["body"]

    run(scenario)


def test_a_connect_error_refuses_even_with_a_2xx_status() -> None:
    async def scenario() -> None:
        session = Session(
            _deployed("$connect"), {"$connect": Outcome(200, error="Internal server error")}
        )
        session.start()
        await session.finished()
        assert session.unsent()[0]["type"] == "websocket.http.response.start"

    run(scenario)


def test_connect_headers_reach_the_handshake_and_the_subprotocol_is_chosen() -> None:
    async def scenario() -> None:
        headers = {"Sec-WebSocket-Protocol": "chat", "X-Extra": "yes"}
        session = Session(_deployed("$connect"), {"$connect": Outcome(200, headers=headers)})
        session.start()
        accept = await session.next()
        assert accept["type"] == "websocket.accept"
        assert accept["subprotocol"] == "chat"
        assert accept["headers"] == [(b"x-extra", b"yes")]
        session.leave(1000)
        await session.finished()

    run(scenario)


def test_connect_sees_the_handshake_as_api_gateway_passes_it_on() -> None:
    async def scenario() -> None:
        scope = _scope(
            query=b"name=ada&tag=a&tag=b",
            headers=[
                (b"Host", b"127.0.0.1:4566"),
                (b"Connection", b"Upgrade"),
                (b"Upgrade", b"websocket"),
                (b"User-Agent", b"pytest"),
            ],
        )
        session = Session(_deployed("$connect"), scope=scope)
        await session.open()
        client = session.integrations.of_type("CONNECT")[0].client
        assert client.source_ip == "10.1.2.3"
        assert client.user_agent == "pytest"
        assert (client.api_id, client.stage) == ("abcdef1234", "api")
        assert "Connection" not in client.headers and "Upgrade" not in client.headers
        assert client.headers["X-Forwarded-For"] == "10.1.2.3"
        assert client.headers["X-Forwarded-Port"] == "4566"
        assert client.query == {"name": "ada", "tag": "b"}
        assert client.multi_value_query["tag"] == ["a", "b"]
        session.leave(1000)
        await session.finished()

    run(scenario)


# --- messages ---------------------------------------------------------------------------


def _echo(request: events.Request) -> Outcome:
    return Outcome(200, body=f"{request.route_key}:{request.body}")


def test_the_route_selection_expression_picks_the_route() -> None:
    async def scenario() -> None:
        session = Session(
            _deployed("$connect", "sendmessage", "join", "$default"),
            {"sendmessage": _echo, "join": _echo, "$default": _echo},
        )
        await session.open()
        session.text('{"action": "join"}')
        assert await session.next_text() == 'join:{"action": "join"}'
        session.text('{"action": "sendmessage", "data": 1}')
        assert await session.next_text() == 'sendmessage:{"action": "sendmessage", "data": 1}'
        session.leave(1000)
        await session.finished()
        message_routes = [r.route_key for r in session.integrations.of_type("MESSAGE")]
        assert message_routes == ["join", "sendmessage"]

    run(scenario)


@pytest.mark.parametrize("text", ['{"action": "nosuchroute"}', "not json", '{"other": 1}'])
def test_a_message_without_its_route_goes_to_default(text: str) -> None:
    async def scenario() -> None:
        session = Session(_deployed("sendmessage", "$default"), {"$default": _echo})
        await session.open()
        session.text(text)
        assert await session.next_text() == f"$default:{text}"
        session.leave(1000)
        await session.finished()

    run(scenario)


def test_a_message_with_no_route_and_no_default_is_forbidden() -> None:
    async def scenario() -> None:
        session = Session(_deployed("sendmessage"), {"sendmessage": _echo})
        await session.open()
        session.text('{"action": "nosuchroute"}')
        frame = json.loads(await session.next_text())
        assert frame["message"] == "Forbidden"
        assert frame["connectionId"] == session.connection_id
        assert session.integrations.of_type("MESSAGE") == []
        # The connection stays open: the next message is still answered.
        session.text('{"action": "sendmessage"}')
        assert (await session.next_text()).startswith("sendmessage:")
        session.leave(1000)
        await session.finished()

    run(scenario)


def test_a_one_way_route_sends_nothing_back() -> None:
    async def scenario() -> None:
        session = Session(
            _deployed("quiet", "loud", one_way=("quiet",)), {"quiet": _echo, "loud": _echo}
        )
        await session.open()
        session.text('{"action": "quiet"}')
        session.text('{"action": "loud"}')
        # Messages are answered in order, so the first frame would be quiet's if it had one.
        assert await session.next_text() == 'loud:{"action": "loud"}'
        session.leave(1000)
        await session.finished()
        assert [r.route_key for r in session.integrations.of_type("MESSAGE")] == [
            "quiet",
            "loud",
        ]
        assert [m["type"] for m in session.unsent()] == []

    run(scenario)


def test_a_two_way_route_without_a_body_sends_nothing() -> None:
    async def scenario() -> None:
        session = Session(_deployed("empty", "loud"), {"empty": Outcome(200), "loud": _echo})
        await session.open()
        session.text('{"action": "empty"}')
        session.text('{"action": "loud"}')
        assert await session.next_text() == 'loud:{"action": "loud"}'
        session.leave(1000)
        await session.finished()

    run(scenario)


def test_a_reply_over_the_message_limit_becomes_an_error_frame() -> None:
    async def scenario() -> None:
        session = Session(
            _deployed("big"),
            {"big": Outcome(200, body="x" * 100)},
            settings=Settings(message_limit_bytes=50),
        )
        await session.open()
        session.text('{"action": "big"}')
        assert _error_message(await session.next_text()) == "Internal server error"
        session.leave(1000)
        await session.finished()

    run(scenario)


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        (RuntimeError("integration blew up"), "Internal server error"),
        (Outcome(504, error="Endpoint request timed out"), "Endpoint request timed out"),
        (Outcome(500, error="Internal server error", body="ignored"), "Internal server error"),
    ],
)
def test_a_failing_integration_costs_the_message_its_answer_not_the_connection(
    behaviour: Behaviour, message: str
) -> None:
    async def scenario() -> None:
        session = Session(_deployed("bad", "good"), {"bad": behaviour, "good": _echo})
        await session.open()
        session.text('{"action": "bad"}')
        frame = json.loads(await session.next_text())
        assert frame["message"] == message
        assert frame["connectionId"] == session.connection_id
        session.text('{"action": "good"}')
        assert await session.next_text() == 'good:{"action": "good"}'
        assert len(session.connections) == 1
        session.leave(1000)
        await session.finished()

    run(scenario)


def test_a_message_from_the_client_refreshes_last_active_at() -> None:
    async def scenario() -> None:
        seen: list[int] = []
        session = Session(_deployed("quiet", one_way=("quiet",)))

        def note(request: events.Request) -> Outcome:
            connection = session.connections.get("abcdef1234", "api", session.connection_id)
            assert connection is not None
            seen.append(connection.last_active_at)
            return Outcome(200, body="not sent")

        session.integrations.behaviours["quiet"] = note
        await session.open()
        connection = session.connections.get("abcdef1234", "api", session.connection_id)
        assert connection is not None
        connection.last_active_at = 0
        session.text('{"action": "quiet"}')  # one-way: nothing is sent back
        session.leave(1000)
        await session.finished()
        assert seen and seen[0] >= connection.client.connected_at

    run(scenario)


def test_sending_to_a_connection_delivers_a_frame_and_refreshes_last_active_at() -> None:
    """What `@connections` POST relies on: the registered `send_text`."""

    async def scenario() -> None:
        session = Session(_deployed("$default"))
        await session.open()
        connection = session.connections.get("abcdef1234", "api", session.connection_id)
        assert connection is not None
        connection.last_active_at = 0
        await connection.send_text("pushed")
        assert await session.next_text() == "pushed"
        assert connection.last_active_at >= connection.client.connected_at
        session.leave(1000)
        await session.finished()

    run(scenario)


# --- how connections end ----------------------------------------------------------------


def test_disconnect_gets_the_clients_close_code_and_reason() -> None:
    async def scenario() -> None:
        session = Session(_deployed("$connect", "$disconnect"))
        await session.open()
        connection_id = session.connection_id
        session.leave(4321, "see you")
        await session.finished()
        (disconnect,) = session.integrations.of_type("DISCONNECT")
        assert disconnect.route_key == "$disconnect"
        assert disconnect.client.connection_id == connection_id
        assert (disconnect.disconnect_status_code, disconnect.disconnect_reason) == (
            4321,
            "see you",
        )
        # The client closed: the gateway sends no close frame of its own.
        assert session.unsent() == []
        assert len(session.connections) == 0

    run(scenario)


def test_a_binary_frame_closes_with_1003() -> None:
    async def scenario() -> None:
        session = Session(_deployed("$default", "$disconnect"), {"$default": _echo})
        await session.open()
        session.binary(b"\x00\x01")
        close = await session.next()
        assert close["type"] == "websocket.close"
        assert close["code"] == 1003
        await session.finished()
        assert session.integrations.of_type("MESSAGE") == []
        (disconnect,) = session.integrations.of_type("DISCONNECT")
        assert disconnect.disconnect_status_code == 1003
        assert len(session.connections) == 0

    run(scenario)


def test_an_idle_connection_closes_with_1001_going_away() -> None:
    async def scenario() -> None:
        session = Session(_deployed("$disconnect"), settings=Settings(idle_timeout_seconds=0.05))
        await session.open()
        close = await session.next()
        assert (close["type"], close["code"], close["reason"]) == (
            "websocket.close",
            1001,
            "Going away",
        )
        await session.finished()
        (disconnect,) = session.integrations.of_type("DISCONNECT")
        assert (disconnect.disconnect_status_code, disconnect.disconnect_reason) == (
            1001,
            "Going away",
        )
        assert len(session.connections) == 0

    run(scenario)


def test_messages_keep_a_connection_from_going_idle() -> None:
    async def scenario() -> None:
        session = Session(
            _deployed("$default"), {"$default": _echo}, settings=Settings(idle_timeout_seconds=0.3)
        )
        await session.open()
        for _ in range(5):  # 0.5 s in all, never 0.3 s without a message
            await asyncio.sleep(0.1)
            session.text("ping")
            assert await session.next_text() == "$default:ping"
        session.leave(1000)
        await session.finished()

    run(scenario)


def test_a_connection_ends_at_its_maximum_duration_even_when_busy() -> None:
    async def scenario() -> None:
        session = Session(
            _deployed("$default", "$disconnect"),
            {"$default": _echo},
            settings=Settings(idle_timeout_seconds=10, max_connection_seconds=0.3),
        )
        await session.open()
        received: list[dict[str, Any]] = []

        async def chatter() -> None:
            while True:
                session.text("ping")
                await asyncio.sleep(0.05)

        talking = asyncio.create_task(chatter())
        while not received or received[-1]["type"] != "websocket.close":
            received.append(await session.next())
        talking.cancel()
        assert received[-1]["code"] == 1001
        await session.finished()
        (disconnect,) = session.integrations.of_type("DISCONNECT")
        assert disconnect.disconnect_status_code == 1001

    run(scenario)


def test_a_close_from_the_backend_is_what_disconnect_reports() -> None:
    """DELETE @connections closes through the registered connection: its code wins."""

    async def scenario() -> None:
        session = Session(_deployed("$disconnect"))
        await session.open()
        connection = session.connections.get("abcdef1234", "api", session.connection_id)
        assert connection is not None
        await connection.close(1000, "")
        close = await session.next()
        assert (close["type"], close["code"]) == ("websocket.close", 1000)
        # Closing unregisters at once: @connections answers 410 from now on.
        assert session.connections.get("abcdef1234", "api", session.connection_id) is None
        session.leave(1005)  # what the ASGI server reports once the close handshake ends
        await session.finished()
        (disconnect,) = session.integrations.of_type("DISCONNECT")
        assert disconnect.disconnect_status_code == 1000

    run(scenario)


def test_closing_a_deployed_api_closes_its_connections_with_going_away() -> None:
    async def scenario() -> None:
        session = Session(_deployed("$disconnect"))
        await session.open()
        session.connections.close_deployed("abcdef1234", "api")
        close = await session.next()
        assert (close["code"], close["reason"]) == (1001, "Going away")
        session.leave(1005)
        await session.finished()
        (disconnect,) = session.integrations.of_type("DISCONNECT")
        assert disconnect.disconnect_status_code == 1001

    run(scenario)


def test_a_client_that_leaves_during_the_handshake_is_disconnected() -> None:
    """`$connect` succeeded but the 101 could not be sent: `$disconnect` undoes it (1006)."""
    from uvicorn.protocols.utils import ClientDisconnected

    async def scenario() -> None:
        session = Session(_deployed("$connect", "$disconnect"))

        async def send(message: dict[str, Any]) -> None:
            raise ClientDisconnected

        session.start(send)
        await session.finished()
        (disconnect,) = session.integrations.of_type("DISCONNECT")
        assert disconnect.disconnect_status_code == 1006
        assert len(session.connections) == 0

    run(scenario)


def test_a_session_that_does_not_start_with_connect_does_nothing() -> None:
    async def scenario() -> None:
        session = Session(_deployed("$connect"))

        async def receive() -> dict[str, Any]:
            return {"type": "websocket.disconnect", "code": 1000}

        async def send(message: dict[str, Any]) -> None:
            raise AssertionError(f"nothing should be sent, got {message}")

        await session.gateway.serve(session.deployed, session.scope, receive, send)
        assert session.integrations.requests == []

    run(scenario)


def test_connect_headers_are_sorted_ignoring_case_and_host_is_the_domain_name() -> None:
    """Every capture: CONNECT's headers sorted by name ignoring case, `Host` the API's domain
    name whatever the client sent (here a lower-case `host` naming local_aws's port)."""
    headers = [
        (b"user-agent", b"ua"),
        (b"host", b"127.0.0.1:4566"),
        (b"Sec-WebSocket-Version", b"13"),
        (b"accept-encoding", b"gzip"),
        (b"Connection", b"Upgrade"),
    ]

    async def scenario() -> None:
        session = Session(_deployed("$connect", "$default"), scope=_scope(headers=headers))
        await session.open()
        client = session.integrations.of_type("CONNECT")[0].client
        names = list(client.headers)
        assert names == sorted(names, key=str.lower)
        assert client.headers["Host"] == "abcdef1234.execute-api.localhost"
        assert "host" not in client.headers
        assert client.multi_value_headers["Host"] == ["abcdef1234.execute-api.localhost"]
        assert list(client.multi_value_headers) == names
        session.leave(1000)
        await session.finished()

    run(scenario)


def test_a_client_s_x_forwarded_for_is_kept_and_its_address_appended() -> None:
    """A proxy appends the address that called it to the chain; a client cannot choose its
    `sourceIp` by sending the header (in any case)."""
    headers = [(b"x-forwarded-for", b"203.0.113.7, 198.51.100.2"), (b"host", b"h")]

    async def scenario() -> None:
        session = Session(_deployed("$connect", "$default"), scope=_scope(headers=headers))
        await session.open()
        client = session.integrations.of_type("CONNECT")[0].client
        chain = f"203.0.113.7, 198.51.100.2, {client.source_ip}"
        assert client.headers["X-Forwarded-For"] == chain
        assert "x-forwarded-for" not in client.headers
        assert client.multi_value_headers["X-Forwarded-For"] == [chain]
        assert client.source_ip not in ("203.0.113.7", "198.51.100.2")
        session.leave(1000)
        await session.finished()

    run(scenario)


@pytest.mark.parametrize(
    ("code", "reason", "expected_reason"),
    [
        (1005, "", "Client-side close frame status not set"),  # a close frame without status
        (1000, "", ""),
        (4000, "done", "done"),
    ],
)
def test_disconnect_reason_for_a_close_without_a_status(
    code: int, reason: str, expected_reason: str
) -> None:
    async def scenario() -> None:
        session = Session(_deployed("$connect", "$default", "$disconnect"))
        await session.open()
        session.leave(code, reason)
        await session.finished()
        disconnect = session.integrations.of_type("DISCONNECT")[0]
        assert disconnect.disconnect_status_code == code
        assert disconnect.disconnect_reason == expected_reason

    run(scenario)
