"""StartExecution run in the background by moto's interpreter (local_aws.standard_executions):
Describe, History, List and Stop of what runs, its bounds, and Wait states scaled."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_aws import standard_executions, step_functions

ACCOUNT, REGION = "123456789012", "eu-west-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/machine"

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}}
WAIT_MINUTE = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
SPIN = {
    "StartAt": "Again",
    "States": {
        "Again": {"Type": "Pass", "Next": "Check"},
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "Done"}],
            "Default": "Again",
        },
        "Done": {"Type": "Succeed"},
    },
}


@pytest.fixture
def sfn() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("stepfunctions", region_name=REGION)


@pytest.fixture
def executions() -> Executions:
    return standard_executions.Executions(max_running=2)


Executions = standard_executions.Executions


def machine(sfn: Any, definition: dict[str, Any], kind: str = "STANDARD") -> str:
    name = f"m{len(sfn.list_state_machines()['stateMachines'])}"
    return sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE, type=kind
    )["stateMachineArn"]


def call(executions: Executions, action: str, **request: Any) -> tuple[int, dict[str, Any]]:
    status, body = executions.answer(action, ACCOUNT, REGION, json.dumps(request))
    return status, json.loads(body)


def start(executions: Executions, arn: str, **request: Any) -> str:
    status, answer = call(executions, "StartExecution", stateMachineArn=arn, **request)
    assert status == 200, answer
    assert set(answer) == {"executionArn", "startDate"}
    return str(answer["executionArn"])


def ended(executions: Executions, arn: str, seconds: float = 10.0) -> dict[str, Any]:
    """DescribeExecution, once the execution is no longer RUNNING."""
    deadline = time.monotonic() + seconds
    while True:
        status, answer = call(executions, "DescribeExecution", executionArn=arn)
        assert status == 200, answer
        if answer["status"] != "RUNNING" or time.monotonic() > deadline:
            return answer
        time.sleep(0.02)


def test_a_started_execution_runs_and_is_described_with_its_output(sfn, executions) -> None:
    machine_arn = machine(sfn, PASS)
    arn = start(executions, machine_arn, name="first", input='{"a": 1}')
    assert arn == f"arn:aws:states:{REGION}:{ACCOUNT}:execution:m0:first"
    answer = ended(executions, arn)
    assert answer["status"] == "SUCCEEDED"
    assert json.loads(answer["output"]) == {"ok": 1}
    assert (answer["input"], answer["name"], answer["stateMachineArn"]) == (
        '{"a": 1}',
        "first",
        machine_arn,
    )
    assert answer["startDate"] <= answer["stopDate"]


def test_history_lists_the_states_in_order(sfn, executions) -> None:
    arn = start(executions, machine(sfn, PASS))
    ended(executions, arn)
    status, history = call(executions, "GetExecutionHistory", executionArn=arn)
    assert status == 200
    types = [event["type"] for event in history["events"]]
    assert types == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert [event["id"] for event in history["events"]] == [1, 2, 3, 4]
    assert all(isinstance(event["timestamp"], float) for event in history["events"])
    _, newest = call(
        executions, "GetExecutionHistory", executionArn=arn, reverseOrder=True, maxResults=1
    )
    assert [event["type"] for event in newest["events"]] == ["ExecutionSucceeded"]
    assert "nextToken" in newest


def test_stop_execution_aborts_a_waiting_execution_at_once(sfn, executions) -> None:
    arn = start(executions, machine(sfn, WAIT_MINUTE))
    status, stopped = call(
        executions, "StopExecution", executionArn=arn, error="Enough", cause="a test"
    )
    assert status == 200 and "stopDate" in stopped
    answer = ended(executions, arn, seconds=5.0)
    assert (answer["status"], answer["error"], answer["cause"]) == ("ABORTED", "Enough", "a test")
    events = call(executions, "GetExecutionHistory", executionArn=arn)[1]["events"]
    assert events[-1]["type"] == "ExecutionAborted"


def test_strings_past_aws_lengths_are_refused_and_never_kept(sfn, executions) -> None:
    """AWS: StopExecution's `error` is at most 256 characters and `cause` 32,768, and
    StartExecution's `traceHeader` 256; an ended execution keeps them, for up to 1,000
    executions, so a longer one is refused (ValidationException) and the execution runs on."""
    arn = start(executions, machine(sfn, WAIT_MINUTE))
    for field, length in (("error", 257), ("cause", 32_769)):
        status, answer = call(
            executions, "StopExecution", executionArn=arn, **{field: "x" * length}
        )
        assert (status, answer["__type"]) == (400, "ValidationException")
        assert f"'{field}'" in answer["message"] and f"{length - 1}" in answer["message"]
    assert call(executions, "DescribeExecution", executionArn=arn)[1]["status"] == "RUNNING"
    status, answer = call(
        executions, "StopExecution", executionArn=arn, error="e" * 256, cause="c" * 32_768
    )
    assert status == 200
    assert ended(executions, arn)["cause"] == "c" * 32_768
    status, answer = call(
        executions, "StartExecution", stateMachineArn=machine(sfn, PASS), traceHeader="t" * 257
    )
    assert (status, answer["__type"]) == (400, "ValidationException")


def test_a_fail_state_ends_failed_with_its_error_and_cause(sfn, executions) -> None:
    definition = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "c"}}}
    answer = ended(executions, start(executions, machine(sfn, definition)))
    assert (answer["status"], answer["error"], answer["cause"]) == ("FAILED", "E", "c")
    assert "output" not in answer


def test_more_running_executions_than_the_bound_are_refused(sfn, executions) -> None:
    waiting = machine(sfn, WAIT_MINUTE)
    first, second = start(executions, waiting), start(executions, waiting)
    status, refused = call(executions, "StartExecution", stateMachineArn=waiting)
    assert (status, refused["__type"]) == (400, "ExecutionLimitExceeded")
    assert "at most 2 at a time" in refused["message"]
    call(executions, "StopExecution", executionArn=first)
    assert ended(executions, first)["status"] == "ABORTED"
    deadline = time.monotonic() + 5
    while (status := call(executions, "StartExecution", stateMachineArn=waiting)[0]) != 200:
        assert time.monotonic() < deadline, "the stopped execution's slot never came back"
        time.sleep(0.02)
    for execution in call(executions, "ListExecutions", stateMachineArn=waiting)[1]["executions"]:
        call(executions, "StopExecution", executionArn=execution["executionArn"])
    assert second


def test_same_name_same_input_is_the_same_execution_and_other_input_is_refused(
    sfn, executions
) -> None:
    waiting = machine(sfn, WAIT_MINUTE)
    arn = start(executions, waiting, name="once", input="{}")
    assert start(executions, waiting, name="once", input="{}") == arn
    status, refused = call(
        executions, "StartExecution", stateMachineArn=waiting, name="once", input='{"x": 1}'
    )
    assert (status, refused["__type"]) == (400, "ExecutionAlreadyExists")
    call(executions, "StopExecution", executionArn=arn)


def test_list_executions_newest_first_with_a_status_filter_and_pages(sfn, executions) -> None:
    machine_arn = machine(sfn, PASS)
    arns = []
    for n in range(3):
        arns.append(start(executions, machine_arn, name=f"run-{n}"))
        ended(executions, arns[-1])
    _, page = call(executions, "ListExecutions", stateMachineArn=machine_arn, maxResults=2)
    assert [item["executionArn"] for item in page["executions"]] == arns[::-1][:2]
    _, rest = call(
        executions,
        "ListExecutions",
        stateMachineArn=machine_arn,
        maxResults=2,
        nextToken=page["nextToken"],
    )
    assert [item["executionArn"] for item in rest["executions"]] == arns[:1]
    _, running = call(
        executions, "ListExecutions", stateMachineArn=machine_arn, statusFilter="RUNNING"
    )
    assert running["executions"] == []


@pytest.mark.parametrize(
    ("action", "request_body", "error"),
    [
        ("DescribeExecution", {}, "ValidationException"),
        ("DescribeExecution", {"executionArn": "nope"}, "InvalidArn"),
        (
            "DescribeExecution",
            {"executionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:m:gone"},
            "ExecutionDoesNotExist",
        ),
        ("StartExecution", {}, "ValidationException"),
        (
            "StartExecution",
            {"stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:gone"},
            "StateMachineDoesNotExist",
        ),
        ("ListExecutions", {}, "ValidationException"),
    ],
    ids=["no-arn", "bad-arn", "unknown", "start-no-arn", "start-unknown", "list-no-arn"],
)
def test_bad_requests_are_400_with_the_error_type(
    sfn, executions, action, request_body, error
) -> None:
    status, answer = call(executions, action, **request_body)
    assert (status, answer["__type"]) == (400, error)


def test_a_bad_page_token_is_invalid_token(sfn, executions) -> None:
    status, answer = call(
        executions, "ListExecutions", stateMachineArn=machine(sfn, PASS), nextToken="%%%"
    )
    assert (status, answer["__type"]) == (400, "InvalidToken")


def test_an_endless_choice_loop_fails_at_the_history_bound(sfn, executions, monkeypatch) -> None:
    """A Pass ↔ Choice loop never waits: it stops when its history is full (AWS: 25,000
    events; lowered here so the test is quick)."""
    monkeypatch.setattr(step_functions, "MAX_HISTORY_EVENTS", 300)
    answer = ended(executions, start(executions, machine(sfn, SPIN)), seconds=30.0)
    assert (answer["status"], answer["error"]) == ("FAILED", "States.Runtime")
    assert "maximum number of history events (300)" in answer["cause"]


def test_ended_executions_are_forgotten_beyond_the_bound(sfn, executions, monkeypatch) -> None:
    monkeypatch.setattr(standard_executions, "MAX_KEPT", 2)
    machine_arn = machine(sfn, PASS)
    arns = []
    for _ in range(3):
        arns.append(start(executions, machine_arn))
        ended(executions, arns[-1])
    status, answer = call(executions, "DescribeExecution", executionArn=arns[0])
    assert (status, answer["__type"]) == (400, "ExecutionDoesNotExist")
    listed = call(executions, "ListExecutions", stateMachineArn=machine_arn)[1]["executions"]
    assert len(listed) == 2


def test_a_task_local_aws_does_not_run_fails_the_execution_naming_it(sfn, executions) -> None:
    definition = {
        "StartAt": "Crawl",
        "States": {
            "Crawl": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun", "End": True}
        },
    }
    answer = ended(executions, start(executions, machine(sfn, definition)))
    assert (answer["status"], answer["error"]) == ("FAILED", "States.Runtime")
    assert "state 'Crawl'" in answer["cause"]


def test_intrinsic_functions_and_paths_run_in_standard(sfn, executions) -> None:
    definition = {
        "StartAt": "Shape",
        "States": {
            "Shape": {
                "Type": "Pass",
                "Parameters": {
                    "path.$": "States.Format('@connections/{}', $.id)",
                    "parsed.$": "States.StringToJson($.text)",
                    "again.$": "States.JsonToString($.obj)",
                },
                "End": True,
            }
        },
    }
    given = {"id": "abc=", "text": '{"n": 1}', "obj": {"k": "v"}}
    answer = ended(executions, start(executions, machine(sfn, definition), input=json.dumps(given)))
    assert json.loads(answer["output"]) == {
        "path": "@connections/abc=",
        "parsed": {"n": 1},
        "again": '{"k":"v"}',
    }


# ---------------------------------------------------------------------- Wait, Map bounds


class _Env:
    """What `scaled_wait` reads of the interpreter's environment."""

    def __init__(self) -> None:
        self.program_state_event = threading.Event()
        self.running = True

    def is_running(self) -> bool:
        return self.running


def test_wait_states_wait_the_scaled_time(monkeypatch) -> None:
    monkeypatch.setattr(step_functions._endpoint, "wait_scale", 0.001)
    env = _Env()
    done = threading.Event()
    thread = threading.Thread(
        target=lambda: (step_functions.scaled_wait(None, env, 60), done.set())
    )
    thread.start()
    thread.join(10)
    assert done.is_set(), "a 60 s Wait scaled by 0.001 waits 60 ms"


def test_a_wait_ends_when_the_execution_stops(monkeypatch) -> None:
    monkeypatch.setattr(step_functions._endpoint, "wait_scale", 1.0)
    env = _Env()
    thread = threading.Thread(target=step_functions.scaled_wait, args=(None, env, 3600))
    thread.start()
    env.running = False
    env.program_state_event.set()
    thread.join(5)
    assert not thread.is_alive()


class _MapInput:
    def __init__(self, max_concurrency: int) -> None:
        self.max_concurrency = max_concurrency


class _Stack:
    def __init__(self, item: _MapInput) -> None:
        self.stack = [item]


@pytest.mark.parametrize(("given", "run"), [(0, 40), (1000, 40), (3, 3), (40, 40)])
def test_an_inline_map_runs_at_most_40_iterations_at_once(given, run) -> None:
    seen: list[int] = []
    bounded = step_functions.inline_map_bounded(
        lambda component, env: seen.append(env.stack[-1].max_concurrency)
    )
    bounded(None, _Stack(_MapInput(given)))
    assert seen == [run]


def test_a_map_over_many_items_runs_with_few_threads(sfn, executions) -> None:
    """1,000 items, MaxConcurrency 0: moto would start 1,000 threads at once."""
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {"StartAt": "Id", "States": {"Id": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    before = threading.active_count()
    most = [before]
    arn = start(executions, machine(sfn, definition), input=json.dumps({"items": [1] * 1000}))
    while call(executions, "DescribeExecution", executionArn=arn)[1]["status"] == "RUNNING":
        most.append(threading.active_count())
        time.sleep(0.01)
    answer = ended(executions, arn, seconds=120)
    assert answer["status"] == "SUCCEEDED"
    assert len(json.loads(answer["output"])) == 1000
    assert max(most) - before <= 100  # 40 iterations, their frames and the execution


def nested_parallel(depth: int) -> str:
    """A definition of `depth` Parallel states, each the only branch of the one above
    (written as text: it nests deeper than `json.dumps` can go)."""
    text = '{"StartAt": "Leaf", "States": {"Leaf": {"Type": "Pass", "End": true}}}'
    for _ in range(depth):
        text = (
            '{"StartAt": "Fork", "States": {"Fork": {"Type": "Parallel", "Branches": ['
            + text
            + '], "End": true}}}'
        )
    return text


def machine_of_text(sfn: Any, definition: str) -> str:
    name = f"m{len(sfn.list_state_machines()['stateMachines'])}"
    return sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)[
        "stateMachineArn"
    ]


def test_a_definition_nested_too_deep_to_parse_fails_and_frees_its_slot(sfn, executions) -> None:
    """1,000 Parallel states deep: the interpreter's parser gives up (its recursion limit);
    the execution fails instead of the thread dying unseen, and its slot is free again."""
    arn = start(executions, machine_of_text(sfn, nested_parallel(1000)))
    answer = ended(executions, arn, seconds=60)
    assert (answer["status"], answer["error"]) == ("FAILED", "States.Runtime")
    assert "Recursion" in answer["cause"]
    for _ in range(2):  # both slots are free
        ended(executions, start(executions, machine(sfn, PASS)))


def test_a_shallow_nesting_runs(sfn, executions) -> None:
    answer = ended(executions, start(executions, machine_of_text(sfn, nested_parallel(5))))
    assert answer["status"] == "SUCCEEDED"


def test_bad_apigateway_invoke_parameters_fail_the_task(sfn, executions) -> None:
    definition = {
        "StartAt": "Tell",
        "States": {
            "Tell": {
                "Type": "Task",
                "Resource": "arn:aws:states:::apigateway:invoke",
                "Parameters": {"ApiEndpoint": "abc.execute-api.localhost", "Method": "FETCH"},
                "End": True,
            }
        },
    }
    answer = ended(executions, start(executions, machine(sfn, definition)))
    assert (answer["status"], answer["error"]) == ("FAILED", "ApiGateway.BadParameters")
    assert "Method must be one of" in answer["cause"]


def test_an_execution_past_the_local_limit_times_out(sfn, executions, monkeypatch) -> None:
    """AWS's year is clipped to local_aws's hour (here a fraction of a second)."""
    monkeypatch.setattr(standard_executions, "LOCAL_LIMIT_SECONDS", 0.3)
    answer = ended(executions, start(executions, machine(sfn, WAIT_MINUTE)))
    assert (answer["status"], answer["error"]) == ("TIMED_OUT", "States.Timeout")
    assert "after 0.3 s, its local limit" in answer["cause"]


def test_history_without_execution_data_has_no_input_or_output(sfn, executions) -> None:
    arn = start(executions, machine(sfn, PASS), input='{"secret": 1}')
    ended(executions, arn)
    _, history = call(
        executions, "GetExecutionHistory", executionArn=arn, includeExecutionData=False
    )
    assert "secret" not in json.dumps(history)
    assert [event["type"] for event in history["events"]][0] == "ExecutionStarted"


def test_an_express_machine_started_asynchronously_has_an_express_arn(sfn, executions) -> None:
    arn = start(executions, machine(sfn, PASS, kind="EXPRESS"), name="quick")
    assert arn.startswith(f"arn:aws:states:{REGION}:{ACCOUNT}:express:m0:quick:")
    assert ended(executions, arn)["status"] == "SUCCEEDED"
