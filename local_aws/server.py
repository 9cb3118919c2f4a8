"""Wiring: one ASGI app on one loopback port for every AWS API and every WebSocket API.

- WebSocket upgrade on `/{apiId}/{stage}` → the gateway;
- HTTP on `/{apiId}/{stage}/@connections/{id}` → the management API;
- any other HTTP request → moto (CloudFormation, DynamoDB, IAM, STS, Lambda, Logs, …).

A client may also name the API in the host, AWS-style: `{apiId}.execute-api.localhost:{port}`
with the path `/{stage}` (only where `*.localhost` resolves to loopback).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import uvicorn
from a2wsgi import WSGIMiddleware
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from local_aws import cloudformation, management_api, services, settings, trust, ttl
from local_aws.connections import Registry
from local_aws.deployments import registry
from local_aws.gateway import Gateway, GatewayProtocol
from local_aws.integrations import Integrations
from local_aws.lambda_runtime import LambdaRuntime, moto_function_is_current

logger = logging.getLogger("local_aws")

_API_HOST = re.compile(r"^(?P<api>[a-z0-9]+)\.execute-api\.localhost(:\d+)?$")
_PATH = re.compile(r"^/(?P<api>[a-z0-9]+)/(?P<stage>[A-Za-z0-9_-]+)(?P<rest>/.*)?$")
_HOST_PATH = re.compile(r"^/(?P<stage>[A-Za-z0-9_-]+)(?P<rest>/.*)?$")
_CONNECTIONS = re.compile(r"^/@connections/(?P<id>[^/]*)$")
MAX_URL_LENGTH = 4096


def lambda_environment(settings_: settings.Settings) -> dict[str, str]:
    """What every function's environment starts with: local_aws as its AWS, fake keys."""
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    return {
        "AWS_ENDPOINT_URL": settings_.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        # Function code must not read the user's own ~/.aws files.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


class LocalAws:
    """The ASGI application."""

    def __init__(self) -> None:
        cloudformation.register()
        self.connections = Registry()
        self.executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="integration")
        self.runtime = LambdaRuntime(
            lambda_environment(settings.current()), is_current=moto_function_is_current
        )
        self.gateway = Gateway(Integrations(self.runtime, self.executor), self.connections)
        self.moto = WSGIMiddleware(services.wsgi_app(), workers=8)
        self._sweeper: asyncio.Task[None] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        current = settings.current()
        headers = trust.headers_of(scope)
        host = headers.get("host", "")
        target = _target(scope, host)
        if scope["type"] == "websocket":
            deployed = registry.lookup(*target[:2]) if target and not target[2] else None
            refusal = trust.check_websocket(headers, current.port)
            if refusal is not None:
                await _refuse_websocket(receive, send, refusal.status, _message(refusal))
            elif deployed is None:
                await _refuse_websocket(receive, send, 403, b'{"message":"Forbidden"}')
            elif _url_length(scope, host) > MAX_URL_LENGTH:
                await _refuse_websocket(receive, send, 414, b'{"message":"URI Too Long"}')
            else:
                await self.gateway.serve(deployed, scope, receive, send)
            return
        match = _CONNECTIONS.match(target[2]) if target and target[2] else None
        region = registry.region_of(target[0], target[1]) if match and target else None
        path = scope.get("path", "")
        origin = trust.allowed_origin(headers, current.allowed_origins)
        refusal = trust.check_http(
            path,
            headers,
            current.port,
            current.allowed_origins,
            current.dashboard,
            # @connections checks SigV4 itself; a preflight from an allowed origin is unsigned.
            needs_signature=match is None
            and path != trust.HEALTH_PATH
            and not (origin and scope["method"] == "OPTIONS"),
        )
        if refusal is not None:
            await _respond_http(send, refusal.status, _message(refusal))
        elif path == trust.HEALTH_PATH:
            await _respond_http(send, 200, _HEALTH)
        elif match is not None and region is None:
            # The API or stage is gone (or never was): as for a handshake, AWS answers 403.
            await _respond_http(send, 403, b'{"message":"Forbidden"}')
        elif match is not None:
            assert target is not None and region is not None
            await management_api.handle(
                self.connections,
                target[0],
                target[1],
                region,
                match["id"],
                headers,
                scope,
                receive,
                send,
            )
        else:
            await self.moto(scope, receive, _without_cors(send) if origin is None else send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._sweeper = asyncio.create_task(self._sweep_ttl())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._sweeper is not None:
                    self._sweeper.cancel()
                await self.runtime.close()
                self.executor.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _sweep_ttl(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(settings.current().ttl_sweep_seconds)
            try:
                await loop.run_in_executor(self.executor, ttl.sweep)
            except Exception:
                logger.exception("TTL sweep failed")


_HEALTH = json.dumps({"service": "local_aws", "status": "running", "pid": os.getpid()}).encode()


def _message(refusal: trust.Refusal) -> bytes:
    """The refusal as JSON that a person, a browser's console and botocore can all read."""
    error_type = "AccessDeniedException" if refusal.status == 403 else "NotFoundException"
    return json.dumps({"__type": error_type, "message": refusal.message}).encode()


async def _respond_http(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _without_cors(send: Any) -> Any:
    """moto answers CORS for every origin (flask-cors); local_aws sends no CORS header at all
    unless the user allowed the origin (docs/security.md)."""

    async def send_without_cors(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [
                (name, value)
                for name, value in message.get("headers", [])
                if not name.lower().startswith(b"access-control-")
            ]
        await send(message)

    return send_without_cors


def _target(scope: dict[str, Any], host: str) -> tuple[str, str, str | None] | None:
    """(apiId, stage, rest of path) if the request is for a WebSocket API, else None.

    The rest of the path stays percent-encoded, as sent: a connection id may hold `/` or `%`.
    """
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope.get("path", "")
    host_match = _API_HOST.match(host)
    if host_match:
        match = _HOST_PATH.match(path)
        return (host_match["api"], match["stage"], match["rest"]) if match else None
    match = _PATH.match(path)
    if match is None or "@connections" in match["stage"]:
        return None
    return match["api"], match["stage"], match["rest"]


def _url_length(scope: dict[str, Any], host: str) -> int:
    query = scope.get("query_string", b"")
    path = scope.get("raw_path") or scope.get("path", "").encode()
    return len("wss://") + len(host) + len(path) + (len(query) + 1 if query else 0)


async def _refuse_websocket(receive: Any, send: Any, status: int, body: bytes) -> None:
    """Refuse a handshake: 403 for an unknown API or stage, as AWS answers a URL without a
    valid stage; 414 for a URL over AWS's 4096 characters (reference §5.1)."""
    await receive()
    await send(
        {
            "type": "websocket.http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})


class _HttpProtocol(HttpToolsProtocol):
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

    _request_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limit = settings.current().max_open_connections
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
        lower_cased = self.scope["headers"]
        if len(lower_cased) == len(self.original_names):
            self.scope["headers"] = [
                (name, value)
                for name, (_, value) in zip(self.original_names, lower_cased, strict=True)
            ]
        super().handle_websocket_upgrade()

    def _start_request_timer(self) -> None:
        if self._request_timer is None:
            timeout = settings.current().handshake_timeout_seconds
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


class _Server(uvicorn.Server):
    """uvicorn, plus the one line that says local_aws is ready."""

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            current = settings.current()
            print(f"local_aws ready on {current.endpoint_url}", flush=True)

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        # SIGINT/SIGTERM is how local_aws is meant to stop: after the graceful shutdown, exit
        # with status 0 instead of re-raising the signal as uvicorn does.
        self._captured_signals.clear()


def _connection_budget() -> int | None:
    """The file descriptor limit less a reserve of a quarter, at least 96 (160 of a laptop's
    256): moto, logs and each Lambda worker's pipes need some. None if there is no limit."""
    try:
        import resource  # Unix only
    except ImportError:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    return max(16, min(soft * 3 // 4, soft - 96))


def serve(port: int) -> None:
    """Serve until SIGINT or SIGTERM, on 127.0.0.1 only."""
    current = settings.configure(port=port)
    if current.max_open_connections is None:
        current = settings.configure(max_open_connections=_connection_budget())
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    app = LocalAws()
    # Deleting an API or a stage (a moto worker thread) closes its clients (on the loop).
    registry.on_removed(app.connections.close_deployed)
    config = uvicorn.Config(
        app,
        host=settings.HOST,
        port=current.port,
        http=_HttpProtocol,
        ws=GatewayProtocol,
        ws_max_size=current.message_limit_bytes,
        ws_ping_interval=None,  # API Gateway does not ping clients
        ws_per_message_deflate=False,
        lifespan="on",
        log_level="warning",
        access_log=False,
    )
    _Server(config).run()
