"""Execution logs: what API Gateway writes about each request it runs, at `LoggingLevel`.

With a stage's (or a route's) `LoggingLevel` at INFO or ERROR, API Gateway writes to the log
group `API-Gateway-Execution-Logs_{apiId}/{stageName}`, which it creates itself
[doc "Set up CloudWatch API logging in API Gateway"]. Every line starts with the request id in
brackets. INFO traces each request; ERROR writes failed requests only; `DataTraceEnabled`
adds the message and response bodies (at INFO). A log event holds at most 1 KB: longer
lines are cut and end with `[TRUNCATED]` [doc: "log events are truncated to 1 KB", the
REST API announcement of larger execution logs; obs: `… [TRUNCATED]` in published logs].

The wording is API Gateway's where it is published (REST execution logs, which WebSocket
logs share: "Extended Request Id", "Starting execution for request", "Starting authorizer",
"Received response. Status: …, Integration latency: … ms", "Method completed with status");
the route line and the refusal and failure lines are local_aws's reading (docs/fidelity.md).

Pure: lines are rendered from a finished request and the route's settings; the observer
writes them to moto with the access log lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from local_aws.deployments import DeployedApi
from local_aws.stage_settings import RouteSettings

if TYPE_CHECKING:
    from local_aws.observability import Finished

MAX_EVENT_BYTES = 1024  # AWS's execution log event size
TRUNCATED = " [TRUNCATED]"


def group_name(api_id: str, stage: str) -> str:
    """The log group API Gateway writes a stage's execution logs to."""
    return f"API-Gateway-Execution-Logs_{api_id}/{stage}"


def lines(deployed: DeployedApi, done: Finished, settings: RouteSettings) -> list[str]:
    """The execution log lines of one finished request (none at OFF, or at ERROR for a
    request that succeeded), each at most MAX_EVENT_BYTES."""
    level = settings.logging_level
    failed = _failed(done)
    if level == "OFF" or (level == "ERROR" and not failed):
        return []
    if level == "ERROR":
        messages = [_failure(done), f"Method completed with status: {done.status}"]
    else:
        messages = _trace(deployed, done, data_trace=settings.data_trace)
    request_id = done.request.request_id
    return [_bounded(f"({request_id}) {message}") for message in messages]


def _trace(deployed: DeployedApi, done: Finished, data_trace: bool) -> list[str]:
    request = done.request
    request_id = request.request_id
    messages = [
        f"Extended Request Id: {request_id}",
        f"Starting execution for request: {request_id}",
    ]
    if request.route_key:
        messages.append(f"WebSocket Request Route: [{request.route_key}]")
    if request.event_type == "CONNECT":
        messages.extend(_authorizer(deployed, done))
    if data_trace and request.body is not None:
        messages.append(f"Method request body before transformations: {request.body}")
    route = deployed.routes.get(request.route_key) if request.route_key else None
    integration = route.integration if route is not None else None
    if done.integration_status is not None and integration is not None:
        if integration.uri:
            messages.append(f"Endpoint request URI: {integration.uri}")
        latency = done.integration_latency_ms
        received = f"Received response. Status: {done.integration_status}"
        messages.append(
            received if latency is None else f"{received}, Integration latency: {latency} ms"
        )
    if data_trace and done.response_body is not None:
        messages.append(f"Method response body after transformations: {done.response_body}")
    if _failed(done):
        messages.append(_failure(done))
    else:
        messages.append("Successfully completed execution")
    messages.append(f"Method completed with status: {done.status}")
    return messages


def _authorizer(deployed: DeployedApi, done: Finished) -> list[str]:
    """The authorizer's lines of a handshake whose `$connect` has a Lambda authorizer."""
    route = deployed.routes.get("$connect")
    if route is None or route.authorization_type != "CUSTOM" or done.status == 429:
        return []  # a throttled handshake never reaches its authorizer
    request_id = done.request.request_id
    started = f"Starting authorizer: {route.authorizer_id} for request: {request_id}"
    if done.integration_status is None and done.status in (401, 403):
        return [started, f"Unauthorized request: {request_id}"]
    if done.integration_status is None and done.status >= 500:
        return [started, "Execution failed due to an authorizer error"]
    return [started, "Successfully completed authorizer execution"]


def _failed(done: Finished) -> bool:
    return done.status >= 400 or done.integration_failed or done.error_message is not None


def _failure(done: Finished) -> str:
    reason = done.error_message or f"status {done.status}"
    if done.integration_status is None:  # answered by API Gateway itself, before any call
        return f"Request refused: {reason}"
    return f"Execution failed: {reason}"


def _bounded(line: str) -> str:
    """The line, or as much of it as fits MAX_EVENT_BYTES with `[TRUNCATED]` at the end."""
    data = line.encode()
    if len(data) <= MAX_EVENT_BYTES:
        return line
    room = MAX_EVENT_BYTES - len(TRUNCATED)
    return data[:room].decode("utf-8", errors="ignore") + TRUNCATED
