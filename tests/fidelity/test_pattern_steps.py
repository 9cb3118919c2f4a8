"""The seed pattern's README, step by step, against a real local_aws.

The pattern (serverless-patterns `apigw-websocket-api-connection-dynamodb`) is deployed with
SAM and tested with the AWS CLI and a WebSocket client. Here every step is the command a user
types: the AWS CLI itself (`python -m awscli`), pointed at local_aws by `AWS_ENDPOINT_URL`,
and websocket-client in place of wscat. The stack is `templates/pattern_style_sam.yaml`, a
template in the pattern's style (its output URL and its mapping-template bugs included).
docs/original-pattern.md shows the same steps with the output they print.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
import websocket

from tests.fidelity.support import AWS_ID, TEMPLATES
from tests.fidelity.test_deploy_paths import aws
from tests.support import LocalAwsProcess, wait_for

TEMPLATE = (TEMPLATES / "pattern_style_sam.yaml").read_text()
STACK = "pattern-steps"
# The output as AWS hands it out: wss://{api}.execute-api.{region}.amazonaws.com/{stage}.
AWS_URL = re.compile(r"^wss://(?P<api>[a-z0-9]{10})\.execute-api\.us-east-1\.amazonaws\.com/api$")
MESSAGE = '{"first_name" : "Jane", "last_name" : "Doe"}'  # as typed in the README
A_DAY = 86400


def cli_json(server: LocalAwsProcess, home: Path, *args: str) -> Any:
    """Run an AWS CLI command that must succeed; its JSON output (None when it prints nothing)."""
    done = aws(server, home, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def local_urls(aws_url: str, port: int) -> tuple[str, str]:
    """The two URLs local_aws serves for an AWS-shaped stage URL: path form, host-name form."""
    match = AWS_URL.match(aws_url)
    assert match, aws_url
    return (
        f"ws://127.0.0.1:{port}/{match['api']}/api",
        f"ws://{match['api']}.execute-api.localhost:{port}/api",
    )


def test_the_readme_steps_deploy_echo_track_and_clean_up(local_aws, tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(TEMPLATE)

    # Deploy: what `sam deploy` does, with the capabilities it passes.
    deployed = aws(
        local_aws,
        tmp_path,
        *("cloudformation", "deploy", "--template-file", "template.yaml"),
        *("--stack-name", STACK, "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"),
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert f"Successfully created/updated stack - {STACK}" in deployed.stdout

    # Note the outputs.
    [stack] = cli_json(
        local_aws, tmp_path, "cloudformation", "describe-stacks", "--stack-name", STACK
    )["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert set(outputs) == {"WebSocketEndpoint", "ConnectionsTableName"}
    api_id = AWS_URL.match(outputs["WebSocketEndpoint"])["api"]  # type: ignore[index]
    table = outputs["ConnectionsTableName"]
    assert table == f"{STACK}-Connections"

    # wscat -c "<endpoint>?foo=bar", then type the message. No Origin header, as wscat sends.
    path_url, _ = local_urls(outputs["WebSocketEndpoint"], local_aws.port)
    ws = websocket.create_connection(path_url + "?foo=bar", timeout=10, suppress_origin=True)
    try:
        ws.send(MESSAGE)
        echoed = json.loads(ws.recv())
        # The Node.js function's answer: the event it was given.
        assert set(echoed) == {"requestContext", "body", "isBase64Encoded"}
        assert echoed["body"] == MESSAGE
        assert echoed["isBase64Encoded"] is False
        context = echoed["requestContext"]
        assert (context["routeKey"], context["eventType"], context["messageDirection"]) == (
            "$default",
            "MESSAGE",
            "IN",
        )
        assert (context["stage"], context["apiId"]) == ("api", api_id)
        connection_id = context["connectionId"]
        assert AWS_ID.match(connection_id)

        # aws dynamodb get-item --table-name ... --key '{"connectionid": {"S": "..."}}'
        key = json.dumps({"connectionid": {"S": connection_id}})
        get_item = ("dynamodb", "get-item", "--table-name", table, "--key", key)
        item = cli_json(local_aws, tmp_path, *get_item)["Item"]
        assert set(item) == {"connectionid", "headers", "querystring", "ttl"}
        assert item["connectionid"] == {"S": connection_id}
        assert item["querystring"] == {"S": "{foo=bar}"}
        # Java's Map.toString() of the handshake headers, sorted by name as AWS sorts them.
        headers = item["headers"]["S"]
        expected = (
            re.escape(f"{{Host={api_id}.execute-api.localhost, ")
            + r"Sec-WebSocket-Key=[A-Za-z0-9+/]{22}==, "
            + re.escape("Sec-WebSocket-Version=13, ")
            + r"X-Amzn-Trace-Id=Root=1-[0-9a-f]{8}-[0-9a-f]{24}, "
            + re.escape(
                f"X-Forwarded-For=127.0.0.1, X-Forwarded-Port={local_aws.port}, "
                "X-Forwarded-Proto=http}"
            )
        )
        assert re.fullmatch(expected, headers), headers
        # The pattern's TTL bug, reproduced: milliseconds plus a day's seconds, so DynamoDB
        # (which reads seconds) would expire the item some 50,000 years from now.
        assert int(item["ttl"]["N"]) == context["connectedAt"] + A_DAY
    finally:
        ws.close()

    # Disconnect: the same get-item prints nothing.
    assert wait_for(
        lambda: cli_json(local_aws, tmp_path, *get_item) is None,
        timeout=10,
        message="the $disconnect integration deletes the item",
    )

    # Cleanup: delete the stack, wait, and list it as the README does.
    cli_json(local_aws, tmp_path, "cloudformation", "delete-stack", "--stack-name", STACK)
    cli_json(
        local_aws,
        tmp_path,
        "cloudformation",
        "wait",
        "stack-delete-complete",
        "--stack-name",
        STACK,
    )
    query = f"StackSummaries[?contains(StackName,'{STACK}')].StackStatus"
    statuses = cli_json(local_aws, tmp_path, "cloudformation", "list-stacks", "--query", query)
    assert statuses == ["DELETE_COMPLETE"]
    gone = aws(local_aws, tmp_path, "dynamodb", "describe-table", "--table-name", table)
    assert gone.returncode != 0 and "ResourceNotFoundException" in gone.stderr
    apis = cli_json(local_aws, tmp_path, "apigatewayv2", "get-apis")["Items"]
    assert api_id not in {api["ApiId"] for api in apis}
    functions = cli_json(local_aws, tmp_path, "lambda", "list-functions")["Functions"]
    assert not [f for f in functions if f["FunctionName"].startswith(f"{STACK}-")]


def test_the_aws_shaped_output_is_served_under_its_local_host_name(local_aws) -> None:
    """`{api}.execute-api.localhost:{port}/{stage}`: the output's shape, with a local host."""
    stack = "pattern-steps-host"
    cloudformation = local_aws.client("cloudformation")
    cloudformation.create_stack(
        StackName=stack,
        TemplateBody=TEMPLATE,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    [described] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    _, host_url = local_urls(outputs["WebSocketEndpoint"], local_aws.port)
    host = host_url.removeprefix("ws://").split("/")[0]
    # Connect to 127.0.0.1 but name the API's host, as a resolver mapping *.localhost would.
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{local_aws.port}/api", host=host, timeout=10, suppress_origin=True
    )
    try:
        ws.send(MESSAGE)
        assert json.loads(ws.recv())["body"] == MESSAGE
    finally:
        ws.close()
    cloudformation.delete_stack(StackName=stack)


def test_the_sam_template_without_auto_expand_is_refused(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        cloudformation.create_stack(
            StackName="pattern-steps-refused",
            TemplateBody=TEMPLATE,
            Capabilities=["CAPABILITY_IAM"],
        )
    error = raised.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "InsufficientCapabilitiesException",
        "Requires capabilities : [CAPABILITY_AUTO_EXPAND]",
    )
    names = {s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]}
    assert "pattern-steps-refused" not in names
