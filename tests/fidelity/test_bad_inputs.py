"""Hostile and awkward inputs: each row of docs/bad-inputs.md that is not tested elsewhere.

Header and query values go into the workshop's item through its `$connect` template, which
escapes every name and value; they must come back exactly and never add attributes.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import quote

import botocore.exceptions
import pytest

from tests.fidelity.support import TEMPLATES, stored_item
from tests.support import wait_for
from tests.support.clients import connect, handshake_status, http_endpoint, whoami

JSON_INJECTION = '", "admin": {"S": "yes"}, "x": {"S": "'
VTL_INJECTION = '$context.connectionId #set($x = "1") ${x} $util.escapeJavaScript("a") #end'

HEADER_VALUES = {
    "double-quotes": 'say "hi"',
    "backslashes": "C:\\dir\\file \\\\ end\\",
    "single-quote": "it's",
    "json-injection": JSON_INJECTION,
    "vtl-injection": VTL_INJECTION,
    "tab": "a\tb",
    "emoji": "😀 👍🏽 🇪🇺",
    "non-ascii": "é ü ñ ß 中文 Ω",
    "8-kb": ("ab\"c\\d'" * 1200)[:8192],
}
QUERY_VALUES = {
    **{name: value for name, value in HEADER_VALUES.items() if name != "8-kb"},
    "newline": "line1\nline2",
    "crlf": "a\r\nb",
    "control-characters": "\x00\x01\x07\x1b\x7f",
    "url-specials": "a&b=c+d%20e#f?g/h",
    "empty": "",
    # 3.5 KB whose percent-encoded URL stays within AWS's 4096 characters.
    "3.5-kb": "ab\"c\\d'" + "x" * 3493,
}


@pytest.mark.parametrize("value", HEADER_VALUES.values(), ids=HEADER_VALUES.keys())
def test_header_value_round_trips_exactly_into_the_item(local_aws, workshop, value) -> None:
    item = stored_item(local_aws, workshop, headers=[f"X-Value: {value}"])
    assert item["headers"]["M"]["X-Value"] == {"S": value}
    assert item["querystring"] == {"M": {}}


@pytest.mark.parametrize("value", QUERY_VALUES.values(), ids=QUERY_VALUES.keys())
def test_query_value_round_trips_exactly_into_the_item(local_aws, workshop, value) -> None:
    item = stored_item(local_aws, workshop, f"?v={quote(value, safe='')}")
    assert item["querystring"] == {"M": {"v": {"S": value}}}


@pytest.mark.parametrize("key", ['we"ird', "back\\slash", "it's", "new\nline", "ключ", "😀"])
def test_query_key_round_trips_exactly_into_the_item(local_aws, workshop, key) -> None:
    item = stored_item(local_aws, workshop, f"?{quote(key, safe='')}=1")
    assert item["querystring"] == {"M": {key: {"S": "1"}}}


def test_user_agent_with_quotes_round_trips(local_aws, workshop) -> None:
    user_agent = 'Mozilla/5.0 ("quoted") \\ it\'s'
    item = stored_item(local_aws, workshop, headers=[f"User-Agent: {user_agent}"])
    assert item["userAgent"] == {"S": user_agent}
    assert item["headers"]["M"]["User-Agent"] == {"S": user_agent}


@pytest.mark.parametrize(
    "headers",
    [[f"X-Large: {'a' * 16 * 1024}"], [f"X-Header-{i}: v" for i in range(150)]],
    ids=["16-kb-header", "150-headers"],
)
def test_oversized_handshake_is_answered_not_left_hanging(workshop, headers) -> None:
    """AWS's exact limits here are not documented; whatever it does, it answers."""
    try:
        status = handshake_status(workshop["WebSocketURL"], headers=headers, timeout=5)
    except TimeoutError:
        pytest.fail("the handshake got no answer within 5 s")
    assert status == 101 or 400 <= status < 500, status


def test_url_longer_than_4096_characters_is_refused(workshop) -> None:
    """reference §5.1: URL length 4096 characters, not adjustable (the status is not documented)."""
    url = workshop["WebSocketURL"]
    query = "?v=" + "a" * (4097 - len(url) + 10)
    assert len(url + query) > 4096
    status = handshake_status(url, query)
    assert 400 <= status < 500, status


@pytest.mark.parametrize(
    "value", ["a\x01b", "a\x7fb"], ids=["control-character", "delete-character"]
)
def test_header_with_a_control_character_is_refused_with_400(workshop, value) -> None:
    """HTTP field values cannot hold control characters other than HTAB (RFC 9110 §5.5)."""
    assert handshake_status(workshop["WebSocketURL"], headers=[f"X-Value: {value}"]) == 400


# ---------------------------------------------------------------- @connections ids


def management(local_aws, stack):
    return local_aws.client(
        "apigatewaymanagementapi", endpoint_url=http_endpoint(stack["WebSocketURL"])
    )


def call(client, operation: str, connection_id: str):
    if operation == "post":
        return client.post_to_connection(ConnectionId=connection_id, Data=b"must not arrive")
    if operation == "get":
        return client.get_connection(ConnectionId=connection_id)
    return client.delete_connection(ConnectionId=connection_id)


OPERATIONS = ["post", "get", "delete"]


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(
    "connection_id",
    ["AAAAAAAAAAAAAAA=", "Xk1bVd0JoAMCJQg=", "ab-_CDefGHijKLm="],
    ids=["zeros", "aws-sample", "url-safe-characters"],
)
def test_well_formed_id_that_never_existed_is_gone(
    local_aws, workshop, connection_id, operation
) -> None:
    """reference §4.4: an id of AWS's shape that names no connection gets 410 GoneException."""
    client = management(local_aws, workshop)
    with pytest.raises(client.exceptions.GoneException) as gone:
        call(client, operation, connection_id)
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(
    "connection_id",
    ["A" * 1023 + "=", "abc/def=", "../../etc", "a b", "ö", "cjy8i76bx002884le6n17d49b", "A" * 16],
    ids=["1-kb", "slash", "dot-dot", "space", "non-ascii", "cuid", "no-padding"],
)
def test_badly_formed_id_is_a_bad_request(local_aws, workshop, connection_id, operation) -> None:
    """reference §4.4: an id not of AWS's shape gets 400 BadRequestException naming it.

    The evidence: localstack#4694 (AWS answers BadRequestException unless "the connection ID
    [is] of a valid format") and serverless-offline#749 (AWS's answer to a 25-character id:
    "BadRequestException: Invalid connectionId: cjy8i76bx002884le6n17d49b").
    """
    client = management(local_aws, workshop)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        call(client, operation, connection_id)
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "BadRequestException"
    assert error["Error"]["Message"] == f"Invalid connectionId: {connection_id}"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_percent_encoded_id_names_another_connection(local_aws, workshop, operation) -> None:
    """`abc%3D` is not `abc=`: an id is decoded once, as boto3 encoded it once, so it is
    18 characters long and no id at all."""
    ws = connect(workshop["WebSocketURL"])
    try:
        connection_id = whoami(ws)
        client = management(local_aws, workshop)
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            call(client, operation, connection_id[:-1] + "%3D")
        assert refused.value.response["Error"]["Code"] == "BadRequestException"
        # The real connection is untouched: nothing was delivered, it is still open.
        client.post_to_connection(ConnectionId=connection_id, Data=b"only this one")
        assert ws.recv() == "only this one"
    finally:
        ws.close()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_connection_of_another_api_is_gone(local_aws, workshop, lambda_api, operation) -> None:
    ws = connect(workshop["WebSocketURL"])
    try:
        connection_id = whoami(ws)
        client = management(local_aws, lambda_api)
        with pytest.raises(client.exceptions.GoneException):
            call(client, operation, connection_id)
    finally:
        ws.close()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_connection_closed_by_its_client_is_gone(local_aws, workshop, operation) -> None:
    ws = connect(workshop["WebSocketURL"])
    connection_id = whoami(ws)
    ws.close()
    client = management(local_aws, workshop)

    def gone() -> bool:
        try:
            client.get_connection(ConnectionId=connection_id)
        except client.exceptions.GoneException:
            return True
        return False

    assert wait_for(gone)
    with pytest.raises(client.exceptions.GoneException):
        call(client, operation, connection_id)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_empty_connection_id_is_forbidden(local_aws, workshop, operation) -> None:
    """`/@connections/` has no route on AWS; API Gateway answers such paths with 403 (§4.1)."""
    client = management(local_aws, workshop)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        call(client, operation, "")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# ---------------------------------------------------------------- templates


def test_unsupported_resource_types_refuse_the_whole_stack(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        cloudformation.create_stack(
            StackName="fid-unsupported",
            TemplateBody=(TEMPLATES / "unsupported.yaml").read_text(),
        )
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert "AWS::ApiGatewayV2::DomainName" in error["Message"]
    assert "AWS::CloudFront::Function" in error["Message"]
    assert "AWS::DynamoDB::Table" not in error["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        cloudformation.describe_stacks(StackName="fid-unsupported")
    assert missing.value.response["Error"]["Code"] == "ValidationError"
    tables = local_aws.client("dynamodb").list_tables()["TableNames"]
    assert "fid-unsupported-Table" not in tables


# ---------------------------------------------------------------- services moto does not serve


def test_a_service_local_aws_does_not_serve_is_a_clear_error_not_a_crash(local_aws) -> None:
    # `sam list endpoints` asks Cloud Control for a function URL; moto has no Cloud Control.
    cloudcontrol = local_aws.client("cloudcontrol")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        cloudcontrol.get_resource(TypeName="AWS::Lambda::Url", Identifier="EchoFunction")
    response = refused.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
    assert response["Error"]["Code"] == "NotImplemented"
    assert response["Error"]["Message"] == (
        "local_aws does not serve cloudcontrolapi (GetResource): it serves the services moto "
        "implements. Run this against AWS, or leave it out of the local run."
    )
    # The server goes on serving.
    assert "TableNames" in local_aws.client("dynamodb").list_tables()


def test_an_operation_moto_lacks_is_a_clear_501_and_the_list_calls_work(
    local_aws, workshop
) -> None:
    apigatewayv2 = local_aws.client("apigatewayv2")
    api_id = workshop["ApiId"]
    # GetAuthorizers and GetRouteResponses, which moto lacked, list what the API has.
    assert apigatewayv2.get_authorizers(ApiId=api_id)["Items"] == []
    default = next(
        route
        for route in apigatewayv2.get_routes(ApiId=api_id)["Items"]
        if route["RouteKey"] == "$default"
    )
    listed = apigatewayv2.get_route_responses(ApiId=api_id, RouteId=default["RouteId"])["Items"]
    assert [item["RouteResponseKey"] for item in listed] == ["$default"]
    # UpdateRouteResponse is one moto lacks.
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        apigatewayv2.update_route_response(
            ApiId=api_id,
            RouteId=default["RouteId"],
            RouteResponseId=listed[0]["RouteResponseId"],
            RouteResponseKey="$default",
        )
    response = refused.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
    assert response["Error"]["Code"] == "NotImplemented"
    assert "update_route_response" in response["Error"]["Message"]


# ---------------------------------------------------------------- AWS API request bodies


def test_an_api_body_over_the_bound_is_413_before_it_is_sent(local_aws) -> None:
    # 200 MiB announced, none of it sent: the answer comes at once, naming the bound and what
    # to do, and the server goes on serving.
    signed = (
        "AWS4-HMAC-SHA256 Credential=testing/20261203/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{local_aws.port}\r\nAuthorization: {signed}\r\n"
        "X-Amz-Target: DynamoDB_20120810.ListTables\r\n"
        "Content-Type: application/x-amz-json-1.0\r\n"
        f"Content-Length: {200 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", local_aws.port), timeout=10) as client:
        client.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            received = client.recv(65536)
            if not received:
                break
            answer += received
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["__type"] == "RequestEntityTooLargeException"
    assert "up to 134,217,728 bytes" in body["message"]
    assert "--max-api-body-mb" in body["message"]
    assert "TableNames" in local_aws.client("dynamodb").list_tables()
