"""`RequestParameters`: each mapping expression of "Set up data mapping for WebSocket APIs in
API Gateway", evaluated for a `$connect` and for a message."""

from __future__ import annotations

import pytest

from local_aws import events
from local_aws.request_parameters import Mapped, map_parameters
from tests.support.gateway_requests import a_request

HEADER = "integration.request.header."
QUERY = "integration.request.querystring."
PATH = "integration.request.path."


def request(event_type: str = "MESSAGE", body: str | None = None) -> events.Request:
    return a_request(
        event_type,
        "$connect" if event_type == "CONNECT" else "send",
        body,
        user_agent="tester",
        headers={"X-Name": "ada"},
        multi_value_headers={"X-Name": ["ada"], "X-Tag": ["a", "b"]},
        query={"room": "r1"},
        multi_value_query={"room": ["r0", "r1"]},
    )


def test_context_stage_variables_and_static_values_go_where_their_keys_say() -> None:
    parameters = {
        HEADER + "connectionId": "context.connectionId",
        HEADER + "X-Route": "context.routeKey",
        HEADER + "X-Ip": "context.identity.sourceIp",
        QUERY + "env": "stageVariables.env",
        PATH + "kind": "'static'",
        HEADER + "Empty": "''",
    }
    mapped = map_parameters(parameters, request(body="{}"), {"env": "dev"})
    assert mapped == Mapped(
        headers={
            "connectionId": "Xk1bVd0JoAMCJQg=",
            "X-Route": "send",
            "X-Ip": "127.0.0.1",
            "Empty": "",
        },
        querystring={"env": "dev"},
        path={"kind": "static"},
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("route.request.body.name", "ada"),
        ("route.request.body.user.id", "7"),  # a number, as JSON
        ("route.request.body.$.user.admin", "true"),
        ("route.request.body.tags[1]", "y"),
        ("route.request.body.user", '{"id":7,"admin":true}'),
        ("route.request.body.missing", None),
        ("route.request.body.nul", None),
        ("route.request.body.", None),
        ("route.request.body.a[", None),  # not JSONPath: logged, not sent
    ],
)
def test_a_body_field_is_read_by_jsonpath(expression: str, expected: str | None) -> None:
    body = '{"name": "ada", "user": {"id": 7, "admin": true}, "tags": ["x", "y"], "nul": null}'
    mapped = map_parameters({HEADER + "X": expression}, request(body=body), {})
    assert mapped.headers.get("X") == expected


def test_a_body_that_is_not_json_maps_nothing() -> None:
    mapped = map_parameters({HEADER + "X": "route.request.body.name"}, request(body="hi"), {})
    assert mapped.headers == {}


def test_headers_and_query_strings_are_read_on_connect_only() -> None:
    parameters = {
        HEADER + "Name": "route.request.header.x-name",  # any case
        HEADER + "Tags": "route.request.multivalueheader.X-Tag",
        QUERY + "room": "route.request.querystring.room",
        QUERY + "rooms": "route.request.multivaluequerystring.room",
        QUERY + "none": "route.request.querystring.absent",
    }
    connect = map_parameters(parameters, request("CONNECT"), {})
    assert connect.headers == {"Name": "ada", "Tags": "a,b"}
    assert connect.querystring == {"room": "r1", "rooms": "r0,r1"}
    # "(supported only for the $connect route)": a message has neither.
    message = map_parameters(parameters, request(body="{}"), {})
    assert message == Mapped()


@pytest.mark.parametrize(
    "key",
    [
        "integration.response.header.X",
        "method.request.header.X",
        "integration.request.X",
        "integration.request.header.",
    ],
)
def test_a_key_that_is_no_integration_request_parameter_is_ignored(key: str) -> None:
    assert map_parameters({key: "'v'"}, request(body="{}"), {}) == Mapped()


def test_unknown_sources_and_unset_variables_map_nothing() -> None:
    parameters = {
        HEADER + "A": "stageVariables.unset",
        HEADER + "B": "context.nothing.here",
        HEADER + "C": "method.request.header.x",
        HEADER + "D": "route.request.cookie.x",
    }
    assert map_parameters(parameters, request("CONNECT", body=None), {}) == Mapped()
