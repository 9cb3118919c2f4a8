"""The AWS APIs moto serves: over HTTP for boto3 users, in process for the gateway.

moto's models are not thread-safe for read-modify-write operations (reference
local-aws-building-blocks.md §7.5), so every request and every in-process call goes through
one lock. The gateway's own service calls never take an HTTP hop: a boto3 → HTTP → moto round
trip costs several milliseconds, a direct dispatch a fraction of one (§7.3, §14).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.core.request import Request
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

LOCK = threading.RLock()

_JSON_PROTOCOL_HANDLERS: dict[str, tuple[str, str, Callable[[], Any]]] = {}


def wsgi_app() -> Callable[..., Iterable[bytes]]:
    """moto's server as a WSGI app that holds the lock while it handles a request."""
    moto_app = DomainDispatcherApplication(create_backend_app)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with LOCK:
            body = b"".join(moto_app(environ, start_response))
        return [body]

    return app


def _dynamodb_handler() -> Any:
    from moto.dynamodb.responses import DynamoHandler

    return DynamoHandler


# service name in an integration URI → (X-Amz-Target prefix, signing name, response class)
_JSON_PROTOCOL_HANDLERS["dynamodb"] = ("DynamoDB_20120810", "dynamodb", _dynamodb_handler)


def supports(service: str) -> bool:
    """Whether an `AWS` integration may call this service locally."""
    return service in _JSON_PROTOCOL_HANDLERS


def call_json_api(
    service: str, action: str, body: str, account_id: str, region: str
) -> tuple[int, str]:
    """Call a JSON-protocol AWS API (e.g. DynamoDB PutItem) in process.

    Returns the HTTP status and response body AWS would give, errors included: a body that
    is not JSON gets DynamoDB's 400 SerializationException, as on AWS.
    """
    target_prefix, signing_name, handler_class = _JSON_PROTOCOL_HANDLERS[service]
    try:
        json.loads(body)
    except ValueError as error:
        return 400, json.dumps(
            {
                "__type": "com.amazon.coral.service#SerializationException",
                "Message": f"The request body is not valid JSON: {error}",
            }
        )
    headers = {
        "X-Amz-Target": f"{target_prefix}.{action}",
        "Content-Type": "application/x-amz-json-1.0",
        # moto reads the region from the credential scope; the signature is not checked.
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential=LOCALAWS/20200101/{region}/{signing_name}/"
            "aws4_request, SignedHeaders=host, Signature=0"
        ),
        "x-moto-account-id": account_id,
    }
    request = Request.from_primitives(
        "POST", f"https://{signing_name}.{region}.amazonaws.com/", headers, body.encode()
    )
    try:
        with LOCK:
            status, _, response_body = handler_class().dispatch(request, request.url, headers)
    except Exception as error:  # moto raises on some malformed requests instead of answering
        return 400, json.dumps(
            {"__type": "com.amazon.coral.validate#ValidationException", "message": repr(error)}
        )
    if isinstance(response_body, bytes):
        response_body = response_body.decode("utf-8")
    return int(status), response_body
