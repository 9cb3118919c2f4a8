"""tutorial_helpers.quotas: close codes as a client reads them, fragments, an extra local_aws."""

from __future__ import annotations

import json

import pytest

from tests.support import LocalAwsProcess
from tutorial_helpers import connect, get_item, my_connection_id, receive, wait_until
from tutorial_helpers.errors import WorkshopError
from tutorial_helpers.quotas import (
    FRAME_LIMIT_BYTES,
    MESSAGE_LIMIT_BYTES,
    close_status,
    send_in_frames,
    start_local_aws_with,
)


def test_a_frame_over_32_kb_is_read_as_1009(
    local_aws: LocalAwsProcess, workshop: dict[str, str]
) -> None:
    ws = connect(workshop["WebSocketURL"])
    connection_id = my_connection_id(ws)
    ws.send("x" * (FRAME_LIMIT_BYTES + 1))
    code, reason = close_status(ws)
    assert code == 1009 and reason
    dynamodb = local_aws.client("dynamodb")
    table = workshop["SessionsTableName"]
    assert wait_until(lambda: get_item(dynamodb, table, connection_id) is None)


def test_a_message_in_frames_arrives_whole_up_to_128_kb(workshop: dict[str, str]) -> None:
    ws = connect(workshop["WebSocketURL"])
    try:
        message = json.dumps({"data": "é" * 20_000}, ensure_ascii=False)  # splits characters
        assert send_in_frames(ws, message, 1001) > 1
        assert json.loads(receive(ws))["body"] == message
        assert send_in_frames(ws, "z" * (MESSAGE_LIMIT_BYTES + 1)) == 5
        assert close_status(ws)[0] == 1009
    finally:
        ws.close()


def test_an_open_connection_is_none_after_the_timeout(workshop: dict[str, str]) -> None:
    ws = connect(workshop["WebSocketURL"])
    try:
        assert close_status(ws, timeout=0.2) == (None, "")
    finally:
        ws.close()


def test_an_extra_local_aws_runs_with_its_options_and_stops() -> None:
    extra = start_local_aws_with("--idle-timeout", "2")
    try:
        assert extra.target.endpoint_url.startswith("http://127.0.0.1:")
        assert extra.target.client("sts").get_caller_identity()["Account"]
    finally:
        assert "exit code 0" in extra.stop()
    assert not extra.log_path.exists()


def test_an_extra_local_aws_that_cannot_start_says_why() -> None:
    with pytest.raises(WorkshopError, match="did not start") as error:
        start_local_aws_with("--no-such-option")
    assert "--no-such-option" in str(error.value)
