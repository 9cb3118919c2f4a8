"""uvicorn, bounded and AWS-shaped: subclasses of its HTTP and WebSocket protocols and server.

uvicorn has no hooks for these, so they are subclasses that override its methods and read
its attributes, some of them private (`RELIES_ON` lists them; `tests/unit/test_patches.py`
checks each still exists). They are handed to uvicorn by `server.serve`; nothing in uvicorn
itself is replaced, so `install()` has nothing to do.

Every protocol reads local_aws's settings from the `Config` it is built with, as uvicorn's
own protocols read theirs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import ssl
from typing import Any, cast

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from local_aws.connections import WRITE_ROOM
from local_aws.settings import Settings

PINNED = {"uvicorn": "0.54.0"}
TLS_SHUTDOWN_SECONDS = 1.0

# The methods of uvicorn's that the subclasses below override, which are not uvicorn's documented
# API. They also read instance attributes set in uvicorn's constructors (`flow`, `cycle`,
# `conn`, `queue`, `handshake_initiated`, `handshake_complete`, `_captured_signals`; the
# server's `servers`, `server_state`, `lifespan` for the TLS listener, whose `TlsHandshake`
# joins `server_state.connections`, which uvicorn's shutdown calls `shutdown()` on): the tests in
# tests/security and tests/fidelity/test_aws_host_names.py that use each fail if one goes.
RELIES_ON: tuple[tuple[type, str], ...] = (
    (HttpToolsProtocol, "connection_made"),
    (HttpToolsProtocol, "on_message_begin"),
    (HttpToolsProtocol, "on_header"),
    (HttpToolsProtocol, "on_message_complete"),
    (HttpToolsProtocol, "handle_websocket_upgrade"),
    (WebSocketsSansIOProtocol, "pause_writing"),
    (WebSocketsSansIOProtocol, "resume_writing"),
    (WebSocketsSansIOProtocol, "run_asgi"),
    (WebSocketsSansIOProtocol, "data_received"),
    (WebSocketsSansIOProtocol, "send_receive_event_to_app"),
    (uvicorn.Server, "startup"),
    (uvicorn.Server, "handle_exit"),
)

logger = logging.getLogger("local_aws.gateway")


def install() -> None:
    """Nothing to replace: `server.serve` hands the subclasses below to uvicorn."""


class Config(uvicorn.Config):
    """uvicorn's configuration, carrying local_aws's settings to every protocol.

    `tls_listener` is a second bound socket and the SSL context it serves with: `Server`
    serves the same app there too (the Lambda workers' AWS host names, server.py).
    """

    def __init__(
        self,
        app: Any,
        settings: Settings,
        tls_listener: tuple[socket.socket, ssl.SSLContext] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(app, **options)
        self.local_aws = settings
        self.tls_listener = tls_listener


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, with bounds on slow clients and case-keeping upgrades.

    - A request must arrive whole (head and body; for a WebSocket upgrade, the head) within
      `handshake_timeout_seconds` of its first byte, or of the accept for the first request:
      in total, so a client sending one byte at a time cannot hold a connection (slowloris).
      Between requests uvicorn's `timeout_keep_alive` (5 s) closes an idle connection.
    - Beyond `max_open_connections` a connection is answered 503 at once, so the process
      keeps file descriptors for moto, Lambda workers and logs (AWS answers with throttling).
    - uvicorn lower-cases header names and rebuilds the upgrade request from them; API
      Gateway passes headers on to integrations as the client wrote them (reference §5.2).
    """

    config: Config
    _request_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limit = self.config.local_aws.max_open_connections
        if limit is not None and len(self.connections) > limit:
            transport.write(_SERVICE_UNAVAILABLE)
            transport.close()
            return
        self._start_request_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_request_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.original_names: list[bytes] = []
        self._start_request_timer()  # the next request on a keep-alive connection

    def on_header(self, name: bytes, value: bytes) -> None:
        self.original_names.append(name)
        super().on_header(name, value)

    def on_message_complete(self) -> None:
        self._stop_request_timer()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        # The client's part of the handshake is done; `$connect` has its own 29 s timeout.
        self._stop_request_timer()
        lower_cased = list(self.scope["headers"])
        if len(lower_cased) == len(self.original_names):
            self.scope["headers"] = [
                (name, value)
                for name, (_, value) in zip(self.original_names, lower_cased, strict=True)
            ]
        super().handle_websocket_upgrade()

    def _start_request_timer(self) -> None:
        if self._request_timer is None:
            timeout = self.config.local_aws.handshake_timeout_seconds
            self._request_timer = self.loop.call_later(timeout, self._request_timed_out)

    def _stop_request_timer(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _request_timed_out(self) -> None:
        self._request_timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:  # the app is behind with the body: not the client's delay
            self._start_request_timer()
            return
        if self.cycle is None or self.cycle.response_complete:  # no answer under way
            self.transport.write(_REQUEST_TIMEOUT)
        # abort, not close: close would wait for a client that does not read.
        self.transport.abort()


def _bare_response(status: str) -> bytes:
    return f"HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()


_REQUEST_TIMEOUT = _bare_response("408 Request Timeout")
_SERVICE_UNAVAILABLE = _bare_response("503 Service Unavailable")


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol with a bound on what waits for a client that does not read.

    AWS's quotas on what a client sends (128 KB a message, 32 KB a frame, close 1009) are
    websockets' own `max_size=(message, frame)`, set by `server.serve`.

    Sending never waits for the client to read: what it has not read yet waits in the
    transport's buffer, up to `max_buffered_bytes_per_connection`. Past that (a client that
    floods pings and never reads the pongs, or never reads its replies and posts) the
    connection is aborted and `$disconnect` gets 1008, rather than memory growing or a
    `@connections` caller waiting for as long as the client stays.
    """

    config: Config
    overflowed = False  # the client stopped reading and its connection was dropped
    # uvicorn stops reading from the socket as soon as one message waits for the app, and
    # starts again once the app took it: two epoll changes per message for a client that
    # waits for each reply. Here reading stops once a second message waits, so a gateway
    # that is behind holds at most one read's worth of messages more than with uvicorn's
    # (every frame of a read is queued, then as now).
    PAUSE_AFTER_MESSAGES = 2

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        # asyncio calls pause_writing once the buffer holds more than `high` bytes.
        transport.set_write_buffer_limits(
            high=self.config.local_aws.max_buffered_bytes_per_connection
        )

    def pause_writing(self) -> None:
        """The client left the whole write buffer unread: drop it (uvicorn would block)."""
        if self.overflowed or self.disconnected:
            return
        self.overflowed = True
        logger.info("dropping a client that does not read (%s)", self.client)
        if self.handshake_complete:
            reason = "Client does not read: write buffer limit exceeded"
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 1008, "reason": reason})
        # A close frame would only queue behind what the client is not reading.
        self.transport.abort()

    def resume_writing(self) -> None:
        """Nothing waits for the buffer to drain (see pause_writing)."""

    def connection_lost(self, exc: Exception | None) -> None:
        """A connection that ends without a close frame is 1006 (RFC 6455 §7.1.5, "closed
        abnormally"); uvicorn reports 1005, which is a close frame without a status code.
        The first disconnect message queued is the one the app reads."""
        if self.handshake_complete and self.conn.close_rcvd is None and not self.overflowed:
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 1006})
        super().connection_lost(exc)

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.overflowed:  # this message did not fit: the caller learns it is gone
            raise ClientDisconnected()
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # The parsed handshake and its answer are only needed until the 101 is sent: not
            # kept for the connection's life (about 3 KB each).
            self.request = self.response = None  # type: ignore[assignment]

    def write_room(self) -> int:
        """Bytes the write buffer can still take before the client counts as not reading."""
        limit = self.config.local_aws.max_buffered_bytes_per_connection
        return limit - self.transport.get_write_buffer_size()

    async def run_asgi(self) -> None:
        # The app learns of the bound through the scope (`connections.WRITE_ROOM`).
        extensions = cast("dict[str, Any]", self.scope.setdefault("extensions", {}))
        extensions[WRITE_ROOM] = self.write_room
        await super().run_asgi()
        # uvicorn ends with transport.close(), which waits until the client has read the
        # rest of the buffer, for ever if it never reads: abort what is still open later.
        # Only then: the timer keeps this protocol (and its buffers) alive until it fires.
        if not self.disconnected and self.transport.get_write_buffer_size() > 0:
            self.loop.call_later(self.close_timeout + 1.0, self._abort_if_open)

    def _abort_if_open(self) -> None:
        if not self.disconnected:
            self.transport.abort()

    def send_receive_event_to_app(self) -> None:
        if self.read_paused or self.queue.qsize() + 1 >= self.PAUSE_AFTER_MESSAGES:
            super().send_receive_event_to_app()  # which stops reading
            return
        # Queue the message as uvicorn does, without stopping: `read_paused` is what makes
        # it skip pause_reading (and receive() skip resume_reading).
        self.read_paused = True
        try:
            super().send_receive_event_to_app()
        finally:
            self.read_paused = False

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # websockets answers a handshake it cannot parse (e.g. 431 for an oversized header)
        # but uvicorn only sends what websockets wrote once a request was parsed: send the
        # answer and close, or the client waits for ever.
        if not self.handshake_initiated and self.conn.handshake_exc is not None:
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()


class TlsHandshake(asyncio.Protocol):
    """A connection to the TLS listener from its accept to the end of its TLS handshake,
    then handed to the HTTP protocol (what asyncio's `create_server(ssl=…)` does, but in the
    budget of open connections all along).

    It is in `connections`, uvicorn's set of open connections, while the handshake runs: the
    budget (`max_open_connections`) counts it, for both listeners, and uvicorn's shutdown
    ends it. Past the budget it is closed at once (no 503 can be sent before a handshake).
    """

    def __init__(
        self,
        config: Config,
        connections: set[Any],
        context: ssl.SSLContext,
        make_protocol: Any,
    ) -> None:
        self._config = config
        self._connections = connections
        self._context = context
        self._make_protocol = make_protocol
        self._task: asyncio.Task[None] | None = None
        self._transport: Any = None
        self._client_hello = bytearray()
        self._starting = False

    def connection_made(self, transport: Any) -> None:  # uvloop's, or asyncio's
        self._transport = transport
        self._connections.add(self)
        limit = self._config.local_aws.max_open_connections
        if limit is not None and len(self._connections) > limit:
            self._connections.discard(self)
            transport.abort()
            return
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._handshake(transport))
        # The ClientHello may come before start_tls (in the task) gives the socket to the
        # TLS protocol: `data_received` keeps it, and `_hand_on_client_hello` gives it to
        # the TLS protocol once the socket is its, before its first read. Callbacks run in
        # the order they are scheduled: the task's first step (start_tls's), then this,
        # then what start_tls schedules (the TLS protocol's start, the socket's reading).
        self._client_hello = bytearray()
        self._starting = True
        loop.call_soon(self._hand_on_client_hello, transport)

    def data_received(self, data: bytes) -> None:
        """Bytes before start_tls took the socket (the ClientHello, or a part of it)."""
        if self._starting:
            self._client_hello += data

    def _hand_on_client_hello(self, transport: Any) -> None:
        self._starting = False
        tls_protocol = transport.get_protocol()
        if tls_protocol is self or not self._client_hello or transport.is_closing():
            return
        # asyncio's and uvloop's TLS protocols are buffered protocols.
        view = memoryview(self._client_hello)
        while view:
            buffer = tls_protocol.get_buffer(len(view))
            size = min(len(buffer), len(view))
            buffer[:size] = view[:size]
            tls_protocol.buffer_updated(size)
            view = view[size:]

    def connection_lost(self, exc: Exception | None) -> None:
        """Gone before the TLS protocol took the socket: `_handshake` sees it fail."""

    def shutdown(self) -> None:
        """uvicorn's shutdown: a connection still in its handshake has nothing to finish."""
        if self._task is not None:
            self._task.cancel()
        if self._transport is not None:
            self._transport.abort()

    async def _handshake(self, transport: Any) -> None:
        until_handed_on = _UntilHandedOn()
        try:
            tls = await asyncio.get_running_loop().start_tls(
                transport,
                until_handed_on,
                self._context,
                server_side=True,
                # The HTTP request's bound, so a silent client cannot hold the connection.
                ssl_handshake_timeout=self._config.local_aws.handshake_timeout_seconds,
                # Closing waits for the client's close_notify; an idle worker's pooled
                # connection never reads it, and uvicorn's shutdown waits for every
                # connection to be gone: 1 s, not asyncio's 30 s.
                ssl_shutdown_timeout=TLS_SHUTDOWN_SECONDS,
            )
        except Exception:  # noqa: BLE001  # any failed handshake (reset, timeout, bad TLS)
            return  # start_tls has closed the transport
        finally:
            self._connections.discard(self)
        if tls is None:  # the connection went in the meantime
            return
        protocol = self._make_protocol()
        tls.set_protocol(protocol)
        protocol.connection_made(tls)
        until_handed_on.hand_over(protocol)


class _UntilHandedOn(asyncio.Protocol):
    """What the TLS layer delivers between the handshake's end and `TlsHandshake` handing the
    connection to the HTTP protocol (it reads the client's first request at once): kept,
    then replayed to that protocol."""

    def __init__(self) -> None:
        self._events: list[tuple[str, Any]] = []

    def data_received(self, data: bytes) -> None:
        self._events.append(("data_received", data))

    def eof_received(self) -> None:
        self._events.append(("eof_received", None))

    def connection_lost(self, exc: Exception | None) -> None:
        self._events.append(("connection_lost", exc))

    def hand_over(self, protocol: asyncio.Protocol) -> None:
        for name, argument in self._events:
            if name == "eof_received":
                protocol.eof_received()
            else:
                getattr(protocol, name)(argument)


class Server(uvicorn.Server):
    """uvicorn, plus the one line that says local_aws is ready, and a clean exit status."""

    config: Config

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit:
            return
        if self.config.tls_listener is not None:
            await self._serve_tls(*self.config.tls_listener)
        print(f"local_aws ready on {self.config.local_aws.endpoint_url}", flush=True)

    async def _serve_tls(self, sock: socket.socket, context: ssl.SSLContext) -> None:
        """The same app on a TLS socket: the protocols uvicorn's startup builds for its own
        sockets, in the same server state (connection budget, shutdown), one lifespan.

        Served without asyncio's `ssl=`: that calls the protocol only once the handshake is
        done, so connections still in their handshake (a client that connects and says
        nothing, for the handshake timeout) would not count towards the budget of open
        connections, and a few hundred of them would take every file descriptor. Each
        connection is a `TlsHandshake` in the budget from its accept instead.
        """
        config = self.config
        protocol = functools.partial(
            config.http_protocol_class,  # type: ignore[call-arg]  # as uvicorn's own startup
            config=config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        server = await asyncio.get_running_loop().create_server(
            lambda: TlsHandshake(config, self.server_state.connections, context, protocol),
            sock=sock,
            backlog=config.backlog,
        )
        self.servers.append(server)

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        # SIGINT/SIGTERM is how local_aws is meant to stop: after the graceful shutdown, exit
        # with status 0 instead of re-raising the signal as uvicorn does.
        self._captured_signals.clear()
