"""Wiring: one ASGI app on one loopback port for every AWS API and every WebSocket API.

- WebSocket upgrade on `/{apiId}/{stage}` → the gateway;
- HTTP on `/{apiId}/{stage}/@connections/{id}` → the management API;
- any other HTTP request → moto (CloudFormation, DynamoDB, IAM, STS, Lambda, Logs, …).

A client may also name the API in the host, AWS-style: `{apiId}.execute-api.localhost:{port}`
with the path `/{stage}` (only where `*.localhost` resolves to loopback).

A second listener, TLS on another loopback port, serves the same app to Lambda workers,
whose connections to AWS's host names (`{apiId}.execute-api.{region}.amazonaws.com`,
`dynamodb.{region}.amazonaws.com`, …) are sent there (docs/aws-host-names.md).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import os
import re
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

from a2wsgi import WSGIMiddleware

if TYPE_CHECKING:
    from a2wsgi.asgi_typing import HTTPScope

from local_aws import (
    aws_hosts,
    cloudformation,
    event_sources,
    invoke_task,
    lambda_invoke,
    observability,
    request_bodies,
    services,
    standard_executions,
    step_functions,
    throttling,
    trust,
    ttl,
)
from local_aws.connections import OpenConnections
from local_aws.deployments import DeployedApi, Deployments
from local_aws.events import Client
from local_aws.gateway import Gateway
from local_aws.integrations import Integrations
from local_aws.lambda_runtime import LambdaRuntime, moto_function_is_current
from local_aws.local_tls import LocalTls
from local_aws.management_api import ManagementApi
from local_aws.patches import uvicorn as uvicorn_patches
from local_aws.settings import HOST, Settings

logger = logging.getLogger("local_aws")

_PATH = re.compile(r"^/(?P<api>[a-z0-9]+)/(?P<stage>[A-Za-z0-9_-]+)(?P<rest>/.*)?$")
_HOST_PATH = re.compile(r"^/(?P<stage>[A-Za-z0-9_-]+)(?P<rest>/.*)?$")
_CONNECTIONS = re.compile(r"^/@connections/(?P<id>[^/]*)$")
MAX_URL_LENGTH = 4096


def lambda_environment(settings: Settings, tls: LocalTls | None = None) -> dict[str, str]:
    """What every function's environment starts with: local_aws as its AWS, fake keys; with
    a TLS listener, where the worker sends AWS's host names and the CA it trusts for them."""
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    redirect = {}
    if tls is not None and settings.tls_port is not None:
        redirect = {
            "LOCAL_AWS_HTTP_PORT": str(settings.port),
            "LOCAL_AWS_HTTPS_PORT": str(settings.tls_port),
            **tls.worker_environment(),
        }
    return {
        **redirect,
        "AWS_ENDPOINT_URL": settings.endpoint_url,
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
    """The ASGI application: one per process, built from the settings it serves with.

    It owns the state of the running local_aws: what is deployed (`deployments`), the open
    WebSocket connections (`connections`) and the Lambda workers (`runtime`).
    """

    def __init__(self, settings: Settings, tls: LocalTls | None = None) -> None:
        self.settings = settings
        self.deployments = Deployments()
        self.connections = OpenConnections()
        # Deleting an API or a stage (a moto worker thread) closes its clients (on the loop).
        self.deployments.on_removed(self.connections.close_deployed)
        cloudformation.register(settings, self.deployments)
        # Where Task states call services, how long Wait states wait, how many run at once.
        step_functions.register(settings.endpoint_url, settings.sfn_wait_scale)
        standard_executions.configure(settings.sfn_max_running_executions)
        self.executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="integration")
        self.runtime = LambdaRuntime(
            lambda_environment(settings, tls), is_current=moto_function_is_current
        )
        integrations = Integrations(self.runtime, self.executor, settings)
        # Metrics and access logs are written from the executor, never on the event loop.
        self.observer = observability.Observer(self.executor)
        # Token buckets of every route and of @connections; a deleted API or stage drops its.
        self.throttles = throttling.Throttles()
        self.deployments.on_removed(self.throttles.forget)
        self.gateway = Gateway(
            integrations, self.connections, settings, self.observer, self.throttles
        )
        self.management_api = ManagementApi(
            self.connections,
            settings.message_limit_bytes,
            self.throttles,
            throttling.Limits(settings.connections_rate_limit, settings.connections_burst_limit),
            on_sent=self._count_post,
        )
        self.moto = WSGIMiddleware(services.wsgi_app(), workers=8)
        # What moto's requests may make it hold: each body, and all of them at once.
        self.bodies = request_bodies.Bodies(
            settings.max_api_body_bytes, settings.api_bodies_total_bytes
        )
        self._sweeper: asyncio.Task[None] | None = None
        # SQS event source mappings: batches run through Invoke's path (runtime and logs).
        self.sqs_poller = event_sources.SqsPoller(
            lambda_invoke.invoke_and_log, self.executor, settings.sqs_poll_seconds
        )
        self._poller: asyncio.Task[None] | None = None

    def _count_post(self, client: Client) -> None:
        """An `@connections` post reached `client`: a MessageCount of its API's stage."""
        where = self.deployments.account_and_region(client.api_id, client.stage)
        if where is not None:
            self.observer.message_sent(*where, client)

    def _locate(self, api_id: str, stage: str) -> tuple[str, str] | None:
        """(account, region) of the WebSocket API deployed at `/{api_id}/{stage}`, or None."""
        deployed = self.deployments.lookup(api_id, stage)
        return None if deployed is None else (deployed.account_id, deployed.region)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            api = self._admit_websocket(scope)
            if isinstance(api, tuple):
                await _refuse_websocket(receive, send, *api)
            else:  # what the admission read is not kept for as long as the connection lasts
                await self.gateway.serve(api, scope, receive, send)
            return
        current = self.settings
        headers, host, target, named_region = _addressing(scope)
        port, over_tls = listener(scope, current)
        match = _CONNECTIONS.match(target[2]) if target and target[2] else None
        region = self.deployments.region_of(target[0], target[1]) if match and target else None
        if named_region not in (None, region):
            region = None  # no such API in the region the host names: as unknown
        path = scope.get("path", "")
        origin = trust.allowed_origin(headers, current.allowed_origins)
        refusal = trust.check_http(
            path,
            headers,
            port,
            current.allowed_origins,
            current.dashboard,
            # @connections checks SigV4 itself; a preflight from an allowed origin is unsigned.
            needs_signature=match is None
            and path != trust.HEALTH_PATH
            and not (origin and scope["method"] == "OPTIONS"),
            over_tls=over_tls,
        )
        if refusal is not None:
            await _respond_http(send, refusal.status, _message(refusal))
        elif path == trust.HEALTH_PATH:
            await _respond_http(send, 200, _HEALTH)
        elif match is not None and region is None:
            # The API or stage is gone (or never was), or not in the region the host names:
            # as for a handshake, AWS answers 403, which the SDKs raise as ForbiddenException.
            forbidden = [(b"x-amzn-errortype", b"ForbiddenException")]
            await _respond_http(send, 403, b'{"message":"Forbidden"}', forbidden)
        elif match is not None:
            assert target is not None and region is not None
            await self.management_api.handle(
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
            admitted = await self.bodies.admit(receive, headers)
            if isinstance(admitted, request_bodies.Refused):
                close = [(b"connection", b"close")]  # the rest of the body is not read
                await _respond_http(send, admitted.status, admitted.body, close)
                return
            http_scope = cast("HTTPScope", scope)  # an ASGI HTTP scope, as uvicorn built it
            reply = _without_cors(send) if origin is None else send
            try:
                await self.moto(http_scope, cast("Any", admitted.receive), reply)
            finally:
                self.bodies.release(admitted)

    def _admit_websocket(self, scope: dict[str, Any]) -> DeployedApi | tuple[int, bytes]:
        """The API a handshake is for, or the status and body it is refused with."""
        headers, host, target, named_region = _addressing(scope)
        deployed = self.deployments.lookup(*target[:2]) if target and not target[2] else None
        if deployed is not None and named_region not in (None, deployed.region):
            deployed = None  # no such API in the region the host names: as unknown
        refusal = trust.check_websocket(headers, *listener(scope, self.settings))
        if refusal is not None:
            return refusal.status, _message(refusal)
        if deployed is None:
            return 403, b'{"message":"Forbidden"}'
        if _url_length(scope, host) > MAX_URL_LENGTH:
            return 414, b'{"message":"URI Too Long"}'
        return deployed

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._sweeper = asyncio.create_task(self._sweep_ttl())
                # Lambda's Invoke API runs functions in this runtime, on this loop.
                lambda_invoke.bind(self.runtime, asyncio.get_running_loop(), self.executor)
                # apigateway:invoke Tasks reach @connections in process, on this loop.
                invoke_task.bind(
                    asyncio.get_running_loop(), self.management_api.respond, self._locate
                )
                self._poller = asyncio.create_task(self.sqs_poller.run())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._sweeper is not None:
                    self._sweeper.cancel()
                if self._poller is not None:
                    self._poller.cancel()
                await self.sqs_poller.close()
                lambda_invoke.unbind()
                invoke_task.unbind()
                await self.runtime.close()
                self.executor.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _sweep_ttl(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.settings.ttl_sweep_seconds)
            try:
                await loop.run_in_executor(self.executor, ttl.sweep)
            except Exception:
                logger.exception("TTL sweep failed")


_HEALTH = json.dumps({"service": "local_aws", "status": "running", "pid": os.getpid()}).encode()


def _message(refusal: trust.Refusal) -> bytes:
    """The refusal as JSON that a person, a browser's console and botocore can all read."""
    error_type = "AccessDeniedException" if refusal.status == 403 else "NotFoundException"
    return json.dumps({"__type": error_type, "message": refusal.message}).encode()


async def _respond_http(
    send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
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


def listener(scope: dict[str, Any], settings: Settings) -> tuple[int, bool]:
    """The port of the listener a request came to, and whether it is the TLS one.

    From `scope["server"]`, the socket's own address: no header (`X-Forwarded-Proto`, which
    uvicorn trusts from loopback) can make a plain request look like a TLS one.
    """
    server = scope.get("server")
    if settings.tls_port is not None and server and server[1] == settings.tls_port:
        return settings.tls_port, True
    return settings.port, False


def _addressing(
    scope: dict[str, Any],
) -> tuple[dict[str, str], str, tuple[str, str, str | None] | None, str | None]:
    """What a request is addressed to: its headers (names lower-cased), its `Host`, the
    WebSocket API and stage it names (`_target`) and the region an AWS execute-api host
    names (`….execute-api.{region}.amazonaws.com`; None for local_aws's own names)."""
    headers = trust.headers_of(scope)
    host = headers.get("host", "")
    return headers, host, _target(scope, host), _named_region(host)


def _named_region(host: str) -> str | None:
    """The region an AWS execute-api `Host` names (None for local_aws's own host names)."""
    named = aws_hosts.execute_api(host)
    return named.region if named is not None else None


def _target(scope: dict[str, Any], host: str) -> tuple[str, str, str | None] | None:
    """(apiId, stage, rest of path) if the request is for a WebSocket API, else None.

    The API is named in the path (`/{apiId}/{stage}`), or in the host, local_aws's way
    (`{apiId}.execute-api.localhost`) or AWS's (`{apiId}.execute-api.{region}.amazonaws.com`).
    The rest of the path stays percent-encoded, as sent: a connection id may hold `/` or `%`.
    """
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope.get("path", "")
    named = aws_hosts.execute_api(host)
    if named is not None:
        match = _HOST_PATH.match(path)
        return (named.api_id, match["stage"], match["rest"]) if match else None
    match = _PATH.match(path)
    if match is None:
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


def _bind(port: int) -> socket.socket:
    """A TCP socket bound to 127.0.0.1:`port` (0: a free one), not listening yet."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((HOST, port))
    except OSError as error:
        listening.close()
        reason = (error.strerror or str(error)).lower()
        raise SystemExit(
            f"local_aws cannot listen on {HOST}:{port}: {reason}. "
            "Stop what uses the port, or choose another with --port (or LOCAL_AWS_PORT)."
        ) from None
    return listening


def serve(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM, on 127.0.0.1 only (port 0: any free port), and TLS
    for the Lambda workers' AWS host names on a second, free port."""
    listening = _bind(settings.port)
    tls_listening = _bind(0)
    # Bound before anything else starts, so the port every part is told is the real one.
    settings = dataclasses.replace(
        settings, port=listening.getsockname()[1], tls_port=tls_listening.getsockname()[1]
    )
    if settings.max_open_connections is None:
        settings = dataclasses.replace(settings, max_open_connections=_connection_budget())
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    tls = LocalTls()
    try:
        config = uvicorn_patches.Config(
            LocalAws(settings, tls),
            settings,
            tls_listener=(tls_listening, tls.context),
            http=uvicorn_patches.HttpProtocol,
            ws=uvicorn_patches.WebSocketProtocol,
            # AWS's quotas: 128 KB a message and 32 KB a frame, or close 1009 (reference §3.7).
            ws_max_size=(settings.message_limit_bytes, settings.frame_limit_bytes),
            ws_ping_interval=None,  # API Gateway does not ping clients
            ws_per_message_deflate=False,
            # Nothing stands in front of local_aws: a client's X-Forwarded-For or -Proto must not
            # change the address or scheme it connected with (`sourceIp`, docs/fidelity.md 4b).
            proxy_headers=False,
            lifespan="on",
            log_level="warning",
            access_log=False,
        )
        # The objects of the thousand modules imported by now live as long as the process:
        # left to the garbage collector, each of its full collections would walk them all
        # (the first, during the first deploy, took 70 ms). Frozen, they are never looked at
        # again.
        gc.freeze()
        uvicorn_patches.Server(config).run(sockets=[listening])
    finally:
        tls.close()
