"""Reference §7.5, §7.6 and §3.6: route selection, two-way routes and the error frames."""

from __future__ import annotations

import json
import time

import pytest

from tests.fidelity.support import error_frame_pattern, recorded_event, recorded_event_now
from tests.support.clients import ask, connect

FORBIDDEN = error_frame_pattern("Forbidden")
INTERNAL_SERVER_ERROR = error_frame_pattern("Internal server error")
TIMED_OUT = error_frame_pattern("Endpoint request timed out")


@pytest.fixture
def plain(plain_selection):
    ws = connect(plain_selection["WebSocketURL"])
    yield ws
    ws.close()


@pytest.fixture
def braced(braced_selection):
    ws = connect(braced_selection["WebSocketURL"])
    yield ws
    ws.close()


@pytest.fixture
def behave(lambda_api):
    ws = connect(lambda_api["WebSocketURL"])
    yield ws
    ws.close()


def route_of(ws, text: str) -> str:
    """Send `text` as is; the route key the message was selected as."""
    ws.send(text)
    return json.loads(ws.recv())["routeKey"]


def connection_id_of(ws) -> str:
    return json.loads(ask(ws, {"action": "join"}))["connectionId"]


# ---------------------------------------------------------------- 7.5 route selection


@pytest.mark.parametrize(
    ("message", "route_key"),
    [
        ({"action": "join"}, "join"),
        ({"action": 5}, "5"),
        ({"action": True}, "true"),
        ({"action": ["a", "b"]}, "[a, b]"),
        ({"action": "join", "other": {"action": "nested ones do not count"}}, "join"),
    ],
    ids=["string", "number", "boolean", "list", "extra-keys"],
)
def test_selection_value_is_stringified_and_matched_exactly(plain, message, route_key) -> None:
    assert route_of(plain, json.dumps(message)) == route_key


@pytest.mark.parametrize(
    ("message", "route_key"),
    [
        ({"service": "chat", "meta": {"kind": "join"}}, "chat/join"),
        ({"meta": {"kind": "join"}}, "/join"),
        ({"service": "chat"}, "chat/"),
        ({"service": "chat", "meta": "join"}, "chat/"),
        ({}, "/"),
    ],
    ids=["both", "first-missing", "nested-missing", "nested-through-a-string", "none"],
)
def test_braced_nested_expression_with_missing_paths_as_empty_strings(
    braced, message, route_key
) -> None:
    assert route_of(braced, json.dumps(message)) == route_key


def test_static_default_expression_sends_everything_to_default(static_selection) -> None:
    ws = connect(static_selection["WebSocketURL"])
    try:
        assert route_of(ws, '{"action": "join"}') == "$default"
        assert route_of(ws, "not JSON at all") == "$default"
    finally:
        ws.close()


@pytest.mark.parametrize(
    "text",
    [
        '{"action": "no-such-route"}',
        '{"action": 5}',
        '{"action": ["a", "b"]}',
        '{"action": null}',
        '{"action": {"nested": true}}',
        "[1, 2]",
        '"behave"',
        "hello, not JSON",
        "",
    ],
    ids=[
        "unknown-action",
        "number-action",
        "list-action",
        "null-action",
        "object-action",
        "json-list",
        "json-string",
        "not-json",
        "empty-message",
    ],
)
def test_unmatched_or_unselectable_message_goes_to_default_as_default(behave, text) -> None:
    """The event names `$default`, not the selection value (serverless-offline's mistake)."""
    behave.send(text)
    event = json.loads(behave.recv())
    assert event["requestContext"]["routeKey"] == "$default"
    assert event["body"] == text


@pytest.mark.parametrize("key", ["$connect", "$disconnect", "$default"])
def test_action_naming_a_predefined_route_goes_to_default(local_aws, lambda_api, key) -> None:
    ws = connect(lambda_api["WebSocketURL"])
    try:
        event = json.loads(ask(ws, {"action": key}))
        assert event["requestContext"]["routeKey"] == "$default"
        connection_id = event["requestContext"]["connectionId"]
        table = lambda_api["EventsTableName"]
        connect_event = recorded_event(local_aws, table, connection_id, "CONNECT")
        assert connect_event["requestContext"]["routeKey"] == "$connect"
    finally:
        ws.close()
    # The Recorder serves $connect and $disconnect and files each event under its eventType.
    # Once the real $disconnect is recorded, a MESSAGE event it had been sent earlier (had
    # the message gone to $connect or $disconnect) would be there too.
    disconnect_event = recorded_event(local_aws, table, connection_id, "DISCONNECT")
    assert disconnect_event["requestContext"]["routeKey"] == "$disconnect"
    assert recorded_event_now(local_aws, table, connection_id, "MESSAGE") is None


# ---------------------------------------------------------------- 3.6 Forbidden


@pytest.mark.parametrize(
    "text",
    [
        '{"action": "nope"}',
        '{"action": null}',
        '{"other": 1}',
        '{"action": ""}',
        '{"action": {"a": 1}}',
        "[1, 2]",
        '"join"',
        "42",
        "null",
        "hello, not JSON",
        "",
    ],
    ids=[
        "unknown-action",
        "null-action",
        "no-action",
        "empty-action",
        "object-action",
        "json-list",
        "json-string",
        "json-number",
        "json-null",
        "not-json",
        "empty-message",
    ],
)
def test_no_match_and_no_default_sends_forbidden_and_keeps_the_socket(plain, text) -> None:
    connection_id = connection_id_of(plain)
    plain.send(text)
    frame = plain.recv()
    match = FORBIDDEN.match(frame)
    assert match, frame
    assert match["connectionId"] == connection_id
    assert match["requestId"] != connection_id
    assert route_of(plain, '{"action": "join"}') == "join"  # still open


def test_braced_expression_on_non_json_sends_forbidden_without_default(braced) -> None:
    braced.send("not JSON")
    assert FORBIDDEN.match(braced.recv())


def test_each_forbidden_frame_has_its_own_request_id(plain) -> None:
    request_ids = set()
    for _ in range(5):
        plain.send('{"action": "nope"}')
        request_ids.add(FORBIDDEN.match(plain.recv())["requestId"])
    assert len(request_ids) == 5


# ---------------------------------------------------------------- 7.6 two-way


def test_route_without_route_response_sends_nothing_back(behave) -> None:
    behave.send(json.dumps({"action": "oneway"}))
    # local_aws handles one message at a time per connection: had the one-way route answered,
    # its frame would come before the next message's reply.
    event = json.loads(ask(behave, {"action": "behave", "n": 2}))
    assert json.loads(event["body"])["n"] == 2


@pytest.mark.parametrize("route", ["rrse-only", "response-only"])
def test_route_response_or_its_selection_expression_makes_a_route_two_way(behave, route):
    event = json.loads(ask(behave, {"action": route}))
    assert event["requestContext"]["routeKey"] == route


@pytest.mark.parametrize("status", [201, 301, 404, 500])
def test_function_status_code_is_ignored_on_message_routes(behave, status) -> None:
    assert ask(behave, {"action": "behave", "do": "status", "status": status}) == (
        "status was ignored"
    )


def test_oneway_route_still_reports_errors(behave) -> None:
    """An error frame is not a route response: even a one-way route's failure is reported."""
    behave.send(json.dumps({"action": "oneway", "do": "raise"}))
    assert INTERNAL_SERVER_ERROR.match(behave.recv())


# ---------------------------------------------------------------- 3.6 errors and timeouts


def test_function_that_raises_sends_internal_server_error_and_keeps_the_socket(behave) -> None:
    connection_id = json.loads(ask(behave, {"action": "whoami"}))["requestContext"]["connectionId"]
    frame = ask(behave, {"action": "behave", "do": "raise", "tag": "routing"})
    match = INTERNAL_SERVER_ERROR.match(frame)
    assert match, frame
    assert match["connectionId"] == connection_id
    assert match["requestId"] != connection_id
    assert json.loads(ask(behave, {"action": "behave"}))["requestContext"]["routeKey"] == "behave"


def test_integration_timeout_sends_endpoint_request_timed_out(behave) -> None:
    """The `slow` integration has TimeoutInMillis 1000; the function sleeps 2 s."""
    started = time.monotonic()
    frame = ask(behave, {"action": "slow", "do": "sleep", "seconds": 2})
    elapsed = time.monotonic() - started
    assert TIMED_OUT.match(frame), frame
    # Not before the 1 s timeout, and before the function's 2 s answer.
    assert 0.9 <= elapsed < 2.0, elapsed
    # The connection is still usable.
    event = json.loads(ask(behave, {"action": "behave"}))
    assert event["requestContext"]["routeKey"] == "behave"
    # The late answer is never sent: once it is overdue (local_aws abandons the invocation, so
    # there is no later event to wait for), the next frame still answers the next message.
    time.sleep(max(0.0, started + 3.0 - time.monotonic()))
    assert json.loads(ask(behave, {"action": "behave"}))["requestContext"]["routeKey"] == "behave"


def test_integration_within_its_timeout_answers(behave) -> None:
    assert ask(behave, {"action": "slow", "do": "sleep", "seconds": 0.2}) == "woke up"
