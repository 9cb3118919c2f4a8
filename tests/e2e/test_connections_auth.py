"""`@connections` refuses what AWS refuses: unsigned calls, unknown keys, wrong signatures."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import pytest
import websocket

from tests.conftest import LocalAwsProcess


def endpoint(stack: dict[str, str]) -> str:
    return stack["WebSocketURL"].replace("ws://", "http://", 1)


def connect(stack: dict[str, str]) -> tuple[websocket.WebSocket, str]:
    """A connection to the stack's API, and its id (from the echo)."""
    ws = websocket.create_connection(stack["WebSocketURL"], timeout=5)
    ws.send('{"action": "whoami"}')
    return ws, json.loads(ws.recv())["requestContext"]["connectionId"]


def test_unsigned_request_is_refused(stack) -> None:
    request = urllib.request.Request(
        endpoint(stack) + "/@connections/AAAAAAAAAAAAAAA%3D", data=b"x", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403
    assert json.loads(refused.value.read()) == {"message": "Missing Authentication Token"}


@pytest.mark.parametrize(
    ("access_key", "secret", "error_code"),
    [
        ("testing", "wrong-secret", "InvalidSignatureException"),
        ("AKIDUNKNOWN", "testing", "UnrecognizedClientException"),
    ],
)
def test_wrong_keys_are_refused(stack, access_key, secret, error_code) -> None:
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint(stack),
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
    )
    ws, connection_id = connect(stack)
    try:
        with pytest.raises(client.exceptions.ClientError) as refused:
            client.post_to_connection(ConnectionId=connection_id, Data=b"not delivered")
        assert refused.value.response["Error"]["Code"] == error_code
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    finally:
        ws.close()


def test_a_request_signed_for_another_region_is_refused(stack) -> None:
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint(stack),
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ws, connection_id = connect(stack)
    try:
        with pytest.raises(client.exceptions.ClientError) as refused:
            client.post_to_connection(ConnectionId=connection_id, Data=b"not delivered")
        assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert "valid region, not 'eu-west-1'" in refused.value.response["Error"]["Message"]
    finally:
        ws.close()


def test_keys_created_in_iam_are_accepted(local_aws: LocalAwsProcess, stack) -> None:
    iam = local_aws.client("iam")
    iam.create_user(UserName="backend")
    key = iam.create_access_key(UserName="backend")["AccessKey"]
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint(stack),
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    ws = websocket.create_connection(stack["WebSocketURL"], timeout=5)
    try:
        ws.send('{"action": "whoami"}')
        connection_id = json.loads(ws.recv())["requestContext"]["connectionId"]
        client.post_to_connection(ConnectionId=connection_id, Data="signed with an IAM key")
        assert ws.recv() == "signed with an IAM key"
    finally:
        ws.close()
