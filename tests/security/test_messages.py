"""No message and no mapping template can hold a resource the other connections and APIs share.

Each test sends what a hostile client (or a careless template) sends — JSON nested 1,000
deep, a `#foreach` over 100,000,000, a string doubled until memory runs out, a route response
over the 128 KB quota — and checks the answer, that the connection stays usable, and that the
rest of the server (another API, `$connect`, `$disconnect`, SIGTERM) is not held up.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import websocket

from local_aws.vtl.limits import RENDER_SECONDS
from tests.fidelity.support import error_frame_pattern
from tests.support import LocalAwsProcess, deploy, wait_for
from tests.support.clients import connect, get_item

INTERNAL_ERROR = error_frame_pattern("Internal server error")
NESTED_LOOPS = "#foreach($a in [1..1000])#foreach($b in [1..1000])#foreach($c in [1..1000])"

# One API whose $connect/$disconnect keep an item per connection (AWS integrations), whose
# $default is a Lambda that answers `{"route", "length"}` or a body of the size asked for, and
# whose other routes render hostile request templates. Integration timeouts are AWS's 29 s
# maximum: only local_aws's own render limits can end those renders early.
TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Items:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-Items"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: connectionid, AttributeType: S}]
      KeySchema: [{AttributeName: connectionid, KeyType: HASH}]
  GatewayRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: apigateway.amazonaws.com}, Action: sts:AssumeRole}
      Policies:
        - PolicyName: Items
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [dynamodb:PutItem, dynamodb:DeleteItem]
                Resource: !GetAtt Items.Arn
  FunctionRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: !Sub "${AWS::StackName}-Api"
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: "$request.body.action"
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $connect
      Target: !Sub "integrations/${ConnectIntegration}"
  ConnectIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS
      IntegrationMethod: POST
      IntegrationUri: !Sub "arn:aws:apigateway:${AWS::Region}:dynamodb:action/PutItem"
      CredentialsArn: !GetAtt GatewayRole.Arn
      TemplateSelectionExpression: \\$default
      RequestTemplates:
        $default: !Sub |
          #if($input.params('loop') == "1")#foreach($i in [1..100000000])x#end#end
          {"TableName": "${Items}", "Item": {"connectionid": {"S": "$context.connectionId"}}}
  ConnectResponse:
    Type: AWS::ApiGatewayV2::IntegrationResponse
    Properties:
      ApiId: !Ref Api
      IntegrationId: !Ref ConnectIntegration
      IntegrationResponseKey: /200/
  DisconnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $disconnect
      Target: !Sub "integrations/${DisconnectIntegration}"
  DisconnectIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS
      IntegrationMethod: POST
      IntegrationUri: !Sub "arn:aws:apigateway:${AWS::Region}:dynamodb:action/DeleteItem"
      CredentialsArn: !GetAtt GatewayRole.Arn
      TemplateSelectionExpression: \\$default
      RequestTemplates:
        $default: !Sub >-
          {"TableName": "${Items}", "Key": {"connectionid": {"S": "$context.connectionId"}}}
  DefaultRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $default
      RouteResponseSelectionExpression: $default
      Target: !Sub "integrations/${DefaultIntegration}"
  DefaultRouteResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref Api, RouteId: !Ref DefaultRoute, RouteResponseKey: $default}
  DefaultIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub >-
        arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Function.Arn}/invocations
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Timeout: 10
      Role: !GetAtt FunctionRole.Arn
      Code:
        ZipFile: |
          import json

          def handler(event, context):
              body = event.get("body") or ""
              if body.startswith('{"size": '):
                  return {"statusCode": 200, "body": "x" * int(body[9:-1])}
              request = event["requestContext"]
              route, connection = request["routeKey"], request["connectionId"]
              answer = {"route": route, "length": len(body), "id": connection}
              return {"statusCode": 200, "body": json.dumps(answer)}
  Permission:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref Function
      Principal: apigateway.amazonaws.com
      SourceArn: !Sub "arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*"
  Deployment:
    Type: AWS::ApiGatewayV2::Deployment
    DependsOn:
      - ConnectRoute
      - ConnectResponse
      - DisconnectRoute
      - DefaultRoute
      - DefaultRouteResponse
      - LoopRoute
      - NestedRoute
      - DoubleRoute
      - DeepRoute
      - DeepRouteResponse
    Properties: {ApiId: !Ref Api}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: api, DeploymentId: !Ref Deployment}
ROUTES
Outputs:
  WebSocketURL: {Value: !Sub "${Api.ApiEndpoint}/api"}
  ItemsTable: {Value: !Ref Items}
"""

# Message routes whose AWS integration renders the given request template.
HOSTILE_ROUTES = {
    "loop": "#foreach($i in [1..100000000])x#end",
    "nested": NESTED_LOOPS + "#end#end#end",
    "double": '#set($s = "x")#foreach($i in [1..64])#set($s = "$s$s")#end$s',
    "deep": '{"TableName": "${Items}", "Item": {"connectionid": {"S": "$context.requestId"},'
    ' "a": {"S": "$util.escapeJavaScript($input.json(\'$.a\'))"},'
    ' "b": {"S": "$util.escapeJavaScript($input.path(\'$\'))"}}}',
}


def _route(key: str, template: str) -> str:
    name = key.capitalize()
    return f"""
  {name}Route:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: {key}
      Target: !Sub "integrations/${{{name}Integration}}"
  {name}Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS
      IntegrationMethod: POST
      IntegrationUri: !Sub "arn:aws:apigateway:${{AWS::Region}}:dynamodb:action/PutItem"
      CredentialsArn: !GetAtt GatewayRole.Arn
      TemplateSelectionExpression: \\$default
      RequestTemplates:
        $default: !Sub {json.dumps(template)}
"""


def _template() -> str:
    routes = "".join(_route(key, template) for key, template in HOSTILE_ROUTES.items())
    routes += """
  DeepRouteResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref Api, RouteId: !Ref DeepRoute, RouteResponseKey: $default}
"""
    return TEMPLATE.replace("ROUTES\n", routes)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalAwsProcess]:
    """A local_aws of its own: these tests try to exhaust it."""
    process = LocalAwsProcess()
    yield process
    if process.process.poll() is None:
        process.stop()


@pytest.fixture(scope="module")
def hostile(server: LocalAwsProcess) -> dict[str, str]:
    return deploy(server, "sec-hostile", _template())


@pytest.fixture(scope="module")
def other(server: LocalAwsProcess) -> dict[str, str]:
    """Another API on the same server: the workshop's own stack."""
    return deploy(server, "sec-other")


def _echo_seconds(url: str) -> float:
    """How long a `$default` echo takes on a new connection of `url` (best of three)."""
    ws = connect(url)
    try:
        times = []
        for _ in range(3):
            start = time.monotonic()
            ws.send('{"action": "whatever"}')
            ws.recv()
            times.append(time.monotonic() - start)
        return min(times)
    finally:
        ws.close()


def _connect_seconds(url: str) -> float:
    start = time.monotonic()
    connect(url).close()
    return time.monotonic() - start


def test_deep_json_goes_to_default_and_the_connection_survives(
    server: LocalAwsProcess, hostile: dict[str, str]
) -> None:
    ws = connect(hostile["WebSocketURL"])
    ws.send('{"action": "whoami"}')
    connection_id = json.loads(ws.recv())["id"]
    assert get_item(server, hostile["ItemsTable"], connection_id) is not None

    deep = "[" * 1000 + "]" * 1000
    ws.send(deep)
    assert json.loads(ws.recv()) == {"route": "$default", "length": 2000, "id": connection_id}
    ws.send('{"action": ' + deep + "}")  # parses, then cannot be written out as a route key
    assert json.loads(ws.recv())["route"] == "$default"
    ws.send('{"action": "later"}')
    assert json.loads(ws.recv())["route"] == "$default"

    ws.close()
    assert wait_for(lambda: get_item(server, hostile["ItemsTable"], connection_id) is None)


def test_deep_json_in_mapping_templates_is_answered(hostile: dict[str, str]) -> None:
    """`$input.json` and `$input.path` over JSON nested 900 deep: an answer, never a crash."""
    ws = connect(hostile["WebSocketURL"])
    try:
        for depth in (100, 900, 5000):
            nested = "[" * depth + "]" * depth
            ws.send('{"action": "deep", "a": ' + nested + "}")
            answer = ws.recv()
            if depth == 100:  # the item is stored; $input.path('$') as a Java-style string
                assert answer == "{}"
            elif depth == 900:  # parsed or not depends on the stack: either way, an answer
                assert answer == "{}" or INTERNAL_ERROR.match(answer) or "$default" in answer
            else:  # too deep to parse: no selection key, so $default
                assert json.loads(answer)["route"] == "$default"
        ws.send('{"action": "later"}')
        assert json.loads(ws.recv())["route"] == "$default"
    finally:
        ws.close()


@pytest.mark.parametrize("route", ["loop", "nested", "double"])
def test_hostile_template_fails_within_the_budget(hostile: dict[str, str], route: str) -> None:
    ws = connect(hostile["WebSocketURL"])
    try:
        start = time.monotonic()
        ws.send(json.dumps({"action": route}))
        assert INTERNAL_ERROR.match(ws.recv())
        assert time.monotonic() - start < RENDER_SECONDS + 0.5
        ws.send('{"action": "later"}')
        assert json.loads(ws.recv())["route"] == "$default"
    finally:
        ws.close()


def test_hostile_connect_template_is_refused_within_the_budget(hostile: dict[str, str]) -> None:
    start = time.monotonic()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(hostile["WebSocketURL"], "?loop=1")
    assert refused.value.status_code == 500
    assert time.monotonic() - start < RENDER_SECONDS + 0.5


def test_string_doubling_is_bounded(server: LocalAwsProcess, hostile: dict[str, str]) -> None:
    before = _rss_mb(server)
    ws = connect(hostile["WebSocketURL"])
    try:
        for _ in range(5):
            ws.send('{"action": "double"}')
            assert INTERNAL_ERROR.match(ws.recv())
    finally:
        ws.close()
    assert _rss_mb(server) - before < 200


@pytest.mark.parametrize(
    ("size", "delivered"),
    [(128 * 1024, True), (128 * 1024 + 1, False), (200 * 1024, False), (8 * 1024 * 1024, False)],
)
def test_route_response_over_128_kb_is_an_internal_error(
    hostile: dict[str, str], size: int, delivered: bool
) -> None:
    ws = connect(hostile["WebSocketURL"])
    try:
        ws.send(json.dumps({"size": size}))
        answer = ws.recv()
        if delivered:
            assert answer == "x" * size
        else:
            assert INTERNAL_ERROR.match(answer), answer[:100]
        ws.send('{"action": "later"}')
        assert json.loads(ws.recv())["route"] == "$default"
    finally:
        ws.close()


def test_hostile_templates_do_not_delay_another_api(
    server: LocalAwsProcess, hostile: dict[str, str], other: dict[str, str]
) -> None:
    """Eight renders that each would run for ever (all the server's integration threads):
    another API's echo and `$connect` stay within 100 ms of their usual time."""
    url = other["WebSocketURL"]
    usual_echo = statistics.median(_echo_seconds(url) for _ in range(3))
    usual_connect = statistics.median(_connect_seconds(url) for _ in range(3))

    attackers = [connect(hostile["WebSocketURL"]) for _ in range(8)]
    try:
        start = time.monotonic()
        for ws in attackers:
            ws.send('{"action": "nested"}')
        time.sleep(0.1)  # the renders are running
        assert _echo_seconds(url) < usual_echo + 0.1
        assert _connect_seconds(url) < usual_connect + 0.1
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda ws: ws.recv(), attackers))
        assert all(INTERNAL_ERROR.match(answer) for answer in answers)
        # Two threads per API, one budget each: four rounds at most.
        rounds = 8 // 2
        assert time.monotonic() - start < rounds * RENDER_SECONDS + 1.0
    finally:
        for ws in attackers:
            ws.close()


def test_sigterm_ends_the_server_while_templates_render(
    server: LocalAwsProcess, hostile: dict[str, str]
) -> None:
    attackers = [connect(hostile["WebSocketURL"]) for _ in range(8)]
    for ws in attackers:
        ws.send('{"action": "nested"}')
    time.sleep(0.2)
    start = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - start < 8 // 2 * RENDER_SECONDS + 3.0


def _rss_mb(server: LocalAwsProcess) -> float:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024
