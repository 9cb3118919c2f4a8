"""API ids of AWS's shape: 10 lower-case letters and digits, endpoint, ARN and tags with them."""

from __future__ import annotations

import re

import boto3
from moto import mock_aws

from local_aws import apigatewayv2


def test_new_api_ids_have_aws_shape_and_avoid_taken_ones() -> None:
    ids = {apigatewayv2.new_api_id(set()) for _ in range(200)}
    assert all(re.fullmatch(r"[a-z0-9]{10}", api_id) for api_id in ids)
    assert len(ids) == 200
    taken = set(ids)
    assert apigatewayv2.new_api_id(taken) not in taken


@mock_aws
def test_create_api_answers_an_aws_shaped_id_everywhere() -> None:
    client = boto3.client("apigatewayv2", region_name="us-east-1")
    api = client.create_api(Name="chat", ProtocolType="WEBSOCKET", Tags={"team": "ws"})
    api_id = api["ApiId"]
    assert re.fullmatch(r"[a-z0-9]{10}", api_id), api_id
    assert api["ApiEndpoint"].split("//", 1)[1] == f"{api_id}.execute-api.us-east-1.amazonaws.com"
    assert client.get_api(ApiId=api_id)["Name"] == "chat"
    assert [item["ApiId"] for item in client.get_apis()["Items"]] == [api_id]
    arn = f"arn:aws:apigateway:us-east-1::/apis/{api_id}"
    assert client.get_tags(ResourceArn=arn)["Tags"] == {"team": "ws"}
