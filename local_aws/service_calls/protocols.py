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


PROTOCOLS = {
    protocol.service: protocol
    for protocol in (
        Protocol(
            "dynamodb",
            query=False,
            target_prefix="DynamoDB_20120810",
            content_type="application/x-amz-json-1.0",
        ),
        Protocol("sqs", query=True, path_uris=True),
        Protocol("sns", query=True),
        Protocol(
            "events",
            query=False,
            target_prefix="AWSEvents",
            content_type="application/x-amz-json-1.1",
        ),
        Protocol(
            "kinesis",
            query=False,
            target_prefix="Kinesis_20131202",
            content_type="application/x-amz-json-1.1",
        ),
        Protocol(
            "states",
            query=False,
            target_prefix="AWSStepFunctions",
            content_type="application/x-amz-json-1.0",
        ),
    )
}


def form_params(body: str) -> dict[str, str]:
    """A form-encoded request's parameters (the first value of each)."""
    try:
        parsed = parse_qs(body, keep_blank_values=True, max_num_fields=1000)
    except ValueError:  # more fields than any of these actions takes
        return {}
    return {key: values[0] for key, values in parsed.items()}


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
    """The ARNs the role must be allowed on for this request; None when the request names
    nothing because the service cannot read it (it refuses it before any authorization)."""
    prefix = f"arn:aws:{service}:{region}:{account_id}"  # local_aws is partition aws
    if service == "sqs":
        queue = path or _queue_path(form_params(body).get("QueueUrl", ""))
        owner, _, name = queue.partition("/")
        return (f"arn:aws:sqs:{region}:{_name(owner)}:{_name(name)}",)
    if service == "sns":
        params = form_params(body)
        return (_name(params.get("TopicArn") or params.get("TargetArn")),)
    request = json_object(body)
    if request is None:
        return None
    if service == "dynamodb":
        return (f"{prefix}:table/{_name(request.get('TableName', '*'))}",)
    if service == "kinesis":
        if isinstance(request.get("StreamARN"), str):
            return (_name(request["StreamARN"]),)
        return (f"{prefix}:stream/{_name(request.get('StreamName'))}",)
    if service == "states":
        return (_name(request.get("stateMachineArn")),)
    if service == "events":
        entries = request.get("Entries")
        buses = [
            entry.get("EventBusName") or "default"
            for entry in (entries if isinstance(entries, list) else [])[:MAX_RESOURCES]
            if isinstance(entry, dict)
        ] or ["default"]
        return tuple(
            dict.fromkeys(
                bus
                if isinstance(bus, str) and bus.startswith("arn:")
                else f"{prefix}:event-bus/{_name(bus)}"
                for bus in buses
            )
        )
    return None


def _queue_path(queue_url: str) -> str:
    """`https://sqs.<region>.amazonaws.com/<account>/<queue>` → `<account>/<queue>`."""
    parts = queue_url.rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else ""
