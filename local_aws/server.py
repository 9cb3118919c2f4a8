"""Wiring: one ASGI app on one loopback port for every AWS API and every WebSocket API.

- WebSocket upgrade on `/{apiId}/{stage}` → the gateway;
- HTTP on `/{apiId}/{stage}/@connections/{id}` → the management API;
- any other HTTP request → moto (CloudFormation, DynamoDB, IAM, STS, Lambda, Logs, …).

A client may also name the API in the host, AWS-style: `{apiId}.execute-api.localhost:{port}`
with the path `/{stage}` (only where `*.localhost` resolves to loopback).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import uvicorn
from a2wsgi import WSGIMiddleware
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from local_aws import cloudformation, management_api, services, settings, ttl
from local_aws.connections import Registry
from local_aws.deployments import registry
from local_aws.gateway import Gateway, GatewayProtocol
from local_aws.integrations import Integrations
from local_aws.lambda_runtime import LambdaRuntime

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
        self.runtime = LambdaRuntime(lambda_environment(settings.current()))
        self.gateway = Gateway(Integrations(self.runtime, self.executor), self.connections)
        self.moto = WSGIMiddleware(services.wsgi_app(), workers=8)
        self._sweeper: asyncio.Task[None] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        target = _target(scope)
        if scope["type"] == "websocket":
            deployed = registry.lookup(*target[:2]) if target and not target[2] else None
            if deployed is None:
                await _refuse_websocket(receive, send, 403, b'{"message":"Forbidden"}')
            elif _url_length(scope) > MAX_URL_LENGTH:
                await _refuse_websocket(receive, send, 414, b'{"message":"URI Too Long"}')
            else:
                await self.gateway.serve(deployed, scope, receive, send)
            return
        if target is not None and target[2] is not None:
            match = _CONNECTIONS.match(target[2])
            if match and registry.serves(target[0], target[1]):
                api_id, stage = target[0], target[1]
                await management_api.handle(
                    self.connections, api_id, stage, match["id"], scope, receive, send
                )
                return
        await self.moto(scope, receive, send)

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


def _target(scope: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(apiId, stage, rest of path) if the request is for a WebSocket API, else None.

    The rest of the path stays percent-encoded, as sent: a connection id may hold `/` or `%`.
    """
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope.get("path", "")
    host = next(
        (v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"host"), ""
    )
    host_match = _API_HOST.match(host)
    if host_match:
        match = _HOST_PATH.match(path)
        return (host_match["api"], match["stage"], match["rest"]) if match else None
    match = _PATH.match(path)
    if match is None or "@connections" in match["stage"]:
        return None
    return match["api"], match["stage"], match["rest"]


def _url_length(scope: dict[str, Any]) -> int:
    host = next((v for k, v in scope.get("headers", []) if k.lower() == b"host"), b"")
    query = scope.get("query_string", b"")
    path = scope.get("raw_path") or scope.get("path", "").encode()
    return len(b"wss://" + host + path) + (len(query) + 1 if query else 0)


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
    """uvicorn's HTTP protocol, but a WebSocket upgrade keeps the header names' case.

    uvicorn lower-cases header names and rebuilds the upgrade request from them; API Gateway
    passes headers on to integrations as the client wrote them (reference §5.2).
    """

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.original_names: list[bytes] = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.original_names.append(name)
        super().on_header(name, value)

    def handle_websocket_upgrade(self) -> None:
        lower_cased = self.scope["headers"]
        if len(lower_cased) == len(self.original_names):
            self.scope["headers"] = [
                (name, value)
                for name, (_, value) in zip(self.original_names, lower_cased, strict=True)
            ]
        super().handle_websocket_upgrade()


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


def serve(port: int) -> None:
    """Serve until SIGINT or SIGTERM, on 127.0.0.1 only."""
    current = settings.configure(port=port)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    config = uvicorn.Config(
        LocalAws(),
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
