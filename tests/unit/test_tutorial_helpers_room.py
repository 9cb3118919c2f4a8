"""Room mode: who is connected, a message to everyone, and the end of the room."""

from __future__ import annotations

import io

import pytest

from tests.support import LocalAwsProcess
from tests.support.clients import connect
from tutorial_helpers import room
from tutorial_helpers.stack import ensure_stack, stack_status
from tutorial_helpers.target import Target
from tutorial_helpers.websocket_client import is_closed_by_server


@pytest.fixture
def target(local_aws: LocalAwsProcess, monkeypatch: pytest.MonkeyPatch) -> Target:
    monkeypatch.setenv("TUTORIAL_TARGET", "local")
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_aws.endpoint_url)
    monkeypatch.setenv("TUTORIAL_STACK_NAME", "room-test")
    return Target("local", "us-east-1", "room-test", local_aws.endpoint_url)


def test_a_room_shows_who_is_there_reaches_everyone_and_ends(target: Target) -> None:
    outputs = ensure_stack(target, out=io.StringIO())
    url = outputs["WebSocketURL"]
    ada, grace = connect(url, "?name=Ada"), connect(url, "?name=Grace")
    anonymous = connect(url)
    try:
        who = room.members(target, outputs)
        assert sorted(who["name"]) == ["", "Ada", "Grace"]
        assert list(who.columns) == room.MEMBER_COLUMNS
        assert who["connected (UTC)"].is_monotonic_increasing

        # A stale item (its connection gone without $disconnect) is cleaned up by `say`.
        target.client("dynamodb").put_item(
            TableName=outputs["SessionsTableName"],
            Item={
                "connectionid": {"S": "AAAAAAAAAAAAAAA="},
                "connectedAt": {"N": "1700000000000"},
                "ttl": {"N": "9999999999"},
            },
        )
        printed = io.StringIO()
        assert room.main(["say", "break is over"], out=printed) == 0
        assert "Delivered to 3; 1 gone (deleted)." in printed.getvalue()
        for ws in (ada, grace, anonymous):
            assert ws.recv() == "break is over"

        printed = io.StringIO()
        assert room.main(["who"], out=printed) == 0
        assert "3 connected at" in printed.getvalue()
        assert "Grace" in printed.getvalue()

        printed = io.StringIO()
        assert room.main(["end", "--yes"], out=printed) == 0
        assert "Closed 3 connection(s)." in printed.getvalue()
        assert stack_status(target) == "DOES_NOT_EXIST"
        for ws in (ada, grace, anonymous):
            assert is_closed_by_server(ws)
    finally:
        for ws in (ada, grace, anonymous):
            ws.close()


def test_ending_a_room_that_does_not_exist_deploys_nothing(target: Target) -> None:
    printed = io.StringIO()
    assert room.main(["end", "--yes"], out=printed) == 0
    assert "does not exist: nothing to end" in printed.getvalue()
    assert stack_status(target) == "DOES_NOT_EXIST"
