"""Functions that address AWS by its public host names reach local_aws, as code copied from
AWS's samples does: `https://{api}.execute-api.{region}.amazonaws.com/{stage}` for
`@connections` (Node.js SDK v3 and boto3), `https://dynamodb.us-east-1.amazonaws.com`,
boto3's own default endpoints, S3's virtual-hosted buckets. A name local_aws does not serve
gets an answer naming the service at once; nothing leaves the machine
(docs/aws-host-names.md)."""

from __future__ import annotations

import json
import socket
import ssl

import pytest
import websocket

from tests.fidelity.support import TEMPLATES, probe
from tests.support import LocalAwsProcess, deploy
from tests.support.clients import connect, send_json


@pytest.fixture(scope="module")
def hosts(local_aws: LocalAwsProcess) -> dict[str, str]:
    return deploy(local_aws, "fid-aws-hosts", TEMPLATES / "aws_host_names.yaml")


def reply(hosts: dict[str, str], route: str, text: str) -> dict:
    ws = connect(hosts["WebSocketURL"])
    try:
        send_json(ws, {"action": route, "text": text})
        return json.loads(ws.recv())
    finally:
        ws.close()


def public_connections_url(hosts: dict[str, str]) -> str:
    return f"https://{hosts['ApiId']}.execute-api.us-east-1.amazonaws.com/prod"


@pytest.mark.parametrize("route", ["node", "python"])
def test_functions_post_to_connections_at_the_apis_public_host_name(hosts, route: str) -> None:
    """node: nodejs22.x and the SDK v3, the endpoint built from API_ID, AWS_REGION and STAGE;
    python: boto3, `https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/prod` from
    the template. The client that sent the message receives the push."""
    posted = reply(hosts, route, f"hello from {route}")
    assert posted == {
        "from": route,
        "text": f"hello from {route}",
        "endpoint": public_connections_url(hosts),
    }


def test_a_websocket_client_reaches_the_api_at_its_wss_aws_name(local_aws, hosts) -> None:
    """What a redirected worker's WebSocket client does with `wss://{api}.execute-api.{region}
    .amazonaws.com/prod`: TLS to the TLS port for that name, then the upgrade and messages,
    answered as at the ws:// URL."""
    environment = probe(local_aws, hosts["Probe"], service="sts", endpoint=None)["environment"]
    name = f"{hosts['ApiId']}.execute-api.us-east-1.amazonaws.com"
    raw = socket.create_connection(("127.0.0.1", int(environment["LOCAL_AWS_HTTPS_PORT"])))
    context = ssl.create_default_context(cafile=environment["NODE_EXTRA_CA_CERTS"])
    ws = websocket.create_connection(
        f"wss://{name}/prod", socket=context.wrap_socket(raw, server_hostname=name), timeout=10
    )
    try:
        send_json(ws, {"action": "python", "text": "over wss"})
        assert json.loads(ws.recv())["text"] == "over wss"
    finally:
        ws.close()


@pytest.mark.parametrize(
    ("function", "refusal"),
    [
        # Node's fetch sends `Sec-Fetch-Mode: cors`, as browsers do: refused as a page's.
        ("NodeFetch", "local_aws does not answer web pages"),
        ("PythonUrllib", "local_aws answers AWS API calls only with an Authorization header"),
    ],
)
def test_plain_https_clients_reach_local_aws_at_an_aws_name(
    local_aws, hosts, function: str, refusal: str
) -> None:
    """Node's fetch and Python's urllib, without an SDK: the request reaches local_aws over
    TLS and its AWS Host is accepted (a foreign one would be refused first); it is refused
    for what it is, unsigned or browser-like."""
    answer = local_aws.client("lambda").invoke(
        FunctionName=hosts[function],
        Payload=json.dumps({"url": "https://dynamodb.us-east-1.amazonaws.com/"}).encode(),
    )
    result = json.loads(answer["Payload"].read())
    assert answer.get("FunctionError") is None, result
    assert result["status"] == 403
    assert result["body"]["message"].startswith(refusal)


def test_boto3_with_dynamodbs_public_endpoint_url_reaches_local_aws(local_aws, hosts) -> None:
    item = {"id": {"S": "public-endpoint"}, "note": {"S": "written through the AWS name"}}
    result = probe(
        local_aws,
        hosts["Probe"],
        service="dynamodb",
        endpoint="https://dynamodb.us-east-1.amazonaws.com",
        call="put_item",
        args={"TableName": hosts["TableName"], "Item": item},
    )
    assert result["answer"] == {}, result
    stored = local_aws.client("dynamodb").get_item(
        TableName=hosts["TableName"], Key={"id": {"S": "public-endpoint"}}
    )
    assert stored["Item"] == item


def test_boto3s_default_endpoint_reaches_local_aws_without_aws_endpoint_url(
    local_aws, hosts
) -> None:
    """The function drops AWS_ENDPOINT_URL: boto3 then uses AWS's own endpoint."""
    local_aws.client("dynamodb").put_item(
        TableName=hosts["TableName"], Item={"id": {"S": "default-endpoint"}}
    )
    result = probe(
        local_aws,
        hosts["Probe"],
        service="dynamodb",
        endpoint=None,
        call="get_item",
        args={"TableName": hosts["TableName"], "Key": {"id": {"S": "default-endpoint"}}},
    )
    assert result["url"] == "https://dynamodb.us-east-1.amazonaws.com"
    assert result["answer"] == {"Item": {"id": {"S": "default-endpoint"}}}


def test_global_services_answer_at_their_public_names(local_aws, hosts) -> None:
    result = probe(
        local_aws, hosts["Probe"], service="sts", endpoint=None, call="get_caller_identity"
    )
    assert result["url"] == "https://sts.us-east-1.amazonaws.com"
    assert result["answer"]["Account"] == "123456789012"
    roles = probe(local_aws, hosts["Probe"], service="iam", endpoint=None, call="list_roles")
    assert roles["url"] == "https://iam.amazonaws.com"
    assert any(role["RoleName"].startswith("fid-aws-hosts") for role in roles["answer"]["Roles"])


def test_s3_virtual_hosted_buckets_reach_local_aws(local_aws, hosts) -> None:
    """`https://{bucket}.s3.amazonaws.com/{key}`: moto reads the bucket from the host."""
    virtual = {"s3": {"addressing_style": "virtual"}}
    for call, args in (
        ("create_bucket", {"Bucket": "fid-aws-hosts-bucket"}),
        ("put_object", {"Bucket": "fid-aws-hosts-bucket", "Key": "k", "Body": "virtual"}),
    ):
        result = probe(
            local_aws,
            hosts["Probe"],
            service="s3",
            endpoint=None,
            call=call,
            args=args,
            config=virtual,
        )
        assert "error" not in result["answer"], result
    body = local_aws.client("s3").get_object(Bucket="fid-aws-hosts-bucket", Key="k")["Body"]
    assert body.read() == b"virtual"


def test_a_service_local_aws_does_not_serve_is_answered_naming_it(local_aws, hosts) -> None:
    """Amazon Translate, which moto has no backend for: 501 NotImplemented, not a timeout."""
    result = probe(
        local_aws,
        hosts["Probe"],
        service="translate",
        endpoint=None,
        call="translate_text",
        args={"Text": "hello", "SourceLanguageCode": "en", "TargetLanguageCode": "fr"},
    )
    assert result["url"] == "https://translate.us-east-1.amazonaws.com"
    assert result["answer"]["error"] == "ClientError"
    assert "(NotImplemented)" in result["answer"]["message"]
    assert "local_aws does not serve translate (TranslateText)" in result["answer"]["message"]


@pytest.mark.parametrize("which", ["unknown api", "another region"])
def test_connections_of_an_api_that_is_not_there_are_forbidden(local_aws, hosts, which) -> None:
    """As on AWS: no such API in the region the host names is 403 Forbidden, which the SDK
    raises as its ForbiddenException (reference §4.3)."""
    host = (
        "nosuchapi1.execute-api.us-east-1.amazonaws.com"
        if which == "unknown api"
        else f"{hosts['ApiId']}.execute-api.eu-west-1.amazonaws.com"
    )
    result = probe(
        local_aws,
        hosts["Probe"],
        service="apigatewaymanagementapi",
        endpoint=f"https://{host}/prod",
        call="post_to_connection",
        args={"ConnectionId": "c2Vlbg=", "Data": "x"},
    )
    assert result["answer"] == {
        "error": "ForbiddenException",
        "message": "An error occurred (ForbiddenException) when calling the PostToConnection "
        "operation: Forbidden",
    }


def list_tables_at(local_aws: LocalAwsProcess, hosts: dict[str, str], endpoint: str) -> dict:
    """What the Probe function's DynamoDB ListTables at `endpoint` answered."""
    call = {"service": "dynamodb", "endpoint": endpoint, "call": "list_tables"}
    return probe(local_aws, hosts["Probe"], **call)["answer"]


def test_an_aws_name_over_plain_http_is_refused_saying_to_use_https(local_aws, hosts) -> None:
    answer = list_tables_at(local_aws, hosts, "http://dynamodb.us-east-1.amazonaws.com")
    assert answer["error"] == "ClientError"
    assert "only over HTTPS" in answer["message"]


def test_another_port_of_an_aws_name_is_never_resolved(local_aws, hosts) -> None:
    """Only 443 and 80 are local_aws's: port 8443 fails at name resolution, in the worker."""
    answer = list_tables_at(local_aws, hosts, "https://dynamodb.us-east-1.amazonaws.com:8443")
    assert answer["error"] == "EndpointConnectionError"
    expected = "local_aws: dynamodb.us-east-1.amazonaws.com port 8443 is not served locally"
    assert expected in answer["cause"]
