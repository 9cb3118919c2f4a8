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
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from local_aws.settings import Settings

PINNED = {"uvicorn": "0.54.0"}
TLS_SHUTDOWN_SECONDS = 1.0

# The methods of uvicorn's that the subclasses below override, which are not uvicorn's documented
# API. They also read instance attributes set in uvicorn's constructors (`flow`, `cycle`,
# `conn`, `queue`, `handshake_initiated`, `handshake_complete`, `_captured_signals`; the
# server's `servers`, `server_state`, `lifespan` for the TLS listener): the tests in
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

    async def run_asgi(self) -> None:
        await super().run_asgi()
        # uvicorn ends with transport.close(), which waits until the client has read the
        # rest of the buffer, for ever if it never reads: abort what is still open later.
        # Only then: the timer keeps this protocol (and its buffers) alive until it fires.
        if not self.disconnected and self.transport.get_write_buffer_size() > 0:
            self.loop.call_later(self.close_timeout + 1.0, self._abort_if_open)

    def _abort_if_open(self) -> None:
        if not self.disconnected:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # websockets answers a handshake it cannot parse (e.g. 431 for an oversized header)
        # but uvicorn only sends what websockets wrote once a request was parsed: send the
        # answer and close, or the client waits for ever.
        if not self.handshake_initiated and self.conn.handshake_exc is not None:
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()


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
        sockets, in the same server state (connection budget, shutdown), one lifespan."""
        config = self.config
        protocol = functools.partial(
            config.http_protocol_class,  # type: ignore[call-arg]  # as uvicorn's own startup
            config=config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        server = await asyncio.get_running_loop().create_server(
            protocol,
            sock=sock,
            ssl=context,
            backlog=config.backlog,
            # A TLS handshake has the HTTP request's bound, so a silent client cannot hold it.
            ssl_handshake_timeout=config.local_aws.handshake_timeout_seconds,
            # Closing waits for the client's close_notify; an idle worker's pooled connection
            # never reads it, and uvicorn's shutdown waits for every connection to be gone:
            # 1 s, not asyncio's 30 s, or stopping local_aws would hang that long.
            ssl_shutdown_timeout=TLS_SHUTDOWN_SECONDS,
        )
        self.servers.append(server)

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        # SIGINT/SIGTERM is how local_aws is meant to stop: after the graceful shutdown, exit
        # with status 0 instead of re-raising the signal as uvicorn does.
        self._captured_signals.clear()
