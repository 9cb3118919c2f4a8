"""A CloudFormation template is data: it cannot run code, exhaust memory or break the service.

Each test sends an attack or a broken template to a real `python -m local_aws` and checks
what a user relies on: a ValidationError naming the problem, no stack left behind, and a
server that goes on answering.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import botocore.exceptions
import pytest
import websocket

from tests.support import TEMPLATE, LocalAwsProcess, deploy, wait_for

TOPIC = "  {name}:\n    Type: AWS::SNS::Topic\n"
# 563 bytes that PyYAML's aliases expand to 9**9 strings.
ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: *i}\n"
)


def refusal(local_aws: LocalAwsProcess, stack_name: str, body: str) -> str:
    """Create a stack from the body; return the ValidationError message it was refused with."""
    cloudformation = local_aws.client("cloudformation")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        cloudformation.create_stack(StackName=stack_name, TemplateBody=body)
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationError", error
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert stack_name not in stack_names(local_aws)
    return error["Message"]


def stack_names(local_aws: LocalAwsProcess) -> list[str]:
    stacks = local_aws.client("cloudformation").describe_stacks()["Stacks"]
    return [stack["StackName"] for stack in stacks]


def test_python_tag_does_not_run_code(local_aws, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    body = f'!!python/object/apply:os.system ["touch {marker}"]'
    message = refusal(local_aws, "python-tag", body)
    assert "Unsupported tag !!python/object/apply:os.system" in message
    nested = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n"
    nested += f'      TopicName: !!python/object/apply:os.system ["touch {marker}"]\n'
    refusal(local_aws, "python-tag-nested", nested)
    time.sleep(0.2)  # a command started in the background would have had time to run
    assert not marker.exists()


@pytest.mark.parametrize("action", ["validate_template", "get_template_summary"])
def test_python_tag_is_refused_by_every_template_action(
    local_aws, tmp_path: Path, action: str
) -> None:
    marker = tmp_path / "marker"
    body = f'!!python/object/apply:os.system ["touch {marker}"]'
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        getattr(local_aws.client("cloudformation"), action)(TemplateBody=body)
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert not marker.exists()


def test_python_tag_is_refused_by_change_sets_and_updates(local_aws, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    body = f'!!python/object/apply:os.system ["touch {marker}"]'
    cloudformation = local_aws.client("cloudformation")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        cloudformation.create_change_set(
            StackName="change-set-attack", ChangeSetName="attack", TemplateBody=body
        )
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert "change-set-attack" not in stack_names(local_aws)  # not even REVIEW_IN_PROGRESS
    cloudformation.create_stack(
        StackName="update-attack", TemplateBody="Resources:\n" + TOPIC.format(name="T")
    )
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        cloudformation.update_stack(StackName="update-attack", TemplateBody=body)
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    stack = cloudformation.describe_stacks(StackName="update-attack")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"  # the refused update changed nothing
    assert not marker.exists()
    cloudformation.delete_stack(StackName="update-attack")


def test_alias_bomb_is_refused_fast_and_the_server_goes_on(local_aws) -> None:
    assert len(ALIAS_BOMB) < 600
    started = time.monotonic()
    message = refusal(local_aws, "alias-bomb", ALIAS_BOMB)
    assert time.monotonic() - started < 2.0
    assert "anchors and aliases are not supported" in message
    cloudformation = local_aws.client("cloudformation")
    started = time.monotonic()
    cloudformation.list_stacks()
    # Expanding 9**9 strings would keep it busy for minutes; 2 s is for a loaded machine (two
    # pytest-xdist workers and their servers on two cores: 0.11 s seen), not for the bomb.
    assert time.monotonic() - started < 2.0


def test_template_body_over_the_quota_is_refused(local_aws) -> None:
    body = "Resources:\n" + TOPIC.format(name="T") + "# " + "x" * 51_200 + "\n"
    message = refusal(local_aws, "too-large", body)
    assert "Member must have length less than or equal to 51200" in message


def test_deep_nesting_is_refused(local_aws) -> None:
    body = json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}})
    body = body[:-1] + ', "Metadata": ' + "[" * 20_000 + "]" * 20_000 + "}"
    message = refusal(local_aws, "deep", body)
    assert "nested more than 100 levels deep" in message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("# only a comment\n", "Template format error: unsupported structure."),
        ("[a, b]", "Template format error: unsupported structure."),
        ("a string", "Template format error: unsupported structure."),
        ("Resources: [a]", "Template format error: At least one Resources member must be defined."),
        ("Resources:\n  T: [\n", "Template format error: YAML not well-formed. (line 3"),
        (
            "Resources: {T: {Properties: {}}}",
            "Template format error: Every Resources object must contain a Type member.",
        ),
        (
            "Resources:\n" + TOPIC.format(name="A") + "    DependsOn: B\n"
            "" + TOPIC.format(name="B") + "    DependsOn: A\n",
            "Circular dependency between resources: [A, B]",
        ),
        (
            "Resources:\n" + TOPIC.format(name="A") + "    DependsOn: Missing\n",
            "Template format error: Unresolved resource dependencies [Missing] in the "
            "Resources block of the template",
        ),
        (
            "Resources:\n" + TOPIC.format(name="A") + "    Properties: {TopicName: !Ref Nope}\n",
            "Template format error: Unresolved resource dependencies [Nope] in the "
            "Resources block of the template",
        ),
        (
            "Resources:\n"
            + TOPIC.format(name="A")
            + "    Properties: {TopicName: !Sub '${Nope}'}\n",
            "Template format error: Unresolved resource dependencies [Nope] in the "
            "Resources block of the template",
        ),
        (
            "Resources:\n" + TOPIC.format(name="A") + "    Condition: Nope\n",
            "Template format error: Unresolved condition dependency Nope in the "
            "Resources block of the template",
        ),
        (
            "Resources:\n"
            + TOPIC.format(name="A")
            + "    Properties: {TopicName: !If [C, a, b]}\n",
            "Template error: unresolved condition dependency C in Fn::If",
        ),
        (
            "Resources:\n" + TOPIC.format(name="A") + "Outputs: {O: {Value: !Ref Gone}}\n",
            "Template format error: Unresolved resource dependencies [Gone] in the "
            "Outputs block of the template",
        ),
        (
            "Resources:\n" + TOPIC.format(name="A") + "Outputs: [a]\n",
            "Template format error: Outputs must be an object (a map)",
        ),
        (
            "Resources:\n" + TOPIC.format(name="A") + "Outputs: {O: {Description: d}}\n",
            "Template format error: Every Outputs member must contain a Value object",
        ),
    ],
)
def test_bad_template_is_refused_at_create_stack(local_aws, body: str, message: str) -> None:
    assert refusal(local_aws, "bad-template", body).startswith(message)


def test_too_many_resources_are_refused(local_aws) -> None:
    resources = {f"T{index}": {"Type": "AWS::SNS::Topic"} for index in range(501)}
    message = refusal(local_aws, "too-many", json.dumps({"Resources": resources}))
    assert message == (
        "Template format error: Number of resources, 501, is greater than maximum allowed, 500"
    )


def test_describe_stacks_survives_a_stack_whose_outputs_fail(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    good = "Resources:\n" + TOPIC.format(name="T") + "Outputs: {Arn: {Value: !Ref T}}\n"
    cloudformation.create_stack(StackName="outputs-good", TemplateBody=good)
    # Outputs that pass the checks but fail when resolved: a FindInMap of a missing key.
    failing = "Mappings: {M: {k: {v: x}}}\nResources:\n" + TOPIC.format(name="T")
    failing += "Outputs: {Broken: {Value: !FindInMap [M, missing, v]}}\n"
    cloudformation.create_stack(StackName="outputs-broken", TemplateBody=failing)
    stacks = {stack["StackName"]: stack for stack in cloudformation.describe_stacks()["Stacks"]}
    assert "Outputs" not in stacks["outputs-broken"]
    assert stacks["outputs-good"]["Outputs"][0]["OutputKey"] == "Arn"
    for name in ("outputs-good", "outputs-broken"):
        cloudformation.delete_stack(StackName=name)


def test_workshop_template_still_deploys(local_aws) -> None:
    outputs = deploy(local_aws, "templates-workshop")
    assert outputs["WebSocketURL"].startswith("ws://")
    local_aws.client("cloudformation").delete_stack(StackName="templates-workshop")


def send(url: str, message: str) -> str:
    """Send a message on the $default route; return the function's answer."""
    ws = websocket.create_connection(url, timeout=10)
    try:
        ws.send(message)
        return ws.recv()
    finally:
        ws.close()


@pytest.mark.parametrize("attempt", range(4))  # the bug showed for 3 of 4 code lengths
def test_update_with_edited_inline_code_runs_the_new_code(local_aws, attempt: int) -> None:
    stack_name = f"inline-update-{attempt}"
    url = deploy(local_aws, stack_name)["WebSocketURL"]
    assert json.loads(send(url, "before"))["body"] == "before"  # the echo function
    original = TEMPLATE.read_text()
    old = 'return {"statusCode": 200, "body": json.dumps(event)}'
    assert old in original
    answer = "new code" + "!" * attempt  # one more byte each time: every base64 padding
    edited = original.replace(old, f'return {{"statusCode": 200, "body": "{answer}"}}')
    cloudformation = local_aws.client("cloudformation")
    cloudformation.update_stack(
        StackName=stack_name, TemplateBody=edited, Capabilities=["CAPABILITY_IAM"]
    )
    cloudformation.get_waiter("stack_update_complete").wait(
        StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    # The gateway reuses a function look-up for a second (local_aws/integrations.py).
    wait_for(
        lambda: send(url, "after") == answer,
        interval=0.2,
        message="the old code still answers after the update",
    )
    cloudformation.delete_stack(StackName=stack_name)
