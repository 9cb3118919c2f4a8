"""The AWS APIs moto serves: over HTTP for boto3 users, in process for the gateway.

moto's models are not thread-safe for read-modify-write operations (reference
local-aws-building-blocks.md §7.5), so every request and every in-process call goes through
one lock. The gateway's own service calls never take an HTTP hop: a boto3 → HTTP → moto round
trip costs several milliseconds, a direct dispatch a fraction of one (§7.3, §14).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import Any
from xml.sax.saxutils import escape

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

LOCK = threading.RLock()
logger = logging.getLogger(__name__)


@functools.cache
def moto_dispatcher() -> DomainDispatcherApplication:
    """moto's request dispatch, one per process: HTTP requests and the integrations' in-process
    calls share its per-service apps. Call it only while holding `LOCK`."""
    return DomainDispatcherApplication(create_backend_app)


def wsgi_app() -> Callable[..., Iterable[bytes]]:
    """moto's server as a WSGI app that holds the lock while it handles a request
    (`StartSyncExecution` and the calls about executions excepted: `local_aws.step_functions`
    and `local_aws.standard_executions` answer them)."""

    from local_aws import step_functions  # it uses this module's lock

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # a2wsgi's input ends where the request's body ends, chunked or not, but it does not
        # say so: without this, werkzeug reads a body sent without Content-Length as empty
        # (SDKs stream S3 uploads over HTTPS as `Transfer-Encoding: chunked`, aws-chunked).
        environ["wsgi.input_terminated"] = True
        # Executions run state machines: not under the lock (moto lacks or only records them).
        served = step_functions.serve_http(environ)
        if served is not None:
            start_response(served[0], served[1])
            return [served[2]]
        started = False

        def starting(*args: Any) -> Any:
            nonlocal started
            started = True
            return start_response(*args)

        try:
            with LOCK:
                body = b"".join(moto_dispatcher()(environ, starting))
        except Exception as error:
            if started:
                raise
            status, headers, body = unserved(environ, error)
            start_response(status, headers)
        return [body]

    return app


def _no_backend(error: Exception) -> bool:
    """Whether moto failed because it has no backend for the request's service: its dispatch
    then calls `backends.get_backend(None)`, which raises AttributeError (moto 5.2)."""
    frames = traceback.extract_tb(error.__traceback__)
    return isinstance(error, AttributeError) and bool(frames) and frames[-1].name == "get_backend"


_SIGNED_SERVICE = re.compile(r"Credential=[^/,]+/\d{8}/[^/,]+/(?P<service>[^/,]+)/aws4_request")


def unserved(environ: dict[str, Any], error: Exception) -> tuple[str, list[tuple[str, str]], bytes]:
    """The answer to a request moto failed on: an AWS-style error naming the service and the
    operation, in the request's protocol (JSON or XML), instead of a 500 and a traceback.

    A service moto has no backend for (e.g. Cloud Control, which `sam list endpoints` calls)
    is 501 NotImplemented, not retried by the SDKs; any other failure is logged with its
    traceback and answered 500 InternalFailure.
    """
    signed = _SIGNED_SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = signed["service"] if signed else "this AWS service"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    operation = f" ({target.rpartition('.')[2]})" if target else ""
    if isinstance(error, NotImplementedError):  # moto has the service, not this operation
        code, status = "NotImplemented", "501 Not Implemented"
        message = (
            f"local_aws does not implement this {service} operation{operation} ({error}). "
            "Run it against AWS, or leave it out of the local run."
        )
    elif _no_backend(error):
        code, status = "NotImplemented", "501 Not Implemented"
        message = (
            f"local_aws does not serve {service}{operation}: it serves the services moto "
            "implements. Run this against AWS, or leave it out of the local run."
        )
    else:
        logger.error("moto failed on a %s request%s", service, operation, exc_info=error)
        code, status = "InternalFailure", "500 Internal Server Error"
        message = (
            f"local_aws failed on a {service} request{operation}: {type(error).__name__}. "
            "Its log has the details."
        )
    # XML for the query protocol (form-encoded bodies) and S3's REST-XML; JSON otherwise
    # (the JSON protocols, and REST-JSON services such as API Gateway and Lambda).
    form = environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded")
    if not form and service != "s3":
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = "application/x-amz-json-1.1"
    else:
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{escape(message)}</Message>"
            "</Error></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    headers = [("Content-Type", content_type), ("x-amzn-ErrorType", code)]
    return status, [*headers, ("Content-Length", str(len(body)))], body


def supports(service: str) -> bool:
    """Whether an `AWS` integration may call this service locally: DynamoDB, SQS, SNS,
    EventBridge (`events`), Kinesis and Step Functions (`states`)."""
    from local_aws.service_calls.protocols import PROTOCOLS

    return service in PROTOCOLS


def call_dynamodb(action: str, body: str, account_id: str, region: str) -> tuple[int, str]:
    """Call a DynamoDB action (e.g. PutItem) in process, as API Gateway's integration would.

    Returns the HTTP status and response body AWS would give, errors included. The request
    goes to moto's own DynamoDB request handler, so validation and error types are moto's;
    only the HTTP layer is skipped (5x faster than a full dispatch, which matters on
    `$connect`). A body that is not JSON gets DynamoDB's 400 SerializationException.
    """
    from moto.core.exceptions import JsonRESTError
    from moto.core.utils import camelcase_to_underscores
    from moto.dynamodb.responses import DynamoHandler

    try:
        request = json.loads(body)
    except ValueError as error:
        return 400, _error("com.amazon.coral.service#SerializationException", str(error))
    if not isinstance(request, dict):
        return 400, _error("com.amazon.coral.service#SerializationException", "not an object")
    handler = DynamoHandler()
    handler.body = handler.params = request
    handler.region = region
    handler.current_account = account_id
    method = getattr(handler, camelcase_to_underscores(action), None)
    if not action[:1].isupper() or method is None:
        return 400, _error("com.amazon.coral.service#UnknownOperationException", action)
    try:
        with LOCK:
            result = method()
    except JsonRESTError as error:
        return error.code, error.get_body()
    except Exception as error:  # moto raises on some malformed requests instead of answering
        return 400, _error("com.amazon.coral.validate#ValidationException", repr(error))
    return 200, json.dumps(getattr(result, "result", result), default=str)


def _error(error_type: str, message: str) -> str:
    return json.dumps({"__type": error_type, "message": message})
