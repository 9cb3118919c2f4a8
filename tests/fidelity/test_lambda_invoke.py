"""Lambda's Invoke API runs Python and Node.js functions, against a real local_aws."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError

from tests.fidelity.support import TEMPLATES
from tests.support import deploy, wait_for
from tests.support.clients import ask, connect

PYTHON_CODE = """
import time

def handler(event, context):
    print("python got", event)
    if event.get("fail"):
        raise ValueError("boom")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("call_moto"):  # local_aws's own API, while local_aws answers the Invoke
        import boto3

        return {"tables": boto3.client("dynamodb").list_tables()["TableNames"]}
    return {"echo": event, "requestId": context.aws_request_id}
"""

NODE_CODE = """
exports.handler = async (event, context) => {
  console.log("node got", JSON.stringify(event));
  if (event.fail) throw new TypeError("boom");
  return { echo: event, requestId: context.awsRequestId };
};
"""


def zipped(filename: str, code: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(filename, code)
    return buffer.getvalue()


def log_lines(local_aws, function_name: str) -> list[str]:
    logs = local_aws.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function_name}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [event["message"] for event in events]


@pytest.fixture(scope="module")
def functions(local_aws) -> dict[str, str]:
    """One Python and one Node.js function, created with CreateFunction: name by language."""
    role = local_aws.client("iam").create_role(
        RoleName=f"invoke-{uuid.uuid4().hex[:8]}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    client = local_aws.client("lambda")
    names = {}
    for language, runtime, filename, code in (
        ("python", "python3.12", "index.py", PYTHON_CODE),
        ("node", "nodejs22.x", "index.js", NODE_CODE),
    ):
        name = f"invoke-{language}-{uuid.uuid4().hex[:8]}"
        client.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": zipped(filename, code)},
            Timeout=5,
        )
        names[language] = name
    return names


@pytest.mark.parametrize("language", ["python", "node"])
def test_request_response_returns_the_functions_result(local_aws, functions, language) -> None:
    response = local_aws.client("lambda").invoke(
        FunctionName=functions[language], Payload=json.dumps({"hello": language})
    )
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    result = json.loads(response["Payload"].read())
    assert result["echo"] == {"hello": language}
    assert uuid.UUID(result["requestId"]).version == 4
    assert "LogResult" not in response  # only with LogType=Tail


@pytest.mark.parametrize(("language", "trace_key"), [("python", "stackTrace"), ("node", "trace")])
def test_a_function_error_is_unhandled_with_the_error_as_payload(
    local_aws, functions, language, trace_key
) -> None:
    response = local_aws.client("lambda").invoke(
        FunctionName=functions[language], Payload=json.dumps({"fail": True})
    )
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorMessage"] == "boom"
    assert error["errorType"] == ("ValueError" if language == "python" else "TypeError")
    assert error[trace_key]


def test_a_function_that_calls_local_aws_during_its_invoke_gets_an_answer(
    local_aws, functions
) -> None:
    """The Invoke request waits with moto's lock given back, or this would never answer."""
    started = time.monotonic()
    response = local_aws.client("lambda").invoke(
        FunctionName=functions["python"], Payload=json.dumps({"call_moto": True})
    )
    assert "FunctionError" not in response
    assert isinstance(json.loads(response["Payload"].read())["tables"], list)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("language", ["python", "node"])
def test_log_type_tail_returns_the_end_of_the_logs(local_aws, functions, language) -> None:
    response = local_aws.client("lambda").invoke(
        FunctionName=functions[language], Payload=json.dumps({"tail": 1}), LogType="Tail"
    )
    logs = base64.b64decode(response["LogResult"]).decode()
    assert f"{language} got" in logs
    assert "END RequestId: " in logs and "REPORT RequestId: " in logs
    assert len(base64.b64decode(response["LogResult"])) <= 4096


def test_log_result_is_at_most_the_last_4_kb(local_aws, functions) -> None:
    response = local_aws.client("lambda").invoke(
        FunctionName=functions["python"], Payload=json.dumps({"pad": "x" * 10_000}), LogType="Tail"
    )
    tail = base64.b64decode(response["LogResult"])
    assert len(tail) == 4096
    assert tail.decode().rstrip().splitlines()[-1].startswith("REPORT RequestId: ")


def test_event_answers_202_and_runs_in_the_background(local_aws, functions) -> None:
    marker = uuid.uuid4().hex
    started = time.monotonic()
    response = local_aws.client("lambda").invoke(
        FunctionName=functions["python"],
        InvocationType="Event",
        Payload=json.dumps({"marker": marker, "sleep": 1}),
    )
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    assert time.monotonic() - started < 1  # it did not wait for the function
    wait_for(
        lambda: any(marker in line for line in log_lines(local_aws, functions["python"])),
        timeout=15,
        message="the Event invocation never ran",
    )


def test_dry_run_answers_204_and_runs_nothing(local_aws, functions) -> None:
    marker = uuid.uuid4().hex
    response = local_aws.client("lambda").invoke(
        FunctionName=functions["node"],
        InvocationType="DryRun",
        Payload=json.dumps({"marker": marker}),
    )
    assert response["StatusCode"] == 204
    assert response["Payload"].read() == b""
    # A RequestResponse after it: once its line is in the logs, the dry run's would be too.
    after = uuid.uuid4().hex
    local_aws.client("lambda").invoke(
        FunctionName=functions["node"], Payload=json.dumps({"marker": after})
    )
    lines = wait_for(
        lambda: (
            (found := log_lines(local_aws, functions["node"]))
            and any(after in line for line in found)
            and found
        ),
        timeout=10,
        message="the invocation after the dry run is not in the logs",
    )
    assert not any(marker in line for line in lines)


def test_invocations_are_in_cloudwatch_logs(local_aws, functions) -> None:
    marker = uuid.uuid4().hex
    local_aws.client("lambda").invoke(
        FunctionName=functions["node"], Payload=json.dumps({"marker": marker})
    )
    wait_for(
        lambda: any(marker in line for line in log_lines(local_aws, functions["node"])),
        timeout=10,
        message="the invocation's console.log line is not in the logs",
    )


def test_a_payload_that_is_not_json_is_refused(local_aws, functions) -> None:
    with pytest.raises(ClientError) as raised:
        local_aws.client("lambda").invoke(FunctionName=functions["python"], Payload=b"{not json")
    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert "Could not parse request body into json" in str(raised.value)


def test_an_unknown_function_is_not_found(local_aws) -> None:
    with pytest.raises(ClientError) as raised:
        local_aws.client("lambda").invoke(FunctionName="no-such-function", Payload=b"{}")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_node_default_route_echoes_the_event_to_the_client(local_aws) -> None:
    """The seed pattern: `$default` → AWS_PROXY → a Node.js echo with inline code."""
    outputs = deploy(local_aws, "fid-node-echo", TEMPLATES / "node_echo_api.yaml")
    ws = connect(outputs["WebSocketURL"])
    try:
        event = json.loads(ask(ws, {"say": "hello from node"}))
    finally:
        ws.close()
    assert event["requestContext"]["routeKey"] == "$default"
    assert event["requestContext"]["eventType"] == "MESSAGE"
    assert json.loads(event["body"]) == {"say": "hello from node"}


@pytest.mark.parametrize("runtime", ["java21", "nodejs12.x"])
def test_a_runtime_local_aws_cannot_run_is_refused_at_create_function(
    local_aws, functions, runtime
) -> None:
    role = local_aws.client("lambda").get_function(FunctionName=functions["python"])[
        "Configuration"
    ]["Role"]
    with pytest.raises(ClientError) as raised:
        local_aws.client("lambda").create_function(
            FunctionName=f"cannot-run-{uuid.uuid4().hex[:8]}",
            Runtime=runtime,
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": zipped("index.py", PYTHON_CODE)},
        )
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"
    message = raised.value.response["Error"]["Message"]
    assert f"local_aws cannot run the runtime '{runtime}'" in message
    assert "Change the function's Runtime" in message


def test_a_stack_with_a_runtime_local_aws_cannot_run_rolls_back_naming_it(local_aws) -> None:
    body = (TEMPLATES / "node_echo_api.yaml").read_text().replace("nodejs24.x", "java21")
    cloudformation = local_aws.client("cloudformation")
    name = f"fid-java-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
    stack = wait_for(
        lambda: (
            (found := cloudformation.describe_stacks(StackName=name)["Stacks"][0])
            and found["StackStatus"].endswith("COMPLETE")
            and found
        ),
        timeout=20,
        message="the stack never finished",
    )
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "local_aws cannot run the runtime 'java21'" in stack["StackStatusReason"]
    cloudformation.delete_stack(StackName=name)


@pytest.mark.parametrize(
    ("kind", "limit"), [("RequestResponse", 6 * 1024 * 1024), ("Event", 1024 * 1024)]
)
def test_a_payload_over_aws_quota_is_refused(local_aws, functions, kind, limit) -> None:
    payload = json.dumps({"pad": "x" * limit}).encode()
    with pytest.raises(ClientError) as raised:
        local_aws.client("lambda").invoke(
            FunctionName=functions["python"], InvocationType=kind, Payload=payload
        )
    assert raised.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert f"Request must be smaller than {limit} bytes" in str(raised.value)


def test_an_unknown_invocation_type_is_refused(local_aws, functions) -> None:
    with pytest.raises(ClientError) as raised:
        local_aws.client("lambda").invoke(
            FunctionName=functions["python"], InvocationType="Later", Payload=b"{}"
        )
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "use RequestResponse, Event or DryRun" in str(raised.value)


INLINE_NODE_TEMPLATE = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: nodejs22.x
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: "exports.handler = async () => ({version: %d});"
Outputs:
  FunctionName:
    Value: !Ref Function
"""


def test_a_stack_update_of_inline_node_code_runs_the_new_code(local_aws) -> None:
    """CloudFormation writes a Node.js function's inline source to index.js, on update too."""
    cloudformation = local_aws.client("cloudformation")
    name = f"fid-inline-node-{uuid.uuid4().hex[:6]}"
    outputs = deploy(local_aws, name, INLINE_NODE_TEMPLATE % 1)
    function = outputs["FunctionName"]

    def answer() -> dict:
        response = local_aws.client("lambda").invoke(FunctionName=function, Payload=b"{}")
        assert "FunctionError" not in response, response["Payload"].read()
        return json.loads(response["Payload"].read())

    assert answer() == {"version": 1}
    cloudformation.update_stack(
        StackName=name, TemplateBody=INLINE_NODE_TEMPLATE % 2, Capabilities=["CAPABILITY_IAM"]
    )
    cloudformation.get_waiter("stack_update_complete").wait(
        StackName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    assert wait_for(lambda: answer() == {"version": 2}, message="the new code never ran")
    cloudformation.delete_stack(StackName=name)
