"""Reference §7.4 and §5.2: the Lambda proxy events of CONNECT, MESSAGE and DISCONNECT."""

from __future__ import annotations

import json
import re
import socket

import pytest
import websocket

from tests.fidelity.support import recorded_event
from tests.support.clients import ask, connect

CONTEXT_KEYS = [  # in the order of real captures (reference §5.2)
    "routeKey",
    "eventType",
    "extendedRequestId",
    "requestTime",
    "messageDirection",
    "stage",
    "connectedAt",
    "requestTimeEpoch",
    "identity",
    "requestId",
    "domainName",
    "connectionId",
    "apiId",
]
MESSAGE_CONTEXT_KEYS = ["routeKey", "messageId", *CONTEXT_KEYS[1:]]
USER_AGENT = "fidelity-suite/1.0 (like wscat)"


def open_and_close(lambda_api, query: str = "", headers: list[str] | None = None, **close):
    """Connect, learn the connection id and the MESSAGE event, close; return both."""
    ws = connect(lambda_api["WebSocketURL"], query, headers)
    try:
        message = json.loads(ask(ws, {"action": "whoami", "n": 1}))
    finally:
        ws.close(**close)
    return message["requestContext"]["connectionId"], message


def test_connect_event_with_a_query_string(local_aws, lambda_api) -> None:
    headers = [f"User-Agent: {USER_AGENT}", "X-Mixed-Case-Header: Value With Case"]
    connection_id, _ = open_and_close(lambda_api, "?foo=bar&multi=1&multi=2&empty=", headers)
    event = recorded_event(local_aws, lambda_api["EventsTableName"], connection_id, "CONNECT")
    assert list(event) == [
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "requestContext",
        "isBase64Encoded",
    ]
    assert event["isBase64Encoded"] is False
    assert event["queryStringParameters"] == {"foo": "bar", "multi": "2", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {
        "foo": ["bar"],
        "multi": ["1", "2"],
        "empty": [""],
    }
    context = event["requestContext"]
    assert list(context) == CONTEXT_KEYS
    assert context["routeKey"] == "$connect"
    assert context["eventType"] == "CONNECT"
    assert context["messageDirection"] == "IN"
    assert context["stage"] == "api"
    assert context["apiId"] == lambda_api["ApiId"]
    assert context["domainName"].startswith(f"{lambda_api['ApiId']}.execute-api.")
    assert context["connectionId"] == connection_id
    assert context["identity"] == {"userAgent": USER_AGENT, "sourceIp": "127.0.0.1"}


def test_connect_event_headers_are_the_clients_plus_api_gateways(local_aws, lambda_api) -> None:
    headers = [f"User-Agent: {USER_AGENT}", "X-Mixed-Case-Header: Value With Case"]
    connection_id, _ = open_and_close(lambda_api, "", headers)
    event = recorded_event(local_aws, lambda_api["EventsTableName"], connection_id, "CONNECT")
    sent = event["headers"]
    # The client's headers, in the case it wrote them; Connection and Upgrade are not passed on.
    assert sent["X-Mixed-Case-Header"] == "Value With Case"
    # websocket-client sends an Origin as a browser does; it is passed on like any header.
    assert sent["Origin"] == f"http://127.0.0.1:{local_aws.port}"
    assert sent["User-Agent"] == USER_AGENT
    assert sent["Sec-WebSocket-Version"] == "13"
    assert "Sec-WebSocket-Key" in sent and "Host" in sent
    assert not {name.lower() for name in sent} & {"connection", "upgrade"}
    # What API Gateway adds.
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", sent["X-Amzn-Trace-Id"])
    assert sent["X-Forwarded-For"] == "127.0.0.1"
    # Locally the client reaches the gateway over plain HTTP on local_aws's port (AWS: https, 443).
    assert sent["X-Forwarded-Port"] == str(local_aws.port)
    assert sent["X-Forwarded-Proto"] == "http"
    assert event["multiValueHeaders"] == {name: [value] for name, value in sent.items()}


@pytest.mark.parametrize("name", ["X-Forwarded-For", "x-forwarded-for"])
def test_a_clients_x_forwarded_for_does_not_change_its_source_ip(
    local_aws, lambda_api, name: str
) -> None:
    """Whatever the case it writes it in, the chain a client sends is kept with the address it
    connected from appended, and that address is its `sourceIp`: a client cannot claim another."""
    headers = [f"User-Agent: {USER_AGENT}", f"{name}: 10.9.9.9", "X-Forwarded-Proto: https"]
    connection_id, _ = open_and_close(lambda_api, "", headers)
    event = recorded_event(local_aws, lambda_api["EventsTableName"], connection_id, "CONNECT")
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert event["headers"]["X-Forwarded-For"] == "10.9.9.9, 127.0.0.1"
    assert event["headers"]["X-Forwarded-Proto"] == "http"


def test_connect_event_without_a_query_string_has_no_query_keys(local_aws, lambda_api) -> None:
    connection_id, _ = open_and_close(lambda_api)
    event = recorded_event(local_aws, lambda_api["EventsTableName"], connection_id, "CONNECT")
    assert list(event) == ["headers", "multiValueHeaders", "requestContext", "isBase64Encoded"]
    # No User-Agent header was sent, so identity has none.
    assert event["requestContext"]["identity"] == {"sourceIp": "127.0.0.1"}


def test_message_event_has_body_and_no_headers_or_query(lambda_api) -> None:
    headers = [f"User-Agent: {USER_AGENT}"]
    _, event = open_and_close(lambda_api, "?foo=bar", headers)
    assert list(event) == ["requestContext", "body", "isBase64Encoded"]
    assert event["body"] == '{"action": "whoami", "n": 1}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert list(context) == MESSAGE_CONTEXT_KEYS
    assert context["routeKey"] == "$default"
    assert context["eventType"] == "MESSAGE"
    assert context["messageDirection"] == "IN"
    # identity.userAgent comes from the handshake.
    assert context["identity"] == {"userAgent": USER_AGENT, "sourceIp": "127.0.0.1"}


def test_message_event_of_a_matched_route_names_that_route(lambda_api) -> None:
    ws = connect(lambda_api["WebSocketURL"])
    try:
        event = json.loads(ask(ws, {"action": "behave"}))
    finally:
        ws.close()
    assert event["requestContext"]["routeKey"] == "behave"


def test_disconnect_event_has_the_fixed_header_set_and_the_close_code(
    local_aws, lambda_api
) -> None:
    headers = [f"User-Agent: {USER_AGENT}", "X-Mixed-Case-Header: not passed on"]
    connection_id, message = open_and_close(
        lambda_api, "?foo=bar", headers, status=1000, reason=b"bye"
    )
    event = recorded_event(local_aws, lambda_api["EventsTableName"], connection_id, "DISCONNECT")
    assert event is not None, "$disconnect did not run"
    assert list(event) == ["headers", "multiValueHeaders", "requestContext", "isBase64Encoded"]
    domain = message["requestContext"]["domainName"]
    assert event["headers"] == {
        "Host": domain,
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    assert event["multiValueHeaders"] == {name: [v] for name, v in event["headers"].items()}
    context = event["requestContext"]
    assert context["routeKey"] == "$disconnect"
    assert context["eventType"] == "DISCONNECT"
    assert context["connectionId"] == connection_id
    assert context["connectedAt"] == message["requestContext"]["connectedAt"]
    assert context["requestTimeEpoch"] >= message["requestContext"]["requestTimeEpoch"]
    assert context["disconnectStatusCode"] == 1000
    assert context["disconnectReason"] == "bye"  # the client's close reason
    assert "messageId" not in context
    assert set(context) == {*CONTEXT_KEYS, "disconnectStatusCode", "disconnectReason"}


@pytest.mark.parametrize(
    ("ending", "code", "reason"),
    [
        ("close frame without a status", 1005, "Client-side close frame status not set"),
        ("TCP connection dropped", 1006, ""),
    ],
)
def test_how_a_client_leaves_is_its_disconnect_status_code(
    local_aws, lambda_api, ending: str, code: int, reason: str
) -> None:
    """RFC 6455 §7.1.5: 1005 is a close frame that carries no status, 1006 a connection that
    ended without any close frame (a killed client, a lost network)."""
    ws = connect(lambda_api["WebSocketURL"])
    connection_id = json.loads(ask(ws, {"action": "whoami"}))["requestContext"]["connectionId"]
    if ending == "TCP connection dropped":
        ws.sock.shutdown(socket.SHUT_RDWR)
        ws.sock.close()
    else:
        ws.send(b"", websocket.ABNF.OPCODE_CLOSE)  # an empty close frame: no status code
        ws.sock.close()
    event = recorded_event(local_aws, lambda_api["EventsTableName"], connection_id, "DISCONNECT")
    assert event["requestContext"]["disconnectStatusCode"] == code
    assert event["requestContext"]["disconnectReason"] == reason
