"""Reference §7.1–7.3: the handshake's outcomes, the ids and the timestamps AWS hands out."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
import websocket

from tests.fidelity.support import AWS_ID, CLF_TIME, recorded_event, recorded_event_now
from tests.support import wait_for
from tests.support.clients import ask, connect, handshake_status

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def connect_events(local_aws, lambda_api, tag: str) -> list[dict]:
    """CONNECT events the Recorder stored for handshakes whose query had tag=<tag>."""
    items = local_aws.client("dynamodb").scan(TableName=lambda_api["EventsTableName"])["Items"]
    events = [json.loads(item["event"]["S"]) for item in items]
    return [
        event
        for event in events
        if event["requestContext"]["eventType"] == "CONNECT"
        and (event.get("queryStringParameters") or {}).get("tag") == tag
    ]


# ---------------------------------------------------------------- 7.1 handshake outcomes


def test_without_a_connect_route_every_handshake_is_accepted(plain_selection) -> None:
    ws = connect(plain_selection["WebSocketURL"])
    try:
        assert ws.getstatus() == 101
        assert json.loads(ask(ws, {"action": "join"}))["routeKey"] == "join"
    finally:
        ws.close()


@pytest.mark.parametrize("status", [200, 204])
def test_connect_function_returning_2xx_accepts_the_connection(lambda_api, status) -> None:
    ws = connect(lambda_api["WebSocketURL"], f"?status={status}")
    try:
        assert ws.getstatus() == 101
    finally:
        ws.close()


def test_connect_function_headers_are_returned_in_the_handshake(lambda_api) -> None:
    ws = connect(lambda_api["WebSocketURL"], "?protocol=chat", subprotocols=["chat"])
    try:
        assert ws.getstatus() == 101
        headers = ws.getheaders()
        assert headers["sec-websocket-protocol"] == "chat"
        assert headers["x-fidelity"] == "from-the-connect-function"
        assert ws.getsubprotocol() == "chat"
    finally:
        ws.close()


@pytest.mark.parametrize("status", [301, 400, 401, 403, 429, 500, 501])
def test_connect_function_status_becomes_the_handshake_status(local_aws, lambda_api, status):
    tag = uuid.uuid4().hex
    assert handshake_status(lambda_api["WebSocketURL"], f"?status={status}&tag={tag}") == status
    # The function ran, but no connection was made: no $disconnect follows.
    [event] = wait_for(lambda: connect_events(local_aws, lambda_api, tag))
    connection_id = event["requestContext"]["connectionId"]
    table = lambda_api["EventsTableName"]
    # A later connection's $disconnect has run: a $disconnect of the refused one would have
    # been recorded before it.
    later = connect(lambda_api["WebSocketURL"])
    later_id = json.loads(ask(later, {"action": "whoami"}))["requestContext"]["connectionId"]
    later.close()
    recorded_event(local_aws, table, later_id, "DISCONNECT")
    assert recorded_event_now(local_aws, table, connection_id, "DISCONNECT") is None


@pytest.mark.parametrize(
    "query",
    ["?raise=1", "?reply=text", "?reply=none"],
    ids=["function-raises", "returns-a-string", "returns-none"],
)
def test_connect_function_failure_or_bad_response_gives_502(lambda_api, query) -> None:
    assert handshake_status(lambda_api["WebSocketURL"], query) == 502


@pytest.mark.parametrize(
    "suffix", ["-nope", "/extra/path"], ids=["unknown-stage", "path-beyond-stage"]
)
def test_only_the_stage_path_is_served(lambda_api, suffix) -> None:
    assert handshake_status(lambda_api["WebSocketURL"] + suffix) == 403


def test_unknown_stage_of_the_workshop_stack_is_refused(workshop) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(workshop["WebSocketURL"] + "-nope")
    assert refused.value.status_code == 403


def test_unknown_api_is_refused_with_403(local_aws) -> None:
    url = f"ws://127.0.0.1:{local_aws.port}/nosuchapi/api"
    assert handshake_status(url) == 403


def test_nothing_is_sent_to_the_client_on_connect(lambda_api) -> None:
    """Nothing reaches the client on $connect, even though the function returns a body."""
    ws = connect(lambda_api["WebSocketURL"])
    try:
        # Anything sent on $connect would arrive before the answer to a first message.
        event = json.loads(ask(ws, {"action": "whoami"}))
        assert event["requestContext"]["eventType"] == "MESSAGE"
    finally:
        ws.close()


# ---------------------------------------------------------------- 7.2 ids


def test_ids_are_16_character_url_safe_base64(local_aws, lambda_api) -> None:
    ws = connect(lambda_api["WebSocketURL"])
    try:
        messages = [json.loads(ask(ws, {"action": "whoami"})) for _ in range(20)]
    finally:
        ws.close()
    contexts = [message["requestContext"] for message in messages]
    connection_id = contexts[0]["connectionId"]
    connect_event = recorded_event(
        local_aws, lambda_api["EventsTableName"], connection_id, "CONNECT"
    )
    everything = [connect_event["requestContext"], *contexts]
    for context in everything:
        for name in ("connectionId", "requestId", "extendedRequestId"):
            assert AWS_ID.match(context[name]), (name, context[name])
        assert context["requestId"] == context["extendedRequestId"]
        assert context["requestId"] != context["connectionId"]
    for context in contexts:
        assert AWS_ID.match(context["messageId"]), context["messageId"]
    assert {context["connectionId"] for context in everything} == {connection_id}
    request_ids = [context["requestId"] for context in everything]
    message_ids = [context["messageId"] for context in contexts]
    assert len(set(request_ids)) == len(request_ids)
    assert len(set(message_ids)) == len(message_ids)


def test_connection_ids_differ_between_connections(lambda_api) -> None:
    ids = set()
    for _ in range(10):
        ws = connect(lambda_api["WebSocketURL"])
        try:
            ids.add(json.loads(ask(ws, {"action": "whoami"}))["requestContext"]["connectionId"])
        finally:
            ws.close()
    assert len(ids) == 10


# ---------------------------------------------------------------- 7.3 timestamps


def assert_clf_matches_epoch(request_time: str, epoch_ms: int) -> None:
    match = CLF_TIME.match(request_time)
    assert match, request_time
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    assert int(match["day"]) == moment.day
    assert MONTHS.index(match["month"]) + 1 == moment.month
    assert int(match["year"]) == moment.year
    assert (int(match["hour"]), int(match["minute"]), int(match["second"])) == (
        moment.hour,
        moment.minute,
        moment.second,
    )


def test_connect_times_are_integer_milliseconds_and_request_time_equals_connected_at(
    local_aws, lambda_api
) -> None:
    before_ms = int(datetime.now(UTC).timestamp() * 1000)
    ws = connect(lambda_api["WebSocketURL"])
    try:
        message = json.loads(ask(ws, {"action": "whoami"}))["requestContext"]
    finally:
        ws.close()
    after_ms = int(datetime.now(UTC).timestamp() * 1000)
    table = lambda_api["EventsTableName"]
    context = recorded_event(local_aws, table, message["connectionId"], "CONNECT")["requestContext"]
    assert type(context["connectedAt"]) is int
    assert type(context["requestTimeEpoch"]) is int
    # Exact: local_aws takes both from one clock reading. (AWS captures show requestTimeEpoch
    # can be 1 ms after connectedAt; local_aws never produces that.)
    assert context["requestTimeEpoch"] == context["connectedAt"]
    assert before_ms - 1000 <= context["connectedAt"] <= after_ms + 1000
    assert_clf_matches_epoch(context["requestTime"], context["requestTimeEpoch"])
    # Messages carry the same connectedAt and their own, later, request time.
    assert message["connectedAt"] == context["connectedAt"]
    assert type(message["requestTimeEpoch"]) is int
    assert message["requestTimeEpoch"] >= message["connectedAt"]
    assert_clf_matches_epoch(message["requestTime"], message["requestTimeEpoch"])
