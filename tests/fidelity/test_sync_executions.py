"""Step Functions StartSyncExecution behind WebSocket routes (AWS service integrations): the
Express state machine runs to its end and its result reaches the client through the
integration response; STANDARD machines are refused; an execution past the integration's
timeout is stopped while other clients keep being served.

The stack comes from templates/sync_executions.yaml.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.fidelity.support import TEMPLATES, error_frame_pattern
from tests.support import deploy
from tests.support.clients import ask, connect

FORBIDDEN = error_frame_pattern("Forbidden")
TIMED_OUT = error_frame_pattern("Endpoint request timed out")
INTERNAL_SERVER_ERROR = error_frame_pattern("Internal server error")


@pytest.fixture(scope="module")
def stack(local_aws) -> dict[str, str]:
    return deploy(local_aws, "fid-sync", TEMPLATES / "sync_executions.yaml")


def connection_id_of(ws) -> str:
    """The connection's id, from the error frame of a route the API does not have."""
    match = FORBIDDEN.match(ask(ws, {"action": "no-such-route"}))
    assert match, "an unknown route without $default is refused with a Forbidden frame"
    return match["connectionId"]


def test_express_machine_result_comes_back_to_the_client(ws) -> None:
    """Pass and Choice states reshape the input the request template built from
    `$context.connectionId` and the message; the response template returns the output."""
    connection_id = connection_id_of(ws)
    answer = json.loads(ask(ws, {"action": "express", "text": 'hello "there"'}))
    assert answer == {"from": connection_id, "said": 'hello "there"', "shout": True}


def test_fail_state_error_reaches_the_client_through_the_integration_response(ws) -> None:
    """A failed sync execution is still a 200: the response template reads its status."""
    answer = json.loads(ask(ws, {"action": "express", "text": "fail"}))
    assert answer == {"status": "FAILED", "error": "TextRefused", "cause": "the text was fail"}


def test_standard_machine_is_refused_with_state_machine_type_not_supported(ws) -> None:
    answer = json.loads(ask(ws, {"action": "standard"}))
    assert answer == {
        "refused": 400,
        "type": "StateMachineTypeNotSupported",
        "message": "This operation is not supported by this type of state machine",
    }


def test_a_role_that_may_not_start_sync_executions_is_an_internal_error(local_aws, ws) -> None:
    """The role allows `states:StartExecution` only: nothing runs."""
    assert INTERNAL_SERVER_ERROR.match(ask(ws, {"action": "denied"}))
    assert "is not authorized to perform states:StartSyncExecution on" in local_aws.log()


def test_task_states_call_lambda_dynamodb_and_sqs_in_local_aws(local_aws, stack, ws) -> None:
    connection_id = connection_id_of(ws)
    answer = json.loads(ask(ws, {"action": "task", "text": "quiet please"}))
    assert answer["status"] == "SUCCEEDED", answer
    output = json.loads(answer["output"])
    assert output["upper"] == {"text": "QUIET PLEASE"}  # the function's result
    assert output["again"] == {"upper": "QUIET PLEASE"}  # invoked by its ARN
    assert (output["connectionId"], output["text"]) == (connection_id, "quiet please")
    item = local_aws.client("dynamodb").get_item(
        TableName=stack["NotesTable"], Key={"connectionId": {"S": connection_id}}
    )["Item"]
    assert item["text"] == {"S": "QUIET PLEASE"}
    messages = local_aws.client("sqs").receive_message(
        QueueUrl=stack["NotesQueueUrl"], MaxNumberOfMessages=10
    )["Messages"]
    assert [message["MessageId"] for message in messages] == [output["sqs"]["queued"]]
    assert messages[0]["Body"] == "QUIET PLEASE"


def test_a_task_local_aws_does_not_run_fails_the_execution_naming_it(local_aws, ws) -> None:
    answer = json.loads(ask(ws, {"action": "glue"}))
    assert (answer["status"], answer["error"]) == ("FAILED", "States.Runtime")
    assert "state 'Crawl'" in answer["cause"]
    assert "arn:aws:states:::glue:startJobRun" in answer["cause"]
    assert "does not run this Task state's Resource" in local_aws.log()


def test_endless_machine_is_stopped_at_the_timeout_while_others_are_served(
    local_aws, stack
) -> None:
    """`endless` waits forever; its integration times out after 1.5 s. Meanwhile another
    client's `express` calls are answered at once, and once the endless executions are
    stopped the API's integration threads serve new calls again."""
    endless = [connect(stack["WebSocketURL"]) for _ in range(2)]
    other = connect(stack["WebSocketURL"])
    try:
        frames: list[str] = []
        started = time.monotonic()
        first = threading.Thread(
            target=lambda: frames.append(ask(endless[0], {"action": "endless"}))
        )
        first.start()
        time.sleep(0.3)  # the endless execution is running
        quick = time.monotonic()
        assert json.loads(ask(other, {"action": "express", "text": "a"}))["said"] == "a"
        assert time.monotonic() - quick < 1.0
        first.join(10)
        assert len(frames) == 1 and TIMED_OUT.match(frames[0])
        assert 1.4 < time.monotonic() - started < 5.0
        # Two endless calls at once hold both of the API's integration threads until they
        # are stopped; then an express call is answered.
        for client in endless:
            client.send(json.dumps({"action": "endless"}))
        for client in endless:
            assert TIMED_OUT.match(client.recv())
        resumed = time.monotonic()
        assert json.loads(ask(other, {"action": "express", "text": "b"}))["said"] == "b"
        assert time.monotonic() - resumed < 3.0
        assert "the execution was stopped after 1.5 s" in local_aws.log()
    finally:
        for client in [*endless, other]:
            client.close()


# ---------------------------------------------------------------- the states API (boto3)


def sync_client(local_aws):
    """botocore sends StartSyncExecution to `sync-<host>`, which 127.0.0.1 has no name for."""
    return local_aws.client("stepfunctions", config=Config(inject_host_prefix=False))


def test_boto3_start_sync_execution_returns_the_result(local_aws, stack) -> None:
    given = json.dumps({"connectionId": "abc", "text": "hi"})
    answer = sync_client(local_aws).start_sync_execution(
        stateMachineArn=stack["ExpressMachineArn"], name="run-1", input=given
    )
    assert answer["status"] == "SUCCEEDED"
    assert json.loads(answer["output"]) == {"from": "abc", "said": "hi", "shout": True}
    assert answer["input"] == given
    assert answer["name"] == "run-1"
    assert answer["stateMachineArn"] == stack["ExpressMachineArn"]
    account, machine = stack["ExpressMachineArn"].split(":")[4], "fid-sync-express"
    assert answer["executionArn"].startswith(
        f"arn:aws:states:us-east-1:{account}:express:{machine}:run-1:"
    )
    assert answer["startDate"] <= answer["stopDate"]
    assert answer["billingDetails"]["billedMemoryUsedInMB"] == 64
    assert answer["billingDetails"]["billedDurationInMilliseconds"] % 100 == 0


def test_boto3_failed_execution_is_a_200_with_error_and_cause(local_aws, stack) -> None:
    answer = sync_client(local_aws).start_sync_execution(
        stateMachineArn=stack["ExpressMachineArn"], input='{"connectionId": "c", "text": "fail"}'
    )
    assert (answer["status"], answer["error"], answer["cause"]) == (
        "FAILED",
        "TextRefused",
        "the text was fail",
    )
    assert "output" not in answer


def test_boto3_a_path_the_input_lacks_fails_with_states_runtime(local_aws, stack) -> None:
    """`from.$: $.connectionId` on an input without it: the interpreter's own failure."""
    answer = sync_client(local_aws).start_sync_execution(
        stateMachineArn=stack["ExpressMachineArn"], input='{"text": "hi"}'
    )
    assert (answer["status"], answer["error"]) == ("FAILED", "States.Runtime")
    assert "$.connectionId" in answer["cause"]


@pytest.mark.parametrize(
    ("request_of", "error"),
    [
        (
            lambda stack: {"stateMachineArn": stack["StandardMachineArn"]},
            "StateMachineTypeNotSupported",
        ),
        (
            lambda stack: {"stateMachineArn": stack["ExpressMachineArn"] + "-gone"},
            "StateMachineDoesNotExist",
        ),
        (
            lambda stack: {"stateMachineArn": stack["ExpressMachineArn"], "input": "{not json"},
            "InvalidExecutionInput",
        ),
        (lambda stack: {"stateMachineArn": "not-an-arn"}, "InvalidArn"),
        (
            lambda stack: {"stateMachineArn": stack["ExpressMachineArn"], "name": "n" * 81},
            "InvalidName",
        ),
    ],
    ids=["standard", "unknown", "input-not-json", "bad-arn", "long-name"],
)
def test_boto3_start_sync_execution_refusals(local_aws, stack, request_of, error) -> None:
    with pytest.raises(ClientError) as refused:
        sync_client(local_aws).start_sync_execution(**request_of(stack))
    assert refused.value.response["Error"]["Code"] == error
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_state_machine_type_that_does_not_exist_fails_the_stack(local_aws) -> None:
    template = """
Resources:
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineType: FAST
      RoleArn: arn:aws:iam::123456789012:role/machine
      DefinitionString: '{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}'
"""
    cloudformation = local_aws.client("cloudformation")
    stack_id = cloudformation.create_stack(StackName="fid-sync-fast", TemplateBody=template)[
        "StackId"
    ]
    try:
        events = cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]
        failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
        assert [e["LogicalResourceId"] for e in failed] == ["Machine"]
        assert "StateMachineType must be STANDARD or EXPRESS" in failed[0]["ResourceStatusReason"]
        stack = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
        assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    finally:
        cloudformation.delete_stack(StackName=stack_id)
