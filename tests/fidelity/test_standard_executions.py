"""Step Functions Standard executions, end to end: a WebSocket route starts one and is
answered at once, and the workflow pushes its result to the client later through
`apigateway:invoke` on @connections; boto3's start, describe, history, stop; the bound on
running executions; SAM and CloudFormation state machines with DefinitionSubstitutions.

The stack comes from templates/standard_executions.yaml, on a local_aws of its own whose
Wait states run 100 times faster (`--sfn-wait-scale 0.01`: the 30 s Wait takes 0.3 s) and
which runs at most 3 executions at a time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.fidelity.support import TEMPLATES, error_frame_pattern
from tests.support import LocalAwsProcess, deploy
from tests.support.clients import ask, connect

FORBIDDEN = error_frame_pattern("Forbidden")
MAX_RUNNING = 3


@pytest.fixture(scope="module")
def server() -> Iterator[LocalAwsProcess]:
    with LocalAwsProcess(
        "--sfn-wait-scale", "0.01", "--sfn-max-running-executions", str(MAX_RUNNING)
    ) as running:
        yield running


@pytest.fixture(scope="module")
def stack(server) -> dict[str, str]:
    return deploy(server, "fid-standard", TEMPLATES / "standard_executions.yaml")


@pytest.fixture
def ws(stack) -> Iterator[Any]:
    client = connect(stack["WebSocketURL"])
    yield client
    client.close()


@pytest.fixture
def sfn(server) -> Any:
    return server.client("stepfunctions")


def connection_id_of(ws) -> str:
    """The connection's id, from the error frame of a route the API does not have."""
    match = FORBIDDEN.match(ask(ws, {"action": "no-such-route"}))
    assert match, "an unknown route without $default is refused with a Forbidden frame"
    return match["connectionId"]


def ended(sfn, arn: str, seconds: float = 30.0) -> dict[str, Any]:
    """DescribeExecution once the execution is no longer RUNNING (or after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        answer = sfn.describe_execution(executionArn=arn)
        if answer["status"] != "RUNNING" or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def test_route_answers_at_once_and_the_workflow_pushes_its_result_later(sfn, stack, ws) -> None:
    connection_id = connection_id_of(ws)
    answer = json.loads(ask(ws, {"action": "later", "text": "slow work"}))
    arn = answer["started"]
    assert arn.startswith(f"arn:aws:states:us-east-1:{arn.split(':')[4]}:execution:fid-standard-")
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"  # still waiting
    pushed = json.loads(ws.recv())  # after the scaled Wait, through @connections
    assert pushed == {"done": "slow work", "execution": arn.rsplit(":", 1)[1]}
    described = ended(sfn, arn)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["connectionId"] == connection_id
    assert output["posted"] == {"status": 200, "text": "OK"}
    assert output["looked"]["status"] == 200 and output["looked"]["connectedAt"].endswith("Z")
    events = sfn.get_execution_history(executionArn=arn)["events"]
    types = [event["type"] for event in events]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    entered = [
        event["stateEnteredEventDetails"]["name"]
        for event in events
        if event["type"].endswith("StateEntered")
    ]
    assert entered == ["Think", "Tell", "Look"]
    assert "TaskSucceeded" in types


def test_a_gone_connection_fails_the_task_with_apigateway_410(sfn, stack) -> None:
    client = connect(stack["WebSocketURL"])
    gone = connection_id_of(client)
    client.close()
    time.sleep(0.2)  # the gateway has seen the close
    arn = sfn.start_execution(
        stateMachineArn=stack["NotifyMachineArn"],
        input=json.dumps({"connectionId": gone, "text": "too late"}),
    )["executionArn"]
    described = ended(sfn, arn)
    assert (described["status"], described["error"]) == ("FAILED", "ApiGateway.410")
    failed = [
        event
        for event in sfn.get_execution_history(executionArn=arn)["events"]
        if event["type"] == "TaskFailed"
    ]
    assert failed[0]["taskFailedEventDetails"]["error"] == "ApiGateway.410"
    assert failed[0]["taskFailedEventDetails"]["resource"] == "invoke"


def test_a_role_without_manage_connections_fails_the_task_with_apigateway_403(
    server, sfn, stack, ws
) -> None:
    arn = sfn.start_execution(
        stateMachineArn=stack["SilentMachineArn"],
        input=json.dumps({"connectionId": connection_id_of(ws)}),
    )["executionArn"]
    described = ended(sfn, arn)
    assert (described["status"], described["error"]) == ("FAILED", "ApiGateway.403")
    assert "is not authorized to perform: execute-api:ManageConnections" in described["cause"]
    assert "is not authorized to perform execute-api:ManageConnections" in server.log()


def test_a_sam_state_machine_with_substitutions_and_policies_posts(sfn, stack, ws) -> None:
    arn = sfn.start_execution(
        stateMachineArn=stack["SamNotifyMachineArn"],
        input=json.dumps({"connectionId": connection_id_of(ws)}),
    )["executionArn"]
    assert json.loads(ws.recv()) == {"from": "sam"}
    assert ended(sfn, arn)["status"] == "SUCCEEDED"


def test_boto3_lambda_task_parallel_and_map_output(sfn, stack) -> None:
    arn = sfn.start_execution(
        stateMachineArn=stack["WorkMachineArn"], name="work-1", input='{"text": "two words"}'
    )["executionArn"]
    described = ended(sfn, arn)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["work"] == {"upper": "TWO WORDS", "length": 9}
    assert output["both"] == [
        {"words": ["two", "words"]},
        {"json": '{"upper":"TWO WORDS","length":9}'},
    ]
    assert output["marked"] == [{"word": "two"}, {"word": "words"}]
    assert output["split"] == {"words": ["two", "words"]}
    types = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
    assert "LambdaFunctionScheduled" in types or "TaskScheduled" in types
    listed = sfn.list_executions(stateMachineArn=stack["WorkMachineArn"])["executions"]
    assert arn in [item["executionArn"] for item in listed]


def test_boto3_fail_state_is_failed_with_error_and_cause(sfn, stack) -> None:
    arn = sfn.start_execution(stateMachineArn=stack["WorkMachineArn"], input='{"text": "fail"}')[
        "executionArn"
    ]
    described = ended(sfn, arn)
    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED",
        "TextRefused",
        "the text was fail",
    )
    assert "output" not in described


def test_boto3_stop_execution_aborts_it(sfn, stack) -> None:
    arn = sfn.start_execution(stateMachineArn=stack["WorkMachineArn"], input='{"text": "wait"}')[
        "executionArn"
    ]
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    sfn.stop_execution(executionArn=arn, error="Cancelled", cause="the user left")
    described = ended(sfn, arn, seconds=5.0)
    assert (described["status"], described["error"], described["cause"]) == (
        "ABORTED",
        "Cancelled",
        "the user left",
    )
    types = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
    assert types[-1] == "ExecutionAborted"


def test_one_more_running_execution_than_the_bound_is_refused(sfn, stack) -> None:
    waiting = [
        sfn.start_execution(stateMachineArn=stack["WorkMachineArn"], input='{"text": "wait"}')[
            "executionArn"
        ]
        for _ in range(MAX_RUNNING)
    ]
    try:
        with pytest.raises(ClientError) as refused:
            sfn.start_execution(stateMachineArn=stack["WorkMachineArn"], input='{"text": "x"}')
        error = refused.value.response["Error"]
        assert error["Code"] == "ExecutionLimitExceeded"
        assert "at most 3 at a time" in error["Message"]
    finally:
        for arn in waiting:
            sfn.stop_execution(executionArn=arn)
    for arn in waiting:
        assert ended(sfn, arn, seconds=5.0)["status"] == "ABORTED"
    deadline = time.monotonic() + 5
    while True:  # the slots come back as the stopped executions' threads end
        try:
            arn = sfn.start_execution(
                stateMachineArn=stack["WorkMachineArn"], input='{"text": "ok"}'
            )["executionArn"]
            break
        except ClientError:
            assert time.monotonic() < deadline, "no slot came back after the stops"
            time.sleep(0.05)
    assert ended(sfn, arn)["status"] == "SUCCEEDED"


def test_definition_substitutions_are_applied_to_the_deployed_definition(sfn, stack) -> None:
    definition = json.loads(
        sfn.describe_state_machine(stateMachineArn=stack["NotifyMachineArn"])["definition"]
    )
    assert definition["States"]["Think"]["Seconds"] == 30
    tell = definition["States"]["Tell"]["Parameters"]
    assert tell["ApiEndpoint"].endswith(".execute-api.us-east-1.amazonaws.com")
    assert tell["Stage"] == "api"
    assert "${" not in json.dumps(definition)
