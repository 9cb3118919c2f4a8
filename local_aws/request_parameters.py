"""Request parameters: what an integration's `RequestParameters` put in its request.

AWS doc "Set up data mapping for WebSocket APIs in API Gateway": a key names where a value
goes, `integration.request.header.NAME`, `integration.request.querystring.NAME` or
`integration.request.path.NAME`; a value names where it comes from:

    route.request.header.NAME              a handshake header ($connect only)
    route.request.querystring.NAME         a query-string parameter ($connect only)
    route.request.multivalueheader.NAME    every value of a header, comma-separated
    route.request.multivaluequerystring.NAME
    route.request.body.JSONPATH            a field of the message, e.g. `body.user.name`
    stageVariables.NAME                    a stage variable
    context.NAME                           a `$context` variable, e.g. `context.connectionId`
    'VALUE'                                a static value, in single quotes

A source with no value (a missing header or field, a header on a message route) is left
out of the request, as API Gateway leaves out an unmapped parameter. One function serves
every integration type that sends parameters (HTTP, HTTP_PROXY and AWS service calls).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TypeVar

from local_aws import events, routing
from local_aws.vtl import jsonpath

logger = logging.getLogger(__name__)

V = TypeVar("V")

_TARGETS = {
    "integration.request.header.": "headers",
    "integration.request.querystring.": "querystring",
    "integration.request.path.": "path",
}


@dataclass(frozen=True)
class Mapped:
    """The integration request's parameters, by where they go."""

    headers: dict[str, str] = field(default_factory=dict)
    querystring: dict[str, str] = field(default_factory=dict)
    path: dict[str, str] = field(default_factory=dict)


def map_parameters(
    parameters: dict[str, str], request: events.Request, stage_variables: dict[str, str]
) -> Mapped:
    """Each parameter's value for this request; parameters without a value are left out."""
    mapped = Mapped()
    body: object = None  # parsed once, only if a parameter reads the body
    for key, expression in parameters.items():
        target = next((t for prefix, t in _TARGETS.items() if key.startswith(prefix)), None)
        if target is None or key.endswith("."):
            logger.warning("request parameter %s: not an integration request parameter", key)
            continue
        name = key.split(".", 3)[3]
        if expression.startswith("route.request.body.") and body is None:
            body = routing.parse_body(request.body or "")
        value = value_of(expression, request, stage_variables, body)
        if value is None:
            logger.info("request parameter %s: %s has no value; not sent", key, expression)
            continue
        getattr(mapped, target)[name] = value
    return mapped


def value_of(
    expression: str,
    request: events.Request,
    stage_variables: dict[str, str],
    body: object = routing.NOT_JSON,
) -> str | None:
    """The value a mapping expression names for this request (None: it has none).

    ``body`` is the message, parsed (`routing.parse_body`), for `route.request.body.*`.
    """
    if len(expression) >= 2 and expression[0] == expression[-1] == "'":
        return expression[1:-1]
    source, _, name = expression.partition(".")
    if source == "stageVariables":
        return stage_variables.get(name)
    if source == "context":
        return _text(_dotted(events.request_context(request), name))
    if not expression.startswith("route.request."):
        return None
    kind, _, name = expression[len("route.request.") :].partition(".")
    if kind == "body":
        return _from_body(body, name)
    if request.event_type != "CONNECT":  # only $connect has headers and a query string
        return None
    client = request.client
    if kind == "header":
        return _ignoring_case(client.headers, name)
    if kind == "multivalueheader":
        values = _ignoring_case(client.multi_value_headers, name)
        return ",".join(values) if values is not None else None
    if kind == "querystring":
        return client.query.get(name)
    if kind == "multivaluequerystring":
        listed = client.multi_value_query.get(name)
        return ",".join(listed) if listed is not None else None
    return None


def _from_body(body: object, path: str) -> str | None:
    """`route.request.body.a.b`: the field at JSONPath `$.a.b` (`$...` is taken as it is)."""
    if body is routing.NOT_JSON or not path:
        return None
    try:
        steps = jsonpath.parse(path if path.startswith("$") else "$." + path)
    except ValueError as error:
        logger.warning("route.request.body.%s: %s", path, error)
        return None
    return _text(jsonpath.select(body, steps))


def _dotted(document: object, name: str) -> object:
    """`identity.sourceIp` in `{"identity": {"sourceIp": ...}}`; MISSING if absent."""
    value = document
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return jsonpath.MISSING
        value = value[part]
    return value


def _text(value: object) -> str | None:
    """A value as a parameter carries it: strings as they are, other JSON values as JSON."""
    if value is jsonpath.MISSING or value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _ignoring_case(mapping: dict[str, V], name: str) -> V | None:
    """A header's value, its name in any case (HTTP header names are case-insensitive)."""
    lowered = name.lower()
    return next((value for key, value in mapping.items() if key.lower() == lowered), None)
