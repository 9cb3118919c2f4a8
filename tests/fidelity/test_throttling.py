"""Route throttling: a stage's ThrottlingBurstLimit/ThrottlingRateLimit, as a client meets it.

A throttled message gets an error frame and the socket stays open; a throttled `$connect` is a
429 handshake; `@connections` over its limit is 429 LimitExceededException. Each is counted as
a `ClientError` (a 4XX from API Gateway before the integration).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.fidelity.support import TEMPLATES, error_frame_pattern, metric_sum
from tests.support import LocalAwsProcess, deploy, wait_for
from tests.support.clients import connect, handshake_status, http_endpoint, send_json

TEMPLATE = TEMPLATES / "throttled_api.yaml"
THROTTLED = error_frame_pattern("Too Many Requests")


@pytest.fixture(scope="module")
def throttled(local_aws) -> dict[str, str]:
    """`SendLimited` at burst 1, rate 1 (a RouteSettings key keeps its case); `$default` and
    `$connect` at the account's limits."""
    return deploy(local_aws, "fid-throttled", TEMPLATE)


def answers(ws, count: int) -> list[str]:
    return [ws.recv() for _ in range(count)]


def client_errors(local_aws, outputs) -> float:
    return metric_sum(local_aws, outputs, "ClientError")


def test_a_burst_on_a_throttled_route_is_refused_and_later_messages_pass(throttled) -> None:
    ws = connect(throttled["WebSocketURL"])
    try:
        for _ in range(5):
            send_json(ws, {"action": "SendLimited"})
        frames = answers(ws, 5)
        passed = [json.loads(frame) for frame in frames if not THROTTLED.match(frame)]
        refused = [THROTTLED.match(frame) for frame in frames if THROTTLED.match(frame)]
        # burst 1: the first passes; within the same second at most one more token comes back
        assert passed[0]["route"] == "SendLimited"
        assert 1 <= len(passed) <= 2 and len(refused) == 5 - len(passed), frames
        connection_id = passed[0]["connectionId"]
        assert {match["connectionId"] for match in refused} == {connection_id}
        assert len({match["requestId"] for match in refused}) == len(refused)
        # the socket stays open, and a route with the account's limits is not throttled
        for _ in range(5):
            send_json(ws, {"action": "other"})
        assert [json.loads(frame)["route"] for frame in answers(ws, 5)] == ["$default"] * 5
        time.sleep(1.2)  # rate 1: a token is back
        send_json(ws, {"action": "SendLimited"})
        answer = json.loads(ws.recv())
        assert (answer["route"], answer["connectionId"]) == ("SendLimited", connection_id)
    finally:
        ws.close()


def test_throttled_messages_are_client_errors(local_aws) -> None:
    outputs = deploy(local_aws, "fid-throttled-metrics", TEMPLATE, LimitedRate="0.001")
    ws = connect(outputs["WebSocketURL"])
    try:
        for _ in range(4):
            send_json(ws, {"action": "SendLimited"})
        frames = answers(ws, 4)
    finally:
        ws.close()
    assert sum(bool(THROTTLED.match(frame)) for frame in frames) == 3, frames
    wait_for(
        lambda: client_errors(local_aws, outputs) == 3,
        timeout=15,
        message="3 ClientError for 3 throttled messages",
    )


def test_a_throttled_connect_is_refused_with_429(local_aws) -> None:
    outputs = deploy(
        local_aws, "fid-throttled-connect", TEMPLATE, ConnectBurst="1", ConnectRate="0.001"
    )
    url = outputs["WebSocketURL"]
    assert handshake_status(url) == 101
    assert handshake_status(url) == 429
    assert handshake_status(url) == 429
    wait_for(lambda: client_errors(local_aws, outputs) == 2, timeout=15)


@pytest.fixture(scope="module")
def slow_connections() -> Iterator[LocalAwsProcess]:
    """A local_aws whose @connections allows 2 calls at once and one more every 100 s."""
    with LocalAwsProcess(
        "--connections-burst-limit", "2", "--connections-rate-limit", "0.01"
    ) as server:
        yield server


def test_connections_calls_over_the_limit_are_429_limit_exceeded(slow_connections) -> None:
    outputs = deploy(slow_connections, "fid-throttled-callbacks", TEMPLATE)
    ws = connect(outputs["WebSocketURL"])
    try:
        send_json(ws, {"action": "whoami"})
        connection_id = json.loads(ws.recv())["connectionId"]
        # botocore retries a 429: one attempt only, to see it
        management = slow_connections.client(
            "apigatewaymanagementapi",
            endpoint_url=http_endpoint(outputs["WebSocketURL"]),
            config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )
        management.post_to_connection(ConnectionId=connection_id, Data=b"one")
        assert ws.recv() == "one"
        management.get_connection(ConnectionId=connection_id)
        with pytest.raises(ClientError) as refused:
            management.delete_connection(ConnectionId=connection_id)
        error = refused.value.response
        assert error["Error"]["Code"] == "LimitExceededException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
        # the connection was not deleted: it still answers
        send_json(ws, {"action": "still-here"})
        assert json.loads(ws.recv())["connectionId"] == connection_id
    finally:
        ws.close()


def test_a_flood_on_a_throttled_route_gets_every_answer_and_costs_no_one_else(throttled) -> None:
    flooder = connect(throttled["WebSocketURL"], timeout=30)
    try:
        for _ in range(2_000):
            send_json(flooder, {"action": "SendLimited"})
        # meanwhile another client connects and its unthrottled route answers at once
        other = connect(throttled["WebSocketURL"], timeout=5)
        try:
            send_json(other, {"action": "other"})
            assert json.loads(other.recv())["route"] == "$default"
        finally:
            other.close()
        frames = answers(flooder, 2_000)
        assert sum(bool(THROTTLED.match(frame)) for frame in frames) >= 1_990
        send_json(flooder, {"action": "other"})  # still open
        assert json.loads(flooder.recv())["route"] == "$default"
    finally:
        flooder.close()
