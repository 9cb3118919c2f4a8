"""The workshop's stack on local_aws, used as a learner would: boto3 and websocket-client only."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import websocket

from tests.conftest import ROOT, TEMPLATE, LocalAwsProcess, deploy

QUERY_VALUE = "a\"b\\c'd é"
HEADER_VALUE = 'say "hi" \\ back'


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.02):
    """Poll until predicate() is truthy; return its value (or the last falsy one)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def get_item(local_aws: LocalAwsProcess, stack: dict[str, str], connection_id: str):
    dynamodb = local_aws.client("dynamodb")
    key = {"connectionid": {"S": connection_id}}
    return dynamodb.get_item(TableName=stack["SessionsTableName"], Key=key).get("Item")


def connect(stack: dict[str, str], query: str = "", headers: list[str] | None = None):
    return websocket.create_connection(
        stack["WebSocketURL"] + query, header=headers or [], timeout=5
    )


def my_connection_id(ws) -> str:
    """Ask the echo route for the event; its requestContext names this connection."""
    ws.send(json.dumps({"action": "whoami"}))
    return json.loads(ws.recv())["requestContext"]["connectionId"]


def management(local_aws: LocalAwsProcess, stack: dict[str, str]):
    endpoint = stack["WebSocketURL"].replace("ws://", "http://", 1)
    return local_aws.client("apigatewaymanagementapi", endpoint_url=endpoint)


def test_ready_line_names_the_endpoint(local_aws: LocalAwsProcess) -> None:
    assert local_aws.ready_line == f"local_aws ready on {local_aws.endpoint_url}"


def test_stack_deploys_with_the_template_configuration(local_aws, stack) -> None:
    cloudformation = local_aws.client("cloudformation")
    assert cloudformation.describe_stacks(StackName="e2e")["Stacks"][0]["StackStatus"] == (
        "CREATE_COMPLETE"
    )
    api_id = stack["ApiId"]
    assert stack["WebSocketURL"] == f"ws://127.0.0.1:{local_aws.port}/{api_id}/api"
    assert stack["SessionsTableName"] == "e2e-Sessions"
    resources = cloudformation.describe_stack_resources(StackName="e2e")["StackResources"]
    for resource in resources:
        if resource["ResourceType"].startswith("AWS::ApiGatewayV2::"):
            assert resource.get("PhysicalResourceId"), resource["LogicalResourceId"]
    apigateway = local_aws.client("apigatewayv2")
    assert apigateway.get_api(ApiId=api_id)["ApiEndpoint"] == stack["WebSocketURL"][: -len("/api")]
    routes = {route["RouteKey"]: route for route in apigateway.get_routes(ApiId=api_id)["Items"]}
    assert sorted(routes) == ["$connect", "$default", "$disconnect"]
    integrations = {
        item["IntegrationId"]: item for item in apigateway.get_integrations(ApiId=api_id)["Items"]
    }
    connect_integration = integrations[routes["$connect"]["Target"].split("/")[1]]
    assert connect_integration["IntegrationType"] == "AWS"
    assert connect_integration["IntegrationUri"].endswith(":dynamodb:action/PutItem")
    assert connect_integration["CredentialsArn"].startswith("arn:aws:iam::")
    assert (
        "$context.requestTimeEpoch / 1000 + 86400"
        in (connect_integration["RequestTemplates"]["$default"])
    )
    default_integration = integrations[routes["$default"]["Target"].split("/")[1]]
    assert default_integration["IntegrationType"] == "AWS_PROXY"
    ttl = local_aws.client("dynamodb").describe_time_to_live(TableName="e2e-Sessions")
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


def test_connect_stores_the_item_with_exact_query_and_headers(local_aws, stack) -> None:
    query = f"?foo=bar&q={quote(QUERY_VALUE)}"
    started = time.time()
    ws = connect(stack, query, headers=[f"X-Workshop: {HEADER_VALUE}"])
    try:
        connection_id = my_connection_id(ws)
        item = wait_for(lambda: get_item(local_aws, stack, connection_id), timeout=1.0)
        assert item, "the $connect integration did not write the item within 1 s"
        assert item["querystring"]["M"] == {"foo": {"S": "bar"}, "q": {"S": QUERY_VALUE}}
        assert item["headers"]["M"]["X-Workshop"] == {"S": HEADER_VALUE}
        assert item["sourceIp"] == {"S": "127.0.0.1"}
        assert abs(int(item["ttl"]["N"]) - (started + 86400)) < 60
        connected_at = int(item["connectedAt"]["N"])
        assert abs(connected_at / 1000 - started) < 60
    finally:
        ws.close()


def test_default_route_echoes_the_event(stack) -> None:
    ws = connect(stack)
    try:
        sent = '{"action":"nope","x":1}'
        ws.send(sent)
        event = json.loads(ws.recv())
        assert event["body"] == sent
        assert event["isBase64Encoded"] is False
        context = event["requestContext"]
        assert context["routeKey"] == "$default"
        assert context["eventType"] == "MESSAGE"
        assert isinstance(context["requestTimeEpoch"], int)
        assert isinstance(context["connectedAt"], int)
        assert len(context["connectionId"]) == 16 and context["connectionId"].endswith("=")
        assert context["requestId"] == context["extendedRequestId"]
        assert "headers" not in event and "queryStringParameters" not in event
    finally:
        ws.close()


def test_non_json_goes_to_default(stack) -> None:
    ws = connect(stack)
    try:
        ws.send("hello, not JSON")
        event = json.loads(ws.recv())
        assert event["body"] == "hello, not JSON"
        assert event["requestContext"]["routeKey"] == "$default"
    finally:
        ws.close()


def test_connections_api_post_get_and_gone(local_aws, stack) -> None:
    ws = connect(stack)
    try:
        connection_id = my_connection_id(ws)
        client = management(local_aws, stack)
        client.post_to_connection(ConnectionId=connection_id, Data=b"pushed from the backend")
        assert ws.recv() == "pushed from the backend"
        info = client.get_connection(ConnectionId=connection_id)
        assert info["Identity"]["SourceIp"] == "127.0.0.1"
        assert info["ConnectedAt"] <= info["LastActiveAt"]
        with pytest.raises(client.exceptions.GoneException):
            client.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x")
    finally:
        ws.close()


def test_delete_connection_closes_the_socket_and_removes_the_item(local_aws, stack) -> None:
    ws = connect(stack)
    connection_id = my_connection_id(ws)
    assert wait_for(lambda: get_item(local_aws, stack, connection_id))
    client = management(local_aws, stack)
    client.delete_connection(ConnectionId=connection_id)
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        ws.recv()
        ws.recv()
    assert wait_for(lambda: get_item(local_aws, stack, connection_id) is None)
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId=connection_id)


@pytest.mark.parametrize("how", ["close", "drop"])
def test_client_close_and_abrupt_drop_remove_the_item(local_aws, stack, how) -> None:
    ws = connect(stack)
    connection_id = my_connection_id(ws)
    assert wait_for(lambda: get_item(local_aws, stack, connection_id))
    if how == "close":
        ws.close()
    else:  # no close frame: the TCP connection just goes away
        ws.sock.shutdown(socket.SHUT_RDWR)
        ws.sock.close()
    assert wait_for(lambda: get_item(local_aws, stack, connection_id) is None)


def test_unknown_stage_is_refused(stack) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(stack["WebSocketURL"] + "-nope", timeout=5)
    assert refused.value.status_code == 403


def test_delete_stack_removes_what_it_created(local_aws) -> None:
    outputs = deploy(local_aws, "short-lived")
    cloudformation = local_aws.client("cloudformation")
    cloudformation.delete_stack(StackName="short-lived")
    cloudformation.get_waiter("stack_delete_complete").wait(
        StackName="short-lived", WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    assert (
        outputs["SessionsTableName"] not in local_aws.client("dynamodb").list_tables()["TableNames"]
    )
    apis = local_aws.client("apigatewayv2").get_apis()["Items"]
    assert outputs["ApiId"] not in [api["ApiId"] for api in apis]
    functions = local_aws.client("lambda").list_functions()["Functions"]
    assert outputs["DefaultRouteFunctionName"] not in [f["FunctionName"] for f in functions]
    roles = local_aws.client("iam").list_roles()["Roles"]
    assert not [role for role in roles if role["RoleName"].startswith("short-lived-")]
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(outputs["WebSocketURL"], timeout=5)


def test_template_passes_cfn_lint() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), str(TEMPLATE)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sigterm_stops_cleanly() -> None:
    server = LocalAwsProcess()
    assert server.stop() == 0
