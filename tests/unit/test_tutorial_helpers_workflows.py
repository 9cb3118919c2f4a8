"""tutorial_helpers.workflows and cfn/sfn.yaml on local_aws: the route answers at once, the
workflow tells the client later, and a client that left is caught."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from tests.support import LocalAwsProcess
from tutorial_helpers import connect, receive_json, send_json
from tutorial_helpers.target import Target
from tutorial_helpers.template import lint_template
from tutorial_helpers.workflows import (
    WORKFLOW_TEMPLATE_PATH,
    delete_workflow,
    deploy_workflow,
    execution_history,
    history_table,
    wait_for_execution,
    workflow_stack_status,
    workflow_target,
)


@pytest.fixture(scope="module")
def workflow(local_aws: LocalAwsProcess) -> Iterator[tuple[Target, dict[str, str]]]:
    target = Target("local", "us-east-1", "workflow-test", local_aws.endpoint_url)
    # The session's local_aws waits in real time: no work, so the test is quick.
    outputs = deploy_workflow(target, work_seconds=0, out=io.StringIO())
    yield target, outputs
    delete_workflow(target, out=io.StringIO())


def test_the_template_is_clean_for_cfn_lint() -> None:
    assert lint_template(WORKFLOW_TEMPLATE_PATH) == []


def test_the_stack_is_named_after_the_workshop_s() -> None:
    target = Target("local", "us-east-1", "ws-workshop", "http://127.0.0.1:1")
    assert workflow_target(target).stack_name == "ws-workshop-workflow"


def test_the_route_answers_at_once_and_the_result_comes_later(workflow) -> None:
    target, outputs = workflow
    ws = connect(outputs["WebSocketURL"])
    try:
        send_json(ws, {"action": "report", "job": "monthly report"})
        acknowledgement = receive_json(ws)
        assert acknowledgement["accepted"] is True
        arn = acknowledgement["executionArn"]
        result = receive_json(ws, timeout=30)
        assert result == {
            "done": "monthly report",
            "execution": arn.rsplit(":", 1)[1],
            "seconds": 0,
        }
    finally:
        ws.close()
    assert wait_for_execution(target, arn)["status"] == "SUCCEEDED"
    table = execution_history(target, arn)
    entered = table[table["type"].str.endswith("StateEntered")]["state"].tolist()
    assert entered == ["DoTheWork", "TellTheClient"]


def test_a_client_that_left_is_caught_and_the_workflow_succeeds(workflow) -> None:
    target, outputs = workflow
    sfn = target.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=outputs["WorkflowArn"],
        input=json.dumps({"connectionId": "Gone0000000000A=", "job": "late"}),
    )["executionArn"]
    assert wait_for_execution(target, arn)["status"] == "SUCCEEDED"
    table = execution_history(target, arn)
    assert "ApiGateway.410" in table["error"].tolist()
    entered = table[table["type"].str.endswith("StateEntered")]["state"].tolist()
    assert entered == ["DoTheWork", "TellTheClient", "ClientLeft"]


def test_history_table_names_states_and_errors() -> None:
    events = [
        {"id": 1, "type": "ExecutionStarted", "executionStartedEventDetails": {"input": "{}"}},
        {"id": 2, "type": "WaitStateEntered", "stateEnteredEventDetails": {"name": "W"}},
        {"id": 3, "type": "TaskFailed", "taskFailedEventDetails": {"error": "ApiGateway.410"}},
    ]
    table = history_table(events)
    assert table.to_dict("records") == [
        {"id": 1, "type": "ExecutionStarted", "state": "", "error": ""},
        {"id": 2, "type": "WaitStateEntered", "state": "W", "error": ""},
        {"id": 3, "type": "TaskFailed", "state": "", "error": "ApiGateway.410"},
    ]


def test_the_stack_is_gone_after_delete(local_aws: LocalAwsProcess) -> None:
    target = Target("local", "us-east-1", "workflow-gone", local_aws.endpoint_url)
    deploy_workflow(target, work_seconds=0, out=io.StringIO())
    delete_workflow(target, out=io.StringIO())
    assert workflow_stack_status(target) == "DOES_NOT_EXIST"
