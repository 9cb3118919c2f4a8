"""Reference §7.7, §7.8, §3.3, §3.8 and §8: AWS service integrations with IAM enforced, and the
Lambda invoke permission.

The stacks come from templates/service.yaml: $connect stores an item with the seed pattern's
unescaped template, `put` stores an item and answers through integration responses, `broken`
pastes the raw message into its JSON.
"""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import urlsplit

import pytest

from tests.fidelity.support import TEMPLATES, error_frame_pattern
from tests.support import deploy, wait_for
from tests.support.clients import ask, connect, get_item, handshake_status

INTERNAL_SERVER_ERROR = error_frame_pattern("Internal server error")
# local_aws's reading of reference §8 when a $connect service integration fails; the
# status is set with --connect-failure-status.
DEFAULT_CONNECT_FAILURE_STATUS = 500


def policy(effect: str, action: str | list[str], resource: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Action": action, "Resource": resource}],
        }
    )


def table_arn(server, table: str) -> str:
    return server.client("dynamodb").describe_table(TableName=table)["Table"]["TableArn"]


def item_count(server, table: str) -> int:
    return server.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"]


@pytest.fixture(scope="module")
def service(local_aws):
    return deploy(local_aws, "fid-svc", TEMPLATES / "service.yaml")


# ---------------------------------------------------------------- $connect, IAM enforced


def test_connect_service_integration_stores_and_disconnect_deletes(local_aws, service) -> None:
    table = service["ItemsTableName"]
    ws = connect(service["WebSocketURL"], headers=["X-Marker: control"])
    try:
        items = wait_for(lambda: local_aws.client("dynamodb").scan(TableName=table)["Items"])
        [item] = [i for i in items if "X-Marker=control" in i.get("headers", {}).get("S", "")]
        # The seed pattern's Java-map string: the headers sorted by name ignoring case, Host
        # the API's domain name (as on AWS); only the handshake key and trace id are random.
        url = urlsplit(service["WebSocketURL"])
        api_id = url.path.split("/")[1]
        java_map = (
            re.escape(
                f"{{Host={api_id}.execute-api.localhost, Origin=http://127.0.0.1:{url.port}, "
            )
            + r"Sec-WebSocket-Key=[A-Za-z0-9+/]{22}==, "
            + re.escape("Sec-WebSocket-Version=13, ")
            + r"X-Amzn-Trace-Id=Root=1-[0-9a-f]{8}-[0-9a-f]{24}, "
            + re.escape(
                f"X-Forwarded-For=127.0.0.1, X-Forwarded-Port={url.port}, "
                "X-Forwarded-Proto=http, X-Marker=control}"
            )
        )
        assert re.fullmatch(java_map, item["headers"]["S"]), item["headers"]["S"]
    finally:
        ws.close()
    connection_id = item["connectionid"]["S"]
    assert wait_for(lambda: get_item(local_aws, table, connection_id) is None)


def test_explicit_deny_on_put_item_refuses_the_handshake_and_stores_nothing(local_aws) -> None:
    stack = deploy(local_aws, "fid-svc-deny", TEMPLATES / "service.yaml")
    table = stack["ItemsTableName"]
    assert handshake_status(stack["WebSocketURL"]) == 101  # allowed before the Deny
    assert wait_for(lambda: item_count(local_aws, table) == 0)
    local_aws.client("iam").put_role_policy(
        RoleName=stack["ConnectRoleName"],
        PolicyName="DenyPutItem",
        PolicyDocument=policy("Deny", "dynamodb:PutItem", "*"),
    )
    assert handshake_status(stack["WebSocketURL"]) == DEFAULT_CONNECT_FAILURE_STATUS
    assert item_count(local_aws, table) == 0


def test_role_allowed_only_on_another_table_refuses_the_handshake(local_aws) -> None:
    stack = deploy(local_aws, "fid-svc-other", TEMPLATES / "service.yaml")
    other_table = table_arn(local_aws, stack["OtherTableName"])
    # Same policy name as the template's: the role's only permission now names OtherTable.
    local_aws.client("iam").put_role_policy(
        RoleName=stack["ConnectRoleName"],
        PolicyName="ItemsWrite",
        PolicyDocument=policy("Allow", ["dynamodb:PutItem", "dynamodb:DeleteItem"], other_table),
    )
    assert handshake_status(stack["WebSocketURL"]) == DEFAULT_CONNECT_FAILURE_STATUS
    assert item_count(local_aws, stack["ItemsTableName"]) == 0
    assert item_count(local_aws, stack["OtherTableName"]) == 0


def test_connect_failure_status_is_configurable(short_lived) -> None:
    """short_lived runs with --connect-failure-status 403."""
    stack = deploy(short_lived, "svc-deny", TEMPLATES / "service.yaml")
    short_lived.client("iam").put_role_policy(
        RoleName=stack["ConnectRoleName"],
        PolicyName="DenyPutItem",
        PolicyDocument=policy("Deny", "dynamodb:*", "*"),
    )
    assert handshake_status(stack["WebSocketURL"]) == 403
    assert item_count(short_lived, stack["ItemsTableName"]) == 0


def test_connect_template_rendering_invalid_json_refuses_the_handshake(local_aws) -> None:
    """A `"` in a header breaks the seed pattern's unescaped JSON: DynamoDB answers 400."""
    stack = deploy(local_aws, "fid-svc-json", TEMPLATES / "service.yaml")
    table = stack["ItemsTableName"]
    assert handshake_status(stack["WebSocketURL"], headers=['X-Note: say "hi"']) == (
        DEFAULT_CONNECT_FAILURE_STATUS
    )
    assert item_count(local_aws, table) == 0
    # The same API accepts a client whose headers happen to keep the JSON valid.
    assert handshake_status(stack["WebSocketURL"], headers=["X-Note: say hi"]) == 101


# ---------------------------------------------------------------- message routes


@pytest.fixture
def service_client(service):
    ws = connect(service["WebSocketURL"])
    yield ws
    ws.close()


def test_message_service_integration_stores_the_item(local_aws, service) -> None:
    table = service["ItemsTableName"]
    marker = f"X-Marker: {uuid.uuid4().hex}"
    ws = connect(service["WebSocketURL"], headers=[marker])
    try:
        # The $connect integration stored this connection's id with its headers: find it.
        marker_text = marker.replace(": ", "=")

        def connect_item() -> dict | None:
            items = local_aws.client("dynamodb").scan(TableName=table)["Items"]
            found = [i for i in items if marker_text in i.get("headers", {}).get("S", "")]
            return found[0] if found else None

        connection_id = wait_for(connect_item, message="$connect stored no item")["connectionid"]
        ws.send(json.dumps({"action": "put", "id": "stored-by-a-message"}))
        ws.recv()  # the route is two-way; what it answers is checked below
        item = wait_for(lambda: get_item(local_aws, table, "stored-by-a-message"))
    finally:
        ws.close()
    assert item["storedBy"] == connection_id


def test_integration_response_is_chosen_by_status_code(service_client) -> None:
    """/200/ answers {"result": "stored"}; /4\\d\\d/ answers {"result": "rejected"}."""
    assert ask(service_client, {"action": "put", "id": "chosen-by-status"}) == (
        '{"result": "stored"}'
    )
    # An empty key: DynamoDB refuses it with a 400 ValidationException.
    assert ask(service_client, {"action": "put", "id": ""}) == '{"result": "rejected"}'


def test_message_template_rendering_invalid_json_sends_internal_server_error(
    local_aws, service, service_client
) -> None:
    """DynamoDB answers 400 and no integration response matches it (only /200/ exists):
    the client gets `Internal server error`, never DynamoDB's raw error body."""
    before = item_count(local_aws, service["ItemsTableName"])
    frame = ask(service_client, {"action": "broken", "note": "quotes break it"})
    assert INTERNAL_SERVER_ERROR.match(frame), frame
    assert "SerializationException" not in frame
    # It really reached DynamoDB (an IAM refusal would give the same frame).
    assert wait_for(lambda: "No match for output mapping" in local_aws.log(), timeout=5)
    assert any(
        "dynamodb PutItem answered 400" in line and "SerializationException" in line
        for line in local_aws.log().splitlines()
    )
    assert item_count(local_aws, service["ItemsTableName"]) == before
    # The socket stays open.
    assert ask(service_client, {"action": "put", "id": "after-broken"})


def test_denied_message_route_sends_internal_server_error(local_aws) -> None:
    stack = deploy(local_aws, "fid-svc-msgdeny", TEMPLATES / "service.yaml")
    local_aws.client("iam").put_role_policy(
        RoleName=stack["MessageRoleName"],
        PolicyName="DenyPutItem",
        PolicyDocument=policy("Deny", "dynamodb:PutItem", "*"),
    )
    ws = connect(stack["WebSocketURL"])  # $connect uses the other role: still allowed
    try:
        frame = INTERNAL_SERVER_ERROR.match(ask(ws, {"action": "put", "id": "denied"}))
        assert frame, "no Internal server error frame"
        assert get_item(local_aws, stack["ItemsTableName"], "denied") is None
        # One frame per message: the next frame answers the next message (a new request id).
        second = INTERNAL_SERVER_ERROR.match(ask(ws, {"action": "put", "id": "denied-too"}))
        assert second and second["requestId"] != frame["requestId"]
    finally:
        ws.close()


# ---------------------------------------------------------------- Lambda permission


@pytest.mark.parametrize("permission", ["other-api", "none"])
def test_function_invoke_needs_a_permission_for_this_api(local_aws, permission) -> None:
    """BehaveFunction's AWS::Lambda::Permission names another API's ARN, or does not exist."""
    stack = deploy(
        local_aws,
        f"fid-perm-{permission}",
        TEMPLATES / "lambda_api.yaml",
        BehavePermission=permission,
    )
    ws = connect(stack["WebSocketURL"])  # $connect's function has its permission
    try:
        frame = ask(ws, {"action": "behave"})
        assert INTERNAL_SERVER_ERROR.match(frame), frame
        # $default uses the same function: refused too; the socket stays open.
        frame = ask(ws, {"action": "anything"})
        assert INTERNAL_SERVER_ERROR.match(frame), frame
    finally:
        ws.close()
