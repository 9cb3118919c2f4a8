"""Node.js functions use the AWS SDK for JavaScript v3 the runtime provides, as on AWS Lambda
(nodejs18.x and later), against a real local_aws: its clients reach local_aws's DynamoDB and
@connections; the SDK v2 is not there."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest

from tests.fidelity.support import TEMPLATES
from tests.support import deploy
from tests.support.clients import connect, get_item, send_json

ASSUME_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}

# A pattern-style ES module handler (index.mjs) importing a client of the runtime's SDK.
ESM_HANDLER = """
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";

const client = new DynamoDBClient({});

export const handler = async () => {
  const { TableNames } = await client.send(new ListTablesCommand({}));
  return { tables: TableNames, region: await client.config.region() };
};
"""

SDK_V2_HANDLER = """
const AWS = require("aws-sdk");
exports.handler = async () => new AWS.DynamoDB().listTables().promise();
"""


@pytest.fixture(scope="module")
def sdk_api(local_aws) -> dict[str, str]:
    return deploy(local_aws, "fid-node-sdk", TEMPLATES / "node_sdk_api.yaml")


def create_function(local_aws, filename: str, code: str) -> str:
    """A nodejs24.x function made with CreateFunction from one file; its name."""
    role = local_aws.client("iam").create_role(
        RoleName=f"node-sdk-{uuid.uuid4().hex[:8]}",
        AssumeRolePolicyDocument=json.dumps(ASSUME_LAMBDA),
    )["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(filename, code)
    name = f"node-sdk-{uuid.uuid4().hex[:8]}"
    local_aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="nodejs24.x",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=10,
    )
    return name


def invoke(local_aws, name: str) -> tuple[dict, str | None]:
    """The function's payload and its X-Amz-Function-Error, if any."""
    answer = local_aws.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    return json.loads(answer["Payload"].read()), answer.get("FunctionError")


def test_a_pattern_style_function_stores_reads_back_and_posts_to_its_connection(
    local_aws, sdk_api
) -> None:
    """lib-dynamodb PutCommand/GetCommand, then PostToConnectionCommand to the sender."""
    ws = connect(sdk_api["WebSocketURL"])
    try:
        send_json(ws, {"text": "hello from the SDK v3"})
        posted = json.loads(ws.recv())
    finally:
        ws.close()
    stored = posted["stored"]
    assert stored["text"] == "hello from the SDK v3" and stored["tags"] == ["a", "b"]
    item = get_item(local_aws, sdk_api["TableName"], stored["connectionid"])
    assert item is not None and item["text"] == {"S": "hello from the SDK v3"}


def test_an_esm_handler_imports_a_client_that_reaches_local_aws(local_aws, sdk_api) -> None:
    """index.mjs `import … from "@aws-sdk/client-dynamodb"`: endpoint, keys and region are
    the ones local_aws gives every function, as Lambda gives its own."""
    payload, error = invoke(local_aws, create_function(local_aws, "index.mjs", ESM_HANDLER))
    assert error is None, payload
    assert sdk_api["TableName"] in payload["tables"]
    assert payload["region"] == local_aws.client("lambda").meta.region_name


def test_a_function_requiring_the_sdk_v2_fails_as_on_aws(local_aws) -> None:
    payload, error = invoke(local_aws, create_function(local_aws, "index.js", SDK_V2_HANDLER))
    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert payload["errorMessage"].startswith("Error: Cannot find module 'aws-sdk'\nRequire stack:")
    assert payload["trace"][0] == "Runtime.ImportModuleError: Error: Cannot find module 'aws-sdk'"
