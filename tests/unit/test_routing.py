"""Route selection as API Gateway does it (reference apigw-websocket.md §3.2, §7.5)."""

from __future__ import annotations

import pytest

from local_aws.routing import NOT_JSON, evaluate, parse_body, select_route, static_key

ROUTES = {"$connect", "$disconnect", "$default", "join", "chat/join", "1", "true", "[a, b]"}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ('{"action": "join"}', "join"),
        ('{"action": "nope"}', "$default"),
        ('{"other": 1}', "$default"),  # missing path → "" → no route "" → $default
        ("not json at all", "$default"),
        ("[1, 2]", "$default"),  # JSON that is not an object
        ('{"action": 1}', "1"),  # numbers are stringified
        ('{"action": true}', "true"),
        ('{"action": ["a", "b"]}', "[a, b]"),  # Java-style list
        ('{"action": null}', "$default"),
        ('{"action": "$connect"}', "$default"),  # predefined routes are never selected by value
    ],
)
def test_select_route(message: str, expected: str) -> None:
    assert select_route("$request.body.action", parse_body(message), ROUTES) == expected


def test_no_default_route_means_forbidden() -> None:
    routes = {"$connect", "join"}
    assert select_route("$request.body.action", parse_body('{"action": "x"}'), routes) is None
    assert select_route("$request.body.action", NOT_JSON, routes) is None


def test_braced_and_composite_expressions() -> None:
    body = parse_body('{"service": "chat", "action": "join", "a": {"b": [{"c": "deep"}]}}')
    assert evaluate("${request.body.action}", body) == "join"
    assert evaluate("${request.body.service}/${request.body.action}", body) == "chat/join"
    assert evaluate("$request.body.a.b[0].c", body) == "deep"
    assert evaluate("$request.body.missing.path", body) == ""
    assert select_route("${request.body.service}/${request.body.action}", body, ROUTES) == (
        "chat/join"
    )


def test_static_keys() -> None:
    assert static_key("\\$default") == "$default"
    assert static_key("$default") == "$default"
    assert static_key(None) is None
    assert evaluate("$request.body.action", NOT_JSON) is None
