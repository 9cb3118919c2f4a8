"""Reference §7.10 and §4: the @connections API's answers, and who may call it.

On the Lambda stack: the exact answers. On the workshop's stack: POST delivery, GET, DELETE
and client closes removing the item, and the SigV4 refusals. Bad and unknown ids are in
test_bad_inputs.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import boto3
import pytest
import urllib3
import websocket

from tests.fidelity.support import recorded_event
from tests.support import wait_for
from tests.support.clients import (
    ask,
    connect,
    get_item,
    http_endpoint,
    management,
    server_close,
    whoami,
)

USER_AGENT = "fidelity-connections/2.0"


@pytest.fixture
def client_and_id(lambda_api):
    ws = connect(lambda_api["WebSocketURL"], headers=[f"User-Agent: {USER_AGENT}"])
    event = json.loads(ask(ws, {"action": "whoami"}))
    yield ws, event
    ws.close()


@pytest.fixture
def lambda_management(local_aws, lambda_api):
    return management(local_aws, lambda_api["WebSocketURL"])


def test_post_answers_200_with_an_empty_body(lambda_management, client_and_id) -> None:
    ws, event = client_and_id
    connection_id = event["requestContext"]["connectionId"]
    response = lambda_management.post_to_connection(ConnectionId=connection_id, Data="é ünïcode ✓")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-length"] == "0"
    assert ws.recv() == "é ünïcode ✓"


def test_get_connection_reports_the_handshake(lambda_management, client_and_id) -> None:
    ws, event = client_and_id
    context = event["requestContext"]
    info = lambda_management.get_connection(ConnectionId=context["connectionId"])
    connected_at = datetime.fromtimestamp(context["connectedAt"] / 1000, UTC)
    assert abs((info["ConnectedAt"] - connected_at).total_seconds()) < 0.002
    assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": USER_AGENT}
    assert info["LastActiveAt"] >= info["ConnectedAt"]
    time.sleep(0.05)
    ask(ws, {"action": "whoami"})
    later = lambda_management.get_connection(ConnectionId=context["connectionId"])
    assert later["LastActiveAt"] > info["LastActiveAt"]


def test_delete_answers_204_closes_the_socket_and_runs_disconnect(
    local_aws, lambda_api, lambda_management, client_and_id
) -> None:
    ws, event = client_and_id
    connection_id = event["requestContext"]["connectionId"]
    response = lambda_management.delete_connection(ConnectionId=connection_id)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    code, reason = server_close(ws)
    assert (code, reason) == (1000, ""), "DELETE closes with 1000 and no reason (§7.10 10d)"
    table = lambda_api["EventsTableName"]
    disconnect = recorded_event(local_aws, table, connection_id, "DISCONNECT")
    assert disconnect is not None, "$disconnect did not run"
    assert disconnect["requestContext"]["disconnectStatusCode"] == code
    with pytest.raises(lambda_management.exceptions.GoneException):
        lambda_management.delete_connection(ConnectionId=connection_id)


def test_gone_is_410_with_the_error_type_header_and_an_empty_body(local_aws, lambda_api) -> None:
    """reference §4.3: AWS's 410 has an empty body; boto3 needs x-amzn-ErrorType."""
    client = management(local_aws, lambda_api["WebSocketURL"])
    captured = {}

    def keep(http_response, **_) -> None:
        captured["status"] = http_response.status_code
        captured["headers"] = dict(http_response.headers)
        captured["body"] = http_response.content

    client.meta.events.register("after-call.apigatewaymanagementapi", keep)
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x")
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
        # Nothing was queued for later either: the next frame answers the next message.
        again = json.loads(ask(ws, {"action": "whoami"}))
        assert again["requestContext"]["connectionId"] == connection_id
    finally:
        ws.close()


# ---------------------------------------------------------------- on the workshop's stack


def test_post_get_and_gone_on_the_workshop_stack(local_aws, workshop) -> None:
    ws = connect(workshop["WebSocketURL"])
    try:
        connection_id = whoami(ws)
        client = management(local_aws, workshop["WebSocketURL"])
        client.post_to_connection(ConnectionId=connection_id, Data=b"pushed from the backend")
        assert ws.recv() == "pushed from the backend"
        info = client.get_connection(ConnectionId=connection_id)
        assert info["Identity"]["SourceIp"] == "127.0.0.1"
        assert info["ConnectedAt"] <= info["LastActiveAt"]
        with pytest.raises(client.exceptions.GoneException):
            client.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x")
    finally:
        ws.close()


def test_delete_connection_closes_the_socket_and_removes_the_item(local_aws, workshop) -> None:
    table = workshop["SessionsTableName"]
    ws = connect(workshop["WebSocketURL"])
    connection_id = whoami(ws)
    wait_for(lambda: get_item(local_aws, table, connection_id), message="no item was stored")
    client = management(local_aws, workshop["WebSocketURL"])
    client.delete_connection(ConnectionId=connection_id)
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        ws.recv()
        ws.recv()
    wait_for(lambda: get_item(local_aws, table, connection_id) is None, message="item kept")
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId=connection_id)


@pytest.mark.parametrize("how", ["close", "drop"])
def test_client_close_and_abrupt_drop_remove_the_item(local_aws, workshop, how) -> None:
    table = workshop["SessionsTableName"]
    ws = connect(workshop["WebSocketURL"])
    connection_id = whoami(ws)
    wait_for(lambda: get_item(local_aws, table, connection_id), message="no item was stored")
    if how == "close":
        ws.close()
    else:  # no close frame: the TCP connection just goes away
        ws.sock.shutdown(socket.SHUT_RDWR)
        ws.sock.close()
    wait_for(lambda: get_item(local_aws, table, connection_id) is None, message="item kept")


# ---------------------------------------------------------------- who may call @connections


def test_unsigned_request_is_refused(workshop) -> None:
    request = urllib.request.Request(
        http_endpoint(workshop["WebSocketURL"]) + "/@connections/AAAAAAAAAAAAAAA%3D",
        data=b"x",
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    assert json.loads(refused.value.read()) == {"message": "Missing Authentication Token"}


def signed_client(workshop, region: str, access_key: str, secret: str):
    """An @connections client for the workshop's stage, signing with these keys."""
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=http_endpoint(workshop["WebSocketURL"]),
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
    )


@pytest.mark.parametrize(
    ("access_key", "secret", "error_code"),
    [
        ("testing", "wrong-secret", "InvalidSignatureException"),
        ("AKIDUNKNOWN", "testing", "UnrecognizedClientException"),
    ],
)
def test_wrong_keys_are_refused(workshop, access_key, secret, error_code) -> None:
    client = signed_client(workshop, "us-east-1", access_key, secret)
    ws = connect(workshop["WebSocketURL"])
    try:
        connection_id = whoami(ws)
        with pytest.raises(client.exceptions.ClientError) as refused:
            client.post_to_connection(ConnectionId=connection_id, Data=b"not delivered")
        assert refused.value.response["Error"]["Code"] == error_code
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    finally:
        ws.close()


def test_a_request_signed_for_another_region_is_refused(workshop) -> None:
    client = signed_client(workshop, "eu-west-1", "testing", "testing")
    ws = connect(workshop["WebSocketURL"])
    try:
        connection_id = whoami(ws)
        with pytest.raises(client.exceptions.ClientError) as refused:
            client.post_to_connection(ConnectionId=connection_id, Data=b"not delivered")
        assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert "valid region, not 'eu-west-1'" in refused.value.response["Error"]["Message"]
    finally:
        ws.close()


def test_keys_created_in_iam_are_accepted(local_aws, workshop) -> None:
    iam = local_aws.client("iam")
    iam.create_user(UserName="backend")
    key = iam.create_access_key(UserName="backend")["AccessKey"]
    client = signed_client(workshop, "us-east-1", key["AccessKeyId"], key["SecretAccessKey"])
    ws = connect(workshop["WebSocketURL"])
    try:
        connection_id = whoami(ws)
        client.post_to_connection(ConnectionId=connection_id, Data="signed with an IAM key")
        assert ws.recv() == "signed with an IAM key"
    finally:
        ws.close()
