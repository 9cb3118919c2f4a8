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


def test_an_index_past_the_end_or_into_an_object_selects_nothing() -> None:
    body = parse_body('{"items": ["first"], "object": {"0": "zero"}}')
    assert evaluate("$request.body.items[0]", body) == "first"
    assert evaluate("$request.body.items[1]", body) == ""
    assert evaluate("$request.body.items[5]", body) == ""
    assert evaluate("$request.body.object[0]", body) == ""


def test_an_object_is_written_as_java_writes_a_map() -> None:
    body = parse_body('{"action": {"a": 1, "b": "x", "c": [true, null]}}')
    assert evaluate("$request.body.action", body) == "{a=1, b=x, c=[true, ]}"


def test_static_keys() -> None:
    assert static_key("\\$default") == "$default"
    assert static_key("$default") == "$default"
    assert static_key(None) is None
    assert evaluate("$request.body.action", NOT_JSON) is None


@pytest.mark.parametrize(
    "message",
    [
        "[" * 1000 + "]" * 1000,  # RecursionError in json.loads
        '{"action": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"action": "join"' + "[" * 5000,  # deep and malformed
        "\udcff",  # a lone surrogate
    ],
)
def test_a_body_too_deep_to_parse_goes_to_default(message: str) -> None:
    assert parse_body(message) is NOT_JSON
    assert select_route("$request.body.action", parse_body(message), ROUTES) == "$default"


def test_a_selected_value_too_deep_to_write_goes_to_default() -> None:
    # A value the parser could hold but that is too deep to write out as a route key (built
    # here directly: whether json.loads reaches this depth depends on the stack in use).
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    assert select_route("$request.body.action", {"action": deep}, ROUTES) == "$default"
