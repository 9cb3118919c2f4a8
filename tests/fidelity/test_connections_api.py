"""Reference §7.10 and §4: the @connections API's answers, beyond what tests/e2e checks.

(tests/e2e covers POST delivery, GET's source IP, DELETE closing the socket, 410 for a
never-seen id, and the SigV4 refusals; bad and unknown ids are in test_bad_inputs.)
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import urllib3

from tests.fidelity.support import (
    ask,
    connect,
    http_endpoint,
    nothing_received,
    recorded_event,
    server_close,
    wait_for,
)

USER_AGENT = "fidelity-connections/2.0"


@pytest.fixture
def client_and_id(lambda_api):
    ws = connect(lambda_api["WebSocketURL"], headers=[f"User-Agent: {USER_AGENT}"])
    event = json.loads(ask(ws, {"action": "whoami"}))
    yield ws, event
    ws.close()


@pytest.fixture
def management(local_aws, lambda_api):
    return local_aws.client(
        "apigatewaymanagementapi", endpoint_url=http_endpoint(lambda_api["WebSocketURL"])
    )


def test_post_answers_200_with_an_empty_body(management, client_and_id) -> None:
    ws, event = client_and_id
    connection_id = event["requestContext"]["connectionId"]
    response = management.post_to_connection(ConnectionId=connection_id, Data="é ünïcode ✓")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["ResponseMetadata"]["HTTPHeaders"].get("content-length", "0") == "0"
    assert ws.recv() == "é ünïcode ✓"


def test_get_connection_reports_the_handshake(management, client_and_id) -> None:
    ws, event = client_and_id
    context = event["requestContext"]
    info = management.get_connection(ConnectionId=context["connectionId"])
    connected_at = datetime.fromtimestamp(context["connectedAt"] / 1000, UTC)
    assert abs((info["ConnectedAt"] - connected_at).total_seconds()) < 0.002
    assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": USER_AGENT}
    assert info["LastActiveAt"] >= info["ConnectedAt"]
    time.sleep(0.05)
    ask(ws, {"action": "whoami"})
    later = management.get_connection(ConnectionId=context["connectionId"])
    assert later["LastActiveAt"] > info["LastActiveAt"]


def test_delete_answers_204_closes_the_socket_and_runs_disconnect(
    local_aws, lambda_api, management, client_and_id
) -> None:
    ws, event = client_and_id
    connection_id = event["requestContext"]["connectionId"]
    response = management.delete_connection(ConnectionId=connection_id)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    code, reason = server_close(ws)
    assert (code, reason) == (1000, ""), "DELETE closes with 1000 and no reason (§7.10 10d)"
    table = lambda_api["EventsTableName"]
    disconnect = recorded_event(local_aws, table, connection_id, "DISCONNECT")
    assert disconnect is not None, "$disconnect did not run"
    assert disconnect["requestContext"]["disconnectStatusCode"] == code
    with pytest.raises(management.exceptions.GoneException):
        management.delete_connection(ConnectionId=connection_id)


def test_gone_is_410_with_the_error_type_header_and_an_empty_body(local_aws, lambda_api) -> None:
    """reference §4.3: AWS's 410 has an empty body; boto3 needs x-amzn-ErrorType."""
    management = local_aws.client(
        "apigatewaymanagementapi", endpoint_url=http_endpoint(lambda_api["WebSocketURL"])
    )
    captured = {}

    def keep(http_response, **_) -> None:
        captured["status"] = http_response.status_code
        captured["headers"] = dict(http_response.headers)
        captured["body"] = http_response.content

    management.meta.events.register("after-call.apigatewaymanagementapi", keep)
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x")
    assert captured["status"] == 410
    headers = urllib3.HTTPHeaderDict(captured["headers"])
    assert headers["x-amzn-ErrorType"].split(":")[0] == "GoneException"
    assert captured["body"] in (b"", b"{}")


def test_connection_still_in_connect_is_gone(local_aws, lambda_api) -> None:
    """reference §3.5: a $connect function cannot post to its own, not yet open, connection."""
    ws = connect(lambda_api["WebSocketURL"], "?post-to-myself=1")
    try:
        connection_id = json.loads(ask(ws, {"action": "whoami"}))["requestContext"]["connectionId"]
        dynamodb = local_aws.client("dynamodb")
        key = {"connectionid": {"S": connection_id}, "eventType": {"S": "CONNECT"}}
        item = wait_for(
            lambda: dynamodb.get_item(TableName=lambda_api["EventsTableName"], Key=key).get("Item")
        )
        assert item["postToMyself"] == {"S": "GoneException"}
        assert nothing_received(ws, 0.5)  # nothing was queued for later either
    finally:
        ws.close()
