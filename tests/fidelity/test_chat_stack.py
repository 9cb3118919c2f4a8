"""Notebook 07's chat room (cfn/chat.yaml) on local_aws, used as its clients use it.

What a learner relies on: the token authorizer's 401/403, broadcasts that reach the room and
only the room, members removed by `leave`, `$disconnect` and by a broadcast that meets a gone
connection, and messages the chat function refuses with an explanation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import websocket

from tests.conftest import CHAT_TOKEN
from tests.support import LocalAwsProcess, wait_for
from tests.support.clients import connect, handshake_status, nothing_received, send_json

STALE_ID = "AAAAAAAAAAAAAAA="


def receive(ws: websocket.WebSocket) -> dict:
    return json.loads(ws.recv())


def members(server: LocalAwsProcess, table: str) -> dict[str, str]:
    """{connection id: "room/name"} of every member item."""
    items = server.client("dynamodb").scan(TableName=table)["Items"]
    return {i["connectionid"]["S"]: f"{i['room']['S']}/{i['name']['S']}" for i in items}


@pytest.fixture
def room(chat_room: dict[str, str]) -> Iterator[dict[str, websocket.WebSocket]]:
    """amy and ben in `hall`, cid in `attic`, each having heard its own join."""
    where = {"amy": "hall", "ben": "hall", "cid": "attic"}
    clients = {name: connect(chat_room["WebSocketURL"], f"?token={CHAT_TOKEN}") for name in where}
    try:
        for name, ws in clients.items():
            send_json(ws, {"action": "join", "room": where[name], "name": name})
            assert receive(ws) == {"type": "joined", "room": where[name], "name": name}
        assert receive(clients["amy"]) == {"type": "joined", "room": "hall", "name": "ben"}
        yield clients
    finally:
        for ws in clients.values():
            ws.close()


def test_the_authorizer_wants_the_token(chat_room: dict[str, str]) -> None:
    url = chat_room["WebSocketURL"]
    assert handshake_status(url) == 401
    assert handshake_status(url, "?token=") == 401  # empty is missing
    assert handshake_status(url, "?token=" + CHAT_TOKEN[:-1]) == 403
    assert handshake_status(url, "?token=" + CHAT_TOKEN + "x") == 403
    assert handshake_status(url, "?token=" + CHAT_TOKEN) == 101


def test_a_message_reaches_its_room_only(room: dict[str, websocket.WebSocket]) -> None:
    send_json(room["ben"], {"action": "sendmessage", "text": "hi hall"})
    expected = {"type": "message", "room": "hall", "name": "ben", "text": "hi hall"}
    assert receive(room["amy"]) == expected
    assert receive(room["ben"]) == expected
    assert nothing_received(room["cid"], 0.5)


def test_a_broadcast_removes_a_gone_member_and_delivers_to_the_others(
    room: dict[str, websocket.WebSocket], chat_room: dict[str, str], local_aws: LocalAwsProcess
) -> None:
    table = chat_room["MembersTableName"]
    local_aws.client("dynamodb").put_item(
        TableName=table,
        Item={"connectionid": {"S": STALE_ID}, "room": {"S": "hall"}, "name": {"S": "dave"}},
    )
    send_json(room["amy"], {"action": "sendmessage", "text": "who is here?"})
    assert receive(room["ben"])["text"] == "who is here?"
    assert receive(room["amy"])["text"] == "who is here?"
    wait_for(lambda: STALE_ID not in members(local_aws, table), message="dave still a member")


def test_leave_tells_the_room_and_disconnect_removes_the_member(
    room: dict[str, websocket.WebSocket], chat_room: dict[str, str], local_aws: LocalAwsProcess
) -> None:
    table = chat_room["MembersTableName"]
    send_json(room["ben"], {"action": "leave"})
    left = {"type": "left", "room": "hall", "name": "ben"}
    assert receive(room["amy"]) == left
    assert receive(room["ben"]) == left
    wait_for(lambda: "hall/ben" not in members(local_aws, table).values(), message="ben stayed")
    room["cid"].close()
    wait_for(lambda: "attic/cid" not in members(local_aws, table).values(), message="cid stayed")


def test_a_member_who_joins_another_room_leaves_the_first(
    room: dict[str, websocket.WebSocket],
) -> None:
    send_json(room["ben"], {"action": "join", "room": "attic", "name": "ben"})
    assert receive(room["amy"]) == {"type": "left", "room": "hall", "name": "ben"}
    assert receive(room["cid"]) == {"type": "joined", "room": "attic", "name": "ben"}


@pytest.mark.parametrize(
    ("message", "reply"),
    [
        ({"action": "sendmessage", "text": "hello?"}, "join a room first"),
        ({"action": "leave"}, "join a room first"),
        ({"action": "join", "name": "zed"}, 'say which room: {"room": "..."}'),
        ({"action": "join", "room": "   "}, 'say which room: {"room": "..."}'),
    ],
    ids=["send-before-join", "leave-before-join", "join-without-room", "join-blank-room"],
)
def test_what_the_chat_function_refuses_it_explains_to_the_sender(
    chat_room: dict[str, str], message: dict, reply: str
) -> None:
    ws = connect(chat_room["WebSocketURL"], f"?token={CHAT_TOKEN}")
    try:
        send_json(ws, message)
        assert receive(ws) == {"type": "error", "text": reply}
    finally:
        ws.close()


def test_an_unknown_action_or_text_that_is_not_json_gets_forbidden(
    chat_room: dict[str, str],
) -> None:
    """No $default route: API Gateway answers itself and the connection stays open."""
    ws = connect(chat_room["WebSocketURL"], f"?token={CHAT_TOKEN}")
    try:
        for text in ('{"action": "dance"}', "not json"):
            ws.send(text)
            assert json.loads(ws.recv())["message"] == "Forbidden"
        send_json(ws, {"action": "leave"})
        assert receive(ws)["type"] == "error"  # still open, still routed
    finally:
        ws.close()
