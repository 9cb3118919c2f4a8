"""Execution logs of a stage with `LoggingLevel`, read back with boto3 as on AWS.

One connection sends a message to `$default` and one to `broken` (whose MOCK status no
integration response matches), then closes; the stage's group
`API-Gateway-Execution-Logs_{apiId}/{stage}` then holds what its logging level asks for.
"""

from __future__ import annotations

import json

from tests.fidelity.support import TEMPLATES, metric_sum
from tests.support import deploy, wait_for
from tests.support.clients import connect, send_json

TEMPLATE = TEMPLATES / "throttled_api.yaml"


def traffic(outputs: dict[str, str], message: dict | None = None) -> str:
    """Send `message` (to `$default`) and one to `broken`; the first message's request id."""
    ws = connect(outputs["WebSocketURL"])
    try:
        send_json(ws, message or {"action": "hello"})
        request_id = json.loads(ws.recv())["requestId"]
        send_json(ws, {"action": "broken"})
        assert json.loads(ws.recv())["message"] == "Internal server error"
    finally:
        ws.close()
    return request_id


def group(outputs: dict[str, str]) -> str:
    return f"API-Gateway-Execution-Logs_{outputs['ApiId']}/{outputs['StageName']}"


def execution_lines(local_aws, outputs: dict[str, str]) -> list[str]:
    logs = local_aws.client("logs")
    if not logs.describe_log_groups(logGroupNamePrefix=group(outputs))["logGroups"]:
        return []
    events = logs.filter_log_events(logGroupName=group(outputs))["events"]
    return [event["message"] for event in events]


def of_request(lines: list[str], request_id: str) -> list[str]:
    prefix = f"({request_id}) "
    return [line.removeprefix(prefix) for line in lines if line.startswith(prefix)]


def test_info_traces_every_request_of_the_stage(local_aws) -> None:
    outputs = deploy(local_aws, "fid-exec-info", TEMPLATE, LoggingLevel="INFO")
    request_id = traffic(outputs)
    lines = wait_for(
        lambda: (
            (found := execution_lines(local_aws, outputs))
            and sum("Method completed with status" in line for line in found) >= 4
            and found
        ),
        timeout=15,
        message="execution log lines of 4 requests",
    )
    assert all(line.startswith("(") for line in lines)
    mine = of_request(lines, request_id)
    assert mine[0] == f"Extended Request Id: {request_id}"
    assert "WebSocket Request Route: [$default]" in mine
    assert "Received response. Status: 200" in mine  # MOCK: no integration latency
    assert mine[-1] == "Method completed with status: 200"
    assert not any("body" in line for line in lines)  # no data trace
    statuses = [line.split(": ")[-1] for line in lines if "Method completed with status" in line]
    assert sorted(statuses) == ["200", "200", "200", "500"]  # connect, 2 messages, disconnect
    assert any(line.endswith("Execution failed: Internal server error") for line in lines)


def test_off_writes_no_execution_log(local_aws) -> None:
    outputs = deploy(local_aws, "fid-exec-off", TEMPLATE, LoggingLevel="OFF")
    traffic(outputs)
    # the metrics are published in the same flush as the log lines would be: two messages
    # in and the first one's reply out (the error frame is not a MessageCount)
    wait_for(lambda: metric_sum(local_aws, outputs, "MessageCount") == 3, timeout=15)
    assert execution_lines(local_aws, outputs) == []


def test_error_logs_only_the_failed_request(local_aws) -> None:
    outputs = deploy(local_aws, "fid-exec-error", TEMPLATE, LoggingLevel="ERROR")
    request_id = traffic(outputs)
    lines = wait_for(
        lambda: execution_lines(local_aws, outputs), timeout=15, message="an ERROR line"
    )
    assert of_request(lines, request_id) == []
    assert len(lines) == 2, lines
    assert lines[0].endswith(") Execution failed: Internal server error")
    assert lines[1].endswith(") Method completed with status: 500")


def test_data_trace_adds_the_bodies_cut_at_1_kb(local_aws) -> None:
    outputs = deploy(local_aws, "fid-exec-trace", TEMPLATE, LoggingLevel="INFO", DataTrace="true")
    long_text = "x" * 4000
    request_id = traffic(outputs, {"action": "hello", "text": long_text})
    lines = wait_for(
        lambda: (
            (found := execution_lines(local_aws, outputs))
            and of_request(found, request_id)
            and found
        ),
        timeout=15,
    )
    mine = of_request(lines, request_id)
    request_body = next(line for line in mine if line.startswith("Method request body"))
    assert request_body.startswith('Method request body before transformations: {"action": "hello"')
    assert request_body.endswith(" [TRUNCATED]")
    response_body = next(line for line in mine if line.startswith("Method response body"))
    answer = json.loads(response_body.removeprefix("Method response body after transformations: "))
    assert answer["requestId"] == request_id
    assert all(len(line.encode()) <= 1024 for line in lines)
