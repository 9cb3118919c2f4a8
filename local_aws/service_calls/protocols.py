"""How each AWS service an `AWS` integration may call is spoken to, as data (pure).

API Gateway sends the rendered request template to the service's own API, in that API's
protocol: form-encoded `Action=...` requests answered in XML for the query-protocol services
(SQS, SNS), JSON bodies with an `X-Amz-Target` header for the JSON services (DynamoDB,
EventBridge, Kinesis, Step Functions). Which resource the call touches, for the IAM check on
the integration's role, is read from the request the same way the service reads it.

Hand-written: no library maps API Gateway integration URIs to service requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

# A resource name longer than this cannot exist in any of these services: it is not matched
# against the role's policies (wildcard matching costs grow with the name's length).
MAX_NAME = 1024
# At most this many resources are checked for one call (PutEvents takes 10 entries at most).
MAX_RESOURCES = 10


@dataclass(frozen=True)
class Protocol:
    """One service's wire protocol, as API Gateway and moto speak it."""

    service: str
    query: bool  # form-encoded `Action=` request, XML answer; else JSON with X-Amz-Target
    target_prefix: str = ""  # X-Amz-Target is "<prefix>.<Action>" (JSON services)
    content_type: str = "application/x-www-form-urlencoded"
    path_uris: bool = False  # `arn:...:<service>:path/<account>/<name>` names the resource
    # The actions local_aws runs, whose resources it knows how to read (None: any action,
    # DynamoDB's requests all name their table the same way).
    actions: frozenset[str] | None = None


PROTOCOLS = {
    protocol.service: protocol
    for protocol in (
        Protocol(
            "dynamodb",
            query=False,
            target_prefix="DynamoDB_20120810",
            content_type="application/x-amz-json-1.0",
        ),
        Protocol("sqs", query=True, path_uris=True, actions=frozenset({"SendMessage"})),
        Protocol("sns", query=True, actions=frozenset({"Publish"})),
        Protocol(
            "events",
            query=False,
            target_prefix="AWSEvents",
            content_type="application/x-amz-json-1.1",
            actions=frozenset({"PutEvents"}),
        ),
        Protocol(
            "kinesis",
            query=False,
            target_prefix="Kinesis_20131202",
            content_type="application/x-amz-json-1.1",
            actions=frozenset({"PutRecord", "PutRecords"}),
        ),
        Protocol(
            "states",
            query=False,
            target_prefix="AWSStepFunctions",
            content_type="application/x-amz-json-1.0",
            actions=frozenset({"StartExecution", "StartSyncExecution"}),
        ),
    )
}


def form_params(body: str) -> dict[str, list[str]]:
    """A form-encoded request's parameters, each with all its values."""
    try:
        return parse_qs(body, keep_blank_values=True, max_num_fields=1000)
    except ValueError:  # more fields than any of these actions takes
        return {}


def repeated_params(body: str) -> list[str]:
    """Parameters a form-encoded request gives more than once: the service might read
    another value than the one the IAM check saw, so such a request is not sent."""
    return sorted(key for key, values in form_params(body).items() if len(values) > 1)


def form_action(body: str) -> str | None:
    """A query-protocol request's `Action` parameter."""
    values = form_params(body).get("Action")
    return values[0] if values else None


def json_object(body: str) -> dict[str, Any] | None:
    """A JSON request's object; None if the body is not one (the service refuses it)."""
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return request if isinstance(request, dict) else None


def _name(value: object) -> str:
    """A resource name as it may be matched: an impossible one becomes `*`, which only a
    role allowing every resource of that kind allows (the call then fails in the service)."""
    if not isinstance(value, str) or not value or len(value) > MAX_NAME:
        return "*"
    return value


def resource_arns(
    service: str, region: str, account_id: str, path: str | None, body: str
) -> tuple[str, ...] | None:
    """The ARNs the role must be allowed on for this request: every resource the service
    could read from it (a path's queue and a `QueueUrl`, a `StreamName` and a `StreamARN`).
    None when the service cannot read the request (it refuses it before any authorization).
    """
    prefix = f"arn:aws:{service}:{region}:{account_id}"  # local_aws is partition aws
    if service in ("sqs", "sns"):
        params = {key: values[0] for key, values in form_params(body).items()}
        if service == "sqs":
            queues = [path] if path else []
            if "QueueUrl" in params or not queues:
                queues.append(_queue_path(params.get("QueueUrl", "")))
            return _unique(
                f"arn:aws:sqs:{region}:{_name(owner)}:{_name(name)}"
                for owner, _, name in (queue.partition("/") for queue in queues)
            )
        named = [params[key] for key in ("TopicArn", "TargetArn") if key in params]
        return _unique(_name(arn) for arn in named or [""])
    request = json_object(body)
    if request is None:
        return None
    if service == "dynamodb":
        return (f"{prefix}:table/{_name(request.get('TableName', '*'))}",)
    if service == "kinesis":
        arns = [f"{prefix}:stream/{_name(request.get('StreamName'))}"]
        if "StreamARN" in request:
            arns = [_name(request["StreamARN"])] + (arns if "StreamName" in request else [])
        return _unique(arns)
    if service == "states":
        return (_name(request.get("stateMachineArn")),)
    if service == "events":
        entries = request.get("Entries")
        buses = [
            entry.get("EventBusName") or "default"
            for entry in (entries if isinstance(entries, list) else [])[:MAX_RESOURCES]
            if isinstance(entry, dict)
        ] or ["default"]
        return _unique(
            bus
            if isinstance(bus, str) and bus.startswith("arn:")
            else f"{prefix}:event-bus/{_name(bus)}"
            for bus in buses
        )
    return None


def _unique(arns: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(arns))


def _queue_path(queue_url: str) -> str:
    """`https://sqs.<region>.amazonaws.com/<account>/<queue>` → `<account>/<queue>`."""
    parts = queue_url.rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else ""
