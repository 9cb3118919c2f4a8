"""The teaching copy of the seed pattern (cfn/original_pattern.yaml) and its helpers."""

from __future__ import annotations

from tutorial_helpers import load_template
from tutorial_helpers.original_pattern import (
    PATTERN_TEMPLATE_PATH,
    map_text_breaks_json,
    pattern_target,
    permissions_without_source_arn,
    routes_the_deployment_misses,
    served_url,
    template_lines,
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
