"""tutorial_helpers.observe and cfn/observed.yaml on local_aws: each route gives the error the
lesson explains, and its logs and metrics read back with the helpers."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd
import pytest
from botocore.exceptions import ClientError

from tests.support import LocalAwsProcess
from tutorial_helpers import connect, delete_stack, management_client, receive, send_json
from tutorial_helpers.observe import (
    OBSERVED_TEMPLATE_PATH,
    access_log_table,
    close_code,
    deploy_observed,
    handshake_status,
    log_messages,
    metric_statistics,
    metric_totals,
    observed_stack_status,
    observed_target,
    send_in_fragments,
    wait_for_lines,
)
from tutorial_helpers.stack import deploy_stack
from tutorial_helpers.target import Target
from tutorial_helpers.template import lint_template


@pytest.fixture(scope="module")
def observed(local_aws: LocalAwsProcess) -> Iterator[tuple[Target, dict[str, str]]]:
    target = Target("local", "us-east-1", "observe-test", local_aws.endpoint_url)
    outputs = deploy_observed(target, out=io.StringIO())
    yield target, outputs
    delete_stack(observed_target(target), out=io.StringIO())


def test_the_template_passes_cfn_lint() -> None:
    assert lint_template(OBSERVED_TEMPLATE_PATH) == []


def test_observed_target_names_a_stack_of_its_own() -> None:
    target = Target("local", "us-east-1", "ws-workshop", "http://127.0.0.1:1")
    assert observed_target(target).stack_name == "ws-workshop-observed"
    assert observed_target(target).endpoint_url == target.endpoint_url


def frame_message(ws) -> str:
    return json.loads(receive(ws))["message"]


def test_each_route_gives_its_error_and_the_socket_stays_open(observed) -> None:
    target, outputs = observed
    ws = connect(outputs["WebSocketURL"])
    try:
        send_json(ws, {"action": "echo", "text": "hi"})
        answer = json.loads(receive(ws))
        assert (answer["route"], answer["echo"]["text"]) == ("echo", "hi")
        send_json(ws, {"action": "nothing"})
        assert frame_message(ws) == "Forbidden"
        send_json(ws, {"action": "fail"})
        assert frame_message(ws) == "Internal server error"
        sent = time.monotonic()
        send_json(ws, {"action": "slow"})
        assert frame_message(ws) == "Endpoint request timed out"
        assert 1 <= time.monotonic() - sent < 2
        for _ in range(4):
            send_json(ws, {"action": "limited"})
        frames = [json.loads(receive(ws)) for _ in range(4)]
        assert frames[0]["route"] == "limited"
        assert [frame.get("message") for frame in frames[1:]].count("Too Many Requests") >= 2
        send_json(ws, {"action": "work", "job": "j1"})
        assert json.loads(receive(ws)) == {"accepted": "j1"}
        assert json.loads(receive(ws, timeout=15)) == {"done": "j1", "seconds": 2}
    finally:
        ws.close()


def test_a_message_over_128_kb_closes_with_1009(observed) -> None:
    _, outputs = observed
    ws = connect(outputs["WebSocketURL"])
    send_in_fragments(ws, "x" * (128 * 1024 + 1))
    assert close_code(ws)[0] == 1009


def test_a_message_within_128_kb_in_fragments_is_answered(observed) -> None:
    _, outputs = observed
    ws = connect(outputs["WebSocketURL"])
    try:
        send_in_fragments(ws, json.dumps({"action": "echo", "text": "y" * 100_000}))
        assert json.loads(receive(ws))["echo"]["text"] == "y" * 100_000
    finally:
        ws.close()


def test_connect_refused_with_the_status_asked_for(observed) -> None:
    _, outputs = observed
    assert handshake_status(outputs["WebSocketURL"]) == 101
    assert handshake_status(outputs["WebSocketURL"], "refuse=401") == 401
    # the function answers only 4XX and 5XX refusals; anything else asked for is a 400
    for asked in ("100", "204", "302", "99999", "forbidden"):
        assert handshake_status(outputs["WebSocketURL"], f"refuse={asked}") == 400, asked


def test_connections_on_a_wrong_stage_is_403(observed) -> None:
    target, outputs = observed
    url = outputs["WebSocketURL"].rsplit("/", 1)[0] + "/no-such-stage"
    with pytest.raises(ClientError) as refused:
        management_client(target, url).post_to_connection(
            ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x"
        )
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_logs_and_metrics_of_one_connection(observed) -> None:
    target, outputs = observed
    started = datetime.now(UTC)
    ws = connect(outputs["WebSocketURL"])
    send_json(ws, {"action": "fail"})
    assert frame_message(ws) == "Internal server error"
    ws.close()

    def access() -> list[str]:
        return log_messages(target, outputs["AccessLogGroupName"], since=started)

    lines = wait_for_lines(access, lambda found: any("DISCONNECT" in line for line in found))
    table = access_log_table(lines)
    assert list(table["routeKey"]) == ["$connect", "fail", "$disconnect"]
    assert list(table["status"]) == ["200", "502", "200"]
    assert table["error"][1] == "Internal server error"

    def function() -> list[str]:
        return log_messages(target, outputs["FunctionLogGroupName"], since=started)

    lines = wait_for_lines(function, lambda found: any("[ERROR]" in line for line in found))
    assert "[ERROR] RuntimeError: the fail route always fails" in lines
    assert any(line.startswith("REPORT RequestId: ") for line in lines)

    def settled() -> pd.DataFrame:
        return metric_statistics(
            target, outputs["ApiId"], outputs["StageName"], start=started, end=datetime.now(UTC)
        )

    deadline = time.monotonic() + 15
    totals = metric_totals(settled())
    while totals.loc["ExecutionError", "Sum"] < 1 and time.monotonic() < deadline:
        time.sleep(0.5)
        totals = metric_totals(settled())
    assert totals.loc["ExecutionError", "Sum"] >= 1
    assert totals.loc["IntegrationError", "Sum"] >= 1
    assert list(totals.index)[0] == "ConnectCount"


def test_log_messages_of_a_group_that_does_not_exist_is_empty(observed) -> None:
    target, _ = observed
    assert log_messages(target, "/no/such/group") == []


def test_access_log_table_skips_lines_of_another_format() -> None:
    table = access_log_table(["a CONNECT $connect 200 c 1 -", "not an access log line"])
    assert table.shape == (1, 7)


def test_wait_for_lines_gives_up_after_the_timeout() -> None:
    reads = []
    lines = wait_for_lines(lambda: reads.append(1) or [], bool, timeout=0, sleep=lambda _: None)
    assert lines == [] and len(reads) == 1


def test_the_stack_is_gone_after_delete(local_aws: LocalAwsProcess) -> None:
    target = Target("local", "us-east-1", "observe-delete", local_aws.endpoint_url)
    deploy_observed(target, out=io.StringIO())
    assert observed_stack_status(target) == "CREATE_COMPLETE"
    delete_stack(observed_target(target), out=io.StringIO())
    assert observed_stack_status(target) == "DOES_NOT_EXIST"


def test_deploy_stack_passes_the_parameters_given(local_aws: LocalAwsProcess) -> None:
    target = observed_target(Target("local", "us-east-1", "observe-off", local_aws.endpoint_url))
    outputs = deploy_stack(
        target,
        template_path=OBSERVED_TEMPLATE_PATH,
        parameters={"LoggingLevel": "OFF"},
        out=io.StringIO(),
    )
    try:
        stack = target.client("cloudformation").describe_stacks(StackName=target.stack_name)
        given = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Stacks"][0]["Parameters"]}
        assert given["LoggingLevel"] == "OFF"
        stage = target.client("apigatewayv2").get_stages(ApiId=outputs["ApiId"])["Items"][0]
        assert "AccessLogSettings" not in stage or not stage["AccessLogSettings"]
    finally:
        delete_stack(target, out=io.StringIO())
