"""What the AWS APIs answer when moto itself fails on a request, and DynamoDB calls made in
process (as `AWS` integrations make them)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

import boto3
from moto import mock_aws

from local_aws import services
from local_aws.services import unserved

SIGNED = (
    "AWS4-HMAC-SHA256 Credential=testing/20261203/us-east-1/{service}/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)


def test_a_failure_inside_moto_is_an_internal_failure_naming_the_request() -> None:
    environ = {
        "HTTP_AUTHORIZATION": SIGNED.format(service="dynamodb"),
        "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem",
        "CONTENT_TYPE": "application/x-amz-json-1.0",
    }
    status, headers, body = unserved(environ, KeyError("Item"))
    assert status == "500 Internal Server Error"
    assert ("x-amzn-ErrorType", "InternalFailure") in headers
    assert json.loads(body) == {
        "__type": "InternalFailure",
        "message": "local_aws failed on a dynamodb request (PutItem): KeyError. "
        "Its log has the details.",
    }


def test_a_query_protocol_request_gets_its_error_as_xml() -> None:
    environ = {
        "HTTP_AUTHORIZATION": SIGNED.format(service="sqs"),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
    }
    status, _, body = unserved(environ, ValueError("<&>"))
    assert status.startswith("500")
    error = ElementTree.fromstring(body).find("Error")
    assert error is not None
    assert error.findtext("Code") == "InternalFailure"
    assert error.findtext("Message") == (
        "local_aws failed on a sqs request: ValueError. Its log has the details."
    )


def test_an_operation_moto_lacks_is_501_naming_it() -> None:
    environ = {"HTTP_AUTHORIZATION": SIGNED.format(service="apigateway")}
    error = NotImplementedError("The reset_authorizers_cache action has not been implemented")
    status, _, body = unserved(environ, error)
    assert status == "501 Not Implemented"
    message = json.loads(body)["message"]
    assert message == (
        "local_aws does not implement this apigateway operation (The reset_authorizers_cache "
        "action has not been implemented). Run it against AWS, or leave it out of the local run."
    )


def _put(table: str, attributes: dict[str, str]) -> tuple[int, str]:
    item = {"id": {"S": "one"}, **{name: {"S": value} for name, value in attributes.items()}}
    return services.call_dynamodb(
        "PutItem", json.dumps({"TableName": table, "Item": item}), "123456789012", "us-east-1"
    )


def test_an_item_over_dynamodb_s_size_limit_is_refused_and_one_under_it_is_stored() -> None:
    """DynamoDB's 400 KB item limit counts every attribute's name and value, as moto does."""
    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        status, answer = _put("t", {f"a{n}": "x" * 100_000 for n in range(5)})
        assert status == 400 and "Item size has exceeded" in answer
        assert _put("t", {f"a{n}": "x" * 100_000 for n in range(4)}) == (200, "{}")
        # Each attribute counts, the first ones too: none is big alone.
        status, answer = _put("t", {f"a{n}": "x" * 1_000 for n in range(406)})
        assert status == 400 and "Item size has exceeded" in answer
