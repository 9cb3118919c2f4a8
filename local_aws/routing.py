"""Selection expressions and route selection (reference apigw-websocket.md §3.2, §7.5).

Pure functions over plain data: no sockets, no moto.
"""

from __future__ import annotations

import json
import re
from collections.abc import Container
from typing import Any

# `$request.body.a.b` or `${request.body.a.b}`; anything else in an expression is static text.
_VARIABLE = re.compile(
    r"\\\$"  # an escaped dollar: the literal character `$`
    r"|\$\{request\.body\.(?P<braced>[^}]*)\}"
    r"|\$request\.body\.(?P<bare>[A-Za-z0-9_\-.\[\]]+)"
)

_PATH_PART = re.compile(r"[^.\[\]]+|\[\d+\]")

NOT_JSON = object()  # marker for a message body that is not JSON


def parse_body(text: str) -> Any:
    """The message as JSON, or NOT_JSON.

    A body nested too deep to parse (``"[" * 1000``: RecursionError) is NOT_JSON too, so it
    goes to `$default` like any body whose selection key is missing. AWS's answer for deep
    nesting is not documented; this is local_aws's reading (docs/fidelity.md).
    """
    try:
        return json.loads(text)
    except Exception:  # ValueError, RecursionError, MemoryError: all mean "not JSON" here
        return NOT_JSON


def evaluate(expression: str, body: Any) -> str | None:
    """Evaluate a selection expression against a parsed body.

    Returns None if the expression reads the body and the body is not JSON, or the selected
    value is nested too deep to write out (the expression "cannot be evaluated", so AWS falls
    back to `$default`). A JSON path that is not found
    gives "" (reference §3.2).
    """

    def substitute(match: re.Match[str]) -> str:
        path = match.group("braced") or match.group("bare")
        if path is None:
            return "$"
        if body is NOT_JSON:
            raise _CannotEvaluate
        return _stringify(_lookup(body, path))

    try:
        return _VARIABLE.sub(substitute, expression)
    except (_CannotEvaluate, RecursionError):  # e.g. a key whose value is nested 900 deep
        return None


class _CannotEvaluate(Exception):
    pass


def _lookup(value: Any, path: str) -> Any:
    """Follow `a.b[0].c` through dicts and lists; None where it leads nowhere."""
    for part in _PATH_PART.findall(path):
        if part.startswith("["):
            index = int(part[1:-1])
            value = value[index] if isinstance(value, list) and index < len(value) else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


def _stringify(value: Any) -> str:
    """How API Gateway turns a selected JSON value into a route key (Java's toString)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_stringify(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_stringify(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def select_route(expression: str, body: Any, route_keys: Container[str]) -> str | None:
    """The route a message goes to: an exact match, else `$default`, else None (Forbidden)."""
    value = evaluate(expression, body)
    if value is not None and value in route_keys and not value.startswith("$"):
        return value
    if "$default" in route_keys:
        return "$default"
    return None


def static_key(expression: str | None) -> str | None:
    """A selection expression without variables, e.g. `\\$default` → `$default`."""
    if expression is None:
        return None
    return evaluate(expression, NOT_JSON)
