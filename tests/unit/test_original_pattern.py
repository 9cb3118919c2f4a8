"""The teaching copy of the seed pattern (cfn/original_pattern.yaml) and its helpers."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
import websocket

from tests.support import LocalAwsProcess
from tutorial_helpers import WorkshopError, delete_stack, load_template, scan_items
from tutorial_helpers.original_pattern import (
    PATTERN_TEMPLATE_PATH,
    ensure_pattern_stack,
    map_text_breaks_json,
    pattern_item_of,
    pattern_target,
    permissions_without_source_arn,
    routes_the_deployment_misses,
    served_url,
    template_lines,
    try_connect,
)
from tutorial_helpers.target import Target
from tutorial_helpers.template import TEMPLATE_PATH, lint_template

LOCAL = Target("local", "us-east-1", "ws-workshop", "http://127.0.0.1:4566")
AWS = Target("aws", "eu-west-1", "ws-workshop-alice")
OUTPUT = "wss://abcde12345.execute-api.eu-west-1.amazonaws.com/api"


def test_the_pattern_gets_a_stack_of_its_own_named_after_ours() -> None:
    assert pattern_target(AWS).stack_name == "ws-workshop-alice-pattern"
    assert pattern_target(AWS).region == "eu-west-1"
    assert pattern_target(LOCAL).endpoint_url == LOCAL.endpoint_url


def test_the_aws_output_is_used_as_it_is_on_aws_and_served_by_path_locally() -> None:
    assert served_url(AWS, OUTPUT) == OUTPUT
    assert served_url(LOCAL, OUTPUT) == "ws://127.0.0.1:4566/abcde12345/api"


def test_a_quote_or_a_lone_backslash_breaks_the_unescaped_json() -> None:
    assert map_text_breaks_json('say "hi"')
    assert map_text_breaks_json("back\\slash")
    assert not map_text_breaks_json("red, green")
    assert not map_text_breaks_json("a=b")
    assert not map_text_breaks_json("C:\\new")  # a valid JSON escape: stored, as a newline


def test_the_teaching_copy_keeps_every_bug_the_lesson_shows() -> None:
    template = load_template(PATTERN_TEMPLATE_PATH)
    text = PATTERN_TEMPLATE_PATH.read_text()
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert "#set($ttl = $context.requestTimeEpoch + 86400)" in text
    assert "$input.params().get('header')" in text and "escapeJavaScript" not in text
    assert routes_the_deployment_misses(template) == ["ConnectRoute", "DisconnectRoute"]
    assert permissions_without_source_arn(template) == ["DefaultRouteFunctionPermission"]


def test_our_template_has_none_of_those_bugs() -> None:
    template = load_template(TEMPLATE_PATH)
    assert routes_the_deployment_misses(template) == []
    assert permissions_without_source_arn(template) == []
    assert template_lines(TEMPLATE_PATH, "#set($ttl")[0].endswith(
        "#set($ttl = $context.requestTimeEpoch / 1000 + 86400)"
    )


def test_the_teaching_copy_is_valid_for_cloudformation() -> None:
    assert lint_template(PATTERN_TEMPLATE_PATH) == []


def test_template_lines_number_the_lines_that_match() -> None:
    lines = template_lines(PATTERN_TEMPLATE_PATH, "DependsOn:")
    assert len(lines) == 1
    number = int(lines[0].split(":")[0])
    assert PATTERN_TEMPLATE_PATH.read_text().splitlines()[number - 1].strip() == "DependsOn:"


class _Echo:
    """A connection whose `$default` echo answers with `answer` (or not at all)."""

    def __init__(self, answer: str | None) -> None:
        self.answer = answer

    def send(self, _text: str) -> None:
        pass

    def settimeout(self, _seconds: float) -> None:
        pass

    def recv(self) -> str:
        if self.answer is None:
            raise websocket.WebSocketTimeoutException("no answer")
        return self.answer


class _Table:
    def __init__(self, items: dict[str, dict[str, Any]]) -> None:
        self.items = items

    def get_item(self, TableName: str, Key: dict[str, Any], ConsistentRead: bool) -> dict[str, Any]:
        item = self.items.get(Key["connectionid"]["S"])
        return {"Item": item} if item else {}


ECHO = json.dumps({"requestContext": {"connectionId": "abc="}})


def test_the_pattern_item_is_read_through_the_echo() -> None:
    item = {"connectionid": {"S": "abc="}}
    assert pattern_item_of(_Table({"abc=": item}), "t", _Echo(ECHO), OUTPUT) == item


@pytest.mark.parametrize(("echo", "items"), [(None, {}), (ECHO, {})], ids=["no echo", "no item"])
def test_a_lost_deployment_race_says_how_to_deploy_again(echo: str | None, items: dict) -> None:
    with pytest.raises(WorkshopError) as raised:
        pattern_item_of(_Table(items), "t", _Echo(echo), OUTPUT)
    message = str(raised.value)
    assert "bug 4" in message
    assert "create-deployment --api-id abcde12345 --stage-name api" in message


def test_the_pattern_stores_map_text_and_refuses_a_quote(
    local_aws: LocalAwsProcess,
) -> None:
    target = Target("local", "us-east-1", "unit-original", local_aws.endpoint_url)
    outputs = ensure_pattern_stack(target, out=io.StringIO())  # needs CAPABILITY_AUTO_EXPAND
    try:
        url = served_url(target, outputs["APIEndpoint"])
        dynamodb = target.client("dynamodb")
        table = outputs["SessionsTable"]
        assert table == "unit-original-pattern-Sessions"
        plain = try_connect(url, query={"tags": "red, green"})
        assert plain.connected and plain.ws is not None
        item = pattern_item_of(dynamodb, table, plain.ws, outputs["APIEndpoint"])
        assert item["querystring"] == {"S": "{tags=red, green}"}
        assert item["headers"]["S"].startswith("{Host=")
        assert int(item["ttl"]["N"]) > 1000 * time.time()  # milliseconds + 86400
        quoted = try_connect(url, query={"q": 'say "hi"'})
        assert (quoted.status, quoted.ws) == (500, None)  # local_aws's --connect-failure-status
        assert len(scan_items(dynamodb, table)) == 1
        plain.ws.close()
    finally:
        delete_stack(pattern_target(target), out=io.StringIO())
