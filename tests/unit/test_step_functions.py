"""StartSyncExecution run by moto's interpreter (local_aws.step_functions): what it refuses,
what it does not run, and the bounds on what runs."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_aws import step_functions

ACCOUNT, REGION = "123456789012", "eu-west-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/machine"


@pytest.fixture
def sfn() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("stepfunctions", region_name=REGION)


def machine(sfn: Any, definition: dict[str, Any], kind: str = "EXPRESS") -> str:
    name = f"m{len(sfn.list_state_machines()['stateMachines'])}"
    return sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE, type=kind
    )["stateMachineArn"]


def start(arn: str, time_limit: float = 5.0, **request: Any) -> tuple[int, dict[str, Any]]:
    status, body = step_functions.start_sync_execution(
        ACCOUNT, REGION, json.dumps({"stateMachineArn": arn, **request}), time_limit
    )
    return status, json.loads(body)


PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}}
SPIN = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "P"}}}


def test_a_pass_machine_succeeds_with_its_output(sfn) -> None:
    status, answer = start(machine(sfn, PASS))
    assert status == 200
    assert (answer["status"], json.loads(answer["output"])) == ("SUCCEEDED", {"ok": 1})
    assert answer["input"] == "{}"  # no input: `{}`, as Step Functions reads it


def test_parallel_and_map_states_run(sfn) -> None:
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": True}}},
                    {
                        "StartAt": "Each",
                        "States": {
                            "Each": {
                                "Type": "Map",
                                "ItemsPath": "$.items",
                                "ItemProcessor": {
                                    "StartAt": "Id",
                                    "States": {"Id": {"Type": "Pass", "End": True}},
                                },
                                "End": True,
                            }
                        },
                    },
                ],
                "End": True,
            }
        },
    }
    status, answer = start(machine(sfn, definition), input='{"items": [1, 2]}')
    assert json.loads(answer["output"]) == ["a", [1, 2]]


@pytest.mark.parametrize(
    ("state", "named"),
    [
        ({"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun", "End": True}, "glue"),
        (
            {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken"},
            "waitForTaskToken",
        ),
        ({"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets"}, "aws-sdk"),
        ({"Type": "Task", "Resource": "arn:aws:states:::states:startExecution"}, "states:"),
        (
            {
                "Type": "Map",
                "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2"},
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                "End": True,
            },
            "ItemReader",
        ),
    ],
    ids=["glue", "wait-for-token", "aws-sdk", "start-execution", "distributed-map"],
)
def test_a_state_that_calls_a_service_fails_the_execution_naming_it(sfn, state, named) -> None:
    """Nested in a Parallel branch, it is found all the same, and nothing runs."""
    inner = {"StartAt": "Deep", "States": {"Deep": state}}
    definition = {
        "StartAt": "Fork",
        "States": {"Fork": {"Type": "Parallel", "Branches": [inner], "End": True}},
    }
    status, answer = start(machine(sfn, definition))
    assert (status, answer["status"], answer["error"]) == (200, "FAILED", "States.Runtime")
    assert named in answer["cause"] and "'Deep'" in answer["cause"]


def test_a_task_nested_deep_in_branches_and_map_processors_is_found() -> None:
    document: dict[str, Any] = {"StartAt": "T", "States": {"T": {"Type": "Task", "End": True}}}
    for depth in range(150):
        wrapper = (
            {"Type": "Parallel", "Branches": [document], "End": True}
            if depth % 2
            else {"Type": "Map", "Iterator": document, "End": True}
        )
        document = {"StartAt": "W", "States": {"W": wrapper}}
    refusal = step_functions.unsupported_state(json.dumps(document)) or ""
    assert "state 'T'" in refusal and "Resource, None" in refusal
    assert step_functions.unsupported_state(json.dumps(PASS)) is None


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:lambda:eu-west-1:123456789012:function:reply",
        "arn:aws:lambda:eu-west-1:123456789012:function:reply:live",
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:::dynamodb:putItem",
        "arn:aws:states:::dynamodb:getItem",
        "arn:aws:states:::dynamodb:updateItem",
        "arn:aws:states:::dynamodb:deleteItem",
        "arn:aws:states:::sqs:sendMessage",
        "arn:aws:states:::sns:publish",
        "arn:aws:states:::events:putEvents",
    ],
)
def test_the_task_resources_it_runs_are_not_refused(resource) -> None:
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource}}}
    assert step_functions.unsupported_state(json.dumps(definition)) is None


def test_task_states_publish_and_put_events(sfn) -> None:
    """The interpreter's SNS and EventBridge tasks (in process under mock_aws; a running
    local_aws sends them to its own endpoint)."""
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="t")["TopicArn"]
    definition = {
        "StartAt": "Publish",
        "States": {
            "Publish": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {"TopicArn": topic, "Message": "hi"},
                "ResultSelector": {"id.$": "$.MessageId"},
                "ResultPath": "$.sns",
                "Next": "Put",
            },
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::events:putEvents",
                "Parameters": {"Entries": [{"Source": "s", "DetailType": "d", "Detail": {}}]},
                "ResultSelector": {"failed.$": "$.FailedEntryCount"},
                "ResultPath": "$.events",
                "End": True,
            },
        },
    }
    status, answer = start(machine(sfn, definition))
    assert answer["status"] == "SUCCEEDED", answer
    output = json.loads(answer["output"])
    assert output["sns"]["id"] and output["events"] == {"failed": 0}


def test_a_standard_machine_is_refused(sfn) -> None:
    assert start(machine(sfn, PASS, "STANDARD")) == (
        400,
        {
            "__type": "StateMachineTypeNotSupported",
            "message": "This operation is not supported by this type of state machine",
        },
    )


@pytest.mark.parametrize(
    ("request_body", "error"),
    [
        ("not json", "SerializationException"),
        ("[]", "SerializationException"),
        ("{}", "ValidationException"),
        (json.dumps({"stateMachineArn": "x", "name": ""}), "InvalidName"),
        (json.dumps({"stateMachineArn": "x", "input": 5}), "InvalidExecutionInput"),
        (
            json.dumps({"stateMachineArn": "x", "input": json.dumps("a" * 262_144)}),
            "ValidationException",
        ),
    ],
    ids=["not-json", "not-object", "no-arn", "empty-name", "input-not-string", "input-too-long"],
)
def test_bad_requests_are_400_with_the_error_type(sfn, request_body, error) -> None:
    status, body = step_functions.start_sync_execution(ACCOUNT, REGION, request_body, 5.0)
    assert (status, json.loads(body)["__type"]) == (400, error)


def test_an_endless_machine_is_stopped_at_the_time_limit_and_its_threads_end(sfn) -> None:
    from moto.stepfunctions.parser.utils import TMP_THREADS

    before = threading.active_count()
    status, answer = start(machine(sfn, SPIN), time_limit=0.5)
    assert (status, answer["status"], answer["error"]) == (200, "TIMED_OUT", "States.Timeout")
    assert "0.5 s" in answer["cause"]
    assert threading.active_count() <= before
    assert not [thread for thread in TMP_THREADS if not thread.is_alive()]


def test_more_running_executions_than_the_bound_are_throttled(sfn, monkeypatch) -> None:
    monkeypatch.setattr(step_functions, "_running", threading.BoundedSemaphore(1))
    arn = machine(sfn, SPIN)
    first = threading.Thread(target=start, args=(arn, 1.0))
    first.start()
    try:
        threading.Event().wait(0.2)
        status, answer = start(arn)
        assert (status, answer["__type"]) == (400, "ThrottlingException")
    finally:
        first.join()
    assert start(machine(sfn, PASS))[1]["status"] == "SUCCEEDED"  # its slot came back


def test_http_request_over_the_size_bound_is_refused_unread(sfn) -> None:
    body = io.BytesIO()  # nothing to read: a read would return b"" and fail differently
    environ = {
        "HTTP_X_AMZ_TARGET": "AWSStepFunctions.StartSyncExecution",
        "HTTP_AUTHORIZATION": (
            "AWS4-HMAC-SHA256 Credential=testing/20240101/eu-west-1/states/aws4_request, "
            "SignedHeaders=host, Signature=0"
        ),
        "CONTENT_LENGTH": str(step_functions.MAX_REQUEST_BYTES + 1),
        "wsgi.input": body,
    }
    served = step_functions.serve_http(environ)
    assert served is not None
    status, headers, answer = served
    assert status.startswith("400") and ("x-amzn-ErrorType", "ValidationException") in headers
    assert "at most 262144 bytes" in json.loads(answer)["message"]


def test_other_states_requests_are_left_to_moto() -> None:
    assert (
        step_functions.serve_http({"HTTP_X_AMZ_TARGET": "AWSStepFunctions.StartExecution"}) is None
    )


def test_template_state_machine_type_is_kept_and_a_bad_one_refused() -> None:
    calls: list[Any] = []

    class Made:
        type = "STANDARD"

    def create(cls: Any, name: str, template: Any, account: str, region: str) -> Made:
        calls.append(template["Properties"])
        return Made()

    create_from_template = step_functions.creating_with_its_type(create)
    made = create_from_template(
        None,
        "M",
        {"Properties": {"StateMachineType": "EXPRESS", "Definition": PASS}},
        ACCOUNT,
        REGION,
    )
    assert made.type == "EXPRESS"
    assert json.loads(calls[0]["DefinitionString"]) == PASS
    with pytest.raises(ValueError, match="STANDARD or EXPRESS"):
        create_from_template(None, "M", {"Properties": {"StateMachineType": "FAST"}}, "", "")
