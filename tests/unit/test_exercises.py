"""The "Your turn" exercises: every solution passes its checker, and wrong answers fail it with
the reason a learner needs. The live ones run against the session's local_aws and stack."""

from __future__ import annotations

import copy
import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import CHAT_TOKEN
from tests.support import LocalAwsProcess
from tutorial_helpers import (
    connect,
    get_item,
    load_template,
    management_client,
    my_connection_id,
    receive_json,
    send_json,
)
from tutorial_helpers import exercises as ex
from tutorial_helpers.original_pattern import PATTERN_TEMPLATE_PATH
from tutorial_helpers.target import Target

SOLUTIONS = Path(__file__).resolve().parents[2] / "notebooks" / "solutions"
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def solutions(notebook: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(notebook, SOLUTIONS / f"{notebook}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def is_right(verdict: ex.Verdict) -> bool:
    assert verdict.status == "right", verdict.line()
    return True


def fails_with(verdict: ex.Verdict, reason: str) -> bool:
    assert verdict.status == "wrong", verdict.line()
    assert reason in verdict.reason, verdict.line()
    return True


@pytest.fixture
def target(local_aws: LocalAwsProcess, workshop: dict[str, str]) -> Target:
    return Target("local", "us-east-1", "workshop", local_aws.endpoint_url)


def test_an_unanswered_exercise_says_not_done_yet(capsys) -> None:
    ex.check_ttl_two_hours(..., connected_at_ms=1_700_000_000_000)
    assert capsys.readouterr().out.startswith("Not done yet: replace each `...`")


def test_a_check_prints_one_line_and_never_raises_for_a_wrong_answer(capsys) -> None:
    ex.check_header_value("x", item={})  # the item lacks the header: no traceback
    assert capsys.readouterr().out.startswith("Not quite: the checker could not read")


def test_every_exercise_notebook_has_solutions_for_each_check() -> None:
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        checks = [
            cell
            for cell in json.loads(path.read_text())["cells"]
            if cell["cell_type"] == "code" and "check_" in "".join(cell["source"])
        ]
        assert len(checks) >= 2, path.name
        module = solutions(path.stem)
        assert hasattr(module, "exercise_1") and hasattr(module, "exercise_2"), path.name


# 00_setup


def test_00_client_on_the_target(target: Target) -> None:
    import boto3

    assert is_right(ex.judge_target_client(solutions("00_setup").exercise_1(target), target))
    plain = boto3.client("cloudformation", region_name="us-east-1")
    assert fails_with(ex.judge_target_client(plain, target), "goes to AWS itself")
    assert fails_with(ex.judge_target_client(target.client("sts"), target), "ask for")


def test_00_account_id(target: Target) -> None:
    assert is_right(ex.judge_account_id(solutions("00_setup").exercise_2(target), target))
    identity = target.client("sts").get_caller_identity()
    assert fails_with(ex.judge_account_id(identity, target), "pick its 'Account'")
    assert fails_with(ex.judge_account_id(identity["Arn"], target), "that is an ARN")
    assert fails_with(ex.judge_account_id(int(identity["Account"]), target), "keep it a str")


# 01_deploy


def test_01_iam_resources() -> None:
    template = load_template()
    answer = solutions("01_deploy").exercise_1(template)
    assert is_right(ex.judge_iam_resources(answer, template))
    assert fails_with(ex.judge_iam_resources(answer[:1], template), "create IAM resources too")
    with_lambda = [*answer, "DefaultRouteFunction"]
    assert fails_with(ex.judge_iam_resources(with_lambda, template), "create no IAM resource")


def test_01_a_new_route_is_deployed_only_with_a_new_deployment() -> None:
    template = load_template()
    new = solutions("01_deploy").exercise_2(template)
    assert is_right(ex.judge_route_is_deployed(new, template))
    # The trap: the route is added but the deployment keeps its logical id.
    same_id = copy.deepcopy(new)
    same_id["Resources"]["Deployment"] = same_id["Resources"].pop("DeploymentV2")
    same_id["Resources"]["Stage"]["Properties"]["DeploymentId"] = {"Ref": "Deployment"}
    assert fails_with(ex.judge_route_is_deployed(same_id, template), "keeps serving the snapshot")
    # A new id that does not wait for the route.
    unordered = copy.deepcopy(new)
    unordered["Resources"]["DeploymentV2"]["DependsOn"].remove("SendMessageRoute")
    assert fails_with(ex.judge_route_is_deployed(unordered, template), "Add it to DependsOn")
    assert fails_with(ex.judge_route_is_deployed(template, template), "no AWS::ApiGatewayV2::Route")
    auto = copy.deepcopy(same_id)
    auto["Resources"]["Stage"]["Properties"]["AutoDeploy"] = True
    assert is_right(ex.judge_route_is_deployed(auto, template))


# 02_connect


def test_02_connect_url_and_the_item_connect_wrote(
    local_aws: LocalAwsProcess, workshop: dict[str, str]
) -> None:
    dynamodb, table = local_aws.client("dynamodb"), workshop["SessionsTableName"]
    url, ws, item = solutions("02_connect").exercise_1(workshop["WebSocketURL"], dynamodb, table)
    other = connect(workshop["WebSocketURL"], query={"name": "Ada"})
    try:
        judge = ex.judge_connect_url_and_item
        assert is_right(judge(url, item, workshop["WebSocketURL"], dynamodb, table))
        bad_url = url.replace("room=kitchen", "room=lobby")
        assert fails_with(judge(bad_url, item, workshop["WebSocketURL"], dynamodb, table), "reads")
        other_item = get_item(dynamodb, table, my_connection_id(other))
        assert fails_with(
            judge(url, other_item, workshop["WebSocketURL"], dynamodb, table),
            "another connection's item",
        )
    finally:
        ws.close()
        other.close()
    deadline = time.monotonic() + 10
    while get_item(dynamodb, table, item["connectionid"]["S"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    closed = judge(url, item, workshop["WebSocketURL"], dynamodb, table)
    assert fails_with(closed, "was the connection closed?")


def test_02_header_value() -> None:
    item = {"headers": {"M": {"X-Workshop-Client": {"S": "notebook 02"}}}}
    assert is_right(ex.judge_header_value(solutions("02_connect").exercise_2(item), item))
    assert fails_with(ex.judge_header_value({"S": "notebook 02"}, item), "the string is under 'S'")


# 03_messages


def test_03_message_for_a_custom_route() -> None:
    expression = "$request.body.action"
    judge = ex.judge_message_for_route
    assert is_right(judge(solutions("03_messages").exercise_1(), expression))
    assert fails_with(judge("sendmessage", expression), "not JSON")
    assert fails_with(judge('{"route": "sendmessage"}', expression), "has no 'action' field")
    assert fails_with(judge({"action": "SendMessage"}, expression), "case included")


def test_03_gone_ids(local_aws: LocalAwsProcess, workshop: dict[str, str]) -> None:
    target = Target("local", "us-east-1", "workshop", local_aws.endpoint_url)
    connections = management_client(target, workshop["WebSocketURL"])
    live = connect(workshop["WebSocketURL"])
    closed = connect(workshop["WebSocketURL"])
    try:
        live_id, closed_id = my_connection_id(live), my_connection_id(closed)
        connections.delete_connection(ConnectionId=closed_id)
        candidates = [live_id, "AAAAAAAAAAAAAAA=", closed_id]
        answer = solutions("03_messages").exercise_2(candidates, connections)
        assert is_right(ex.judge_gone_ids(answer, candidates, connections))
        assert fails_with(ex.judge_gone_ids(candidates, candidates, connections), "still connected")
        assert fails_with(
            ex.judge_gone_ids([closed_id], candidates, connections), "raises GoneException"
        )
    finally:
        live.close()
        closed.close()


# 04_disconnect_and_ttl


def test_04_ttl_two_hours_in_seconds() -> None:
    connected_at_ms = 1_796_236_911_951
    answer = solutions("04_disconnect_and_ttl").exercise_1(connected_at_ms)
    assert is_right(ex.judge_ttl_two_hours(answer, connected_at_ms))
    in_ms = connected_at_ms + 2 * 3600 * 1000
    assert fails_with(ex.judge_ttl_two_hours(in_ms, connected_at_ms), "that is milliseconds")
    seed = connected_at_ms + 7200
    assert fails_with(ex.judge_ttl_two_hours(seed, connected_at_ms), "seed pattern's bug")
    hours = connected_at_ms // 1000 + 2
    assert fails_with(ex.judge_ttl_two_hours(hours, connected_at_ms), "two hours is 7,200 s")


def test_04_why_not_milliseconds() -> None:
    assert is_right(ex.judge_why_not_milliseconds(solutions("04_disconnect_and_ttl").exercise_2()))
    assert fails_with(ex.judge_why_not_milliseconds("a"), "without an error")
    assert fails_with(ex.judge_why_not_milliseconds("c"), "nothing rounds it")


# 05_cleanup


def test_05_leftover_tables(target: Target) -> None:
    dynamodb = target.client("dynamodb")
    scratch = "workshop-Scratch"
    dynamodb.create_table(
        TableName=scratch,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        answer = solutions("05_cleanup").exercise_1(target)
        assert scratch in answer
        assert is_right(ex.judge_leftover_tables(answer, target))
        missing = [name for name in answer if name != scratch]
        assert fails_with(ex.judge_leftover_tables(missing, target), "still there")
        extra = [*answer, "someone-elses-table"]
        assert fails_with(ex.judge_leftover_tables(extra, target), "not named after the stack")
    finally:
        dynamodb.delete_table(TableName=scratch)


def test_05_retained_resources() -> None:
    variant: dict[str, Any] = copy.deepcopy(load_template())
    variant["Resources"]["SessionsTable"]["DeletionPolicy"] = "Retain"
    answer = solutions("05_cleanup").exercise_2(variant)
    assert is_right(ex.judge_retained_resources(answer, variant))
    assert fails_with(ex.judge_retained_resources([], variant), "so they stay")
    with_logs = [*answer, "DefaultRouteFunctionLogGroup"]
    assert fails_with(ex.judge_retained_resources(with_logs, variant), "deleted with the stack")


# 06_original_pattern


def test_06_routes_the_deployment_misses() -> None:
    template = load_template(PATTERN_TEMPLATE_PATH)
    answer = solutions("06_original_pattern").exercise_1(template)
    assert sorted(answer) == ["ConnectRoute", "DisconnectRoute"]
    assert is_right(ex.judge_routes_the_deployment_misses(answer, template))
    only_connect = ["ConnectRoute"]
    assert fails_with(ex.judge_routes_the_deployment_misses(only_connect, template), "DependsOn")
    with_default = [*answer, "DefaultRoute"]
    assert fails_with(ex.judge_routes_the_deployment_misses(with_default, template), "not routes")
    fixed = load_template()
    assert is_right(ex.judge_routes_the_deployment_misses([], fixed))


def test_06_values_the_pattern_refuses() -> None:
    candidates = ex.PATTERN_QUERY_VALUES
    answer = solutions("06_original_pattern").exercise_2(candidates)
    assert sorted(answer) == ["back\\slash", 'say "hi"']
    assert is_right(ex.judge_values_the_pattern_refuses(answer, candidates))
    quotes_only = ['say "hi"']
    assert fails_with(ex.judge_values_the_pattern_refuses(quotes_only, candidates), "refused too")
    with_comma = [*answer, "red, green"]
    assert fails_with(ex.judge_values_the_pattern_refuses(with_comma, candidates), "stored, not")
    assert fails_with(ex.judge_values_the_pattern_refuses('say "hi"', candidates), "a list")


# 09_observe_and_troubleshoot

ACCESS_LINES = [
    "r1= CONNECT $connect 200 c1= 5 -",
    "r2= MESSAGE  403 c1= - Forbidden",
    "r3= MESSAGE fail 502 c1= 1 Internal server error",
    "r4= MESSAGE limited 429 c1= - Too Many Requests",
    "r5= MESSAGE slow 504 c1= 1000 Endpoint request timed out",
    "r6= MESSAGE echo 200 c1= 2 -",
]


def test_09_failed_routes() -> None:
    answer = solutions("09_observe_and_troubleshoot").exercise_1(ACCESS_LINES)
    assert is_right(ex.judge_failed_routes(answer, ACCESS_LINES))
    assert fails_with(ex.judge_failed_routes({"fail"}, ACCESS_LINES), "slow")
    assert fails_with(
        ex.judge_failed_routes({"fail", "slow", "limited"}, ACCESS_LINES), "refused by API Gateway"
    )
    assert fails_with(ex.judge_failed_routes({"fail", "slow", "echo"}, ACCESS_LINES), "no 5XX")
    assert fails_with(ex.judge_failed_routes("fail", ACCESS_LINES), "not one string")


def test_09_long_work() -> None:
    assert is_right(ex.judge_long_work(solutions("09_observe_and_troubleshoot").exercise_2()))
    assert fails_with(ex.judge_long_work("a"), "29,000 ms")
    assert fails_with(ex.judge_long_work("c"), "stops waiting")
    assert fails_with(ex.judge_long_work("d"), "not one of")


# 08_scale_limits_cost


def test_08_billed_messages_of_a_70_kb_message() -> None:
    assert is_right(ex.judge_billed_messages(solutions("08_scale_limits_cost").exercise_1()))
    assert fails_with(ex.judge_billed_messages(2), "rounds down")
    assert fails_with(ex.judge_billed_messages(70 / 32), "whole")
    assert fails_with(ex.judge_billed_messages(1), "32 KB increments")
    assert fails_with(ex.judge_billed_messages(70), "count the started increments")
    assert fails_with(ex.judge_billed_messages("3"), "give a number")


def test_08_fix_for_1009() -> None:
    assert is_right(ex.judge_fix_for_1009(solutions("08_scale_limits_cost").exercise_2()))
    assert fails_with(ex.judge_fix_for_1009("a"), "1009 again")
    assert fails_with(ex.judge_fix_for_1009("b"), "are fixed")
    assert fails_with(ex.judge_fix_for_1009("d"), "1003")
    assert fails_with(ex.judge_fix_for_1009("e"), "not one of")


# 07_chat_room


def test_07_join_message() -> None:
    judge = ex.judge_join_message
    assert is_right(judge(solutions("07_chat_room").exercise_1()))
    assert is_right(judge(json.dumps({"action": "join", "room": "kitchen", "name": "erin"})))
    assert fails_with(judge({"action": "Join", "room": "kitchen", "name": "erin"}), "exact")
    assert fails_with(judge({"action": "join", "room": "lobby", "name": "erin"}), "room is")
    assert fails_with(judge({"action": "join", "room": "kitchen"}), "name is None")
    assert fails_with(judge("join kitchen"), "not JSON")


def test_07_room_members(chat_room: dict[str, str], local_aws: LocalAwsProcess) -> None:
    dynamodb, table = local_aws.client("dynamodb"), chat_room["MembersTableName"]
    url = chat_room["WebSocketURL"]
    rooms = {"lia": "lobby", "leo": "lobby", "kit": "loft"}
    clients = {name: connect(url, query={"token": CHAT_TOKEN}) for name in rooms}
    try:
        for name, client in clients.items():
            send_json(client, {"action": "join", "room": rooms[name], "name": name})
            assert receive_json(client) == {"type": "joined", "room": rooms[name], "name": name}
        answer = solutions("07_chat_room").exercise_2(dynamodb, table)
        items = dynamodb.scan(TableName=table)["Items"]
        ids = {item["name"]["S"]: item["connectionid"]["S"] for item in items}
        assert {ids["lia"], ids["leo"]} <= set(answer) and ids["kit"] not in answer
        assert is_right(ex.judge_room_members(answer, dynamodb, table))
        everyone = [item["connectionid"]["S"] for item in items]
        assert fails_with(ex.judge_room_members(everyone, dynamodb, table), "not in 'lobby'")
        assert fails_with(ex.judge_room_members(answer[:1], dynamodb, table), "members of 'lobby'")
        assert fails_with(ex.judge_room_members(answer[0], dynamodb, table), "not one string")
    finally:
        for client in clients.values():
            client.close()
