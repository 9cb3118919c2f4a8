"""The workshop's stack on local_aws, used as a learner would: boto3 and websocket-client only.

Also local_aws's own life cycle (its ready line, SIGTERM) and CloudFormation's all-or-nothing
stack creation.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import botocore.exceptions
import pytest
import websocket

from tests.support import ROOT, TEMPLATE, LocalAwsProcess, deploy, wait_for
from tests.support.clients import connect, get_item, whoami

QUERY_VALUE = "a\"b\\c'd é"
HEADER_VALUE = 'say "hi" \\ back'
TABLE = """
  {name}:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: {table}
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{{AttributeName: k, AttributeType: S}}]
      KeySchema: [{{AttributeName: {key}, KeyType: HASH}}]
"""


def test_ready_line_names_the_endpoint(local_aws: LocalAwsProcess) -> None:
    assert local_aws.ready_line == f"local_aws ready on {local_aws.endpoint_url}"
    assert local_aws.endpoint_url == f"http://127.0.0.1:{local_aws.port}"


def test_sigterm_stops_cleanly() -> None:
    server = LocalAwsProcess()
    assert server.stop() == 0


def test_template_passes_cfn_lint() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), str(TEMPLATE)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_stack_deploys_with_the_template_configuration(local_aws, workshop) -> None:
    cloudformation = local_aws.client("cloudformation")
    assert cloudformation.describe_stacks(StackName="workshop")["Stacks"][0]["StackStatus"] == (
        "CREATE_COMPLETE"
    )
    api_id = workshop["ApiId"]
    assert workshop["WebSocketURL"] == f"ws://127.0.0.1:{local_aws.port}/{api_id}/api"
    assert workshop["SessionsTableName"] == "workshop-Sessions"
    resources = cloudformation.describe_stack_resources(StackName="workshop")["StackResources"]
    for resource in resources:
        if resource["ResourceType"].startswith("AWS::ApiGatewayV2::"):
            assert resource.get("PhysicalResourceId"), resource["LogicalResourceId"]
    apigateway = local_aws.client("apigatewayv2")
    api_endpoint = workshop["WebSocketURL"][: -len("/api")]
    assert apigateway.get_api(ApiId=api_id)["ApiEndpoint"] == api_endpoint
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
    ttl = local_aws.client("dynamodb").describe_time_to_live(TableName="workshop-Sessions")
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


def test_connect_stores_the_item_with_exact_query_and_headers(local_aws, workshop) -> None:
    query = f"?foo=bar&q={quote(QUERY_VALUE)}"
    started = time.time()
    ws = connect(workshop["WebSocketURL"], query, headers=[f"X-Workshop: {HEADER_VALUE}"])
    try:
        connection_id = whoami(ws)
        # The item is written before the handshake completes; waiting only absorbs a slow read.
        item = wait_for(
            lambda: get_item(local_aws, workshop["SessionsTableName"], connection_id),
            message="the $connect integration did not write the item",
        )
        assert item["querystring"]["M"] == {"foo": {"S": "bar"}, "q": {"S": QUERY_VALUE}}
        assert item["headers"]["M"]["X-Workshop"] == {"S": HEADER_VALUE}
        assert item["sourceIp"] == {"S": "127.0.0.1"}
        assert abs(int(item["ttl"]["N"]) - (started + 86400)) < 60
        connected_at = int(item["connectedAt"]["N"])
        assert abs(connected_at / 1000 - started) < 60
    finally:
        ws.close()


def test_default_route_echoes_the_event(workshop) -> None:
    ws = connect(workshop["WebSocketURL"])
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


def test_non_json_goes_to_default(workshop) -> None:
    ws = connect(workshop["WebSocketURL"])
    try:
        ws.send("hello, not JSON")
        event = json.loads(ws.recv())
        assert event["body"] == "hello, not JSON"
        assert event["requestContext"]["routeKey"] == "$default"
    finally:
        ws.close()


def test_delete_stack_removes_what_it_created(local_aws) -> None:
    outputs = deploy(local_aws, "short-lived")
    cloudformation = local_aws.client("cloudformation")
    cloudformation.delete_stack(StackName="short-lived")
    cloudformation.get_waiter("stack_delete_complete").wait(
        StackName="short-lived", WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    tables = local_aws.client("dynamodb").list_tables()["TableNames"]
    assert outputs["SessionsTableName"] not in tables
    apis = local_aws.client("apigatewayv2").get_apis()["Items"]
    assert outputs["ApiId"] not in [api["ApiId"] for api in apis]
    functions = local_aws.client("lambda").list_functions()["Functions"]
    assert outputs["DefaultRouteFunctionName"] not in [f["FunctionName"] for f in functions]
    roles = local_aws.client("iam").list_roles()["Roles"]
    assert not [role for role in roles if role["RoleName"].startswith("short-lived-")]
    with pytest.raises(websocket.WebSocketBadStatusException):
        connect(outputs["WebSocketURL"])


# ---------------------------------------------------------------- a template that fails


def test_template_error_refuses_the_stack(local_aws) -> None:
    template = "Resources:" + TABLE.format(name="Good", table="refused-table", key="k")
    template += "  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n"
    template += "      QueueName: !GetAtt Missing.Arn\n"
    cloudformation = local_aws.client("cloudformation")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        cloudformation.create_stack(StackName="refused", TemplateBody=template)
    assert "undefined resource Missing" in refused.value.response["Error"]["Message"]
    stacks = [s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]]
    assert "refused" not in stacks
    assert "refused-table" not in local_aws.client("dynamodb").list_tables()["TableNames"]


def test_failed_resource_rolls_back(local_aws) -> None:
    template = "Resources:" + TABLE.format(name="First", table="rollback-first", key="k")
    # the key names an attribute that is not defined: creating this table fails
    template += TABLE.format(name="Broken", table="rollback-broken", key="undefined")
    template += "    DependsOn: First\n"
    cloudformation = local_aws.client("cloudformation")
    cloudformation.create_stack(StackName="rolled-back", TemplateBody=template)
    stack = cloudformation.describe_stacks(StackName="rolled-back")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    statuses = [
        event["ResourceStatus"]
        for event in cloudformation.describe_stack_events(StackName="rolled-back")["StackEvents"]
    ]
    assert "CREATE_FAILED" in statuses
    assert "rollback-first" not in local_aws.client("dynamodb").list_tables()["TableNames"]
    cloudformation.delete_stack(StackName="rolled-back")
    remaining = [s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]]
    assert "rolled-back" not in remaining


SEND_MESSAGE_ROUTE = """
  SendMessageRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref WebSocketApi
      RouteKey: sendmessage
      Target: !Sub integrations/${DefaultIntegration}
"""


def served_route(url: str, action: str) -> str | None:
    """$default echoes its event; the new route has no route response, so it is silent."""
    ws = connect(url)
    try:
        ws.send(json.dumps({"action": action}))
        ws.settimeout(2.0)
        try:
            return json.loads(ws.recv())["requestContext"]["routeKey"]
        except websocket.WebSocketTimeoutException:
            return None
    finally:
        ws.close()


def test_a_new_route_is_served_only_once_the_deployment_gets_a_new_logical_id(
    local_aws: LocalAwsProcess,
) -> None:
    """The trap 01_deploy warns of: an update that adds a route but keeps the Deployment's
    logical id (and its unchanged properties) leaves the stage on the old snapshot."""
    marker = "\n  # ---------------------------------------------------------------- deployment"
    body = TEMPLATE.read_text()
    assert marker in body
    added = body.replace(marker, SEND_MESSAGE_ROUTE + marker)
    renamed = (
        added.replace("  Deployment:\n", "  DeploymentV2:\n")
        .replace(
            "DependsOn:\n      - ConnectRoute\n",
            "DependsOn:\n      - SendMessageRoute\n      - ConnectRoute\n",
        )
        .replace("DeploymentId: !Ref Deployment\n", "DeploymentId: !Ref DeploymentV2\n")
    )
    assert "DeploymentV2" in renamed and "- SendMessageRoute" in renamed
    outputs = deploy(local_aws, "redeploy")
    cloudformation = local_aws.client("cloudformation")

    def update(template: str) -> None:
        cloudformation.update_stack(
            StackName="redeploy", TemplateBody=template, Capabilities=["CAPABILITY_IAM"]
        )
        cloudformation.get_waiter("stack_update_complete").wait(
            StackName="redeploy", WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )

    def route_of(action: str) -> str | None:
        return served_route(outputs["WebSocketURL"], action)

    try:
        update(added)
        routes = local_aws.client("apigatewayv2").get_routes(ApiId=outputs["ApiId"])["Items"]
        assert "sendmessage" in {route["RouteKey"] for route in routes}  # the API has it...
        assert route_of("sendmessage") == "$default"  # ...but the stage serves the old snapshot
        update(renamed)
        assert route_of("sendmessage") is None  # the new deployment runs the new route
        assert route_of("anything else") == "$default"
    finally:
        cloudformation.delete_stack(StackName="redeploy")


def test_create_deployment_redeploys_a_stage_left_on_an_old_snapshot(
    local_aws: LocalAwsProcess,
) -> None:
    """The other way out of the trap, as on AWS: `aws apigatewayv2 create-deployment
    --api-id X --stage-name S` snapshots the API now and points the stage at it."""
    marker = "\n  # ---------------------------------------------------------------- deployment"
    added = TEMPLATE.read_text().replace(marker, SEND_MESSAGE_ROUTE + marker)
    outputs = deploy(local_aws, "redeploy-api")
    url = outputs["WebSocketURL"]
    stage = url.rsplit("/", 1)[1]
    cloudformation = local_aws.client("cloudformation")
    apigatewayv2 = local_aws.client("apigatewayv2")
    try:
        cloudformation.update_stack(
            StackName="redeploy-api", TemplateBody=added, Capabilities=["CAPABILITY_IAM"]
        )
        cloudformation.get_waiter("stack_update_complete").wait(
            StackName="redeploy-api", WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        assert served_route(url, "sendmessage") == "$default"  # the old snapshot
        (old,) = apigatewayv2.get_deployments(ApiId=outputs["ApiId"])["Items"]

        new = apigatewayv2.create_deployment(
            ApiId=outputs["ApiId"], StageName=stage, Description="with sendmessage"
        )
        assert new["DeploymentStatus"] == "DEPLOYED"
        assert served_route(url, "sendmessage") is None  # the new route runs now
        assert (
            apigatewayv2.get_stage(ApiId=outputs["ApiId"], StageName=stage)["DeploymentId"]
            == new["DeploymentId"]
        )
        listed = apigatewayv2.get_deployments(ApiId=outputs["ApiId"])["Items"]
        assert [d["DeploymentId"] for d in listed] == [old["DeploymentId"], new["DeploymentId"]]

        # A deployment a stage serves cannot go; the old one can.
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            apigatewayv2.delete_deployment(ApiId=outputs["ApiId"], DeploymentId=new["DeploymentId"])
        assert refused.value.response["Error"]["Code"] == "BadRequestException"
        apigatewayv2.delete_deployment(ApiId=outputs["ApiId"], DeploymentId=old["DeploymentId"])
        with pytest.raises(botocore.exceptions.ClientError) as missing:
            apigatewayv2.get_deployment(ApiId=outputs["ApiId"], DeploymentId=old["DeploymentId"])
        assert missing.value.response["Error"]["Code"] == "NotFoundException"
        with pytest.raises(botocore.exceptions.ClientError) as no_stage:
            apigatewayv2.create_deployment(ApiId=outputs["ApiId"], StageName="nope")
        assert no_stage.value.response["Error"]["Code"] == "NotFoundException"
    finally:
        cloudformation.delete_stack(StackName="redeploy-api")
