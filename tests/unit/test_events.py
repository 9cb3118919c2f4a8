"""Event shapes, ids, times and error frames (reference apigw-websocket.md §3.6, §5.2, §7.2–7.4)."""

from __future__ import annotations

import base64
import json
import re
import time

from local_aws import events


def client(**changes) -> events.Client:
    values = dict(
        connection_id="SOqGjdZioAMCEeg=",
        api_id="u9jlm1pv1h",
        stage="api",
        domain_name="u9jlm1pv1h.execute-api.localhost",
        source_ip="127.0.0.1",
        user_agent="agent/1.0",
        connected_at=1652722217711,
        headers={"Host": "h", "X-Custom": "v"},
        multi_value_headers={"Host": ["h"], "X-Custom": ["v"]},
        query={"foo": "bar"},
        multi_value_query={"foo": ["bar"]},
    )
    values.update(changes)
    return events.Client(**values)


AWS_ID = re.compile(r"[A-Za-z0-9_-]{14}[AEIMQUYcgkosw048]=")


def test_ids_are_aws_shaped_and_never_repeat() -> None:
    connection = events.new_connection_id()
    ids = {
        connection,
        *(events.new_request_id() for _ in range(1000)),
        *(events.new_message_id(connection) for _ in range(1000)),
    }
    assert len(ids) == 2001
    assert all(AWS_ID.fullmatch(value) for value in ids)


def test_ids_share_structure_as_real_ones_do() -> None:
    # reference §5.2: connection SOqGjdZioAMCEeg=, its message SOqIDdzSoAMCEeg=, that
    # message's request SOqIDEacoAMFaHQ=.
    connection = events.new_connection_id()
    message = events.new_message_id(connection)
    request = events.new_request_id()
    assert connection[11] == message[11] == "C"
    assert request[11] == "F"
    assert message[8:] == connection[8:]  # a message id ends like its connection's
    assert connection[8:11] == request[8:11]  # one host
    # The first 6 bytes grow with time: the message's are later than its connection's.
    assert ticks(connection) < ticks(message) < ticks(request)


def ticks(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value)[:6])


def test_request_time_is_clf_in_utc() -> None:
    assert events.request_time(1652722227357) == "16/May/2022:17:30:27 +0000"


def test_connect_event_has_headers_and_query() -> None:
    request = events.Request(client(), "CONNECT", "$connect", "R", 1652722217711)
    event = events.proxy_event(request)
    assert list(event) == [
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "requestContext",
        "isBase64Encoded",
    ]
    context = event["requestContext"]
    assert context["eventType"] == "CONNECT"
    assert context["requestTimeEpoch"] == context["connectedAt"] == 1652722217711
    assert context["identity"] == {"userAgent": "agent/1.0", "sourceIp": "127.0.0.1"}
    assert context["requestId"] == context["extendedRequestId"] == "R"
    assert "body" not in event


def test_now_is_epoch_milliseconds() -> None:
    before = time.time() * 1000
    now = events.now_ms()
    after = time.time() * 1000
    assert isinstance(now, int)
    assert before - 1 <= now <= after + 1


def test_no_event_is_base64_encoded() -> None:
    for event_type, route_key in [
        ("CONNECT", "$connect"),
        ("MESSAGE", "$default"),
        ("DISCONNECT", "$disconnect"),
    ]:
        request = events.Request(client(), event_type, route_key, "R", 1, body="hi")
        assert events.proxy_event(request)["isBase64Encoded"] is False


def test_connect_without_query_string_has_no_query_keys() -> None:
    request = events.Request(client(query={}, multi_value_query={}), "CONNECT", "$connect", "R", 1)
    assert "queryStringParameters" not in events.proxy_event(request)


def test_message_event_has_body_and_no_headers() -> None:
    request = events.Request(
        client(user_agent=None),
        "MESSAGE",
        "$default",
        "R",
        1652722227357,
        body="hi",
        message_id="M",
    )
    event = events.proxy_event(request)
    assert list(event) == ["requestContext", "body", "isBase64Encoded"]
    assert event["body"] == "hi"
    assert event["requestContext"]["messageId"] == "M"
    assert event["requestContext"]["identity"] == {"sourceIp": "127.0.0.1"}


def test_disconnect_event_has_aws_odd_headers_and_status() -> None:
    request = events.Request(
        client(), "DISCONNECT", "$disconnect", "R", 2, disconnect_status_code=1001
    )
    event = events.proxy_event(request)
    assert event["headers"] == {
        "Host": "u9jlm1pv1h.execute-api.localhost",
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    assert event["requestContext"]["disconnectStatusCode"] == 1001
    assert event["requestContext"]["disconnectReason"] == ""


def test_disconnect_event_carries_the_close_reason() -> None:
    request = events.Request(
        client(),
        "DISCONNECT",
        "$disconnect",
        "R",
        2,
        disconnect_status_code=4321,
        disconnect_reason="see you",
    )
    context = events.proxy_event(request)["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (4321, "see you")


def test_error_frame_is_byte_exact() -> None:
    frame = events.error_frame("Forbidden", "XDmENcnwIE0CFEQ=", "XDmGEE2RoE0FRdQ=")
    assert frame == (
        '{"message": "Forbidden", '
        '"connectionId":"XDmENcnwIE0CFEQ=", "requestId":"XDmGEE2RoE0FRdQ="}'
    )
    assert json.loads(frame)["message"] == "Forbidden"


def test_disconnect_context_keys_are_in_the_captured_order() -> None:
    """AWS's sample $disconnect event and every capture: disconnectReason after
    messageDirection, disconnectStatusCode right after routeKey."""
    request = events.Request(
        client(), "DISCONNECT", "$disconnect", "R", 2, disconnect_status_code=1005
    )
    assert list(events.proxy_event(request)["requestContext"]) == [
        "routeKey",
        "disconnectStatusCode",
        "eventType",
        "extendedRequestId",
        "requestTime",
        "messageDirection",
        "disconnectReason",
        "stage",
        "connectedAt",
        "requestTimeEpoch",
        "identity",
        "requestId",
        "domainName",
        "connectionId",
        "apiId",
    ]
