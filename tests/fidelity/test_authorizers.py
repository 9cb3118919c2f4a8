"""Lambda REQUEST authorizers on `$connect` (AWS docs `apigateway-websocket-api-lambda-auth`).

The room API of templates/authorizer_api.yaml asks its authorizer about the query-string
parameter `token`; the token's prefix says what the authorizer answers.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.fidelity.support import TEMPLATES
from tests.support import LocalAwsProcess, deploy, wait_for
from tests.support.clients import ask, connect, get_item, handshake_status, whoami


@pytest.fixture(scope="module")
def room(local_aws: LocalAwsProcess) -> dict[str, str]:
    return deploy(
        local_aws, "fid-authorizer", TEMPLATES / "authorizer_api.yaml", CacheSeconds="300"
    )


def token(kind: str) -> str:
    """A token no other test uses, so that its calls are counted apart."""
    return f"{kind}-{uuid.uuid4().hex[:12]}"


def calls(server: LocalAwsProcess, room: dict[str, str], value: str) -> int:
    """How many times the authorizer ran for this token."""
    item = (
        server.client("dynamodb")
        .get_item(TableName=room["CallsTableName"], Key={"token": {"S": value}})
        .get("Item")
    )
    return int(item["calls"]["N"]) if item else 0


def authorizer_event(server: LocalAwsProcess, room: dict[str, str], value: str) -> dict:
    """The last event the authorizer received for this token."""
    item = (
        server.client("dynamodb")
        .get_item(TableName=room["CallsTableName"], Key={"token": {"S": value}})
        .get("Item")
    )
    return json.loads(item["lastEvent"]["S"])


def logged(server: LocalAwsProcess, *parts: str) -> bool:
    """Whether one line of local_aws's log has all these parts (waits a little for it)."""
    return bool(
        wait_for(
            lambda: any(all(p in line for p in parts) for line in server.log().splitlines()),
            timeout=5,
            message=f"no log line with {parts}",
        )
    )


# ----------------------------------------------------------------- identity source


@pytest.mark.parametrize("query", ["", "?token=", "?other=member-1"])
def test_a_missing_or_empty_identity_source_is_401_and_the_authorizer_is_not_called(
    local_aws, room, query
) -> None:
    table = room["CallsTableName"]
    before = local_aws.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"]
    assert handshake_status(room["WebSocketURL"], query) == 401
    after = local_aws.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"]
    assert after == before


# ----------------------------------------------------------------- the policy


def test_a_denying_policy_is_403(local_aws, room) -> None:
    value = token("banned")
    assert handshake_status(room["WebSocketURL"], f"?token={value}") == 403
    assert calls(local_aws, room, value) == 1


def test_an_allowing_policy_connects_and_every_event_carries_the_authorizer(
    local_aws, room
) -> None:
    value = token("member")
    ws = connect(room["WebSocketURL"], f"?token={value}")
    try:
        assert ws.getstatus() == 101
        first = json.loads(ask(ws, {"action": "hello"}))
        second = json.loads(ask(ws, "not json"))
    finally:
        ws.close()
    for event in (first, second):
        context = event["requestContext"]
        assert list(context)[:2] == ["routeKey", "authorizer"]
        authorizer = context["authorizer"]
        assert authorizer["principalId"] == f"user-{value}"
        # Context values reach integrations as strings.
        assert authorizer["room"] == "lobby"
        assert authorizer["level"] == "3"
        assert authorizer["moderator"] == "false"
        assert isinstance(authorizer["integrationLatency"], int)
    assert first["requestContext"]["authorizer"] == second["requestContext"]["authorizer"]


def test_the_connect_mapping_template_sees_context_authorizer(local_aws, room) -> None:
    value = token("member")
    ws = connect(room["WebSocketURL"], f"?token={value}")
    try:
        connection_id = whoami(ws)
    finally:
        ws.close()
    item = get_item(local_aws, room["MembersTableName"], connection_id)
    assert item is not None
    assert item["principalId"] == {"S": f"user-{value}"}
    assert item["room"] == {"S": "lobby"}
    assert item["level"] == {"S": "3"}


def test_the_disconnect_mapping_template_sees_context_authorizer(local_aws, room) -> None:
    value = token("member")
    ws = connect(room["WebSocketURL"], f"?token={value}")
    try:
        connection_id = whoami(ws)
    finally:
        ws.close()
    item = wait_for(
        lambda: get_item(local_aws, room["MembersTableName"], f"{connection_id}#left"),
        timeout=10,
        message="$disconnect stored nothing",
    )
    assert item["principalId"] == {"S": f"user-{value}"}
    assert item["eventType"] == {"S": "DISCONNECT"}


def test_the_authorizer_event_is_the_documented_request_event(local_aws, room) -> None:
    value = token("member")
    ws = connect(room["WebSocketURL"], f"?token={value}&lang=en", headers=["X-Client: fidelity"])
    try:
        connection_id = whoami(ws)
    finally:
        ws.close()
    event = authorizer_event(local_aws, room, value)
    account = local_aws.client("sts").get_caller_identity()["Account"]
    assert list(event) == [
        "type",
        "methodArn",
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "stageVariables",
        "requestContext",
    ]
    assert event["type"] == "REQUEST"
    assert (
        event["methodArn"]
        == f"arn:aws:execute-api:us-east-1:{account}:{room['ApiId']}/chat/$connect"
    )
    headers = {name.lower(): value for name, value in event["headers"].items()}
    assert headers["upgrade"] == "websocket"
    assert headers["connection"].lower() == "upgrade"
    assert headers["content-length"] == "0"
    assert headers["x-client"] == "fidelity"
    assert event["queryStringParameters"] == {"token": value, "lang": "en"}
    assert event["multiValueQueryStringParameters"] == {"token": [value], "lang": ["en"]}
    assert event["stageVariables"] == {}
    context = event["requestContext"]
    assert context["routeKey"] == "$connect"
    assert context["eventType"] == "CONNECT"
    assert context["connectionId"] == connection_id
    assert context["apiId"] == room["ApiId"]
    assert "authorizer" not in context


def test_a_wildcard_resource_in_the_policy_allows(room) -> None:
    # The room's authorizer allows `{api}/*`, not the exact method ARN.
    ws = connect(room["WebSocketURL"], f"?token={token('member')}")
    try:
        assert ws.getstatus() == 101
    finally:
        ws.close()


# ----------------------------------------------------------------- no cache


def test_the_authorizer_is_called_for_every_connect(local_aws, room) -> None:
    """The template sets AuthorizerResultTtlInSeconds; for a WebSocket API AWS documents it
    as unsupported ("Supported only for HTTP API Lambda authorizers"), so nothing is cached:
    allowed and denied tokens alike reach the function each time."""
    member, banned = token("member"), token("banned")
    for _ in range(3):
        connect(room["WebSocketURL"], f"?token={member}").close()
        assert handshake_status(room["WebSocketURL"], f"?token={banned}") == 403
    assert calls(local_aws, room, member) == 3
    assert calls(local_aws, room, banned) == 3


# ----------------------------------------------------------------- failures


def test_an_authorizer_that_raises_is_500(local_aws, room) -> None:
    value = token("raise")
    assert handshake_status(room["WebSocketURL"], f"?token={value}") == 500
    assert logged(local_aws, "authorizer", "failed", "the authorizer broke")


def test_an_authorizer_past_its_timeout_is_500(local_aws, room) -> None:
    started = time.monotonic()
    assert handshake_status(room["WebSocketURL"], f"?token={token('sleep')}", timeout=20) == 500
    assert time.monotonic() - started < 10  # the function's 2 s timeout, not the sleep


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("malformed", "policyDocument must be"), ("huge", "over the 8192-byte quota")],
)
def test_a_response_that_is_not_a_usable_policy_is_403(local_aws, room, kind, reason) -> None:
    assert handshake_status(room["WebSocketURL"], f"?token={token(kind)}") == 403
    assert logged(local_aws, "did not return a usable policy", reason)


def test_an_authorizer_function_without_permission_is_500_and_the_log_says_why(
    local_aws, room
) -> None:
    value = token("member")
    assert handshake_status(room["UnpermittedWebSocketURL"], f"?token={value}") == 500
    assert calls(local_aws, room, value) == 0
    assert logged(
        local_aws,
        f"authorizer {room['UnpermittedAuthorizerId']}",
        "may not invoke",
        f"/authorizers/{room['UnpermittedAuthorizerId']}",
        "AWS::Lambda::Permission",
    )


# ----------------------------------------------------------------- AWS_IAM


def signed(url: str, presign: bool) -> tuple[str, list[str]]:
    """The URL and headers of a handshake signed as a client signs it (botocore, SigV4)."""
    from botocore.auth import SigV4Auth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    credentials = Credentials("testing", "testing")
    request = AWSRequest("GET", url.replace("ws://", "http://", 1))
    if presign:
        SigV4QueryAuth(credentials, "execute-api", "us-east-1", expires=60).add_auth(request)
        return request.url.replace("http://", "ws://", 1), []
    SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    headers = [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
    return url, headers


@pytest.mark.parametrize("presign", [False, True], ids=["headers", "presigned-url"])
def test_aws_iam_accepts_a_signed_handshake(room, presign) -> None:
    url, headers = signed(room["SignedWebSocketURL"], presign)
    ws = connect(url, headers=headers)
    try:
        assert ws.getstatus() == 101
    finally:
        ws.close()


def test_aws_iam_refuses_an_unsigned_or_tampered_handshake_with_403(local_aws, room) -> None:
    assert handshake_status(room["SignedWebSocketURL"]) == 403
    url, _ = signed(room["SignedWebSocketURL"] + "?room=1", presign=True)
    assert handshake_status(url.replace("room=1", "room=2")) == 403
    assert logged(local_aws, "needs a SigV4 signature", "signature we calculated does not match")
