"""Lambda runtime behaviours seen end to end, through a WebSocket route and CloudWatch Logs."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from tests.fidelity.support import error_frame_pattern
from tests.support import TEMPLATE, deploy, wait_for
from tests.support.clients import ask, connect

INTERNAL_SERVER_ERROR = error_frame_pattern("Internal server error")


@pytest.fixture
def behave(lambda_api):
    ws = connect(lambda_api["WebSocketURL"])
    yield ws
    ws.close()


def log_messages(local_aws, function_name: str) -> list[str]:
    logs = local_aws.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function_name}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [event["message"] for event in events]


def test_function_past_its_timeout_gives_internal_server_error_and_the_socket_survives(
    behave,
) -> None:
    """TimeoutFunction has `Timeout: 1` and sleeps 3 s."""
    started = time.monotonic()
    frame = ask(behave, {"action": "lambda-timeout"})
    elapsed = time.monotonic() - started
    assert INTERNAL_SERVER_ERROR.match(frame), frame
    assert 0.9 <= elapsed < 2.9, elapsed
    assert json.loads(ask(behave, {"action": "behave"}))["requestContext"]["routeKey"] == "behave"


def test_function_timeout_is_logged(local_aws, lambda_api, behave) -> None:
    ask(behave, {"action": "lambda-timeout"})
    messages = wait_for(
        lambda: [
            m
            for m in log_messages(local_aws, lambda_api["TimeoutFunctionName"])
            if "Task timed out after 1.00 seconds" in m
        ]
    )
    assert messages


def test_stack_trace_of_a_raising_handler_is_in_cloudwatch_logs(
    local_aws, lambda_api, behave
) -> None:
    tag = uuid.uuid4().hex
    assert INTERNAL_SERVER_ERROR.match(ask(behave, {"action": "behave", "do": "raise", "tag": tag}))

    def trace() -> str:
        text = "\n".join(log_messages(local_aws, lambda_api["BehaveFunctionName"]))
        return text if f"raised on purpose: {tag}" in text else ""

    text = wait_for(trace, timeout=5)
    assert f"[ERROR] ValueError: raised on purpose: {tag}" in text
    assert "Traceback (most recent call last):" in text
    assert re.search(r'File "[^"]*index\.py", line \d+, in handler', text)
    assert re.search(r"START RequestId: [0-9a-f-]{36} Version: \$LATEST", text)
    assert re.search(r"REPORT RequestId: [0-9a-f-]{36}\tDuration: ", text)


def test_environment_variables_from_the_template_reach_the_handler(lambda_api, behave) -> None:
    body = json.loads(ask(behave, {"action": "behave", "do": "env"}))
    assert body == {
        "FIDELITY_SETTING": "set-in-the-template",
        "AWS_LAMBDA_FUNCTION_NAME": lambda_api["BehaveFunctionName"],
        "AWS_REGION": "us-east-1",
    }


def test_context_object_has_request_id_and_remaining_time(lambda_api, behave) -> None:
    first = json.loads(ask(behave, {"action": "behave", "do": "context"}))
    second = json.loads(ask(behave, {"action": "behave", "do": "context"}))
    name = lambda_api["BehaveFunctionName"]
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", first["awsRequestId"]
    )
    assert first["awsRequestId"] != second["awsRequestId"]
    assert 4000 < first["remainingMs"] <= 5000  # Timeout: 5
    assert first["functionName"] == name
    assert first["memoryLimitInMB"] == 256
    assert re.fullmatch(
        rf"arn:aws:lambda:us-east-1:\d{{12}}:function:{name}", first["invokedFunctionArn"]
    )
    assert first["logGroupName"] == f"/aws/lambda/{name}"


def test_handler_that_exits_the_process_gives_an_error_and_a_fresh_worker(behave) -> None:
    pid_before = json.loads(ask(behave, {"action": "behave", "do": "pid"}))
    assert isinstance(pid_before, int)
    assert INTERNAL_SERVER_ERROR.match(ask(behave, {"action": "behave", "do": "exit"}))
    # The next message works, in another execution environment: a new process.
    pid_after = json.loads(ask(behave, {"action": "behave", "do": "pid"}))
    assert isinstance(pid_after, int) and pid_after != pid_before
    assert json.loads(ask(behave, {"action": "behave"}))["requestContext"]["routeKey"] == "behave"


@pytest.mark.parametrize("do", ["text", "none"], ids=["returns-a-string", "returns-none"])
def test_response_that_is_not_an_object_gives_internal_server_error(behave, do) -> None:
    """reference §8: AWS probably treats a non-object proxy response as malformed [inf]."""
    assert INTERNAL_SERVER_ERROR.match(ask(behave, {"action": "behave", "do": do}))
    assert json.loads(ask(behave, {"action": "behave"}))["requestContext"]["routeKey"] == "behave"


def test_body_that_is_not_a_string_is_sent_as_json(behave) -> None:
    """Not documented for WebSocket APIs; local_aws sends the body JSON-encoded (reference §8)."""
    assert json.loads(ask(behave, {"action": "behave", "do": "dict-body"})) == {"not": "a string"}


CALLBACK_HANDLER = """
          import json
          import boto3


          def handler(event, context):
              context_ = event["requestContext"]
              endpoint = "https://" + context_["domainName"] + "/" + context_["stage"]
              client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
              client.post_to_connection(
                  ConnectionId=context_["connectionId"], Data=b"via @connections"
              )
              return {"statusCode": 200, "body": json.dumps({"posted": True})}
"""


def callback_template() -> str:
    """The workshop template, with a $default function that posts back via @connections."""
    template = TEMPLATE.read_text()
    start = template.index("        ZipFile: |\n") + len("        ZipFile: |\n")
    end = template.index("  DefaultRouteFunctionLogGroup:")
    return template[:start] + CALLBACK_HANDLER.lstrip("\n") + "\n" + template[end:]


def test_lambda_posts_back_through_the_endpoint_in_its_event(local_aws) -> None:
    """A Lambda builds the @connections endpoint from its event (https://domain/stage)."""
    outputs = deploy(local_aws, "callback", callback_template())
    ws = connect(outputs["WebSocketURL"])
    try:
        ws.send('{"action": "anything"}')
        received = {ws.recv(), ws.recv()}
        assert received == {"via @connections", json.dumps({"posted": True})}
    finally:
        ws.close()
