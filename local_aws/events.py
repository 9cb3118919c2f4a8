"""What API Gateway hands to integrations: ids, times, `requestContext` and proxy events.

Shapes follow real captures (reference apigw-websocket.md §5.2, §7.2–7.4); key order matches
them too, so an echoed event reads like the one on AWS.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# AWS's ids are URL-safe base64 of 11 bytes (16 characters ending in `=`) with a structure
# real captures show (reference §5.2: `SOqGjdZioAMCEeg=` a connection, `SOqIDdzSoAMCEeg=` one
# of its messages, `SOqIDEacoAMFaHQ=` that message's request): the first 8 characters grow
# with time, the next 3 stay the same on one host, the 12th is `C` for connection and
# message ids and `F` for request ids, and a message id ends like its connection's id.
# The layout is read from captures, not documented; ids here follow it: 6 bytes of a
# per-process, strictly increasing microsecond count (so no two ids are equal), 18 bits of
# a host id drawn at start-up, 6 bits of kind, 2 random bytes.
_KIND_CONNECTION = 2  # base64 "C"
_KIND_REQUEST = 5  # base64 "F"
_HOST = int.from_bytes(os.urandom(3)) >> 6  # 18 bits
_ids_lock = threading.Lock()
_last_tick = 0


def _time_prefix() -> bytes:
    global _last_tick
    with _ids_lock:
        _last_tick = max(time.time_ns() // 1000, _last_tick + 1)
        return (_last_tick & (2**48 - 1)).to_bytes(6)


def _id(prefix: bytes, kind: int, tail: bytes) -> str:
    middle = ((_HOST << 6) | kind).to_bytes(3)
    return base64.urlsafe_b64encode(prefix + middle + tail).decode("ascii")


def new_connection_id() -> str:
    """A connection's id (`...C...=`)."""
    return _id(_time_prefix(), _KIND_CONNECTION, os.urandom(2))


def new_request_id() -> str:
    """A request's id (`...F...=`), also its extendedRequestId."""
    return _id(_time_prefix(), _KIND_REQUEST, os.urandom(2))


def new_message_id(connection_id: str) -> str:
    """A message's id: a new time prefix, then the end of its connection's id."""
    return base64.urlsafe_b64encode(
        _time_prefix() + base64.urlsafe_b64decode(connection_id)[6:]
    ).decode("ascii")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@lru_cache(maxsize=4)  # one call per second of requests, not one per message
def _clf_second(epoch_seconds: int) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"


def request_time(epoch_ms: int) -> str:
    """CLF time in UTC, e.g. `16/May/2022:17:30:27 +0000` (English months, whatever the locale)."""
    return _clf_second(epoch_ms // 1000)


@dataclass
class Client:
    """What the gateway knows of a connection from its handshake."""

    connection_id: str
    api_id: str
    stage: str
    domain_name: str
    source_ip: str
    user_agent: str | None
    connected_at: int  # epoch ms
    headers: dict[str, str] = field(default_factory=dict)  # as sent, original case
    multi_value_headers: dict[str, list[str]] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    multi_value_query: dict[str, list[str]] = field(default_factory=dict)
    # Hop-by-hop headers (Connection, Upgrade): only the authorizer's event has them.
    hop_by_hop_headers: dict[str, str] = field(default_factory=dict)
    # `requestContext.authorizer` once a Lambda authorizer allowed the connection.
    authorizer: dict[str, object] | None = None


@dataclass(frozen=True)
class Request:
    """One request through the gateway: a connect, a message or a disconnect."""

    client: Client
    event_type: str  # CONNECT, MESSAGE or DISCONNECT
    route_key: str
    request_id: str
    request_time_epoch: int
    body: str | None = None
    message_id: str | None = None
    disconnect_status_code: int | None = None
    disconnect_reason: str = ""


def request_context(request: Request) -> dict[str, object]:
    """`requestContext` as AWS builds it, keys in AWS's order."""
    client = request.client
    context: dict[str, object] = {"routeKey": request.route_key}
    if client.authorizer is not None:  # after routeKey, as in captures
        context["authorizer"] = dict(client.authorizer)
    if request.message_id is not None:
        context["messageId"] = request.message_id
    if request.event_type == "DISCONNECT":
        context["disconnectStatusCode"] = request.disconnect_status_code
    identity: dict[str, str] = {}
    if client.user_agent is not None:
        identity["userAgent"] = client.user_agent
    identity["sourceIp"] = client.source_ip
    context.update(
        {
            "eventType": request.event_type,
            "extendedRequestId": request.request_id,
            "requestTime": request_time(request.request_time_epoch),
            "messageDirection": "IN",
        }
    )
    if request.event_type == "DISCONNECT":  # after messageDirection, in every capture
        context["disconnectReason"] = request.disconnect_reason
    context.update(
        {
            "stage": client.stage,
            "connectedAt": client.connected_at,
            "requestTimeEpoch": request.request_time_epoch,
            "identity": identity,
            "requestId": request.request_id,
            "domainName": client.domain_name,
            "connectionId": client.connection_id,
            "apiId": client.api_id,
        }
    )
    return context


def proxy_event(request: Request) -> dict[str, object]:
    """The Lambda proxy (AWS_PROXY) event for a request."""
    event: dict[str, object] = {}
    client = request.client
    if request.event_type == "CONNECT":
        event["headers"] = dict(client.headers)
        event["multiValueHeaders"] = {k: list(v) for k, v in client.multi_value_headers.items()}
        if client.query:  # reference §5.2: present only if the URL has a query string
            event["queryStringParameters"] = dict(client.query)
            event["multiValueQueryStringParameters"] = {
                k: list(v) for k, v in client.multi_value_query.items()
            }
    elif request.event_type == "DISCONNECT":
        # The odd, fixed header set of real DISCONNECT events (reference §5.2).
        headers = {
            "Host": client.domain_name,
            "x-api-key": "",
            "X-Forwarded-For": "",
            "x-restapi": "",
        }
        event["headers"] = headers
        event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    event["requestContext"] = request_context(request)
    if request.event_type == "MESSAGE":
        event["body"] = request.body
    event["isBase64Encoded"] = False
    return event


def error_frame(message: str, connection_id: str, request_id: str) -> str:
    """The error frame AWS sends on the socket, byte for byte (reference §3.6)."""
    return (
        f'{{"message": "{message}", "connectionId":"{connection_id}", "requestId":"{request_id}"}}'
    )
