"""Step Functions StartSyncExecution behind WebSocket routes (AWS service integrations): the
Express state machine runs to its end and its result reaches the client through the
integration response; STANDARD machines are refused; an execution past the integration's
timeout is stopped while other clients keep being served.

The stack comes from templates/sync_executions.yaml.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.fidelity.support import TEMPLATES, error_frame_pattern
from tests.support import deploy
from tests.support.clients import ask, connect

FORBIDDEN = error_frame_pattern("Forbidden")
TIMED_OUT = error_frame_pattern("Endpoint request timed out")


@pytest.fixture(scope="module")
def stack(local_aws) -> dict[str, str]:
    return deploy(local_aws, "fid-sync", TEMPLATES / "sync_executions.yaml")


@pytest.fixture
def ws(stack):
    client = connect(stack["WebSocketURL"])
    yield client
    client.close()


def connection_id_of(ws) -> str:
    """The connection's id, from the error frame of a route the API does not have."""
    match = FORBIDDEN.match(ask(ws, {"action": "no-such-route"}))
    assert match, "an unknown route without $default is refused with a Forbidden frame"
    return match["connectionId"]


def test_express_machine_result_comes_back_to_the_client(ws) -> None:
    """Pass and Choice states reshape the input the request template built from
    `$context.connectionId` and the message; the response template returns the output."""
    connection_id = connection_id_of(ws)
    answer = json.loads(ask(ws, {"action": "express", "text": 'hello "there"'}))
    assert answer == {"from": connection_id, "said": 'hello "there"', "shout": True}


def test_fail_state_error_reaches_the_client_through_the_integration_response(ws) -> None:
    """A failed sync execution is still a 200: the response template reads its status."""
    answer = json.loads(ask(ws, {"action": "express", "text": "fail"}))
    assert answer == {"status": "FAILED", "error": "TextRefused", "cause": "the text was fail"}


def test_standard_machine_is_refused_with_state_machine_type_not_supported(ws) -> None:
    answer = json.loads(ask(ws, {"action": "standard"}))
    assert answer == {
        "refused": 400,
        "type": "StateMachineTypeNotSupported",
        "message": "This operation is not supported by this type of state machine",
    }


def test_task_state_fails_the_execution_naming_the_state(local_aws, ws) -> None:
    answer = json.loads(ask(ws, {"action": "task"}))
    assert answer["status"] == "FAILED"
    assert answer["error"] == "States.Runtime"
    assert "does not run Task states: state 'Call'" in answer["cause"]
    assert "arn:aws:states:::lambda:invoke" in answer["cause"]
    assert "does not run Task states" in local_aws.log()


def test_endless_machine_is_stopped_at_the_timeout_while_others_are_served(
    local_aws, stack
) -> None:
    """`endless` waits forever; its integration times out after 1.5 s. Meanwhile another
    client's `express` calls are answered at once, and once the endless executions are
    stopped the API's integration threads serve new calls again."""
    endless = [connect(stack["WebSocketURL"]) for _ in range(2)]
    other = connect(stack["WebSocketURL"])
    try:
        frames: list[str] = []
        started = time.monotonic()
        first = threading.Thread(
            target=lambda: frames.append(ask(endless[0], {"action": "endless"}))
        )
        first.start()
        time.sleep(0.3)  # the endless execution is running
        quick = time.monotonic()
        assert json.loads(ask(other, {"action": "express", "text": "a"}))["said"] == "a"
        assert time.monotonic() - quick < 1.0
        first.join(10)
        assert len(frames) == 1 and TIMED_OUT.match(frames[0])
        assert 1.4 < time.monotonic() - started < 5.0
        # Two endless calls at once hold both of the API's integration threads until they
        # are stopped; then an express call is answered.
        for client in endless:
            client.send(json.dumps({"action": "endless"}))
        for client in endless:
            assert TIMED_OUT.match(client.recv())
        resumed = time.monotonic()
        assert json.loads(ask(other, {"action": "express", "text": "b"}))["said"] == "b"
        assert time.monotonic() - resumed < 3.0
        assert "the execution was stopped after 1.5 s" in local_aws.log()
    finally:
        for client in [*endless, other]:
            client.close()
